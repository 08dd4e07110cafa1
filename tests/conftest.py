"""Shared fixtures: paths of the shipped games and a helper to run scripted sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so CI results are reproducible.
settings.register_profile("deterministic", derandomize=True)
settings.load_profile("deterministic")

from negotiation.agents.registry import make_seats
from negotiation.core.game import Game
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game
from negotiation.logs.records import SessionLog
from negotiation.logs.journal import JournalSink
from negotiation.protocol.engine import SessionRunner
from negotiation.protocol.seats import Seat
from negotiation.runs.setup import RunSettings, assign_models, new_log

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def base_game() -> Game:
    """The shipped ``base`` game."""
    return load_game(DEFAULT_GAMES_DIR / "base")


def start_session(game: Game, settings: RunSettings, out: Path, index: int = 0,
                  run_name: str = "run") -> tuple[SessionLog, Path]:
    """A new session log and the path it will be written to."""
    log = new_log(game, assign_models(game, settings), settings, run_name, index)
    return log, out / run_name / f"session-{log.session_id}.json"


def run_session(game: Game, log: SessionLog, path: Path,
                seats: Mapping[str, Seat] | None = None) -> SessionLog:
    """Run (or resume) a session to its end with the log's own seats unless given."""
    chosen = seats if seats is not None else make_seats(game, log)
    return asyncio.run(SessionRunner(game, chosen, log, JournalSink(path)).run())
