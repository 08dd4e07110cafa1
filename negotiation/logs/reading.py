"""Finding and reading session logs: the one loader that runs, evaluation, the report, the
results index and every export use.

* Files: in a run folder (read recursively) the session logs ``session-<id>.json`` and the
  journals of unfinished sessions ``session-<id>.jsonl`` (a session with both is read from its
  ``.json``: the journal is left over from a crash during compaction). Only regular files inside
  the folder given are read (``core.files``), each at most ``NEGOTIATION_MAX_LOG_BYTES``.
* Versions: every ``format_version`` up to the current one is read and upgraded; a newer one is
  refused.
* Validation beyond the schema: at least one issue and two parties, score sheets shaped like the
  issues, distinct turn indices, turns naming parties of the log (or helper seats).
* Order: by run name, session index, session id.
* Copies: identical copies of one session are counted once (a warning); the same session id with
  different content is a conflict, and both are skipped.

``load_logs`` never raises for a bad file: it reports one line per problem and goes on, so one
broken file cannot take down an evaluation of five hundred.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from negotiation.core.errors import ConfigError
from negotiation.core.files import UnsafeFileError, check_entry, log_file_limit, read_inside
from negotiation.core.phases import is_helper_seat
from negotiation.logs.journal import JOURNAL_SUFFIX, journal_path, parse_journal
from negotiation.logs.records import SessionLog

LOG_GLOB = "session-*.json"
JOURNAL_GLOB = "session-*" + JOURNAL_SUFFIX


class LogReadError(ConfigError):
    """One log file cannot be used; the message reads ``PATH: reason``."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def _root_of(target: Path) -> Path:
    return (target if target.is_dir() else target.parent).resolve()


def find_logs(target: Path, patterns: Sequence[str] = (LOG_GLOB, JOURNAL_GLOB),
              problems: list[str] | None = None) -> list[Path]:
    """Log files under a folder (recursively, by name pattern), or the one file given.

    A folder's entries that are not regular files inside it are left out, with a line in
    ``problems`` for each.
    """
    if not target.exists():
        raise LogReadError(target, "no such file or folder")
    if not target.is_dir():
        return [target]
    root = target.resolve()
    found: dict[str, Path] = {}
    for pattern in patterns:
        for path in target.rglob(pattern):
            reason = check_entry(path, root)
            if reason is not None:
                if problems is not None:
                    problems.append(f"{path}: skipped: {reason}")
                continue
            found[str(path)] = path
    files = sorted(found.values())
    logs = {p.with_suffix("") for p in files if p.suffix == ".json"}
    return [p for p in files if not (p.suffix == JOURNAL_SUFFIX and p.with_suffix("") in logs)]


def _check(log: SessionLog) -> None:
    if not log.issues:
        raise ValueError("the log has no issues")
    if len(log.parties) < 2:
        raise ValueError(f"the log has {len(log.parties)} party; a session needs 2 or more")
    shape = [i["n_options"] for i in log.issues]
    for party in log.parties:
        if [len(row) for row in party.scores] != shape:
            raise ValueError(f"party {party.name!r} has a score sheet of another shape than "
                             f"the issues")
    indices = [t.index for t in log.turns]
    if len(set(indices)) != len(indices):
        raise ValueError("two turns have the same index")
    names = {p.name for p in log.parties}
    stray = next((t.party for t in log.turns if t.party not in names
                  and not is_helper_seat(t.party)), None)
    if stray is not None:
        raise ValueError(f"turn by {stray!r}, who is not a party of the log")
    log.scoring()  # the remaining consistency checks of the game value objects


def parse_log(data: bytes, path: Path) -> SessionLog:
    """A validated session log from a file's bytes (``.json`` or journal)."""
    try:
        if path.suffix == JOURNAL_SUFFIX:
            raw, _ = parse_journal(data)
            log = SessionLog.model_validate(raw)
        else:
            log = SessionLog.model_validate_json(data)
        _check(log)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "log"
        raise LogReadError(path, f"not a valid session log ({where}: {first['msg']})") from None
    except (ValueError, RecursionError, UnicodeDecodeError) as err:
        raise LogReadError(path, f"not a valid session log ({str(err)[:200]})") from None
    return log


def read_log(path: Path, root: Path | None = None) -> SessionLog:
    """Read one log file safely (``LogReadError`` when it cannot be used)."""
    try:
        data = read_inside(path, root or _root_of(path), log_file_limit())
    except UnsafeFileError as err:
        raise LogReadError(path, err.reason) from None
    return parse_log(data, path)


def existing_log(path: Path) -> SessionLog | None:
    """The log of the session whose log file would be ``path``: from the file, else from its
    unfinished journal, else None (``LogReadError`` when one exists but cannot be used)."""
    journal = journal_path(path)
    for candidate in (path, journal):
        if candidate.exists() or candidate.is_symlink():
            return read_log(candidate)
    return None


@dataclass(frozen=True)
class LoadedLog:
    """One usable log: where it was read from, what it holds, the SHA-256 of its bytes."""

    path: Path
    log: SessionLog
    sha256: str = ""


@dataclass
class LogSet:
    """The usable logs under some targets, and one line per problem found."""

    entries: list[LoadedLog] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: int = 0
    """Candidate files looked at (usable or not)."""

    @property
    def logs(self) -> list[SessionLog]:
        """The logs, in order."""
        return [e.log for e in self.entries]


def _dedupe(read: list[LoadedLog], problems: list[str]) -> list[LoadedLog]:
    by_id: dict[str, list[LoadedLog]] = {}
    for item in read:
        by_id.setdefault(item.log.session_id, []).append(item)
    kept: list[LoadedLog] = []
    for sid, items in by_id.items():
        paths = ", ".join(str(i.path) for i in items)
        if len({i.sha256 for i in items}) > 1:
            problems.append(f"session {sid}: conflicting copies with different content, all "
                            f"skipped: {paths}")
            continue
        if len(items) > 1:
            problems.append(f"session {sid}: {len(items)} identical copies, counted once: "
                            f"{paths}")
        kept.append(items[0])
    return kept


def load_logs(targets: Path | Iterable[Path]) -> LogSet:
    """Every usable session log under the targets (run folders or files), in order."""
    result = LogSet()
    read: list[LoadedLog] = []
    for target in [targets] if isinstance(targets, Path) else list(targets):
        try:
            files = find_logs(target, problems=result.problems)
        except LogReadError as err:
            result.problems.append(str(err))
            continue
        if not files:
            result.problems.append(f"{target}: no session logs found")
        root = _root_of(target)
        result.files += len(files)
        for path in files:
            try:
                data = read_inside(path, root, log_file_limit())
                read.append(LoadedLog(path, parse_log(data, path),
                                      hashlib.sha256(data).hexdigest()))
            except UnsafeFileError as err:
                result.problems.append(f"{path}: {err.reason}")
            except LogReadError as err:
                result.problems.append(str(err))
    kept = _dedupe(read, result.problems)
    result.entries = sorted(kept, key=lambda e: (e.log.run_name, e.log.session_index,
                                                 e.log.session_id))
    return result
