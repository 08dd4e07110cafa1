"""Reading files that come from strangers: only regular files inside the folder given, bounded.

Game folders and run folders are shared between people, so every reader of them goes through
``read_inside``: the root is resolved first (a whole folder may be a symlink to another disk),
then a path that resolves outside it, a FIFO, a device or a file over the size limit is refused
with a one-line ``UnsafeFileError`` naming the file. Limits are documented in docs/guarantees.md
and can be raised through environment variables.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GAME_FILE_LIMIT_ENV = "NEGOTIATION_MAX_GAME_FILE_BYTES"
LOG_FILE_LIMIT_ENV = "NEGOTIATION_MAX_LOG_BYTES"
DEFAULT_GAME_FILE_LIMIT = 1 << 20
"""1 MB: the largest shipped game file is under 4 KB."""
DEFAULT_LOG_FILE_LIMIT = 256 << 20
"""256 MB: a 1,000-turn session log is about 3 MB."""


class UnsafeFileError(OSError):
    """A file was refused: outside its folder, not a regular file, or too large."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def limit_from_env(name: str, default: int) -> int:
    """A byte limit from the environment (a positive integer), else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise UnsafeFileError(Path(name), f"environment variable must be a positive integer "
                              f"of bytes, got {raw[:20]!r}")
    return int(raw)


def game_file_limit() -> int:
    """The size limit of one game file."""
    return limit_from_env(GAME_FILE_LIMIT_ENV, DEFAULT_GAME_FILE_LIMIT)


def log_file_limit() -> int:
    """The size limit of one session log (decompressed, for compressed inputs)."""
    return limit_from_env(LOG_FILE_LIMIT_ENV, DEFAULT_LOG_FILE_LIMIT)


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves to ``root`` or below it (``root`` already resolved)."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def check_entry(path: Path, root: Path) -> str | None:
    """Why ``path`` may not be read as a file of ``root`` (None when it may)."""
    if not inside(path, root):
        return f"resolves outside {root}"
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"cannot read ({err.strerror or err})"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or folder)"
    return None


def read_inside(path: Path, root: Path, limit: int) -> bytes:
    """The bytes of a regular file inside ``root`` of at most ``limit`` bytes.

    Raises:
        UnsafeFileError: outside the root, not a regular file, too large, or unreadable.
    """
    reason = check_entry(path, root)
    if reason is not None:
        raise UnsafeFileError(path, reason)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise UnsafeFileError(path, f"cannot read ({err.strerror or err})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):  # swapped between the check and the open
            raise UnsafeFileError(path, "not a regular file (a FIFO, device or folder)")
        if info.st_size > limit:
            raise UnsafeFileError(path, f"{info.st_size:,} bytes exceed the limit of "
                                  f"{limit:,} (raise it with the environment variable)")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFileError(path, f"more than {limit:,} bytes")
    return data
