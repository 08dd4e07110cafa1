"""Sessions run away from the run folder: what a worker is sent, and how it reports back.

Worker processes (``--workers K``) and Ray actors run sessions on their own event loops and
never write the run folder: a ``ForwardSink`` turns the engine's begin/turn/end into events
(ready-made journal lines) that the driver (``driver.py``) alone writes. A task carries the
log so far and the game folder's files, so a worker on another machine needs no shared disk.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from negotiation.agents.registry import SeatResources, make_seats
from negotiation.agents.specs import parse_spec
from negotiation.backends.base import Backend
from negotiation.backends.cache import CachedBackend, ResponseCache
from negotiation.core.game import Game
from negotiation.games.loader import load_game
from negotiation.logs.journal import final_text, header_text, turn_line
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.protocol.engine import SessionRunner
from negotiation.runs.limits import Counters, GatedBackend, ProviderGate
from negotiation.runs.specs import RateLimit

Event = tuple[Any, ...]
"""("begin", sid, header) | ("turn", sid, line, party, in, out, cached) | ("end", sid, text)
| ("error", sid, message)."""
Emit = Callable[[Event], None]


@dataclass(frozen=True)
class SessionTask:
    """One session for a worker: its log so far and its game (files included)."""

    session_id: str
    log_json: str
    game_files: dict[str, bytes]
    incentives: dict[str, str]
    parties: list[str]
    base_url: str | None = None


@dataclass(frozen=True)
class WorkerSettings:
    """One worker's share of the sweep's limits, and where its response cache is."""

    concurrency: int
    in_flight: int
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    cache_path: str | None = None
    cache_mode: str = "use"


def share(settings: WorkerSettings, workers: int) -> WorkerSettings:
    """``settings`` divided evenly between ``workers`` (rounded up)."""
    def part(value: float | None) -> float | None:
        return None if value is None else value / workers

    limits = {name: RateLimit(None if r.max_in_flight is None else
                              math.ceil(r.max_in_flight / workers),
                              part(r.requests_per_minute), part(r.tokens_per_minute))
              for name, r in settings.rate_limits.items()}
    return replace(settings, concurrency=math.ceil(settings.concurrency / workers),
                   in_flight=math.ceil(settings.in_flight / workers), rate_limits=limits)


def game_files(folder: Path) -> dict[str, bytes]:
    """Every file of a game folder, by relative path (what a task ships)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class ForwardSink:
    """The engine's sink inside a worker: every event goes to the driver."""

    def __init__(self, session_id: str, emit: Emit) -> None:
        self.session_id = session_id
        self.emit = emit
        self._order: list[str] = []

    async def begin(self, log: SessionLog) -> None:
        self._order = list(log.order)
        self.emit(("begin", self.session_id, header_text(log)))

    async def turn(self, log: SessionLog, turn: TurnRecord) -> None:
        order = None
        if log.order != self._order:
            order = self._order = list(log.order)
        self.emit(("turn", self.session_id, turn_line(turn, order), turn.party,
                   turn.input_tokens, turn.output_tokens, turn.cached))

    async def save(self, log: SessionLog) -> None:
        self.emit(("end", self.session_id, final_text(log)))


class WorkerRuntime:
    """Runs the tasks it is given on the current event loop, many at once."""

    def __init__(self, name: str, settings: WorkerSettings, emit: Emit) -> None:
        self.name = name
        self.settings = settings
        self.emit = emit
        self.gates: dict[str, ProviderGate] = {}
        self.cache: ResponseCache | None = None
        self.resources = SeatResources(wrap=self._wrap)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.counters = Counters()
        self._games: dict[tuple[Any, ...], Game] = {}
        self._scratch = Path(tempfile.mkdtemp(prefix="negotiation-worker-"))

    def _wrap(self, backend: Backend) -> Backend:
        provider = parse_spec(backend.spec).provider
        if provider not in self.gates:
            limit = self.settings.rate_limits.get(provider) or RateLimit()
            self.gates[provider] = ProviderGate(limit, self.counters,
                                                limit.max_in_flight or self.settings.in_flight)
        gated: Backend = GatedBackend(backend, self.gates[provider])
        if self.settings.cache_path is None:
            return gated
        if self.cache is None:  # opened when the first model backend is made
            self.cache = ResponseCache(Path(self.settings.cache_path))
        return CachedBackend(gated, self.cache, self.settings.cache_mode)  # type: ignore[arg-type]

    def game(self, task: SessionTask) -> Game:
        """The task's game, unpacked once per content and party set."""
        key = (hash(tuple(sorted(task.game_files.items()))), tuple(sorted(task.incentives.items())),
               tuple(task.parties))
        if key not in self._games:
            folder = self._scratch / f"game-{len(self._games)}"
            for rel, data in task.game_files.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)
            self._games[key] = load_game(folder, task.incentives, task.parties)
        return self._games[key]

    async def run(self, task: SessionTask) -> None:
        """Run one task to its end; every outcome is an event."""
        async with self.slots:
            try:
                log = SessionLog.model_validate_json(task.log_json)
                log.status, log.error, log.worker = "running", None, self.name
                game = self.game(task)
                seats = make_seats(game, log, task.base_url, self.resources)
                await SessionRunner(game, seats, log, ForwardSink(task.session_id,
                                                                  self.emit)).run()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - reported; the engine logged what it ran
                self.emit(("error", task.session_id, f"{type(err).__name__}: {err}"))

    async def aclose(self) -> None:
        """Close the clients and the cache."""
        await self.resources.aclose()
        if self.cache is not None:
            self.cache.close()
