"""Timestamps for logs (kept in one place so the volatile fields are easy to find)."""

from __future__ import annotations

from datetime import datetime, timezone


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def stamp() -> str:
    """A compact UTC timestamp for run folder names, e.g. ``20261122-031500``."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
