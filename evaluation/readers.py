"""Read session logs of three formats into one normalized per-session structure.

Formats are detected per file from the JSON content:

* ``native``: this project's session logs (``negotiation.records.SessionLog``); the game's
  scoring view is recorded in them.
* ``ld-history``: the paper code's current ``history*.json`` (``slot_assignment``, ``rounds`` of
  ``{agent, prompt, full_answer, public_answer}``, ``plan``, ``finished_rounds``); the scoring view
  is read from the ``config.txt`` and ``scores_files/`` beside the file (or in a parent folder up
  to the evaluated path).
* ``ld-answers``: the paper code's old ``answers*.json`` (``rounds`` of ``[party, public]``,
  ``voting_sessions``); it carries no scores, so the game comes from ``--game`` (or a
  ``config.txt`` beside it).

Folders are read recursively; in a folder only ``session-*.json``, ``history*.json`` and
``answers*.json`` are considered (``full_conversation*.json`` is ignored); a file named
explicitly is detected by content whatever its name. A file that cannot be read, or that names
a speaker absent from the game, raises ``ReadError``; ``read_run`` records it and goes on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from negotiation.errors import GameFormatError
from negotiation.game import Scoring
from negotiation.loader import load_scoring
from negotiation.parsing import parse_output, parse_vote
from negotiation.records import SessionLog

FORMATS: tuple[str, ...] = ("native", "ld-history", "ld-answers")
FOLDER_PATTERNS: tuple[str, ...] = ("session-*.json", "history*.json", "answers*.json")
IGNORED_PREFIXES: tuple[str, ...] = ("full_conversation",)


class ReadError(Exception):
    """One log file could not be evaluated (unreadable, unknown format, foreign speaker)."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.reason = path, message


@dataclass(frozen=True)
class Utterance:
    """One public message of the discussion: p1's opening, a round turn or p1's final."""

    index: int
    party: str
    phase: str
    public: str
    scratchpad: str = ""
    format_ok: bool | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Ballot:
    """One vote on p1's final proposal (native logs; old logs when readable)."""

    party: str
    vote: str | None
    format_ok: bool | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class SessionData:
    """A session in normalized form, whatever format it was read from."""

    source: Path
    format: str
    scoring: Scoring
    complete: bool
    utterances: tuple[Utterance, ...]
    ballots: tuple[Ballot, ...] = ()
    vote_passes: bool | None = None
    seed: int | None = None
    session_index: int | None = None
    run_name: str = ""
    models: Mapping[str, str] = field(default_factory=dict)

    @property
    def proposer(self) -> str:
        """The party that opens and closes (p1, or the first party)."""
        return self.scoring.proposer.name

    @property
    def final(self) -> Utterance | None:
        """p1's final proposal, if the session got that far."""
        return next((u for u in reversed(self.utterances) if u.phase == "final"), None)

    @property
    def p1_model(self) -> str:
        """The model of p1 (the default leaderboard grouping)."""
        return self.models.get(self.proposer, "unknown")

    def pair_key(self) -> tuple[Any, ...]:
        """Key pairing this session with its twin in another run: game, seed, index (or file)."""
        if self.seed is not None and self.session_index is not None:
            return (self.scoring.name, self.seed, self.session_index)
        return (self.scoring.name, self.source.name)


@dataclass
class RunData:
    """Everything read from one PATH: sessions (complete or not) and per-file errors."""

    path: Path
    sessions: list[SessionData] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> list[SessionData]:
        """Sessions that ran to the end (the ones metrics are computed on)."""
        return [s for s in self.sessions if s.complete]

    @property
    def n_unfinished(self) -> int:
        """Sessions that stopped early (reported, excluded from rates)."""
        return sum(1 for s in self.sessions if not s.complete)

    @property
    def format(self) -> str | None:
        """The most common format among the sessions read."""
        counts = Counter(s.format for s in self.sessions)
        return counts.most_common(1)[0][0] if counts else None


@dataclass(frozen=True)
class ReadOptions:
    """How to read: an overriding scoring view (``--game``) and the expected round count."""

    game: Scoring | None = None
    rounds: int | None = None


