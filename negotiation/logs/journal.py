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

import asyncio
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
    """A thread that fsyncs the journals it is told about, in batches (group commit).

    A failed fsync (a full or broken disk) is kept in ``error`` and raised by the next append
    of any journal, so the sweep stops instead of running on without durable logs."""

    def __init__(self, interval_s: float = SYNC_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._dirty: set[Journal] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.batches = 0
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._loop, name="journal-fsync", daemon=True)
        self._thread.start()

    def mark(self, journal: Journal) -> None:
        """``journal`` has unsynced appends."""
        with self._lock:
            self._dirty.add(journal)

    def _flush(self) -> None:
        with self._lock:
            batch, self._dirty = self._dirty, set()
        for journal in batch:
            try:
                journal.sync()
            except OSError as err:
                self.error = self.error or err
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def header_text(log: SessionLog) -> str:
    """The journal's first line: the log so far."""
    log.updated_at = now_iso()
    return _line("header", log.model_dump(mode="json")).decode("utf-8")


def turn_line(turn: TurnRecord, order: list[str] | None = None) -> bytes:
    """One turn's journal line (with the speaking order when the moderator extended it);
    the turn is serialised once, by pydantic, straight to JSON (not to a dict and then again)."""
    tail = b"}\n" if order is None else b',"order":' + json.dumps(
        order, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"}\n"
    return b'{"turn":' + turn.model_dump_json().encode("utf-8") + tail


def final_text(log: SessionLog) -> str:
    """The session log a journal is compacted into."""
    log.updated_at = now_iso()
    return log.model_dump_json(indent=1) + "\n"


class Journal:
    """The files of one session in a run folder: its journal while it runs, its log after.

    The engine's sink (``JournalSink``) and the driver of worker processes (which receives
    ready-made lines) both write through it, so there is one way a run folder is written. The
    journal stays open from ``begin`` to ``finish`` (or ``close``): an ``open`` per turn cost
    more than the rest of the turn's log writing.
    """

    def __init__(self, path: Path, syncer: Syncer | None = None) -> None:
        self.path = path
        self.journal = journal_path(path)
        self.syncer = syncer
        self.bytes_written = 0
        self._fd: int | None = None
        self._lock = threading.Lock()  # the syncer thread fsyncs the same descriptor

    def begin(self, header: str) -> None:
        """A fresh journal (replacing any older one) whose first line is ``header``."""
        self.close()
        write_atomic(self.journal, header)
        self.bytes_written += len(header.encode("utf-8"))
        self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND)

    def append(self, line: bytes) -> None:
        """Append one line; fsync now, or in the syncer's next batch."""
        if self.syncer is not None and self.syncer.error is not None:
            raise self.syncer.error
        if self._fd is None:
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND)
        try:
            _write_all(self._fd, line)
        except OSError as err:  # os.write names no file: say which one
            raise OSError(err.errno, err.strerror, str(self.journal)) from None
        self.bytes_written += len(line)
        if self.syncer is not None:
            self.syncer.mark(self)
        else:
            self.sync()

    def sync(self) -> None:
        """fsync what was appended (nothing when the journal is closed)."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        """Close the journal file, leaving it on disk (a session moved elsewhere)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def finish(self, text: str) -> None:
        """Write the session log (atomic, synced), then drop the journal."""
        write_atomic(self.path, text)
        self.bytes_written += len(text.encode("utf-8"))
        self.close()
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
        """A fresh journal whose header is the log so far (replacing any older journal);
        written (and fsynced) in a worker thread, so other sessions keep running."""
        self._order = list(log.order)
        await asyncio.to_thread(self.files.begin, header_text(log))

    async def turn(self, log: SessionLog, turn: TurnRecord) -> None:
        """Append one turn (and the speaking order when the moderator extended it)."""
        order = None
        if log.order != self._order:
            order = self._order = list(log.order)
        self.files.append(turn_line(turn, order))

    async def save(self, log: SessionLog) -> None:
        """The session ended: write the session log (atomic, synced), drop the journal, in a
        worker thread (an fsync, and the unlink of a just-synced file, take milliseconds)."""
        await asyncio.to_thread(self.files.finish, final_text(log))

    def close(self) -> None:
        """Close the journal file if the session stopped without ending (cancelled)."""
        self.files.close()


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
