"""The sweep runner: many sessions concurrently, resumable, locked, with a summary.

``prepare`` turns a plan into jobs (games loaded, every prompt rendered once to validate it,
fresh logs built) without touching the run folder. ``open_run`` then locks the folder before
reading anything in it, replaces each job's fresh log by the one on disk (so complete sessions
are skipped and unfinished ones resume after their last completed turn) and runs the rest: in
one event loop here (``Sweep``), in worker processes (``workers.py``) or on Ray
(``ray_executor.py``). Calls to each provider pass through one shared gate; answers go through
the run's response cache.

One rule for failures: any exception inside one session (other than cancellation) marks that
session failed, with the exception and its traceback in its log, and the others go on. SIGINT
and SIGTERM abandon the calls in flight, write the summary and leave every unfinished session
resumable.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from negotiation.agents.registry import SeatResources, make_seats
from negotiation.agents.specs import parse_spec
from negotiation.backends.base import Backend, FatalError
from negotiation.backends.cache import CACHE_NAME, CachedBackend, ResponseCache
from negotiation.core.errors import ConfigError
from negotiation.core.game import Game
from negotiation.games.check import render_all
from negotiation.games.loader import load_game
from negotiation.logs.journal import JournalSink, Syncer
from negotiation.logs.reading import existing_log, load_logs
from negotiation.logs.records import SessionLog
from negotiation.protocol.engine import SessionRunner
from negotiation.protocol.seats import Seat
from negotiation.runs import lock
from negotiation.runs.budget import CostGuard
from negotiation.runs.limits import Counters, GatedBackend, ProviderGate
from negotiation.runs.setup import assign_models, game_hash, new_log, worker_name
from negotiation.runs.specs import ExperimentPlan, RateLimit
from negotiation.runs.summary import summarise, write_summary

EventFn = Callable[[str, "Job"], None]
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
"""Errors of the run folder itself (disk full, read-only, permission): the sweep stops at once,
what was written stays, and the command exits 1 with one line naming the file."""


@dataclass
class Job:
    """One session of the sweep: its game, log, log path and a readable label."""

    game: Game
    log: SessionLog
    path: Path
    label: str = ""
    base_url: str | None = None


def prepare(plan: ExperimentPlan) -> list[Job]:
    """Jobs with fresh logs for every session of the plan; reads nothing in the run folder.

    Every prompt of every game is rendered once here, so a broken template is a
    ``TemplateError`` before anything is written.
    """
    games: dict[tuple[Any, ...], tuple[Game, str]] = {}
    jobs = []
    for spec in plan.sessions:
        key = (spec.game, tuple(sorted(spec.incentives.items())), spec.parties)
        if key not in games:
            loaded = load_game(spec.game, dict(spec.incentives), spec.parties)
            render_all(loaded)
            games[key] = loaded, game_hash(loaded.scoring.path)
        game, content_hash = games[key]
        log = new_log(game, assign_models(game, spec.settings), spec.settings, plan.name,
                      spec.index, content_hash)
        path = plan.run_dir / f"session-{log.session_id}.json"
        jobs.append(Job(game, log, path, spec.label, spec.settings.base_url))
    ids = [j.log.session_id for j in jobs]
    if len(set(ids)) != len(ids):
        raise ConfigError("two sessions of the plan have the same configuration and index")
    return jobs


def check_seats(jobs: list[Job]) -> None:
    """Create every job's seats once, so that a missing key, SDK or model file is a
    ``ConfigError`` before the run folder is touched."""
    resources = SeatResources()
    try:
        for job in jobs:
            try:
                make_seats(job.game, job.log, job.base_url, resources)
            except FatalError as err:
                raise ConfigError(f"{err} (models named in config.txt can be overridden "
                                  "with --model or --party-model)") from None
    finally:
        asyncio.run(resources.aclose())


def load_existing(jobs: list[Job]) -> None:
    """Replace each job's fresh log by the one in the run folder, if any (lock held)."""
    for job in jobs:
        job.log = existing_log(job.path) or job.log


