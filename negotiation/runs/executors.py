"""Running a sweep's jobs elsewhere than this event loop: worker processes, or Ray.

Both hand the jobs to the driver (``driver.py``), which alone writes the run folder; they
differ in the transport. Each worker gets an even share (rounded up) of the sweep's
concurrency and provider limits; ``--concurrency`` stays the total.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from negotiation.backends.cache import CACHE_NAME
from negotiation.runs.budget import CostGuard
from negotiation.runs.driver import Driver, Transport
from negotiation.runs.limits import Counters
from negotiation.runs.remote import WorkerSettings, share
from negotiation.runs.specs import ExperimentPlan


def worker_settings(plan: ExperimentPlan, shared_disk: bool) -> WorkerSettings:
    """The whole sweep's limits (``share`` divides them); the run folder's response cache
    only where workers see the run folder."""
    cache = str(plan.run_dir / CACHE_NAME) if shared_disk and plan.cache != "off" else None
    return WorkerSettings(plan.concurrency, plan.concurrency, dict(plan.rate_limits), cache,
                          "replay" if plan.cache == "replay" else "use")


def drive(plan: ExperimentPlan, jobs: Sequence[Any], transport: Transport,
          on_event: Callable[[str, Any], None], guard: CostGuard | None,
          counters: Counters) -> Driver:
    """Run ``jobs`` through ``transport`` until done (or stopped); the driver's state."""
    if guard is not None and counters.prices is None:
        counters.prices = guard.table
    driver = Driver(plan, jobs, transport, on_event, counters, guard)
    driver.run()
    return driver


def in_workers(plan: ExperimentPlan, jobs: Sequence[Any], on_event: Callable[[str, Any], None],
               guard: CostGuard | None, counters: Counters) -> Driver:
    """``--workers K``: K processes on this machine."""
    from negotiation.runs.workers import ProcessTransport

    transport = ProcessTransport(plan.workers, share(worker_settings(plan, True), plan.workers))
    return drive(plan, jobs, transport, on_event, guard, counters)


def on_ray(plan: ExperimentPlan, jobs: Sequence[Any], on_event: Callable[[str, Any], None],
           guard: CostGuard | None, counters: Counters, address: str | None) -> Driver:
    """``--executor ray``: one actor per CPU of the cluster, no shared disk needed."""
    from negotiation.runs.ray_executor import RayTransport

    transport = RayTransport(address, lambda n: share(worker_settings(plan, False), n))
    return drive(plan, jobs, transport, on_event, guard, counters)
