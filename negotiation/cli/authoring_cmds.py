"""``game stats|harden|derive|plot`` (placeholder until game authoring lands)."""

from __future__ import annotations

import argparse

from negotiation.errors import ConfigError


def add_game(p: argparse.ArgumentParser) -> None:
    """Options of ``game``."""
    p.add_argument("action")


def cmd_game(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise ConfigError("game authoring is not implemented yet")
