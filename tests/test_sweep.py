"""Sweeps against a loopback OpenAI-compatible server: concurrency, faults, kill and resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from negotiation.backends.base import GenerateConfig
from negotiation.core.errors import ConfigError
from negotiation.games.loader import DEFAULT_GAMES_DIR
from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import comparable
from negotiation.runs.lock import run_lock
from negotiation.runs.setup import RunSettings
from negotiation.runs.specs import ExperimentPlan, SessionSpec
from negotiation.runs.sweep import run_plan
from tests.fakes.fake_llm_server import Failure, FakeLLMServer
from tests.fakes.negotiation_replies import replies

ROOT = Path(__file__).resolve().parent.parent
BASE = DEFAULT_GAMES_DIR / "base"


def _plan(url: str, out: Path, n: int, concurrency: int, rounds: int = 6,
          timeout_s: float = 30.0) -> ExperimentPlan:
    settings = RunSettings(model=f"openai:fake@{url}", rounds=rounds, vote=False, seed=3,
                           generation=GenerateConfig(timeout_s=timeout_s))
    specs = tuple(SessionSpec(game=BASE, settings=settings, index=i, label=f"s{i}")
                  for i in range(n))
    return ExperimentPlan(name="sweep", out=out, sessions=specs, concurrency=concurrency)


def _check_complete(folder: Path, n: int, steps: int) -> None:
    logs = [load_log(p) for p in sorted(folder.glob("session-*.json"))]
    assert len(logs) == n
    for log in logs:
        assert log.status == "complete"
        assert [t.index for t in log.turns] == list(range(steps))


def test_concurrent_sweep_overlaps_and_matches_sequential(tmp_path: Path) -> None:
    with FakeLLMServer(replies(max_delay_s=0.03, seed=1)) as server:
        run_plan(_plan(server.openai_base_url, tmp_path / "c1", 12, 1))
        assert server.max_in_flight == 1
        jobs, summary = run_plan(_plan(server.openai_base_url, tmp_path / "c4", 12, 4))
        assert server.max_in_flight >= 2
        assert summary["completed"] == 12 and summary["failed"] == 0
    for path in sorted((tmp_path / "c4" / "sweep").glob("session-*.json")):
        assert comparable(path) == comparable(tmp_path / "c1" / "sweep" / path.name)
    summary_file = json.loads((tmp_path / "c4" / "sweep" / "summary.json").read_text())
    assert summary_file["completed"] == 12 and len(summary_file["session_list"]) == 12


def test_provider_limit_is_the_only_cap_on_calls_in_flight(tmp_path: Path) -> None:
    from negotiation.runs.specs import RateLimit

    with FakeLLMServer(replies(seed=8), delay_s=0.3) as server:
        plan = _plan(server.openai_base_url, tmp_path, 12, 12, rounds=1)
        plan = ExperimentPlan(name=plan.name, out=plan.out, sessions=plan.sessions,
                              concurrency=12, rate_limits={"openai": RateLimit(max_in_flight=12)})
        _, summary = run_plan(plan)
        assert summary["completed"] == 12
        assert server.max_in_flight > 8  # no hidden per-backend cap of 8


def test_injected_faults_are_retried_without_losing_turns(tmp_path: Path) -> None:
    rng = random.Random(5)
    schedule = [rng.choice([Failure(429, {"retry-after": "0"}), 500, "timeout"])
                if rng.random() < 0.2 else None for _ in range(60)]
    with FakeLLMServer(replies(seed=2), failures=schedule, timeout_delay_s=1.0) as server:
        plan = _plan(server.openai_base_url, tmp_path, 6, 3, rounds=4, timeout_s=0.5)
        jobs, summary = run_plan(plan)
        served = len(server.requests)
    assert summary["completed"] == 6
    _check_complete(tmp_path / "sweep", 6, 4 + 2)
    injected = sum(1 for f in schedule[:served] if f is not None)
    retries = sum(t.retries for j in jobs for t in j.log.turns)
    assert retries == injected > 0
    assert served == 6 * 6 + retries


def test_second_process_is_refused_by_the_lock(tmp_path: Path) -> None:
    plan = _plan("http://127.0.0.1:9/v1", tmp_path, 1, 1)
    with run_lock(plan.run_dir):
        code = subprocess.run(
            [sys.executable, "main.py", "--game", "base", "--model", "scripted:rational",
             "--out", str(tmp_path), "--name", "sweep", "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert code.returncode == 2
    assert "in use by pid" in code.stderr
    assert not list(plan.run_dir.glob("session-*.json"))


def _wait_for(predicate, deadline_s: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)  # polling for a condition, not timing a feature
    return False


def _statuses(folder: Path) -> list[str]:
    """Finished sessions' statuses, and "running" for each journal of a running session."""
    out = ["running" for _ in folder.glob("session-*.jsonl")]
    for path in folder.glob("session-*.json"):
        out.append(json.loads(path.read_text())["status"])
    return out


