"""``evaluate``, ``leaderboard`` and ``plot`` (placeholder until evaluation lands)."""

from __future__ import annotations

import argparse

from negotiation.errors import ConfigError


def add_evaluate(p: argparse.ArgumentParser) -> None:
    """Options of ``evaluate``."""
    p.add_argument("paths", nargs="+")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise ConfigError("evaluate is not implemented yet")


add_leaderboard = add_plot = add_evaluate
cmd_leaderboard = cmd_plot = cmd_evaluate
