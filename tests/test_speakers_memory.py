"""Speaker-selection policies and summarizer memory, end to end against a loopback server."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import comparable, save_log
from negotiation.protocol.speakers import SpeakerContext, pick_named, static_order
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer, prompt_text
from tests.fakes.negotiation_replies import turn_text

PARTIES = ("SportCo", "Department of Tourism", "Environmental League", "Mayor", "Other cities",
           "Local Labour Union")


def helper_replies(body: dict[str, Any]) -> str:
    """Moderators name a party chosen from the prompt's hash (or nobody); summarizers summarise."""
    text = prompt_text(body)
    digest = hashlib.sha256(text.encode()).digest()
    if "You moderate" in text:
        return "nobody in particular" if digest[0] % 4 == 0 else PARTIES[digest[1] % 6]
    if "note-taker" in text:
        return f"Summary {digest[0]}: the parties exchanged proposals."
    return turn_text(body)


def _run(tmp: Path, url: str, name: str, *extra: str) -> Path:
    code = main(["--game", "base", "--model", f"openai:m@{url}", "--rounds", "8", "--quiet",
                 "--out", str(tmp), "--name", name, *extra])
    assert code == 0
    (path,) = (tmp / name).glob("session-*.json")
    return path


def test_summary_memory(tmp_path: Path) -> None:
    with FakeLLMServer(helper_replies) as server:
        path = _run(tmp_path, server.openai_base_url, "mem", "--memory", "summary",
                    "--summary-every", "3", "--summarizer-model", f"openai:sum@{server.openai_base_url}")
    log = load_log(path)
    phases = [t.phase for t in log.turns]
    assert phases.count("summary") == 8 // 3
    positions = [i for i, p in enumerate(phases) if p == "summary"]
    assert [phases[:i].count("round") for i in positions] == [3, 6]
    first = log.turns[positions[0]]
    assert first.party == "@summarizer" and first.public.startswith("Summary")
    later = [t for t in log.turns[positions[0]:] if t.phase == "round"]
    assert all(first.public in t.prompt and "Summaries of the earlier discussion" in t.prompt
               for t in later)
    assert all("Summaries" not in t.prompt for t in log.turns[:positions[0]])
    assert log.memory == "summary" and log.helpers["summarizer"].startswith("openai:sum@")


def test_moderator_order_and_fallback(tmp_path: Path) -> None:
    with FakeLLMServer(helper_replies) as server:
        mod = f"openai:mod@{server.openai_base_url}"
        path = _run(tmp_path, server.openai_base_url, "mod", "--order", "moderator",
                    "--moderator-model", mod)
        log = load_log(path)
        moderator_turns = [t for t in log.turns if t.phase == "moderator"]
        assert len(moderator_turns) == 8 and log.order == [t.public for t in moderator_turns]
        spoken = [t.party for t in log.turns if t.phase == "round"]
        assert spoken == log.order
        assert all(a != b for a, b in zip(["SportCo", *spoken], spoken))
        fallbacks = [t for t in moderator_turns if t.parse_issues]
        assert fallbacks, "the scripted replies include answers naming nobody"
        # resume from the middle gives the same session
        cut = load_log(path)
        cut.turns, cut.order, cut.status = cut.turns[:7], [t.public for t in cut.turns[:7]
                                                          if t.phase == "moderator"], "running"
        cut.final_deal = cut.threshold_outcome = cut.vote_outcome = None
        cut.final_scores, cut.outcomes_differ = {}, None
        resumed = tmp_path / "resumed" / path.name
        save_log(cut, resumed)
        assert main(["--resume", str(resumed), "--quiet"]) == 0
    assert comparable(resumed) == comparable(path)


@pytest.mark.parametrize("policy", ["round-robin", "random"])
def test_static_policies(policy: str) -> None:
    ctx = SpeakerContext(PARTIES, "SportCo", 24, 3)
    order = static_order(policy, ctx)
    assert len(order) == 24 and set(order) == set(PARTIES)
    assert all(a != b for a, b in zip(["SportCo", *order], order))
    if policy == "round-robin":
        assert order[:6] == [*PARTIES[1:], "SportCo"]
    else:
        assert order != static_order(policy, SpeakerContext(PARTIES, "SportCo", 24, 4))


def test_pick_named() -> None:
    assert pick_named("I think Mayor should go", PARTIES, "SportCo") == "Mayor"
    assert pick_named("Other cities, then the Mayor", PARTIES, "SportCo") == "Other cities"
    assert pick_named("SportCo again", PARTIES, "SportCo") is None
    assert pick_named("", PARTIES, "SportCo") is None


@pytest.mark.parametrize("args", [["--order", "moderator"], ["--memory", "summary"],
                                  ["--memory", "summary", "--summarizer-model", "human"],
                                  ["--summary-every", "0", "--memory", "summary",
                                   "--summarizer-model", "openai:x@http://127.0.0.1:9/v1"]])
def test_helper_flags_validated(args: list[str], tmp_path: Path) -> None:
    assert main(["--game", "base", "--model", "scripted:rational", "--out", str(tmp_path),
                 "--quiet", *args]) == 2
    assert list(tmp_path.iterdir()) == []
