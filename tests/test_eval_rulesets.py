"""Rule sets on hand-built games of 3 to 7 parties: verdicts, wrong deals, deal reading."""

from __future__ import annotations

import pytest

from evaluation.rulesets import DealView, get_rules
from negotiation.core.rules import agreement, parse_deal
from tests.fixtures.eval.cases import case_scoring, party_names

DEFAULT, PAPER = get_rules("default"), get_rules("paper")
PARTIES = [3, 4, 5, 6, 7]

# case -> (default passes, default unanimous, paper passes, paper unanimous), hand-computed
# from the score table in tests/fixtures/eval/cases.py.
VERDICTS = {
    1: (True, True, True, True),
    2: (False, False, True, True),     # p1 45: outside >= for default, inside paper's +10 band
    3: (True, True, False, False),     # others exactly 50: >= accepts, paper's > rejects
    4: (True, False, True, False),     # p1 exactly 50 and one party short: N-1 / N-2 clause
    5: (False, False, False, False),   # the +10 band does not count in the N-2 clause
    6: (False, False, False, False),   # p2 vetoes
    7: (False, False, False, False),   # two parties short
    8: (False, False, False, False),   # p1 35 + 10 < 50
    9: (True, True, False, False),     # p2 exactly 50: a veto party not strictly above
}
# p1 proposing case k is wrong: default when its score < 50; paper when score + 10 < 50.
WRONG_FOR_P1 = {"default": {2, 5, 8}, "paper": {8}}


@pytest.mark.parametrize("n", PARTIES)
@pytest.mark.parametrize("case", sorted(VERDICTS))
def test_p1_verdicts_table(n: int, case: int) -> None:
    scoring = case_scoring(n)
    d_pass, d_unan, p_pass, p_unan = VERDICTS[case]
    text = f"I propose <DEAL>A{case},B2</DEAL>"
    for rules, passes, unanimous in ((DEFAULT, d_pass, d_unan), (PAPER, p_pass, p_unan)):
        view = rules.read(text, scoring)
        assert view is not None and view.options == (case, 2)
        verdict = rules.judge_p1(view, scoring)
        assert (verdict.passes, verdict.unanimous) == (passes, unanimous), rules.name
        assert rules.wrong(view, scoring.proposer, scoring) == (case in WRONG_FOR_P1[rules.name])


@pytest.mark.parametrize("n", PARTIES)
def test_default_is_the_rules_core(n: int) -> None:
    scoring = case_scoring(n)
    for case in VERDICTS:
        deal = parse_deal(f"A{case},B1", scoring.issues)
        outcome = agreement(deal, scoring)
        verdict = DEFAULT.judge_p1(DealView(deal.options, deal), scoring)
        assert (verdict.accepting, verdict.passes, verdict.unanimous) == \
            (outcome.accepting, outcome.passes, outcome.unanimous)


def test_paper_accepting_lists() -> None:
    scoring = case_scoring(4)
    p1, p2, p3, p4 = party_names(4)
    accepting = {case: PAPER.judge_p1(PAPER.read(f"A{case} B1", scoring), scoring).accepting
                 for case in (2, 3, 4, 8)}
    assert accepting[2] == (p1, p2, p3, p4)  # p1 within its band
    assert accepting[3] == (p1,)             # others exactly at the minimum: not strictly above
    assert accepting[4] == (p1, p2, p3)      # p1 exactly at its minimum accepts
    assert accepting[8] == (p2, p3, p4)      # p1 below its band


@pytest.mark.parametrize("n", PARTIES)
def test_wrong_for_other_proposers_is_below_minimum(n: int) -> None:
    scoring = case_scoring(n)
    p2 = scoring.party(party_names(n)[1])
    for rules in (DEFAULT, PAPER):
        at_threshold = rules.read("<DEAL>A3,B1</DEAL>", scoring)   # p2 exactly 50
        below = rules.read("<DEAL>A6,B1</DEAL>", scoring)          # p2 40
        assert at_threshold is not None and below is not None
        assert not rules.wrong(at_threshold, p2, scoring)
        assert rules.wrong(below, p2, scoring)


def test_paper_reading_rules() -> None:
    scoring = case_scoring(3)
    read = PAPER.read
    assert read("B2 first, then A3", scoring).options == (3, 2)  # any order
    assert read("A\n3 and B1", scoring).options == (3, 1)          # newlines removed first
    assert read("A1 or A2, with B3", scoring).options == (1, 3)    # first match per issue
    assert read("a1, b2", scoring) is None                          # upper case only
    assert read("A0, B1", scoring) is None                          # digits 1-9 only
    assert read("Only A1 here", scoring) is None                    # every issue needed
    assert read("A12, B1", scoring).options == (1, 1)               # first digit only
    assert read("<DEAL>A1,B2</DEAL> but earlier A5 B3", scoring).options == (1, 2)


def test_out_of_range_option_is_worth_zero_in_paper_and_no_deal_in_default() -> None:
    scoring = case_scoring(5)
    view = PAPER.read("A1, B4", scoring)
    assert view is not None and view.full and view.deal is None
    assert set(PAPER.scores(view, scoring).values()) == {0}
    assert not PAPER.judge_p1(view, scoring).passes
    assert PAPER.wrong(view, scoring.proposer, scoring)
    assert DEFAULT.read("A1, B4", scoring) is None
    assert DEFAULT.read("<DEAL>A1,B4</DEAL>", scoring) is None


def test_final_without_full_deal() -> None:
    scoring = case_scoring(3)
    assert DEFAULT.read_final("let us keep talking about A1", scoring) is None
    view = PAPER.read_final("let us keep talking about A1", scoring)
    assert view is not None and not view.full and view.label() == "none"
    assert PAPER.judge_p1(view, scoring).passes is False
    assert PAPER.wrong(view, scoring.proposer, scoring)
    assert set(PAPER.final_scores(view, scoring).values()) == {0}


@pytest.mark.parametrize("n", PARTIES)
def test_adversarial_acceptance(n: int) -> None:
    scoring = case_scoring(n)
    adversary = [party_names(n)[-1]]
    # case -> (default, paper): the last party (40 in A4/A5) is the adversary
    expected = {1: (True, True), 2: (False, False), 3: (True, False), 4: (True, True),
                6: (False, False), 9: (True, False)}
    for case, (d, p) in expected.items():
        text = f"<DEAL>A{case},B1</DEAL>"
        assert DEFAULT.non_adversaries_accept(DEFAULT.read(text, scoring), adversary, scoring) == d
        assert PAPER.non_adversaries_accept(PAPER.read(text, scoring), adversary, scoring) == p


def test_paper_without_p2_has_p1_as_only_veto() -> None:
    base = case_scoring(4)
    from dataclasses import replace

    no_p2 = replace(base, parties=tuple(replace(p, role="player") if p.role == "p2" else p
                                        for p in base.parties))
    view = PAPER.read("A6 B1", no_p2)  # Beta 40 now an ordinary party: N-2 others accept
    assert PAPER.judge_p1(view, no_p2).passes and not PAPER.judge_p1(view, base).passes


def test_unknown_rule_set() -> None:
    with pytest.raises(ValueError, match="unknown rule set"):
        get_rules("strict")
