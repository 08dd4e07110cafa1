"""The sweep runner: many sessions concurrently, resumable, locked, with a summary.

Sessions of an ``ExperimentPlan`` run concurrently (up to ``plan.concurrency``) in one event
loop; calls to each provider pass through one shared gate (calls in flight, requests and tokens
per minute). A failed session is recorded with its error and the sweep goes on. Rerunning the
same plan skips complete sessions and resumes the others from their last completed turn. An OS
lock on the run folder keeps a second process out; it is released even if the holder is killed.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negotiation.backends.base import Backend, FatalError, TransientError
from negotiation.agents.registry import SeatResources, make_seats
from negotiation.agents.specs import parse_spec
from negotiation.protocol.engine import SessionRunner
from negotiation.core.errors import ConfigError
from negotiation.core.game import Game
from negotiation.runs.limits import Counters, GatedBackend, ProviderGate
from negotiation.games.loader import load_game
from negotiation.runs.specs import ExperimentPlan, RateLimit
from negotiation.logs.reading import LogReadError, existing_log, find_logs, read_log
from negotiation.logs.records import SessionLog, write_atomic
from negotiation.logs.journal import JournalSink, Syncer
from negotiation.protocol.seats import Seat
from negotiation.runs.setup import assign_models, new_log
from negotiation.logs.clock import now_iso

DEFAULT_LIMITS = {"scripted": RateLimit(max_in_flight=1024)}
LOCK_NAME = ".lock"


@dataclass
class Job:
    """One session of the sweep: its game, log, log path and a readable label."""

    game: Game
    log: SessionLog
    path: Path
    label: str = ""
    base_url: str | None = None


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``run_dir/.lock`` (released when the process dies)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(f"{run_dir} is in use by {holder}; wait for it to finish "
                              "(the lock is released when that process exits)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


def remove_stale_temp_files(run_dir: Path) -> None:
    """Delete temp files left by a process killed mid-write (call with the lock held)."""
    for stale in run_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def prepare(plan: ExperimentPlan) -> list[Job]:
    """Build (or reload) the log of every session of the plan; nothing is written."""
    games: dict[tuple[Any, ...], Game] = {}
    jobs = []
    for spec in plan.sessions:
        key = (spec.game, tuple(sorted(spec.incentives.items())), spec.parties)
        if key not in games:
            games[key] = load_game(spec.game, dict(spec.incentives), spec.parties)
        game = games[key]
        log = new_log(game, assign_models(game, spec.settings), spec.settings, plan.name,
                      spec.index)
        path = plan.run_dir / f"session-{log.session_id}.json"
        log = existing_log(path) or log
        jobs.append(Job(game, log, path, spec.label, spec.settings.base_url))
    ids = [j.log.session_id for j in jobs]
    if len(set(ids)) != len(ids):
        raise ConfigError("two sessions of the plan have the same configuration and index")
    return jobs


class Sweep:
    """Runs the jobs of one plan in the current event loop."""

    def __init__(self, plan: ExperimentPlan, jobs: list[Job],
                 on_event: Callable[[str, Job], None] | None = None,
                 counters: Counters | None = None) -> None:
        self.plan = plan
        self.jobs = jobs
        self.counters = counters or Counters()
        self.gates: dict[str, ProviderGate] = {}
        self.resources = SeatResources(wrap=self._gated)
        self.on_event = on_event or (lambda kind, job: None)
        self.stopped_for_cost = False
        self.cost_guard: Callable[[list[Job]], bool] | None = None
        self.seats: dict[int, dict[str, Seat]] = {}
        self.syncer: Syncer | None = None

    def create_seats(self) -> None:
        """Create every pending job's seats up front, so that a missing key or SDK is a
        configuration error before anything is written."""
        for job in self.jobs:
            if job.log.status != "complete":
                self.seats[id(job)] = self._seats(job)

    def _gate(self, provider: str) -> ProviderGate:
        if provider not in self.gates:
            limit = self.plan.rate_limits.get(provider) or DEFAULT_LIMITS.get(provider, RateLimit())
            self.gates[provider] = ProviderGate(limit, self.counters)
        return self.gates[provider]

    def _gated(self, backend: Backend) -> Backend:
        return GatedBackend(backend, self._gate(parse_spec(backend.spec).provider))

    def _seats(self, job: Job) -> dict[str, Seat]:
        try:
            return make_seats(job.game, job.log, job.base_url, self.resources)
        except FatalError as err:
            raise ConfigError(f"{err} (models named in config.txt can be overridden with "
                              "--model or --party-model)") from None

    async def _run_job(self, job: Job, slots: asyncio.Semaphore) -> None:
        async with slots:
            if self.cost_guard is not None and not self.cost_guard(self.jobs):
                self.stopped_for_cost = True
                return
            job.log.status, job.log.error = "running", None
            self.on_event("start", job)
            seats = self.seats.get(id(job)) or self._seats(job)
            runner = SessionRunner(job.game, seats, job.log, JournalSink(job.path, self.syncer),
                                   lambda log, turn, total: self.on_event("turn", job))
            try:
                job.log = await runner.run()
            except (FatalError, TransientError):
                self.on_event("failed", job)
                return
            self.on_event("done", job)

    async def run(self) -> None:
        """Run every job that is not complete yet."""
        slots = asyncio.Semaphore(self.plan.concurrency)
        pending = [j for j in self.jobs if j.log.status != "complete"]
        self.syncer = Syncer()
        try:
            await asyncio.gather(*(self._run_job(j, slots) for j in pending))
        finally:
            self.syncer.close()
            await self.resources.aclose()


def summarise(plan: ExperimentPlan, jobs: list[Job], wall_s: float,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's ``summary.json`` content."""
    from negotiation.runs.costs import default_prices_path, format_cost, load_prices, run_cost

    statuses = [j.log.status for j in jobs]
    prices = plan.prices or default_prices_path()
    totals = run_cost([j.log for j in jobs], load_prices(prices)) if prices else None
    tokens_in = sum(t.input_tokens for j in jobs for t in j.log.turns)
    tokens_out = sum(t.output_tokens for j in jobs for t in j.log.turns)
    return {
        "run": plan.name, "sessions": len(jobs), "completed": statuses.count("complete"),
        "failed": statuses.count("failed"), "unfinished": statuses.count("running"),
        "tokens": {"input": tokens_in, "output": tokens_out}, "wall_s": round(wall_s, 3),
        "estimated_cost": None if totals is None else totals.cost,
        "cost_note": None if totals is None else f"{format_cost(totals)} (prices: {prices})",
        "updated_at": now_iso(), **(extra or {}),
        "session_list": [{"id": j.log.session_id, "status": j.log.status, "label": j.label,
                          "error": j.log.error, "file": j.path.name} for j in jobs],
    }


