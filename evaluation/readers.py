"""Read session logs of three formats into one normalized per-session structure.

Formats are detected per file from the JSON content:

* ``native``: this project's session logs (``negotiation.logs.records.SessionLog``); the game's
  scoring view is recorded in them.
* ``ld-history``: the paper code's current ``history*.json`` (``slot_assignment``, ``rounds`` of
  ``{agent, prompt, full_answer, public_answer}``, ``plan``, ``finished_rounds``); the scoring view
  is read from the ``config.txt`` and ``scores_files/`` beside the file (or in a parent folder up
  to the evaluated path).
* ``ld-answers``: the paper code's old ``answers*.json`` (``rounds`` of ``[party, public]``,
  ``voting_sessions``); it carries no scores, so the game comes from ``--game`` (or a
  ``config.txt`` beside it).

Folders are read recursively; in a folder only ``session-*.json`` (and the journals of
unfinished sessions, ``session-*.jsonl``), ``history*.json`` and ``answers*.json`` are
considered (``full_conversation*.json`` is ignored); a file named explicitly is detected by
content whatever its name. Native logs are read by the one loader
(``negotiation.logs.reading``), with its file-safety rules, validation and duplicate handling.
A file that cannot be read, or that names a speaker absent from the game, raises ``ReadError``;
``read_run`` records it and goes on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evaluation.inspect_logs import EVAL_SUFFIX, find_eval_files, read_eval_logs
from evaluation.ld_formats import read_answers, read_history
from evaluation.sessiondata import (
    Ballot,
    ReadError,
    ReadOptions,
    RunData,
    SessionData,
    Utterance,
    check_speakers,
)
from negotiation.core.errors import GameFormatError
from negotiation.core.files import UnsafeFileError, log_file_limit, read_inside
from negotiation.core.game import Scoring
from negotiation.core.phases import Phase
from negotiation.games.loader import load_scoring
from negotiation.logs.journal import JOURNAL_SUFFIX
from negotiation.logs.reading import (
    JOURNAL_GLOB,
    LOG_GLOB,
    LogReadError,
    find_logs,
    load_logs,
    parse_log,
    read_log,
)
from negotiation.logs.records import SessionLog
from negotiation.protocol.echo import template_echo

__all__ = ["FORMATS", "Ballot", "ReadError", "ReadOptions", "RunData", "SessionData", "Utterance",
           "detect_format", "find_files", "from_log", "read_file", "read_native", "read_run"]

FORMATS: tuple[str, ...] = ("native", "ld-history", "ld-answers")
NATIVE_PATTERNS: tuple[str, ...] = (LOG_GLOB, JOURNAL_GLOB)
LD_PATTERNS: tuple[str, ...] = ("history*.json", "answers*.json")
IGNORED_PREFIXES: tuple[str, ...] = ("full_conversation",)


def find_files(path: Path, problems: list[str] | None = None,
               patterns: tuple[str, ...] = NATIVE_PATTERNS + LD_PATTERNS) -> list[Path]:
    """Log files under a folder (by name pattern, every format), or the one file given."""
    try:
        files = find_logs(path, patterns, problems)
    except LogReadError as err:
        raise ReadError(path, err.reason) from None
    return [f for f in files if not f.name.startswith(IGNORED_PREFIXES)]


def detect_format(data: Any) -> str | None:
    """``native``, ``ld-history``, ``ld-answers`` or None for a parsed JSON document."""
    if not isinstance(data, dict):
        return None
    if "session_id" in data and "turns" in data:
        return "native"
    rounds = data.get("rounds")
    if not isinstance(rounds, list):
        return None
    if "slot_assignment" in data:
        return "ld-history"
    if all(isinstance(r, list | tuple) for r in rounds) and (
            rounds or "voting_sessions" in data or "plan" in data):
        return "ld-answers"
    return None


def _load_json(path: Path, root: Path) -> tuple[Any, bytes]:
    try:
        raw = read_inside(path, root, log_file_limit())
        return json.loads(raw), raw
    except UnsafeFileError as err:
        raise ReadError(path, err.reason) from None
    except UnicodeDecodeError as err:
        raise ReadError(path, f"cannot read: {err}") from None
    except json.JSONDecodeError as err:
        raise ReadError(path, f"not valid JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise ReadError(path, "JSON nested too deeply") from None


def _game_beside(path: Path, root: Path, cache: dict[Path, Scoring]) -> Scoring | None:
    """The scoring view in the first folder from the file's up to ``root`` with a config."""
    folder = path.parent
    while True:
        if (folder / "config.txt").is_file():
            if folder not in cache:
                try:
                    cache[folder] = load_scoring(folder)
                except GameFormatError as err:
                    raise ReadError(path, f"game beside the log is malformed: {err}") from None
            return cache[folder]
        if folder == root or folder.parent == folder or root not in folder.parents:
            return None
        folder = folder.parent