@dataclass
class Sweep:
    """Runs the jobs of one plan in the current event loop."""

    plan: ExperimentPlan
    jobs: list[Job]
    on_event: EventFn = lambda kind, job: None
    counters: Counters = field(default_factory=Counters)
    guard: CostGuard | None = None
    stopped_for_cost: bool = False
    gates: dict[str, ProviderGate] = field(default_factory=dict)
    cache: ResponseCache | None = None
    syncer: Syncer | None = None

    def __post_init__(self) -> None:
        self.resources = SeatResources(wrap=self._wrap)
        self.running = 0
        if self.guard is not None and self.counters.prices is None:
            self.counters.prices = self.guard.table  # the guard reads the live cost

    def _gate(self, provider: str) -> ProviderGate:
        if provider not in self.gates:
            limit = self.plan.rate_limits.get(provider) or RateLimit()
            in_flight = limit.max_in_flight or self.plan.concurrency
            self.gates[provider] = ProviderGate(limit, self.counters, in_flight)
        return self.gates[provider]

    def _wrap(self, backend: Backend) -> Backend:
        gated: Backend = GatedBackend(backend, self._gate(parse_spec(backend.spec).provider))
        if self.plan.cache == "off":
            return gated
        if self.cache is None:
            self.cache = ResponseCache(self.plan.run_dir / CACHE_NAME)
        return CachedBackend(gated, self.cache, "replay" if self.plan.cache == "replay" else "use")

    def seats_for(self, job: Job) -> dict[str, Seat]:
        """The seats of one job (a missing key or SDK is a ``ConfigError``)."""
        try:
            return make_seats(job.game, job.log, job.base_url, self.resources)
        except FatalError as err:
            raise ConfigError(f"{err} (models named in config.txt can be overridden with "
                              "--model or --party-model)") from None

    def _may_start(self) -> bool:
        if self.guard is None or self.guard.allows(self.counters.cost, self.running):
            return True
        self.stopped_for_cost = True
        return False

    def _failed(self, job: Job, err: Exception) -> None:
        if job.log.status != "failed":  # failed before the engine could record it
            job.log.status, job.log.error = "failed", f"{type(err).__name__}: {err}"
        self.on_event("failed", job)

    async def _run_job(self, job: Job, slots: asyncio.Semaphore) -> None:
        async with slots:
            if not self._may_start():
                return
            self.running += 1
            job.log.status, job.log.error, job.log.worker = "running", None, worker_name()
            self.on_event("start", job)
            sink = JournalSink(job.path, self.syncer)
            try:
                runner = SessionRunner(job.game, self.seats_for(job), job.log, sink,
                                       lambda log, turn, total: self.on_event("turn", job))
                job.log = await runner.run()
            except asyncio.CancelledError:
                raise
            except OSError as err:
                if err.errno in DISK_ERRNOS:  # the run folder itself is broken: stop the sweep
                    raise
                self._failed(job, err)
                return
            except Exception as err:  # noqa: BLE001 - one session's failure is its own
                self._failed(job, err)
                return
            finally:
                self.running -= 1
                sink.close()
            if self.guard is not None:
                self.guard.session_done(job.log)
            self.on_event("done", job)

    async def run(self) -> None:
        """Run every job that is not complete yet; clients close after the last session."""
        slots = asyncio.Semaphore(self.plan.concurrency)
        pending = [j for j in self.jobs if j.log.status != "complete"]
        self.syncer = Syncer()
        try:
            await asyncio.gather(*(self._run_job(j, slots) for j in pending))
        finally:
            self.syncer.close()
            await self.resources.aclose()
            if self.cache is not None:
                self.cache.close()


