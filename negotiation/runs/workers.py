"""``--workers K``: a sweep's sessions in K worker processes on this machine.

Each worker is a spawned process with its own event loop running many sessions at once (its
share of ``--concurrency`` and of the provider limits, rounded up); the parent is the driver
(``driver.py``) and alone writes the run folder. A worker exits as soon as its parent is gone:
Linux kills it (``PR_SET_PDEATHSIG``) even when the parent was SIGKILLed, and a watchdog
thread checks the parent's pid elsewhere, so no worker outlives a dead sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from typing import Any

from negotiation.runs.driver import Event
from negotiation.runs.remote import SessionTask, WorkerRuntime, WorkerSettings
from negotiation.runs.setup import worker_name

STOP = "stop"
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


async def _serve(index: int, inbox: Any, outbox: Any, settings: WorkerSettings) -> None:
    name = f"{worker_name()} worker {index}"
    runtime = WorkerRuntime(name, settings, lambda event: outbox.put((str(index), event)))
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    try:
        while True:
            message = await loop.run_in_executor(None, inbox.get)
            if message == STOP:
                break
            task = loop.create_task(runtime.run(message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.aclose()


def worker_main(index: int, parent: int, inbox: Any, outbox: Any,
                settings: WorkerSettings) -> None:
    """A worker process: serve tasks until told to stop or the parent dies."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides; it sends STOP
    asyncio.run(_serve(index, inbox, outbox, settings))
    sys.exit(0)


class ProcessTransport:
    """K worker processes reached through multiprocessing queues."""

    def __init__(self, workers: int, settings: WorkerSettings) -> None:
        context = mp.get_context("spawn")
        self.outbox: Any = context.Queue()
        self.settings = settings
        self.inboxes = [context.Queue() for _ in range(workers)]
        self.processes = [context.Process(target=worker_main, name=f"negotiation-worker-{i}",
                                          args=(i, os.getpid(), self.inboxes[i], self.outbox,
                                                settings), daemon=True)
                          for i in range(workers)]
        for process in self.processes:
            process.start()
        self._dead: set[str] = set()
        self._late: list[tuple[str, Event]] = []

    def workers(self) -> list[str]:
        return [str(i) for i, p in enumerate(self.processes) if p.is_alive()]

    def capacity(self, worker: str) -> int:
        return self.settings.concurrency

    def submit(self, worker: str, task: SessionTask) -> None:
        self.inboxes[int(worker)].put(task)

    def poll(self, timeout: float) -> list[tuple[str, Event]]:
        events, self._late = self._late, []
        if events:
            return events
        try:
            events.append(self.outbox.get(timeout=timeout))
            while True:
                events.append(self.outbox.get_nowait())
        except queue.Empty:
            pass
        return events

    def lost(self) -> list[str]:
        gone = {str(i) for i, p in enumerate(self.processes) if not p.is_alive()} - self._dead
        self._dead |= gone
        return sorted(gone)

    def stop(self) -> None:
        """Tell every worker to stop, keep what they still send (a process with unread
        queue items cannot exit), then wait for them."""
        for inbox, process in zip(self.inboxes, self.processes):
            if process.is_alive():
                inbox.put(STOP)
        deadline = time.monotonic() + 30
        while any(p.is_alive() for p in self.processes) and time.monotonic() < deadline:
            self._late += self.poll(0.05)
        for process in self.processes:
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