def find_files(path: Path) -> list[Path]:
    """Log files under a folder (recursively, by name pattern) or the one file given."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ReadError(path, "no such file or folder")
    found = {f for pattern in FOLDER_PATTERNS for f in path.rglob(pattern) if f.is_file()}
    return sorted(f for f in found if not f.name.startswith(IGNORED_PREFIXES))


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


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ReadError(path, f"cannot read: {err}") from None
    except json.JSONDecodeError as err:
        raise ReadError(path, f"not valid JSON ({err.msg} at line {err.lineno})") from None


def _check_speakers(path: Path, scoring: Scoring, names: list[str]) -> None:
    known = {p.name for p in scoring.parties}
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        raise ReadError(path, f"speaker {unknown[0]!r} is not a party of game "
                        f"{scoring.name!r} (parties: {', '.join(sorted(known))})")


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


def read_native(path: Path, data: Any, options: ReadOptions) -> SessionData:
    """A native session log."""
    try:
        log = SessionLog.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ReadError(path, f"invalid session log ({where}: {first['msg']})") from None
    scoring = options.game or log.scoring()
    _check_speakers(path, scoring, [t.party for t in log.turns] + [log.proposer])
    utterances = tuple(
        Utterance(t.index, t.party, t.phase, t.public, t.scratchpad, t.format_ok,
                  t.input_tokens, t.output_tokens) for t in log.turns if t.phase != "vote")
    ballots = tuple(
        Ballot(t.party, t.vote, None if t.finish_reason == "skipped" else t.format_ok,
               t.input_tokens, t.output_tokens) for t in log.turns if t.phase == "vote")
    vote_passes = log.vote_outcome.passes if log.vote and log.vote_outcome else None
    return SessionData(path, "native", scoring, log.status == "complete", utterances, ballots,
                       vote_passes, log.seed, log.session_index, log.run_name,
                       {p.name: p.model for p in log.parties})


def _history_utterance(i: int, entry: Any, last: int, scoring: Scoring,
                       path: Path) -> Utterance:
    if not isinstance(entry, dict) or not isinstance(entry.get("agent"), str):
        raise ReadError(path, f"rounds[{i}] is not an object with an 'agent'")
    public = entry.get("public_answer")
    if not isinstance(public, str):
        raise ReadError(path, f"rounds[{i}] has no text 'public_answer'")
    phase = "opening" if i == 0 else "final" if i == last else "round"
    full = entry.get("full_answer")
    scratchpad, format_ok = "", None
    if isinstance(full, str):
        others = [p.name for p in scoring.parties if p.name != entry["agent"]]
        parsed = parse_output(full, scoring.issues, others)
        scratchpad, format_ok = parsed.scratchpad, parsed.format_ok
    return Utterance(i, entry["agent"], phase, public, scratchpad, format_ok)


def read_history(path: Path, data: dict[str, Any], scoring: Scoring,
                 options: ReadOptions) -> SessionData:
    """A paper-code ``history*.json`` log (complete when it has rounds + 2 entries)."""
    slots, rounds = data.get("slot_assignment"), data["rounds"]
    if not isinstance(slots, list) or not all(isinstance(s, str) for s in slots):
        raise ReadError(path, "'slot_assignment' is not a list of party names")
    expected = (options.rounds if options.rounds is not None else len(slots)) + 2
    complete = len(rounds) == expected
    last = len(rounds) - 1 if complete else -1
    utterances = tuple(_history_utterance(i, e, last, scoring, path) for i, e in enumerate(rounds))
    _check_speakers(path, scoring, list(slots) + [u.party for u in utterances])
    return SessionData(path, "ld-history", scoring, complete, utterances,
                       models={p.name: p.model for p in scoring.parties})


def _old_ballots(path: Path, votes: Any, scoring: Scoring) -> tuple[Ballot, ...]:
    """Votes of an old log: ``[[party, text], …]``, ``[{party|agent|name, vote}, …]`` or
    ``{party: text}``; anything else is ignored (the format never fixed it)."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(votes, dict):
        pairs = list(votes.items())
    elif isinstance(votes, list):
        for v in votes:
            if isinstance(v, list | tuple) and len(v) == 2:
                pairs.append((v[0], v[1]))
            elif isinstance(v, dict):
                pairs.append((v.get("party") or v.get("agent") or v.get("name"), v.get("vote")))
    pairs = [(p, t) for p, t in pairs if isinstance(p, str) and isinstance(t, str)]
    _check_speakers(path, scoring, [p for p, _ in pairs])
    return tuple(Ballot(p, parse_vote(t).vote) for p, t in pairs)


def read_answers(path: Path, data: dict[str, Any], scoring: Scoring) -> SessionData:
    """A paper-code ``answers*.json`` log (complete when p1's final suggestion is recorded)."""
    utterances: list[Utterance] = []
    for i, entry in enumerate(data["rounds"]):
        if len(entry) != 2 or not all(isinstance(x, str) for x in entry):
            raise ReadError(path, f"rounds[{i}] is not a [party, public answer] pair")
        utterances.append(Utterance(i, entry[0], "opening" if i == 0 else "round", entry[1]))
    voting = data.get("voting_sessions")
    first = voting.get("0") if isinstance(voting, dict) else None
    final = first.get("deal_suggestion") if isinstance(first, dict) else None
    ballots: tuple[Ballot, ...] = ()
    if isinstance(final, str):
        utterances.append(Utterance(len(utterances), scoring.proposer.name, "final", final))
        ballots = _old_ballots(path, first.get("votes"), scoring)  # type: ignore[union-attr]
    _check_speakers(path, scoring, [u.party for u in utterances])
    return SessionData(path, "ld-answers", scoring, isinstance(final, str), tuple(utterances),
                       ballots, models={p.name: p.model for p in scoring.parties})


def read_file(path: Path, options: ReadOptions, root: Path | None = None,
              cache: dict[Path, Scoring] | None = None) -> SessionData:
    """Read one log file of any format (``ReadError`` when it cannot be evaluated)."""
    data = _load_json(path)
    kind = detect_format(data)
    if kind is None:
        raise ReadError(path, "not a session log of a known format "
                        "(native, ld-history, ld-answers)")
    if kind == "native":
        return read_native(path, data, options)
    scoring = options.game or _game_beside(
        path, root or path.parent, cache if cache is not None else {})
    if scoring is None:
        hint = "give --game" if kind == "ld-answers" else "no config.txt beside it; give --game"
        raise ReadError(path, f"{kind} log without a game ({hint})")
    if kind == "ld-history":
        return read_history(path, data, scoring, options)
    return read_answers(path, data, scoring)


def read_run(path: Path, options: ReadOptions) -> RunData:
    """Read every log under PATH; errors are collected per file, never raised."""
    run = RunData(path)
    try:
        files = find_files(path)
    except ReadError as err:
        run.errors.append({"path": str(path), "error": err.reason})
        return run
    root = path if path.is_dir() else path.parent
    cache: dict[Path, Scoring] = {}
    for file in files:
        try:
            run.sessions.append(read_file(file, options, root, cache))
        except ReadError as err:
            run.errors.append({"path": str(err.path), "error": err.reason})
    if not files:
        run.errors.append({"path": str(path), "error": "no session logs found"})
    return run
