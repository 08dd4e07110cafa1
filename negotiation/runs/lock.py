"""The run folder's lock: taken before anything in the folder is read, by every writer.

Runs, sweeps, ``annotate`` and ``index`` write into a run folder; each holds an exclusive
``flock`` on ``RUN/.lock`` for the whole time it reads and writes there, so a second process
started meanwhile stops at once (exit 2, naming the holder) instead of acting on logs that are
about to change. The operating system releases the lock when the holder dies, however it dies.
Taking the lock also removes the temp files a killed writer may have left.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from negotiation.core.errors import ConfigError

LOCK_NAME = ".lock"


def remove_stale_temp_files(run_dir: Path) -> None:
    """Delete temp files left by a process killed mid-write (call with the lock held)."""
    for stale in run_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


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
        remove_stale_temp_files(run_dir)
        yield
    finally:
        handle.close()
