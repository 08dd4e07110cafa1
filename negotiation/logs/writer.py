"""Where a running session's log goes: the engine reports its start, turns and end to a sink.

``JournalSink`` (``journal.py``, what runs use) appends one line per turn. ``SnapshotSink``
rewrites the whole log atomically (temp file, fsync, rename) in a worker thread
after every turn, so other sessions keep running meanwhile and a crash loses at most the turn
in flight.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from negotiation.logs.clock import now_iso
from negotiation.logs.records import SessionLog, TurnRecord, write_atomic


class LogSink(Protocol):
    """Receives a session's progress."""

    async def begin(self, log: SessionLog) -> None:
        """The session starts (or resumes) with the turns already in ``log``."""
        ...

    async def turn(self, log: SessionLog, turn: TurnRecord) -> None:
        """``turn`` was just appended to ``log.turns``."""
        ...

    async def save(self, log: SessionLog) -> None:
        """The session ended (complete or failed)."""
        ...


class SnapshotSink:
    """Writes the whole log to ``path`` after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def begin(self, log: SessionLog) -> None:
        """Nothing to do: the first turn writes the file."""

    async def turn(self, log: SessionLog, turn: TurnRecord) -> None:
        await self.save(log)

    async def save(self, log: SessionLog) -> None:
        log.updated_at = now_iso()
        text = log.model_dump_json(indent=1) + "\n"
        await asyncio.to_thread(write_atomic, self.path, text)
