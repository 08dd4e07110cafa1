"""The driver of a sweep whose sessions run in other processes (``--workers K``, Ray).

The driver holds the run folder's lock and is the only process that writes the folder: it
sends each worker sessions (up to the worker's share of the concurrency, while the budget
allows), writes the journal lines and final logs the workers send back (``remote.py``), counts
cost from every turn, and when a worker dies, sends its unfinished sessions to another worker
from the last turn the driver saved. SIGINT/SIGTERM stop the workers and leave every
unfinished session resumable, as in one process.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from negotiation.logs.journal import Journal, Syncer
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.runs.budget import CostGuard
from negotiation.runs.limits import Counters
from negotiation.runs.remote import Event, SessionTask, game_files
from negotiation.runs.specs import ExperimentPlan

POLL_S = 0.05


class Transport(Protocol):
    """How the driver reaches its workers (processes on this machine, or Ray actors)."""

    def workers(self) -> list[str]:
        """The ids of the workers alive."""
        ...

    def capacity(self, worker: str) -> int:
        """How many sessions ``worker`` runs at once."""
        ...

    def submit(self, worker: str, task: SessionTask) -> None:
        """Start ``task`` on ``worker``."""
        ...

    def poll(self, timeout: float) -> list[tuple[str, Event]]:
        """The events sent since the last poll (waiting up to ``timeout`` for one)."""
        ...

    def lost(self) -> list[str]:
        """Workers that died since the last call."""
        ...

    def stop(self) -> None:
        """Stop every worker (their sessions stay resumable)."""
        ...


@dataclass
class Placement:
    """Where a running session is, and its files."""

    worker: str
    journal: Journal


@dataclass
class Driver:
    """Runs ``jobs`` (objects with ``log``, ``path``, ``game``, ``base_url``) on a transport."""

    plan: ExperimentPlan
    jobs: Sequence[Any]
    transport: Transport
    on_event: Callable[[str, Any], None]
    counters: Counters = field(default_factory=Counters)
    guard: CostGuard | None = None
    stopped_for_cost: bool = False
    interrupted: int | None = None

    def __post_init__(self) -> None:
        self.pending = [j for j in self.jobs if j.log.status != "complete"]
        self.running: dict[str, Placement] = {}
        self.by_id = {j.log.session_id: j for j in self.jobs}
        self.files: dict[str, dict[str, bytes]] = {}
        self.syncer = Syncer()

    def _task(self, job: Any) -> SessionTask:
        folder = job.game.scoring.path
        if str(folder) not in self.files:
            self.files[str(folder)] = game_files(folder)
        return SessionTask(job.log.session_id, job.log.model_dump_json(),
                           self.files[str(folder)], {p.name: p.incentive for p in job.log.parties},
                           [p.name for p in job.log.parties], job.base_url)

    def _allowed(self) -> bool:
        if self.guard is None or self.guard.allows(self.counters.cost, len(self.running)):
            return True
        self.stopped_for_cost = True
        return False

    def _dispatch(self) -> None:
        for worker in self.transport.workers():
            load = sum(1 for p in self.running.values() if p.worker == worker)
            while self.pending and load < self.transport.capacity(worker) and self._allowed():
                job = self.pending.pop(0)
                job.log.status, job.log.error = "running", None
                self.running[job.log.session_id] = Placement(worker, Journal(job.path,
                                                                             self.syncer))
                self.transport.submit(worker, self._task(job))
                self.on_event("start", job)
                load += 1

    def _handle(self, worker: str, event: Event) -> None:
        kind, sid = event[0], event[1]
        place, job = self.running.get(sid), self.by_id[sid]
        if place is None or place.worker != worker:
            return  # a late event of a session moved elsewhere
        if kind == "begin":
            place.journal.begin(event[2])
        elif kind == "turn":
            place.journal.append(event[2])
            job.log.turns.append(_turn_of(event[2]))
            self.counters.count(_model(job.log, event[3]), event[4], event[5], event[6])
            self.on_event("turn", job)
        elif kind == "end":
            place.journal.finish(event[2])
            job.log = SessionLog.model_validate_json(event[2])
            self._finished(sid, job)
        elif kind == "error":
            job.log.status, job.log.error = "failed", event[2]
            self._finished(sid, job)

    def _finished(self, sid: str, job: Any) -> None:
        del self.running[sid]
        if job.log.status == "complete" and self.guard is not None:
            self.guard.session_done(job.log)
        self.on_event("done" if job.log.status == "complete" else "failed", job)

    def _recover(self) -> None:
        """Sessions of lost workers go back to the queue, from the turns saved here."""
        for worker in self.transport.lost():
            for sid in [s for s, p in self.running.items() if p.worker == worker]:
                self.running.pop(sid).journal.close()
                self.pending.insert(0, self.by_id[sid])

    def run(self) -> None:
        """Until every job ended, the budget stopped new ones, or a signal came."""
        previous = {s: signal.signal(s, self._signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while (self.pending and not self.stopped_for_cost) or self.running:
                if self.interrupted is not None or not self.transport.workers():
                    break
                self._recover()
                self._dispatch()
                for worker, event in self.transport.poll(POLL_S):
                    self._handle(worker, event)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.transport.stop()
            for worker, event in self.transport.poll(0):  # what came in while stopping
                self._handle(worker, event)
            for place in self.running.values():  # interrupted: the journals stay for a resume
                place.journal.close()
            self.syncer.close()

    def _signal(self, signum: int, frame: Any) -> None:
        self.interrupted = signum


def _turn_of(line: bytes) -> TurnRecord:
    return TurnRecord.model_validate(json.loads(line)["turn"])


def _model(log: SessionLog, party: str) -> str:
    """The model spec behind a turn's party (or helper seat)."""
    for record in log.parties:
        if record.name == party:
            return record.model
    return log.helpers.get(party.lstrip("@"), "?")


def wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    """Poll ``predicate`` until true or ``seconds`` passed (for transports starting up)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(POLL_S)
    return predicate()
