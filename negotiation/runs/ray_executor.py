"""Runs the sessions of a sweep as Ray tasks (``--executor ray``).

Each task runs one session in its own event loop and writes its own log into the shared output
folder, exactly as the asyncio executor would; the driver only holds the run lock, caps the
number of tasks in flight at ``plan.concurrency`` and writes the summary. On one machine
``ray.init()`` starts a local cluster; ``--ray-address`` joins an existing one, whose nodes must
have this package installed and see the same output folder.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from negotiation.backends.base import FatalError, TransientError
from negotiation.core.errors import ConfigError
from negotiation.logs.reading import read_log
from negotiation.runs.specs import ExperimentPlan
from negotiation.runs.summary import summarise, write_summary
from negotiation.runs.sweep import Job, Sweep


def run_one_session(game_dir: str, incentives: dict[str, str], parties: list[str],
                    log_path: str, log_json: str, base_url: str | None) -> str:
    """Run one session to its end inside a Ray worker; returns the final status."""
    from negotiation.games.loader import load_game
    from negotiation.logs.records import SessionLog

    game = load_game(Path(game_dir), incentives, parties)
    log = SessionLog.model_validate_json(log_json)
    plan = ExperimentPlan(name="ray-task", out=Path(log_path).parent, sessions=(), concurrency=1)
    job = Job(game, log, Path(log_path), base_url=base_url)
    sweep = Sweep(plan, [job])
    try:
        asyncio.run(sweep.run())
    except (FatalError, TransientError) as err:  # the log already records the failure
        return f"failed: {err}"
    return job.log.status


def _init_ray(address: str | None) -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install ray==2.60.0") from None
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            temp = Path(tempfile.gettempdir()) / f"ray-negotiation-{os.getuid()}"
            ray.init(include_dashboard=False, log_to_driver=False, _temp_dir=str(temp))
    return ray


def _submit(ray: Any, remote: Any, job: Job) -> Any:
    return remote.remote(str(job.game.scoring.path),
                         {p.name: p.incentive for p in job.game.parties},
                         [p.name for p in job.game.parties], str(job.path),
                         job.log.model_dump_json(), job.base_url)


def run_jobs_ray(plan: ExperimentPlan, jobs: list[Job], address: str | None = None,
                 on_event: Callable[[str, Job], None] | None = None) -> dict[str, Any]:
    """Run the unfinished jobs as Ray tasks, at most ``plan.concurrency`` at a time."""
    ray = _init_ray(address)
    remote = ray.remote(num_cpus=0)(run_one_session)
    start = time.monotonic()
    if True:  # the caller holds the run lock (sweep.open_run)
        pending = [j for j in jobs if j.log.status != "complete"]
        running: dict[Any, Job] = {}
        try:
            while pending or running:
                while pending and len(running) < plan.concurrency:
                    job = pending.pop(0)
                    running[_submit(ray, remote, job)] = job
                done, _ = ray.wait(list(running), num_returns=1)
                job = running.pop(done[0])
                status = ray.get(done[0])
                job.log = read_log(job.path)
                if on_event is not None:
                    on_event("done" if status == "complete" else "failed", job)
        finally:
            summary = summarise(plan, jobs, time.monotonic() - start, {"executor": "ray"})
            write_summary(plan, summary)
    return summary
