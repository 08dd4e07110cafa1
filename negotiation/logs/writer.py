"""Where a running session's log goes: the engine reports its start, turns and end to a sink.

The engine depends only on this contract; ``journal.JournalSink`` (an append-only journal per
session, compacted to the session log at the end) is what runs use, and a worker process uses
a sink that forwards the same three events to the process that owns the run folder.
"""

from __future__ import annotations

from typing import Protocol

from negotiation.logs.records import SessionLog, TurnRecord


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
