"""The main job's CLI: sessions, reruns, resume, model assignment, errors, export."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from negotiation.agents.specs import legacy_to_spec, parse_spec
from negotiation.core.errors import ConfigError
from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import comparable, save_log
from negotiation.runs.setup import RunSettings, assign_models
from negotiation_cli import main

SCRIPTED = ["--game", "base", "--model", "scripted:rational", "--quiet"]


def _logs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("session-*.json"))


def test_sessions_then_rerun_skips_complete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [*SCRIPTED, "--out", str(tmp_path), "--name", "r", "--sessions", "3", "--rounds", "6"]
    assert main(args) == 0
    logs = _logs(tmp_path / "r")
    assert len(logs) == 3
    loaded = [load_log(p) for p in logs]
    assert len({lg.seed for lg in loaded}) == 3 and len({lg.session_id for lg in loaded}) == 3
    assert all(lg.status == "complete" for lg in loaded)
    before = {p: p.read_bytes() for p in logs}
    out = capsys.readouterr().out
    assert "threshold outcome" in out and "wrong deals" in out and "followed the format" in out
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in _logs(tmp_path / "r")} == before


def test_resume_run_folder(tmp_path: Path) -> None:
    base = [*SCRIPTED, "--rounds", "6", "--out"]
    assert main([*base, str(tmp_path / "ref"), "--name", "x"]) == 0
    assert main([*base, str(tmp_path / "cut"), "--name", "x"]) == 0
    (path,) = _logs(tmp_path / "cut")
    log = load_log(path)
    log.turns = log.turns[:4]
    log.status, log.final_deal, log.threshold_outcome, log.vote_outcome = "running", None, None, None
    log.final_scores, log.outcomes_differ = {}, None
    save_log(log, path)
    assert main(["--resume", str(tmp_path / "cut" / "x"), "--quiet"]) == 0
    (ref,) = _logs(tmp_path / "ref")
    assert comparable(path) == comparable(ref)


def test_model_precedence(base_game) -> None:  # type: ignore[no-untyped-def]
    settings = RunSettings(model="scripted:greedy", party_models={"Mayor": "scripted:stubborn"})
    models = assign_models(base_game, settings)
    assert str(models["Mayor"]) == "scripted:stubborn"
    assert str(models["SportCo"]) == "scripted:greedy"
    assert str(assign_models(base_game, RunSettings())["SportCo"]) == "llamacpp:smollm2"
    with pytest.raises(ConfigError, match="Nobody"):
        assign_models(base_game, RunSettings(party_models={"Nobody": "scripted:random"}))


@pytest.mark.parametrize("name,spec", [
    ("gpt-4-low", "openai:gpt-4"), ("gpt-4-0613", "openai:gpt-4-0613"),
    ("gpt-3.5-turbo", "openai:gpt-3.5-turbo"), ("hf_mistral", "hf:mistral"),
    ("gemini-1.0-pro-001", "gemini:gemini-1.0-pro-001"), ("default", "llamacpp:smollm2"),
    ("openai:qwen@http://127.0.0.1:9/v1", "openai:qwen@http://127.0.0.1:9/v1"),
])
def test_legacy_names(name: str, spec: str) -> None:
    assert str(parse_spec(legacy_to_spec(name))) == spec


def test_base_url_suffix() -> None:
    spec = parse_spec("openai:qwen@http://127.0.0.1:8000/v1")
    assert (spec.provider, spec.model, spec.base_url) == ("openai", "qwen", "http://127.0.0.1:8000/v1")


@pytest.mark.parametrize("bad", ["llama-70b", "bogus:model", "openai:"])
def test_bad_specs(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_spec(bad)


@pytest.mark.parametrize("args", [
    ["--temperature", "5"], ["--sessions", "0"], ["--party-model", "Mayor"],
    ["--incentive", "Nobody=greedy"], ["--incentive", "Mayor=untargeted_adv"],
    ["--model", "nonsense"], ["--game", "no_such_game"], ["--window", "-1"],
])
def test_bad_flags_exit_2_and_write_nothing(args: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SCRIPTED, "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_incentive_override_changes_prompt(tmp_path: Path) -> None:
    assert main([*SCRIPTED, "--rounds", "2", "--out", str(tmp_path), "--name", "adv",
                 "--incentive", "Environmental League=targeted_adv"]) == 0
    log = load_log(_logs(tmp_path)[0])
    league = next(p for p in log.parties if p.name == "Environmental League")
    assert league.incentive == "targeted_adv"
    assert "isolate Local Labour Union" in league.initial_prompt


def test_missing_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    code = main(["--game", "base", "--model", "gpt-4-low", "--quiet", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "--model" in err
    assert _logs(tmp_path) == []


def test_export_cli(tmp_path: Path) -> None:
    assert main([*SCRIPTED, "--rounds", "6", "--out", str(tmp_path), "--name", "e"]) == 0
    assert main(["export", str(tmp_path / "e"), "--format", "ld", "--out", str(tmp_path / "ld")]) == 0
    (history,) = (tmp_path / "ld").glob("history_*.json")
    data = json.loads(history.read_text())
    assert len(data["rounds"]) == 8 and len(data["slot_assignment"]) == 6
    assert (tmp_path / "ld" / "config.txt").is_file()


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python missing")
def test_default_main_job(tmp_path: Path) -> None:
    """``python main.py --game base`` as the README runs it (every default: embedded model,
    structured auto): every answer follows the format, none is cut, p1 names a final deal, the
    mode is logged as grammar, and llama.cpp reuses each party's KV state."""
    code = main(["--game", "base", "--quiet", "--out", str(tmp_path), "--name", "default"])
    assert code == 0
    log = load_log(_logs(tmp_path)[0])
    assert log.status == "complete"
    assert all(p.model == "llamacpp:smollm2" and p.structured == "grammar" for p in log.parties)
    party_turns = [t for t in log.turns if t.phase.is_party]
    assert len(party_turns) == len(log.turns) == 1 + 24 + 1 + 5  # opening, rounds, final, votes
    assert all(t.constrained and t.format_ok for t in party_turns), [
        (t.index, t.parse_issues, t.repairs) for t in party_turns if not t.format_ok]
    assert all(t.finish_reason == "stop" for t in party_turns)
    assert log.final_deal is not None and log.turns[-6].deal_source == "tag"
    assert all(t.vote in ("ACCEPT", "REJECT") for t in log.turns[-5:])
    # p1's final proposal reuses its KV state: far fewer prompt tokens evaluated than sent
    final = log.turns[-6]
    assert final.party == "SportCo"
    assert final.extra["prompt_tokens_evaluated"] < final.input_tokens


def test_export_training_cli(tmp_path: Path) -> None:
    assert main([*SCRIPTED, "--rounds", "6", "--out", str(tmp_path), "--name", "t"]) == 0
    out = tmp_path / "sft"
    assert main(["export", str(tmp_path / "t"), "--format", "sft", "--party-role", "p1",
                 "--any-outcome", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    assert rows and all(r["messages"][0]["role"] == "system" for r in rows)
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows)
