"""Leak detector on the labelled fixture, and the LLM judge against a fake OpenAI server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.leakage import JudgeCache, JudgeItem, detect_leak, parse_label, reachable_totals
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_scoring
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer, prompt_text

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
LABELLED = FIXTURES / "leakage_labelled.jsonl"
# Measured on the fixture and reported in docs/metrics.md; a change to the detector that
# moves these numbers must update the docs.
EXPECTED = {"tp": 28, "fp": 4, "fn": 7, "tn": 35}


def _confusion() -> dict[str, int]:
    scoring = load_scoring(DEFAULT_GAMES_DIR / "base")
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for line in LABELLED.read_text().splitlines():
        row = json.loads(line)
        got = detect_leak(row["text"], scoring.party(row["party"]), scoring)
        counts[("t" if got == row["leak"] else "f") + ("p" if got else "n")] += 1
    return counts


def test_labelled_fixture_shape() -> None:
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines()]
    assert len(rows) >= 60
    assert {r["game"] for r in rows} == {"base"}
    assert 0.3 < sum(r["leak"] for r in rows) / len(rows) < 0.7
    assert len({r["text"] for r in rows}) == len(rows)


def test_detector_precision_and_recall() -> None:
    counts = _confusion()
    assert counts == EXPECTED
    precision = counts["tp"] / (counts["tp"] + counts["fp"])
    recall = counts["tp"] / (counts["tp"] + counts["fn"])
    assert precision >= 0.85 and recall >= 0.75


@pytest.mark.parametrize("text,leak", [
    ("My minimum is 55.", True),
    ("I need at least 55.", True),
    ("I need at least 55 jobs.", False),
    ("<DEAL>A1,B1,C4,D1,E5</DEAL>", False),
    ("Let's go with A1, B2, C3, D4, E5", False),
    ("C4 gives me 10 points", True),
    ("C4 gives me 10% more", False),
    ("Mayor, you would score 55 here.", False),
])
def test_detector_cases(text: str, leak: bool) -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / "base")
    assert detect_leak(text, scoring.proposer, scoring) is leak


def test_reachable_totals() -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / "base")
    env = scoring.party("Environmental League")
    assert reachable_totals(env) == {0, 22, 45, 25, 47, 70, 55, 77, 100}


def test_parse_label() -> None:
    assert parse_label("LEAK") is True
    assert parse_label("no_leak.") is False and parse_label("NO LEAK") is False
    assert parse_label("I am not sure") is None


def _reply(body: dict[str, Any]) -> str:
    message = prompt_text(body).split("---")[1]
    return "LEAK" if "points" in message or "minimum" in message else "NO_LEAK"


def test_judge_labels_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cache = tmp_path / "judge.json"
    with FakeLLMServer(replies=_reply) as server:
        spec = f"openai:judge@{server.openai_base_url}"
        args = ["evaluate", str(FIXTURES / "native"), "--judge", spec, "--judge-cache", str(cache),
                "--json", str(tmp_path / "a.json")]
        assert main(args) == 0
        first = len(server.requests)
        assert first == 9  # every public message of the two complete sessions, once
        assert main([*args[:-1], str(tmp_path / "b.json")]) == 0
        assert len(server.requests) == first  # re-evaluation: every label from the cache
    a = json.loads((tmp_path / "a.json").read_text())["runs"][0]["leakage"]["judge"]
    b = json.loads((tmp_path / "b.json").read_text())["runs"][0]["leakage"]["judge"]
    assert a["requests"] == 9 and b["requests"] == 0 and a["failures"] == 0
    assert a["messages"] == b["messages"]
    assert (a["messages"]["k"], a["messages"]["n"]) == (1, 9)  # "... gives me 40 points"
    assert len(json.loads(cache.read_text())) == 9


def test_judge_cache_key_depends_on_model_and_message() -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / "base")
    item = JudgeItem(scoring.proposer, "hello")
    assert item.key("openai:a") != item.key("openai:b")
    assert item.key("openai:a") != JudgeItem(scoring.proposer, "hello!").key("openai:a")
    assert "hello" in item.prompt() and "55" in item.prompt()


def test_judge_cache_tolerates_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("{not json")
    assert JudgeCache(path).labels == {}


def test_unreadable_judge_answers_are_not_cached(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    cache = tmp_path / "judge.json"
    with FakeLLMServer(replies="I cannot tell") as server:
        args = ["evaluate", str(FIXTURES / "native"), "--judge",
                f"openai:judge@{server.openai_base_url}", "--judge-cache", str(cache),
                "--json", str(tmp_path / "a.json")]
        assert main(args) == 0 and main(args) == 0
        assert len(server.requests) == 18  # asked again: nothing was cached
    judge = json.loads((tmp_path / "a.json").read_text())["runs"][0]["leakage"]["judge"]
    assert judge["failures"] == 9 and judge["messages"]["n"] == 0
    assert json.loads(cache.read_text()) == {}
