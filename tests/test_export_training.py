"""Training export: chat-format SFT records, outcome filters, preference pairing and format."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.exports.training import (
    Sample,
    add_training_arguments,
    export_training,
    export_training_cli,
    preference_records,
)
from negotiation.core.errors import ConfigError
from negotiation.logs.reading import load_logs
from negotiation.logs.reading import read_log as load_log
from negotiation_cli import main
from tests.gamefactory import PartySpec, write_game


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 sessions of an easy 3-party game with a random p1: varied final scores and outcomes."""
    root = tmp_path_factory.mktemp("train")
    game = write_game(root, [
        PartySpec("Alpha Corp", "alpha", [[10, 5, 0], [8, 0]], 5, role="p1"),
        PartySpec("Beta Board", "beta", [[0, 6, 12], [0, 9]], 6, role="p2"),
        PartySpec("Gamma Group", "gamma", [[4, 8, 2], [7, 3]], 3)], name="easy")
    assert main(["--game", str(game), "--model", "scripted:rational", "--party-model",
                 "Alpha Corp=scripted:random", "--rounds", "3", "--sessions", "8",
                 "--out", str(root), "--name", "r", "--quiet"]) == 0
    return root / "r"


def logs(run: Path) -> list[Any]:
    return [load_log(f) for f in sorted(run.glob("session-*.json"))]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sft_records_are_the_party_turns_as_chat(run: Path, tmp_path: Path) -> None:
    [path] = export_training(load_logs(run).logs, tmp_path, "sft", "p1", None, require_pass=False)
    records = read(path)
    by_session = {lg.session_id: lg for lg in logs(run)}
    assert len(records) == sum(1 for lg in by_session.values() for t in lg.turns
                               if t.party == "Alpha Corp")
    for r in records:
        meta = r["metadata"]
        log = by_session[meta["session"]]
        turn = log.turns[meta["turn"]]
        assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
        assert r["messages"][0]["content"] == log.parties[0].initial_prompt
        assert r["messages"][1]["content"] == turn.prompt
        assert r["messages"][2]["content"] == turn.raw_output
        assert meta["role"] == "p1" and meta["party"] == "Alpha Corp" == turn.party
        assert meta["final_score"] == log.final_scores["Alpha Corp"] == meta["score"]


def test_sft_outcome_and_score_filters(run: Path, tmp_path: Path) -> None:
    all_logs = logs(run)
    passing = [lg for lg in all_logs if lg.threshold_outcome.passes]
    assert 0 < len(passing) < len(all_logs)
    records = read(export_training(load_logs(run).logs, tmp_path, "sft", "p1", None)[0])
    assert len(records) == sum(t.party == "Alpha Corp" for lg in passing for t in lg.turns)
    assert all(r["metadata"]["final_passes"] for r in records)
    high = [lg for lg in passing if lg.final_scores["Alpha Corp"] >= 20]
    assert 0 < len(high) < len(passing)
    records = read(export_training(load_logs(run).logs, tmp_path, "sft", "p1", 20)[0])
    assert {r["metadata"]["session"] for r in records} == {lg.session_id for lg in high}
    votes = read(export_training(load_logs(run).logs, tmp_path, "sft", "Gamma Group", None)[0])
    assert {r["metadata"]["phase"] for r in votes} >= {"round", "vote"}


def sample(score: float | None, session: str, phase: str = "round") -> Sample:
    meta = {"session": session, "turn": 1, "run": "r", "model": "m", "score": score,
            "final_score": score, "prompt_hash": session, "game": "g", "game_hash": "h",
            "party": "P", "role": "p1", "incentive": "cooperative", "phase": phase, "k": 0,
            "score_by": "final"}
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": session}]
    return Sample(prompt, f"answer {session}", score, True, ("g", "h", "P", "c", phase, 0), meta)


def test_pairing_best_with_worst_within_a_group() -> None:
    samples = [sample(15, "b"), sample(0, "d"), sample(23, "a"), sample(15, "c"),
               sample(0, "e"), sample(None, "f"), sample(9, "x", phase="final")]
    pairs = preference_records(samples)
    assert [(p["metadata"]["chosen"]["session"], p["metadata"]["rejected"]["session"])
            for p in pairs] == [("a", "e"), ("b", "d")]
    assert pairs[0]["prompt"][1]["content"] == "a"
    assert pairs[0]["chosen"] == [{"role": "assistant", "content": "answer a"}]
    assert pairs[0]["rejected"] == [{"role": "assistant", "content": "answer e"}]
    assert not pairs[0]["metadata"]["same_prompt"]
    assert len(preference_records(samples, margin=16)) == 1
    assert len(preference_records(samples, min_score=20)) == 1
    assert preference_records(samples, same_prompt=True) == []


def test_preference_pairs_from_a_run(run: Path, tmp_path: Path) -> None:
    records = read(export_training(load_logs(run).logs, tmp_path, "preference", "p1", None)[0])
    assert records
    finals = {lg.session_id: lg.final_scores["Alpha Corp"] for lg in logs(run)}
    used = []
    for r in records:
        meta = r["metadata"]
        chosen, rejected = meta["chosen"], meta["rejected"]
        assert set(r) == {"prompt", "chosen", "rejected", "metadata"}
        assert [m["role"] for m in r["prompt"]] == ["system", "user"]
        assert chosen["score"] == finals[chosen["session"]] > finals[rejected["session"]]
        assert meta["role"] == "p1" and meta["phase"] in ("opening", "round", "final")
        if meta["phase"] == "opening":
            assert meta["same_prompt"]  # p1's opening prompt is the same in every session
        used += [(chosen["session"], meta["phase"]), (rejected["session"], meta["phase"])]
    assert len(used) == len(set(used))
    by_deal = read(export_training(load_logs(run).logs, tmp_path, "preference", "p1", None, score_by="deal",
                                   require_pass=False)[0])
    assert all(r["metadata"]["chosen"]["score"] > r["metadata"]["rejected"]["score"]
               for r in by_deal)


def test_incomplete_sessions_and_bad_arguments(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    files = sorted(run.glob("session-*.json"))
    for f in files:
        (folder / f.name).write_bytes(f.read_bytes())
    data = json.loads(files[0].read_text())
    data.update(status="running", turns=data["turns"][:2])
    (folder / files[0].name).write_text(json.dumps(data))
    records = read(export_training(load_logs(folder).logs, tmp_path, "sft", "p1", None, require_pass=False)[0])
    assert data["session_id"] not in {r["metadata"]["session"] for r in records}
    with pytest.raises(ConfigError, match="matches no role"):
        export_training(load_logs(folder).logs, tmp_path, "sft", "p9", None)
    with pytest.raises(ConfigError, match="training format"):
        export_training(load_logs(folder).logs, tmp_path, "dpo", "p1", None)
    (folder / "session-broken.json").write_text("{}")
    found = load_logs(folder)  # a broken log is reported and skipped, the others exported
    assert any("session-broken.json: not a valid session log" in p for p in found.problems)
    again = read(export_training(found.logs, tmp_path, "sft", "p1", None, require_pass=False)[0])
    assert again == records


def test_cli_helper_for_the_export_command(run: Path, tmp_path: Path, capsys: Any) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--format")
    parser.add_argument("--out", type=Path)
    add_training_arguments(parser)
    args = parser.parse_args([str(run), "--format", "sft", "--out", str(tmp_path),
                              "--party-role", "p1", "--min-score", "20"])
    assert export_training_cli(args, load_logs(run).logs) == 0
    count = len(read(tmp_path / "sft.jsonl"))
    assert f"wrote {count} sft record(s)" in capsys.readouterr().out