def write_summary(plan: ExperimentPlan, summary: dict[str, Any]) -> Path:
    """Write ``summary.json`` atomically into the run folder."""
    path = plan.run_dir / "summary.json"
    write_atomic(path, json.dumps(summary, indent=1) + "\n")
    return path


def run_jobs(plan: ExperimentPlan, jobs: list[Job],
             on_event: Callable[[str, Job], None] | None = None,
             cost_guard: Callable[[list[Job]], bool] | None = None,
             counters: Counters | None = None) -> dict[str, Any]:
    """Lock the run folder, run the jobs (asyncio executor) and write ``summary.json``."""
    start = time.monotonic()
    sweep = Sweep(plan, jobs, on_event, counters)
    sweep.cost_guard = cost_guard
    sweep.create_seats()
    with run_lock(plan.run_dir):
        remove_stale_temp_files(plan.run_dir)
        try:
            asyncio.run(sweep.run())
        finally:
            summary = summarise(plan, jobs, time.monotonic() - start,
                                {"stopped_for_cost": sweep.stopped_for_cost})
            write_summary(plan, summary)
    return summary


def resume_jobs(target: Path, games_dir: Path | None = None) -> list[Job]:
    """Jobs for every session log under a run folder (or the one file given)."""
    from negotiation.games.loader import resolve_game_path

    try:
        files = find_logs(target)
        logs = [(path, read_log(path)) for path in files]
    except LogReadError as err:
        raise ConfigError(f"--resume: {err}") from None
    if not logs:
        raise ConfigError(f"--resume {target}: no session log found")
    jobs = []
    for found, log in logs:
        path = found.with_suffix(".json")
        incentives = {p.name: p.incentive for p in log.parties}
        game = load_game(resolve_game_path(log.game.path, games_dir), incentives,
                         [p.name for p in log.parties])
        jobs.append(Job(game, log, path, f"resumed {path.name}"))
    return jobs


def run_plan(plan: ExperimentPlan, on_event: Callable[[str, Job], None] | None = None,
             cost_guard: Callable[[list[Job]], bool] | None = None) -> tuple[list[Job], dict[str, Any]]:
    """Prepare and run a plan."""
    jobs = prepare(plan)
    return jobs, run_jobs(plan, jobs, on_event, cost_guard)
