"""``--executor ray``: a sweep on a Ray cluster whose nodes share no filesystem.

One actor per CPU of the cluster (``num_cpus=1`` each): at high concurrency the harness itself
is CPU-bound (prompt rendering, parsing, bookkeeping), so one event loop per core uses every
core, and each actor runs many sessions at once on its loop (its share of ``--concurrency``).
Actors receive each session with its log so far and its game folder's files, and send every
finished turn back (``remote.py``); the driver alone writes the run folder. When a node is
lost, the driver resumes that node's unfinished sessions on the other actors from the last turn
it saved; finished sessions are kept. The response cache lives in the run folder, which actors
cannot see: it is not used on Ray (docs/scale.md).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.runs.driver import Event
from negotiation.runs.remote import SessionTask, WorkerRuntime, WorkerSettings


class SessionActor:
    """A Ray actor: a ``WorkerRuntime`` on the actor's event loop, events kept until drained."""

    def __init__(self, settings: WorkerSettings) -> None:
        import ray

        context = ray.get_runtime_context()
        self.name = f"{os.getpid()}@node-{context.get_node_id()[:12]}"
        self.events: list[Event] = []
        self.runtime = WorkerRuntime(self.name, settings, self.events.append)
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, task: SessionTask) -> None:
        """Begin one session in the background."""
        job = asyncio.get_running_loop().create_task(self.runtime.run(task))
        self.tasks.add(job)
        job.add_done_callback(self.tasks.discard)

    async def drain(self) -> list[Event]:
        """The events since the last drain."""
        events, self.events[:] = list(self.events), []
        return events

    async def stop(self) -> None:
        """Cancel the running sessions (they stay resumable at the driver)."""
        for job in list(self.tasks):
            job.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.runtime.aclose()


def init_ray(address: str | None) -> Any:
    """Join ``address``, or start a local cluster (no dashboard, no token file)."""
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


class RayTransport:
    """One ``SessionActor`` per CPU of the cluster."""

    def __init__(self, address: str | None,
                 settings_for: Callable[[int], WorkerSettings]) -> None:
        self.ray = init_ray(address)
        count = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self.settings = settings_for(count)
        actor = self.ray.remote(num_cpus=1, max_restarts=0)(SessionActor)
        self.actors = {str(i): actor.remote(self.settings) for i in range(count)}
        self._lost: list[str] = []
        self._late: list[tuple[str, Event]] = []
        self._drains: dict[Any, str] = {}
        """Outstanding ``drain`` calls: a drain empties the actor's buffer, so its result must
        be collected (never abandoned after a short wait) before the next one is sent."""

    def workers(self) -> list[str]:
        return list(self.actors)

    def capacity(self, worker: str) -> int:
        return self.settings.concurrency

    def submit(self, worker: str, task: SessionTask) -> None:
        self.actors[worker].start.remote(task)

    def poll(self, timeout: float) -> list[tuple[str, Event]]:
        if self._late or not self.actors:
            events, self._late = self._late, []
            return events
        waiting = set(self._drains.values())
        for worker, actor in self.actors.items():
            if worker not in waiting:
                self._drains[actor.drain.remote()] = worker
        ready, _ = self.ray.wait(list(self._drains), num_returns=len(self._drains),
                                 timeout=max(timeout, 0.01))
        events: list[tuple[str, Event]] = []
        for ref in ready:
            worker = self._drains.pop(ref)
            try:
                events += [(worker, e) for e in self.ray.get(ref)]
            except self.ray.exceptions.RayError:  # the actor (its node) is gone
                self.actors.pop(worker, None)
                self._lost.append(worker)
        return events

    def lost(self) -> list[str]:
        gone, self._lost = self._lost, []
        return gone

    def stop(self) -> None:
        """Cancel every actor's sessions, keep the events they sent until then, end them."""
        stops = [a.stop.remote() for a in self.actors.values()]
        try:
            self.ray.get(stops, timeout=30)
        except self.ray.exceptions.RayError:
            pass
        late = self.poll(10.0)  # the drains sent before the stop (and fresh ones)...
        late += self.poll(10.0)  # ...then one more of every actor, after the stop
        for actor in self.actors.values():
            self.ray.kill(actor)
        self.actors, self._late, self._drains = {}, late, {}
