"""A Ray worker-process setup hook for the tests: any attempt to open a file for writing in the
run folder (``NEGOTIATION_TEST_RUN_DIR``) raises, so a test proves only the driver wrote it."""

from __future__ import annotations

import os
import sys
from typing import Any


def guard() -> None:
    """Install the audit hook in this worker process."""
    root = os.environ.get("NEGOTIATION_TEST_RUN_DIR")
    if not root:
        return

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "sqlite3.connect" and os.path.realpath(str(args[0])).startswith(root):
            raise PermissionError(f"a worker opened a database in the run folder: {args[0]}")
        if event != "open" or not isinstance(args[0], str):
            return
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
            bool(isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writes and os.path.realpath(args[0]).startswith(root):
            raise PermissionError(f"a worker wrote into the run folder: {args[0]}")

    sys.addaudithook(hook)
