"""The allowed range of every number a run takes, one table for CLI flags, YAML keys and code.

A number outside its range is a one-line ``ConfigError`` before anything runs (a YAML file's
error names the file and line). The reasons for the limits are in docs/guarantees.md; change a
bound only with a reason there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import MappingProxyType

from negotiation.core.errors import ConfigError
from negotiation.logs.records import MAX_SEED

BOUNDS: MappingProxyType[str, tuple[int, int]] = MappingProxyType({
    "rounds": (0, 1_000),
    "window": (0, 1_000),
    "sessions": (1, 100_000),
    "repetitions": (1, 100_000),
    "concurrency": (1, 10_000),
    "max_tokens": (1, 131_072),
    "seed": (0, MAX_SEED),
    "summary_every": (1, 1_000),
    "workers": (1, 64),
    "max_in_flight": (1, 10_000),
})
"""Name -> (lowest, highest) allowed value, both included."""


def flag_name(name: str) -> str:
    """``max_tokens`` -> ``--max-tokens``."""
    return "--" + name.replace("_", "-")


def check(name: str, value: int | None, label: str | None = None) -> int | None:
    """``value`` when it lies in ``BOUNDS[name]`` (or is None), else ``ConfigError``."""
    if value is None:
        return None
    low, high = BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{label or flag_name(name)} must be an integer from {low:,} to "
                          f"{high:,}, got {str(value)[:30]}")
    return value


def flag_type(name: str) -> Callable[[str], int]:
    """An argparse ``type=`` that parses an integer and checks its bound (argparse exits 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text[:30]!r}") from None
        try:
            check(name, value)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err).split(" must ", 1)[1]) from None
        return value

    parse.__name__ = name
    return parse
