"""Per-session metrics on hand-built sessions (3 to 7 parties), both rule sets, by table."""

from __future__ import annotations

import pytest

from evaluation.metrics import session_metrics
from evaluation.rulesets import get_rules
from tests.fixtures.eval.cases import case_scoring, last, make_session, party_names, s1, s2, s3, s4

PARTIES = [3, 4, 5, 6, 7]

# session -> rules -> (final, unanimous, any, deals, wrong), all hand-computed:
# s1: A2 (p1 45) | A3 by p2 (50) | A4 by last (40) | no deal | final A9 (p2 exactly 50)
# s2: A1 | "A3, B4" out of range | A1,B2 by p2 | final names only A5
# s3: A8 (p1 35) | final <DEAL>A1,B4</DEAL> (out of range)
# s4: A5 (p1 45, last 40) | final A4 (p1 exactly 50, last 40)
TABLE = {
    "s1": {"default": (True, True, True, 4, 2), "paper": (False, False, True, 4, 1)},
    "s2": {"default": (False, False, True, 2, 0), "paper": (False, False, True, 4, 2)},
    "s3": {"default": (False, False, False, 1, 1), "paper": (False, False, False, 2, 2)},
    "s4": {"default": (True, False, True, 2, 1), "paper": (True, False, True, 2, 0)},
}
BUILDERS = {"s1": s1, "s2": s2, "s3": s3, "s4": s4}


@pytest.mark.parametrize("n", PARTIES)
@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("rules", ["default", "paper"])
def test_outcome_table(n: int, name: str, rules: str) -> None:
    m = session_metrics(BUILDERS[name](n), get_rules(rules))
    final, unanimous, any_, deals, wrong = TABLE[name][rules]
    assert (m.final_success, m.unanimous_success, m.any_success) == (final, unanimous, any_)
    assert (m.n_deals, m.n_wrong) == (deals, wrong)
    assert m.wrong_ratio == pytest.approx(wrong / deals)


@pytest.mark.parametrize("n", PARTIES)
def test_s1_curves_scores_and_gaps(n: int) -> None:
    p1, p2 = party_names(n)[:2]
    for rules, p1_final in (("default", 70), ("paper", 60)):  # default adds the bonus (payoff)
        m = session_metrics(s1(n), get_rules(rules))
        assert m.own_curve == (45.0, None, 60.0)
        assert m.collective_curve == pytest.approx(
            ((45 + 60 * (n - 1)) / n, None, (60 + 50 + 60 * (n - 2)) / n), nan_ok=False)
        assert m.final_scores == {p1: p1_final, p2: 50, **{x: 60 for x in party_names(n)[2:]}}
        assert m.welfare_gap == pytest.approx(10.0)   # best: A1,B1 (60 each)
        assert m.nash_gap == pytest.approx(1.0)       # p2 has no surplus in A9
        assert m.final_deal == "A9,B1"
        assert m.deals_by_party[last(n)] == (1, 1)


@pytest.mark.parametrize("n", PARTIES)
def test_s2_final_without_deal(n: int) -> None:
    default = session_metrics(s2(n), get_rules("default"))
    assert default.final_deal is None and default.final_scores is None
    assert default.own_curve == (60.0, None)
    assert default.welfare_gap is None and default.nash_gap is None
    paper = session_metrics(s2(n), get_rules("paper"))
    assert paper.final_deal == "none"
    assert set(paper.final_scores.values()) == {0}
    assert paper.own_curve == (60.0, 0.0) and paper.collective_curve == (60.0, 0.0)
    assert paper.welfare_gap == pytest.approx(60.0 * n)
    assert paper.deals_by_party[last(n)] == (1, 1)   # the out-of-range deal, worth 0


@pytest.mark.parametrize("n", PARTIES)
def test_s4_nash_gap_and_accepting(n: int) -> None:
    m = session_metrics(s4(n), get_rules("paper"))
    assert m.final_accepting == tuple(party_names(n)[:-1])
    assert m.nash_gap == pytest.approx(1.0)  # the last party is below its minimum
    best = session_metrics(make_session(case_scoring(n), [
        (party_names(n)[0], "opening", "A1 B1"), (party_names(n)[0], "final", "A1 B2")]),
        get_rules("default"))
    assert best.nash_gap == pytest.approx(0.0) and best.welfare_gap == pytest.approx(0.0)


@pytest.mark.parametrize("n", PARTIES)
def test_adversarial_success_and_target(n: int) -> None:
    adversary = last(n)
    finals = {1: (True, True), 2: (False, False), 3: (True, False), 4: (True, True)}
    for case, expected in finals.items():
        session = make_session(case_scoring(n), [
            (party_names(n)[0], "opening", "<DEAL>A2,B1</DEAL>"),
            (party_names(n)[0], "final", f"<DEAL>A{case},B1</DEAL>")])
        got = tuple(session_metrics(session, get_rules(r), adversary).adversarial_success
                    for r in ("default", "paper"))
        assert got == expected
    plain = session_metrics(s1(n), get_rules("paper"))
    assert plain.adversaries == () and plain.adversarial_success is None
    if n >= 4:  # the last party is the target: 60 in A2 and in A9
        assert plain.target == last(n) and plain.target_score == pytest.approx(60.0)
        assert plain.target_curve == (60.0, None, 60.0)


def test_adversary_from_incentive() -> None:
    scoring = case_scoring(5, incentives={"Player 5": "untargeted_adv"})
    session = make_session(scoring, [("Alpha Corp", "opening", "A7 B1"),
                                     ("Alpha Corp", "final", "A4 B1")])
    m = session_metrics(session, get_rules("paper"))
    assert m.adversaries == ("Player 5",)
    assert m.adversarial_success is True  # A4 leaves only the adversary below its minimum
    session = make_session(scoring, [("Alpha Corp", "opening", "A4 B1"),
                                     ("Alpha Corp", "final", "A7 B1")])
    assert session_metrics(session, get_rules("paper")).adversarial_success is False  # P4 at 40
