"""A human at the table: the terminal backend, unit-tested through streams and driven end to
end from a subprocess whose stdin is scripted."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from negotiation.backends.base import FatalError, GenerateConfig, Message
from negotiation.agents.human import HumanBackend, check_deal, issues_from_prompt
from negotiation.backends.registry import create_backend, parse_spec
from negotiation_cli import main
from negotiation.core.errors import DealError
from negotiation.core.game import Issue
from negotiation.protocol.parsing import parse_output

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "Your brief.\nIssue A: x\nA1: one\nA2: two\nIssue B: y\nB1: one\nB2: two\nB3: three\n"
ISSUES = (Issue("A", 2), Issue("B", 3))


def ask(backend: HumanBackend, prompt: str, key: str = "s:Mayor") -> str:
    messages = [Message("system", SYSTEM), Message("user", prompt)]
    return asyncio.run(backend.generate(messages, GenerateConfig(cache_key=key))).text


def test_issues_are_read_from_the_brief_and_deals_checked() -> None:
    assert issues_from_prompt(SYSTEM) == ISSUES
    assert check_deal("a2, b3", ISSUES) == "A2,B3"
    with pytest.raises(DealError, match="unknown option A3"):
        check_deal("A3,B1", ISSUES)
    assert check_deal("C1 D2", ()) == "C1,D2"
    with pytest.raises(DealError):
        check_deal("next week", ())


def test_turn_reask_on_invalid_deal_and_tagged_answer() -> None:
    out = io.StringIO()
    backend = HumanBackend(stdin=io.StringIO("Let us meet <PLAN>halfway\nA9\nA1,B2\nstay firm\n"),
                           stdout=out)
    text = ask(backend, "It is your turn to speak.")
    assert text == "<ANSWER>Let us meet halfway <DEAL>A1,B2</DEAL></ANSWER>\n<PLAN>stay firm</PLAN>"
    shown = out.getvalue()
    assert "Your brief." in shown and "It is your turn to speak." in shown
    assert "Invalid deal: unknown option A9" in shown
    parsed = parse_output(text, ISSUES, ["Other"])
    assert parsed.format_ok and str(parsed.deal) == "A1,B2" and parsed.plan == "stay firm"


def test_system_prompt_shown_once_per_party_and_no_deal() -> None:
    out = io.StringIO()
    backend = HumanBackend(stdin=io.StringIO("hi\n\n\nagain\n\n\nother\n\n\n"), stdout=out)
    assert ask(backend, "turn 1") == "<ANSWER>hi</ANSWER>"
    ask(backend, "turn 2")
    ask(backend, "turn 1", key="s:SportCo")
    assert out.getvalue().count("Your brief.") == 2


def test_vote_reasks_until_accept_or_reject() -> None:
    out = io.StringIO()
    backend = HumanBackend(stdin=io.StringIO("maybe\nr\nIt is too low.\n"), stdout=out)
    text = ask(backend, "Answer with <VOTE>ACCEPT</VOTE> or <VOTE>REJECT</VOTE>.")
    assert text == "<VOTE>REJECT</VOTE> It is too low."
    assert "Please type ACCEPT or REJECT" in out.getvalue()


def test_end_of_input_is_fatal_and_backend_is_registered() -> None:
    backend = HumanBackend(stdin=io.StringIO("only a message\n"), stdout=io.StringIO())
    with pytest.raises(FatalError, match="the human player left"):
        ask(backend, "turn")
    wrapped = create_backend(parse_spec("human"))
    assert wrapped.spec == "human:terminal" and wrapped.max_concurrency == 1


def _order(tmp: Path, seed: int, rounds: int) -> list[str]:
    """The speaking order of a session of ``base`` (it does not depend on the models)."""
    assert main(["--game", "base", "--model", "scripted:rational", "--rounds", str(rounds),
                 "--no-vote", "--seed", str(seed), "--out", str(tmp), "--name", f"o{seed}",
                 "--quiet"]) == 0
    log = json.loads(next((tmp / f"o{seed}").glob("session-*.json")).read_text())
    return log["order"]


def _play(tmp: Path, seed: int, vote: bool, stdin: str) -> tuple[subprocess.CompletedProcess,
                                                                  dict]:
    args = [sys.executable, "main.py", "--game", "base", "--model", "scripted:rational",
            "--party-model", "Mayor=human", "--rounds", "2", "--seed", str(seed),
            "--out", str(tmp), "--name", f"h{seed}{vote}", "--quiet"]
    proc = subprocess.run(args + ([] if vote else ["--no-vote"]), input=stdin, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    log = json.loads(next((tmp / f"h{seed}{vote}").glob("session-*.json")).read_text())
    return proc, log


@pytest.mark.parametrize("vote", [False, True])
def test_a_person_plays_the_mayor_through_stdin(tmp_path: Path, vote: bool) -> None:
    seed = next(s for s in range(50) if "Mayor" in _order(tmp_path, s, 2))
    speaks = _order(tmp_path, seed, 2).count("Mayor")
    stdin = "".join(f"Mayor message {i}\nA1,B2,C3,D1,E4\nplan {i}\n" for i in range(speaks))
    stdin += "reject\nNot enough for the city.\n" if vote else ""
    proc, log = _play(tmp_path, seed, vote, stdin)
    assert proc.returncode == 0, proc.stderr
    mayor = [t for t in log["turns"] if t["party"] == "Mayor"]
    rounds = [t for t in mayor if t["phase"] == "round"]
    assert [t["public"] for t in rounds] == [
        f"Mayor message {i} <DEAL>A1,B2,C3,D1,E4</DEAL>" for i in range(speaks)]
    assert all(t["deal"] == "A1,B2,C3,D1,E4" and t["format_ok"] for t in rounds)
    assert [t["plan"] for t in rounds] == [f"plan {i}" for i in range(speaks)]
    brief = next(p["initial_prompt"] for p in log["parties"] if p["name"] == "Mayor")
    assert "=== Your confidential brief (Mayor) ===" in brief
    assert brief.strip() in proc.stdout and rounds[0]["prompt"].strip() in proc.stdout
    assert proc.stdout.count("=== Your confidential brief (Mayor) ===") == 1
    votes = [t for t in mayor if t["phase"] == "vote"]
    assert [t["vote"] for t in votes] == (["REJECT"] if vote else [])
    assert "Mayor" not in (log["vote_outcome"] or {"accepting": []})["accepting"]


def test_the_human_leaving_fails_the_session_with_the_reason(tmp_path: Path) -> None:
    seed = next(s for s in range(50) if "Mayor" in _order(tmp_path, s, 2))
    proc, log = _play(tmp_path, seed, False, "")
    assert proc.returncode == 1
    assert log["status"] == "failed" and "human player left" in log["error"]
