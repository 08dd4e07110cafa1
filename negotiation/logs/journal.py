"""Append-only session journals: the log of a running session, written in time linear in turns.

While a session runs, its log is ``session-<id>.jsonl``: a header line holding the log as it was
when this journal started (turns included, on a resume), then one line per completed turn. When
the session ends (complete or failed) the journal is compacted into ``session-<id>.json`` (the
session log format, written atomically) and removed. A crash leaves the journal behind; reading
it gives the log up to the last complete line (a torn last line is ignored), so a rerun resumes
after the last completed turn.

Lines are appended with one ``write`` each and reach the operating system at once (a killed
process loses nothing written); ``fsync`` is batched by a ``Syncer`` thread shared by all
sessions of a run, so a machine crash loses at most the turns of the last batch.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from negotiation.logs.clock import now_iso
from negotiation.logs.records import SessionLog, TurnRecord, write_atomic

JOURNAL_SUFFIX = ".jsonl"
SYNC_INTERVAL_S = 0.05


def journal_path(log_path: Path) -> Path:
    """The journal beside a session log path (``session-<id>.json`` -> ``.jsonl``)."""
    return log_path.with_suffix(JOURNAL_SUFFIX)


class Syncer:
    """A thread that fsyncs the files it is told about, in batches (group commit)."""

    def __init__(self, interval_s: float = SYNC_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.batches = 0
        self._thread = threading.Thread(target=self._loop, name="journal-fsync", daemon=True)
        self._thread.start()

    def mark(self, path: Path) -> None:
        """``path`` has unsynced appends."""
        with self._lock:
            self._dirty.add(path)

    def _flush(self) -> None:
        with self._lock:
            batch, self._dirty = self._dirty, set()
        for path in batch:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:  # compacted meanwhile: the log is synced itself
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if batch:
            self.batches += 1

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval_s)
            self._flush()

    def close(self) -> None:
        """Sync what is pending and stop the thread."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        self._flush()


def _line(key: str, value: Any) -> bytes:
    return (json.dumps({key: value}, separators=(",", ":"), ensure_ascii=False)
            + "\n").encode("utf-8")


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def header_text(log: SessionLog) -> str:
    """The journal's first line: the log so far."""
    log.updated_at = now_iso()
    return _line("header", log.model_dump(mode="json")).decode("utf-8")


def turn_line(turn: TurnRecord, order: list[str] | None = None) -> bytes:
    """One turn's journal line (with the speaking order when the moderator extended it)."""
    record: dict[str, Any] = {"turn": turn.model_dump(mode="json")}
    if order is not None:
        record["order"] = order
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def final_text(log: SessionLog) -> str:
    """The session log a journal is compacted into."""
    log.updated_at = now_iso()
    return log.model_dump_json(indent=1) + "\n"


class Journal:
    """The files of one session in a run folder: its journal while it runs, its log after.

    The engine's sink (``JournalSink``) and the driver of worker processes (which receives
    ready-made lines) both write through it, so there is one way a run folder is written.
    """

    def __init__(self, path: Path, syncer: Syncer | None = None) -> None:
        self.path = path
        self.journal = journal_path(path)
        self.syncer = syncer
        self.bytes_written = 0

    def begin(self, header: str) -> None:
        """A fresh journal (replacing any older one) whose first line is ``header``."""
        write_atomic(self.journal, header)
        self.bytes_written += len(header.encode("utf-8"))

    def append(self, line: bytes) -> None:
        """Append one line; fsync now, or in the syncer's next batch."""
        _append(self.journal, line)
        self.bytes_written += len(line)
        if self.syncer is not None:
            self.syncer.mark(self.journal)
        else:
            fd = os.open(self.journal, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

    def finish(self, text: str) -> None:
        """Write the session log (atomic, synced), then drop the journal."""
        write_atomic(self.path, text)
        self.bytes_written += len(text.encode("utf-8"))
        self.journal.unlink(missing_ok=True)


class JournalSink:
    """The engine's log sink for one session: journal while running, compact at the end."""

    def __init__(self, path: Path, syncer: Syncer | None = None) -> None:
        self.files = Journal(path, syncer)
        self._order: list[str] = []

    @property
    def bytes_written(self) -> int:
        """Bytes written so far (headers, lines, the final log)."""
        return self.files.bytes_written

    async def begin(self, log: SessionLog) -> None:
        """A fresh journal whose header is the log so far (replacing any older journal)."""
        self.files.begin(header_text(log))
        self._order = list(log.order)

    async def turn(self, log: SessionLog, turn: TurnRecord) -> None:
        """Append one turn (and the speaking order when the moderator extended it)."""
        order = None
        if log.order != self._order:
            order = self._order = list(log.order)
        self.files.append(turn_line(turn, order))

    async def save(self, log: SessionLog) -> None:
        """The session ended: write the session log (atomic, synced), drop the journal."""
        self.files.finish(final_text(log))


def parse_journal(data: bytes) -> tuple[dict[str, Any], bool]:
    """The log a journal holds as JSON data, and whether its last line was torn."""
    lines = data.split(b"\n")
    torn = bool(lines[-1])  # a complete file ends with a newline
    complete = [line for line in lines[:-1] if line.strip()]
    if not complete:
        raise ValueError("journal has no header line")
    head = json.loads(complete[0])
    if not isinstance(head, dict) or not isinstance(head.get("header"), dict):
        raise ValueError("first journal line is not a header")
    log = head["header"]
    turns = list(log.get("turns") or [])
    for number, raw in enumerate(complete[1:], start=2):
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            if number == len(complete):  # a torn line that happens to end in a newline
                torn = True
                break
            raise ValueError(f"journal line {number} is not JSON") from None
        if not isinstance(entry, dict) or "turn" not in entry:
            raise ValueError(f"journal line {number} is not a turn")
        turns.append(entry["turn"])
        if "order" in entry:
            log["order"] = entry["order"]
    log["turns"] = turns
    log["status"], log["error"] = "running", None  # a journal is an unfinished session
    return log, torn