def from_log(path: Path, log: SessionLog, options: ReadOptions) -> SessionData:
    """A native session log (or unfinished journal) in normalized form."""
    scoring = options.game or log.scoring()
    check_speakers(path, scoring, [t.party for t in log.turns if t.phase.is_party]
                   + [log.proposer])
    utterances = tuple(
        Utterance(t.index, t.party, t.phase, t.public, t.scratchpad, t.format_ok,
                  t.input_tokens, t.output_tokens,
                  template_echo(t.prompt, t.public, t.scratchpad, t.plan, t.deal, t.phase))
        for t in log.turns if t.phase.is_public)
    ballots = tuple(
        Ballot(t.party, t.vote, None if t.finish_reason == "skipped" else t.format_ok,
               t.input_tokens, t.output_tokens) for t in log.turns if t.phase is Phase.VOTE)
    vote_passes = log.vote_outcome.passes if log.vote and log.vote_outcome else None
    return SessionData(path, "native", scoring, log.status == "complete", utterances, ballots,
                       vote_passes, log.seed, log.session_index, log.run_name,
                       {p.name: p.model for p in log.parties},
                       {p.name: p.structured for p in log.parties}, log=log)


def read_native(path: Path, raw: bytes, options: ReadOptions) -> SessionData:
    """A native session log from its bytes (validated like every loaded log)."""
    try:
        log = parse_log(raw, path)
    except LogReadError as err:
        raise ReadError(path, err.reason) from None
    return from_log(path, log, options)


def read_file(path: Path, options: ReadOptions, root: Path | None = None,
              cache: dict[Path, Scoring] | None = None) -> SessionData:
    """Read one log file of any format (``ReadError`` when it cannot be evaluated)."""
    root = (root or path.parent).resolve()
    if path.suffix == JOURNAL_SUFFIX:
        try:
            return from_log(path, read_log(path, root), options)
        except LogReadError as err:
            raise ReadError(path, err.reason) from None
    data, raw = _load_json(path, root)
    kind = detect_format(data)
    if kind is None:
        raise ReadError(path, "not a session log of a known format "
                        "(native, ld-history, ld-answers)")
    if kind == "native":
        return read_native(path, raw, options)
    scoring = options.game or _game_beside(
        path, root, cache if cache is not None else {})
    if scoring is None:
        hint = "give --game" if kind == "ld-answers" else "no config.txt beside it; give --game"
        raise ReadError(path, f"{kind} log without a game ({hint})")
    if kind == "ld-history":
        return read_history(path, data, scoring, options)
    return read_answers(path, data, scoring)


def _error(run: RunData, line: str) -> None:
    path, _, reason = line.partition(": ")
    run.errors.append({"path": path, "error": reason or line})


def _read_eval(run: RunData, path: Path, root: Path, options: ReadOptions) -> None:
    """The sessions of an inspect_ai ``.eval`` file (``evaluation.inspect_logs``)."""
    found = read_eval_logs(path, root)
    for line in found.problems:
        _error(run, line)
    for item in found.entries:
        try:
            run.sessions.append(from_log(item.path, item.log, options))
        except ReadError as err:
            run.errors.append({"path": str(err.path), "error": err.reason})


def read_run(path: Path, options: ReadOptions) -> RunData:
    """Read every log under PATH; errors are collected per file, never raised.

    Native logs come from the one loader (``negotiation.logs.reading``: safe files, every
    format version, validation, duplicates); a file named explicitly is read by its content.
    inspect_ai ``.eval`` files (named, or found in a folder) give the session logs their
    samples carry (``evaluation.inspect_logs``).
    """
    run = RunData(path)
    if not path.exists():
        run.errors.append({"path": str(path), "error": "no such file or folder"})
        return run
    root = (path if path.is_dir() else path.parent).resolve()
    cache: dict[Path, Scoring] = {}
    if path.is_file():
        files = [path]
    else:
        native = load_logs(path)
        for line in native.problems:
            if not line.endswith("no session logs found"):
                _error(run, line)
        for item in native.entries:
            try:
                run.sessions.append(from_log(item.path, item.log, options))
            except ReadError as err:
                run.errors.append({"path": str(err.path), "error": err.reason})
        problems: list[str] = []
        files = find_files(path, problems, LD_PATTERNS)
        files += find_eval_files(path, problems)
        for line in problems:
            _error(run, line)
    for file in files:
        if file.suffix == EVAL_SUFFIX:
            _read_eval(run, file, root, options)
            continue
        try:
            run.sessions.append(read_file(file, options, root, cache))
        except ReadError as err:
            run.errors.append({"path": str(err.path), "error": err.reason})
    if not run.sessions and not run.errors:
        run.errors.append({"path": str(path), "error": "no session logs found"})
    return run