def test_sigkill_then_rerun_completes_and_keeps_finished_sessions(tmp_path: Path) -> None:
    with FakeLLMServer(replies(max_delay_s=0.08, seed=4)) as server:
        cmd = [sys.executable, "main.py", "--game", "base", "--model",
               f"openai:fake@{server.openai_base_url}", "--rounds", "6", "--no-vote",
               "--sessions", "8", "--concurrency", "2", "--out", str(tmp_path), "--name", "k",
               "--quiet"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        folder = tmp_path / "k"
        try:
            assert _wait_for(lambda: "complete" in _statuses(folder) and
                             "running" in _statuses(folder), 120)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finished = {p: p.read_bytes() for p in folder.glob("session-*.json")
                    if json.loads(p.read_text())["status"] == "complete"}
        assert finished and len(finished) < 8
        rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
    _check_complete(folder, 8, 8)
    for path, content in finished.items():
        assert path.read_bytes() == content
    assert not list(folder.glob(".*.tmp"))


def test_duplicate_sessions_rejected(tmp_path: Path) -> None:
    settings = RunSettings(model="scripted:rational")
    spec = SessionSpec(game=BASE, settings=settings, index=0)
    with pytest.raises(ConfigError, match="same configuration"):
        run_plan(ExperimentPlan(name="d", out=tmp_path, sessions=(spec, spec)))


def test_env_untouched() -> None:
    assert "RAY_ADDRESS" not in os.environ or os.environ["RAY_ADDRESS"]


def test_run_experiment_file_dry_run_and_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from negotiation_cli import main

    monkeypatch.chdir(tmp_path)
    smoke = ROOT / "experiments" / "smoke.yaml"
    assert main(["run", str(smoke), "--dry-run"]) == 0
    assert "8 session(s)" in capsys.readouterr().out and not (tmp_path / "logs").exists()
    assert main(["run", str(smoke), "--quiet"]) == 0
    folder = tmp_path / "logs" / "smoke"
    files = sorted(folder.glob("session-*.json"))
    assert len(files) == 8 and all(load_log(f).status == "complete" for f in files)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["completed"] == 8 and summary["estimated_cost"] == 0
    before = {f: f.read_bytes() for f in files}
    assert main(["run", str(smoke), "--quiet"]) == 0
    assert {f: f.read_bytes() for f in files} == before


def test_max_cost_stops_launching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from negotiation_cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "prices.yaml").write_text(
        "prices:\n  'openai:*': {input_per_million: 1000, output_per_million: 1000}\n")
    with FakeLLMServer(replies(seed=6)) as server:
        (tmp_path / "exp.yaml").write_text(
            f"name: cost\ngames: [base]\nmodels: {{all: 'openai:m@{server.openai_base_url}'}}\n"
            "vote: false\nrounds: 2\nrepetitions: 6\nconcurrency: 1\n")
        code = main(["run", "exp.yaml", "--quiet", "--max-cost", "0.5",
                     "--prices", str(tmp_path / "prices.yaml")])
    summary = json.loads((tmp_path / "logs" / "cost" / "summary.json").read_text())
    assert code == 0 and summary["stopped_for_cost"] is True
    assert 1 <= summary["completed"] < 6
    assert summary["completed"] + summary["unfinished"] == 6
