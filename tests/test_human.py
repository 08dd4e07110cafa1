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

from negotiation.agents.human import HumanSeat, Terminal, check_deal
from negotiation.backends.base import FatalError
from negotiation.core.errors import DealError
from negotiation.core.game import Deal, Issue, Party
from negotiation.core.phases import Phase
from negotiation.protocol.parsing import parse_output
from negotiation.protocol.seats import Observation
from negotiation_cli import main

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "Your brief."
ISSUES = (Issue("A", 2), Issue("B", 3))
MAYOR = Party("Mayor", "mayor", "p2", "cooperative", "human", ((1, 2), (1, 2, 3)), 2)


class Prompts:
    """Stands in for the prompt templates: the observation's phase and speaker as text."""

    def user_message(self, obs: Observation) -> str:
        return f"{obs.phase.value} prompt for {obs.speaker}"


def seat(stdin: str, out: io.StringIO, key: str = "s") -> HumanSeat:
    terminal = Terminal(io.StringIO(stdin), out)
    return HumanSeat(terminal, Prompts(), {"Mayor": SYSTEM}, key=key)  # type: ignore[arg-type]


def observe(phase: Phase = Phase.ROUND, deal: Deal | None = None) -> Observation:
    return Observation(phase=phase, index=1, seed=0, speaker="Mayor", party=MAYOR, issues=ISSUES,
                       parties=("Mayor", "Other"), speakers=("Mayor", "Other"), proposer="Other",
                       deal=deal, own_score=3 if deal else None)


def act(human: HumanSeat, obs: Observation) -> str:
    return asyncio.run(human.act(obs)).raw_output


def test_deals_are_checked_against_the_observed_issues() -> None:
    assert str(check_deal("a2, b3", ISSUES)) == "A2,B3"
    with pytest.raises(DealError, match="unknown option A3"):
        check_deal("A3,B1", ISSUES)
    with pytest.raises(DealError):
        check_deal("next week", ISSUES)


def test_turn_reask_on_invalid_deal_and_tagged_answer() -> None:
    out = io.StringIO()
    human = seat("Let us meet <PLAN>halfway\nA9\nA1,B2\nstay firm\n", out)
    reply = asyncio.run(human.act(observe()))
    text = reply.raw_output
    assert text == "<ANSWER>Let us meet halfway <DEAL>A1,B2</DEAL></ANSWER>\n<PLAN>stay firm</PLAN>"
    assert str(reply.action.deal) == "A1,B2" and reply.action.plan == "stay firm"
    shown = out.getvalue()
    assert "Your brief." in shown and "round prompt for Mayor" in shown
    assert "Invalid deal: unknown option A9" in shown
    parsed = parse_output(text, ISSUES, ["Other"])
    assert parsed.format_ok and str(parsed.deal) == "A1,B2" and parsed.plan == "stay firm"
    assert reply.parse.format_ok and reply.parse.found == parsed.found


def test_system_prompt_shown_once_per_speaker_and_session_and_no_deal() -> None:
    out = io.StringIO()
    terminal = Terminal(io.StringIO("hi\n\n\nagain\n\n\nother\n\n\n"), out)
    first = HumanSeat(terminal, Prompts(), {"Mayor": SYSTEM}, key="s1")  # type: ignore[arg-type]
    assert act(first, observe()) == "<ANSWER>hi</ANSWER>"
    act(first, observe())
    other_session = HumanSeat(terminal, Prompts(), {"Mayor": SYSTEM}, key="s2")  # type: ignore[arg-type]
    act(other_session, observe())
    assert out.getvalue().count("Your brief.") == 2


def test_vote_reasks_until_accept_or_reject() -> None:
    out = io.StringIO()
    human = seat("maybe\nr\nIt is too low.\n", out)
    reply = asyncio.run(human.act(observe(Phase.VOTE, Deal((1, 1)))))
    assert reply.raw_output == "<VOTE>REJECT</VOTE> It is too low."
    assert reply.action.vote == "REJECT"
    assert "Please type ACCEPT or REJECT" in out.getvalue()


def test_end_of_input_is_fatal() -> None:
    human = seat("only a message\n", io.StringIO())
    with pytest.raises(FatalError, match="the human player left"):
        act(human, observe())


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
    assert all(t["deal"] == ["A1", "B2", "C3", "D1", "E4"] and t["format_ok"] for t in rounds)
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
