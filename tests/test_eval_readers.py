"""The three input formats, read from small hand-written fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evaluation.readers import (
    ReadError,
    ReadOptions,
    detect_format,
    find_files,
    read_file,
    read_run,
)
from negotiation.games.loader import load_scoring

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
GAME = load_scoring(FIXTURES / "game_cases4")


def test_detect_format() -> None:
    assert detect_format({"session_id": "x", "turns": []}) == "native"
    assert detect_format({"slot_assignment": [], "rounds": []}) == "ld-history"
    assert detect_format({"rounds": [["A", "hi"]], "plan": {}}) == "ld-answers"
    assert detect_format({"rounds": [], "voting_sessions": {}}) == "ld-answers"
    assert detect_format({"rounds": [{"agent": "A"}]}) is None
    assert detect_format([1, 2]) is None


def test_native_run() -> None:
    run = read_run(FIXTURES / "native", ReadOptions())
    assert run.errors == [] and run.format == "native"
    assert len(run.complete) == 2 and run.n_unfinished == 1
    first = next(s for s in run.complete if s.session_index == 0)
    assert first.scoring.name == "cases4" and first.proposer == "Alpha Corp"
    assert [u.phase for u in first.utterances] == ["opening", "round", "round", "round", "final"]
    assert first.final is not None and "A9,B1" in first.final.public
    assert [(b.party, b.vote) for b in first.ballots] == [
        ("Beta Agency", "ACCEPT"), ("Gamma League", "REJECT"), ("Delta Union", "ACCEPT")]
    assert first.vote_passes is True and first.seed == 100
    assert first.utterances[0].scratchpad.startswith("My score for A2,B1 is 45")
    assert first.utterances[1].format_ok is False
    assert first.pair_key() == ("cases4", 100, 0)
    assert first.p1_model == "openai:gpt-4"


def test_history_run() -> None:
    run = read_run(FIXTURES / "ld_history", ReadOptions())
    assert run.format == "ld-history" and len(run.complete) == 1 and run.n_unfinished == 1
    errors = {Path(e["path"]).name: e["error"] for e in run.errors}
    assert "speaker 'Epsilon' is not a party" in errors["history_2.json"]
    assert "not valid JSON" in errors["history_3.json"]
    session = run.complete[0]
    assert [u.phase for u in session.utterances] == ["opening", "round", "round", "round", "final"]
    assert session.utterances[0].scratchpad == "A1,B1 gives me 60 points"
    assert session.utterances[0].format_ok is True
    assert session.utterances[1].format_ok is False  # no ANSWER tag in the full answer
    assert session.models["Alpha Corp"] == "gpt-4"
    unfinished = next(s for s in run.sessions if not s.complete)
    assert unfinished.final is None


def test_history_rounds_override() -> None:
    run = read_run(FIXTURES / "ld_history", ReadOptions(rounds=0))
    # history_0 (5 entries) is no longer complete; history_1 (2 entries = 0 + 2) now is
    assert [s.source.name for s in run.complete] == ["history_1.json"]
    assert run.complete[0].final is not None and run.complete[0].final.party == "Beta Agency"
    assert read_run(FIXTURES / "ld_history", ReadOptions(rounds=3)).complete[0].source.name \
        == "history_0.json"


def test_answers_run_needs_a_game() -> None:
    run = read_run(FIXTURES / "ld_answers", ReadOptions())
    assert run.sessions == [] and len(run.errors) == 3
    assert all("give --game" in e["error"] for e in run.errors)
    run = read_run(FIXTURES / "ld_answers", ReadOptions(game=GAME))
    assert run.errors == [] and run.format == "ld-answers"
    assert len(run.complete) == 1 and run.n_unfinished == 2   # no voting entry; no suggestion
    session = run.complete[0]
    assert session.source.name == "answers_gpt-4:0.json"
    assert [u.phase for u in session.utterances] == ["opening", "round", "round", "final"]
    assert session.final.party == "Alpha Corp" and session.final.public == "My final offer: A1, B3"
    assert [b.vote for b in session.ballots] == ["ACCEPT", "ACCEPT", "REJECT"]
    assert all(u.format_ok is None for u in session.utterances)


def test_find_files_ignores_full_conversation_and_other_json(tmp_path: Path) -> None:
    names = {f.name for f in find_files(FIXTURES / "ld_answers")}
    assert names == {"answers_gpt-4:0.json", "answers_gpt-4%3A1.json", "answers_2.json"}
    (tmp_path / "deep" / "er").mkdir(parents=True)
    shutil.copy(FIXTURES / "native" / "session-aaaa000000000001.json", tmp_path / "deep" / "er")
    (tmp_path / "results.json").write_text("{}")
    assert [f.name for f in find_files(tmp_path)] == ["session-aaaa000000000001.json"]


def test_explicit_file_is_detected_by_content(tmp_path: Path) -> None:
    target = tmp_path / "renamed.json"
    shutil.copy(FIXTURES / "native" / "session-aaaa000000000001.json", target)
    assert read_file(target, ReadOptions()).format == "native"
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ReadError, match="not a session log"):
        read_file(tmp_path / "other.json", ReadOptions())


def test_game_override_for_native_reports_foreign_speakers() -> None:
    base = load_scoring(Path(__file__).parent.parent / "games_descriptions" / "base")
    run = read_run(FIXTURES / "native", ReadOptions(game=base))
    assert run.sessions == [] and len(run.errors) == 3
    assert all("is not a party of game 'base'" in e["error"] for e in run.errors)
    run = read_run(FIXTURES / "native", ReadOptions(game=GAME))
    assert {s.scoring.name for s in run.sessions} == {"game_cases4"}


def test_invalid_native_log_and_missing_path(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "native" / "session-aaaa000000000001.json").read_text())
    data["turns"][0]["phase"] = "speech"
    (tmp_path / "session-bad.json").write_text(json.dumps(data))
    run = read_run(tmp_path, ReadOptions())
    assert "not a valid session log (turns.0.phase" in run.errors[0]["error"]
    missing = read_run(tmp_path / "nope", ReadOptions())
    assert missing.errors[0]["error"] == "no such file or folder"