@dataclass
class RunHandle:
    """A locked run folder with its jobs (their logs read from disk)."""

    plan: ExperimentPlan
    jobs: list[Job]
    interrupted: int | None = None
    """The signal that stopped the sweep, if one did."""

    def execute(self, on_event: EventFn | None = None, guard: CostGuard | None = None,
                counters: Counters | None = None, executor: str = "asyncio",
                ray_address: str | None = None) -> dict[str, Any]:
        """Run the unfinished jobs (in this process, in ``plan.workers`` worker processes, or
        on Ray); write and return the summary."""
        on_event, counters = on_event or (lambda kind, job: None), counters or Counters()
        start, extra = time.monotonic(), {}
        try:
            extra = self._run(on_event, guard, counters, executor, ray_address)
        finally:
            name = signal.Signals(self.interrupted).name if self.interrupted else None
            summary = summarise(self.plan, self.jobs, time.monotonic() - start,
                                {**extra, "interrupted": name, "executor": executor,
                                 "workers": self.plan.workers})
            write_summary(self.plan, summary)
        return summary

    def _run(self, on_event: EventFn, guard: CostGuard | None, counters: Counters,
             executor: str, ray_address: str | None) -> dict[str, Any]:
        from negotiation.runs import executors

        if executor == "ray" or self.plan.workers > 1:
            driver = executors.on_ray(self.plan, self.jobs, on_event, guard, counters,
                                      ray_address) if executor == "ray" else \
                executors.in_workers(self.plan, self.jobs, on_event, guard, counters)
            self.interrupted = driver.interrupted
            return {"stopped_for_cost": driver.stopped_for_cost}
        sweep = Sweep(self.plan, self.jobs, on_event, counters, guard)
        self.interrupted = run_until_signal(sweep.run())
        cache = sweep.cache
        return {"stopped_for_cost": sweep.stopped_for_cost,
                "cache": {"hits": cache.hits, "misses": cache.misses}
                if cache is not None else None}


def run_until_signal(coroutine: Any) -> int | None:
    """Run ``coroutine``; SIGINT or SIGTERM cancels it. Returns the signal number, if any."""
    caught: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(coroutine)
        for sig in SIGNAL_EXIT:
            loop.add_signal_handler(sig, lambda s=sig: (caught.append(s), task.cancel()))
        try:
            await task
        except asyncio.CancelledError:
            if not caught:
                raise
        finally:
            for sig in SIGNAL_EXIT:
                loop.remove_signal_handler(sig)

    asyncio.run(main())
    return caught[0] if caught else None


def resume_jobs(target: Path, games_dir: Path | None = None) -> list[Job]:
    """Jobs for every session log under a run folder (or the one file given); the games are
    loaded from where the logs say they were played (or from ``games_dir``)."""
    from negotiation.games.loader import resolve_game_path

    found = load_logs(target)
    if found.problems:
        raise ConfigError(f"--resume: {found.problems[0]}")
    jobs = []
    for item in found.entries:
        log = item.log
        incentives = {p.name: p.incentive for p in log.parties}
        game = load_game(resolve_game_path(log.game.path, games_dir), incentives,
                         [p.name for p in log.parties])
        path = item.path.with_suffix(".json")
        jobs.append(Job(game, log, path, f"resumed {path.name}"))
    return jobs


@contextmanager
def open_run(plan: ExperimentPlan, jobs: list[Job] | None = None, resume: Path | None = None,
             games_dir: Path | None = None) -> Iterator[RunHandle]:
    """Lock the run folder, then read what is in it: the logs of ``jobs`` (replacing their
    fresh logs), or every session log under ``resume``."""
    with lock.run_lock(plan.run_dir):
        if resume is not None:
            jobs = resume_jobs(resume, games_dir)
            check_seats([j for j in jobs if j.log.status != "complete"])
        else:
            load_existing(jobs or [])
        yield RunHandle(plan, jobs or [])


def run_plan(plan: ExperimentPlan, on_event: EventFn | None = None,
             guard: CostGuard | None = None) -> tuple[list[Job], dict[str, Any]]:
    """Prepare, check, lock, run and summarise a plan in this process."""
    jobs = prepare(plan)
    check_seats(jobs)
    with open_run(plan, jobs) as run:
        return run.jobs, run.execute(on_event, guard)
