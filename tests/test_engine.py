"""The round engine on scripted negotiators: golden session, determinism, resume, export."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from evaluation.exports.ld import export_ld
from negotiation.agents.llm import LLMSeat
from negotiation.agents.registry import make_seats
from negotiation.backends.base import Backend, Completion, FatalError, GenerateConfig, Message
from negotiation.core.game import Game
from negotiation.games.loader import load_scoring
from negotiation.logs.reading import load_logs
from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import comparable
from negotiation.protocol.progress import plan_steps
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Observation, Seat, SeatReply
from negotiation.runs.setup import RunSettings
from tests.conftest import run_session, start_session

GOLDEN = Path(__file__).parent / "golden" / "session_base_rational_seed7.json"
SCRIPTED = RunSettings(model="scripted:rational", seed=7)


def _full_run(game: Game, out: Path, settings: RunSettings = SCRIPTED) -> Path:
    log, path = start_session(game, settings, out)
    run_session(game, log, path)
    return path


def test_golden_session(base_game: Game, tmp_path: Path) -> None:
    data = comparable(_full_run(base_game, tmp_path))
    if os.environ.get("UPDATE_GOLDENS"):
        GOLDEN.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert data["order"] == expected["order"]
    assert [t["prompt"] for t in data["turns"]] == [t["prompt"] for t in expected["turns"]]
    assert [p["initial_prompt"] for p in data["parties"]] == \
        [p["initial_prompt"] for p in expected["parties"]]
    assert data == expected


def test_session_shape(base_game: Game, tmp_path: Path) -> None:
    log = load_log(_full_run(base_game, tmp_path))
    assert log.status == "complete"
    phases = [t.phase for t in log.turns]
    assert phases == ["opening"] + ["round"] * 24 + ["final"] + ["vote"] * 5
    assert str(log.turns[0].deal) == "A1,B1,C4,D1,E5"
    assert [t.party for t in log.turns[1:25]] == log.order
    assert log.threshold_outcome is not None and log.vote_outcome is not None
    # scripted voters accept exactly when the deal clears their minimum
    assert sorted(log.vote_outcome.accepting) == sorted(log.threshold_outcome.accepting)
    assert log.outcomes_differ is False
    assert "sk-" not in _full_run(base_game, tmp_path / "again").read_text()


def test_same_seed_same_log_other_seed_other_order(base_game: Game, tmp_path: Path) -> None:
    first = comparable(_full_run(base_game, tmp_path / "a"))
    second = comparable(_full_run(base_game, tmp_path / "b"))
    assert first == second
    other = comparable(_full_run(base_game, tmp_path / "c", RunSettings(model="scripted:rational",
                                                                         seed=8)))
    assert other["order"] != first["order"]


class Crashing:
    """Delegates to a real scripted seat but fails on the n-th turn."""

    def __init__(self, inner: Seat, counter: list[int], fail_at: int) -> None:
        self.inner, self.counter, self.fail_at = inner, counter, fail_at

    async def act(self, observation: Observation) -> SeatReply:
        self.counter[0] += 1
        if self.counter[0] == self.fail_at:
            raise FatalError("injected crash")
        return await self.inner.act(observation)


@pytest.mark.parametrize("fail_at", [1, 9, 26, 28])
def test_resume_after_crash_equals_uninterrupted(base_game: Game, tmp_path: Path,
                                                 fail_at: int) -> None:
    reference = comparable(_full_run(base_game, tmp_path / "ref"))
    log, path = start_session(base_game, SCRIPTED, tmp_path / "crash")
    counter = [0]
    real = make_seats(base_game, log)
    crashing = {name: Crashing(s, counter, fail_at) for name, s in real.items()}
    with pytest.raises(FatalError):
        run_session(base_game, log, path, crashing)
    stopped = load_log(path)
    assert stopped.status == "failed" and "injected crash" in (stopped.error or "")
    assert len(stopped.turns) == min(fail_at - 1, 26)
    stopped.status, stopped.error = "running", None
    run_session(base_game, stopped, path)
    assert comparable(path) == reference


def test_export_ld_layout(base_game: Game, tmp_path: Path) -> None:
    path = _full_run(base_game, tmp_path / "run")
    out = tmp_path / "ld"
    written = export_ld(load_logs(path.parent).logs, out)
    history = json.loads(written[0].read_text())
    assert set(history) == {"slot_assignment", "rounds", "plan", "finished_rounds"}
    assert len(history["slot_assignment"]) == 24
    assert len(history["rounds"]) == 24 + 2
    assert history["finished_rounds"] == 25
    assert history["rounds"][0]["agent"] == "SportCo" and history["rounds"][-1]["agent"] == "SportCo"
    assert set(history["plan"]) == {p.name for p in base_game.parties}
    scoring = load_scoring(out)
    assert [p.minimum for p in scoring.parties] == [p.minimum for p in base_game.parties]


def test_plan_steps_without_vote(base_game: Game, tmp_path: Path) -> None:
    log, _ = start_session(base_game, RunSettings(model="scripted:stubborn", vote=False,
                                                  rounds=5), tmp_path)
    steps = plan_steps(log)
    assert [s.phase for s in steps] == ["opening"] + ["round"] * 5 + ["final"]
    finals = [s for s in steps if s.final_turn]
    assert {s.party for s in finals} == set(log.order)


def test_window_limits_history(base_game: Game, tmp_path: Path) -> None:
    log, path = start_session(base_game, RunSettings(model="scripted:stubborn", window=2,
                                                     rounds=6), tmp_path)
    run_session(base_game, log, path)
    last_round = [t for t in load_log(path).turns if t.phase == "round"][-1]
    lines = [ln for ln in last_round.prompt.splitlines() if "<DEAL>" in ln and ":" in ln[:40]]
    assert len(lines) == 2


def test_failed_provider_is_recorded(base_game: Game, tmp_path: Path) -> None:
    log, path = start_session(base_game, SCRIPTED, tmp_path)

    class Broken(Backend):
        async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
            raise FatalError("OPENAI_API_KEY is not set")

    prompts = PromptBuilder(base_game)
    seats = {p.name: LLMSeat(Broken(), prompts, GenerateConfig(), {p.name: "brief"},
                             log.session_id) for p in base_game.parties}
    with pytest.raises(FatalError):
        run_session(base_game, log, path, seats)
    saved = load_log(path)
    assert saved.status == "failed" and saved.turns == []
    assert asyncio.run(Broken().aclose()) is None
