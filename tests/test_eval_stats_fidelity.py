"""Interval estimates and tests (seeded, no global state) and the score-fidelity measures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.fidelity import arithmetic, format_failures, stated_scores, vote_consistency
from evaluation.rulesets import get_rules
from evaluation.stats import (
    bootstrap_diff_ci,
    bootstrap_mean_ci,
    mean_summary,
    permutation_test,
    rate,
    wilson,
)
from negotiation.core.game import Deal
from tests.fixtures.eval.cases import case_scoring, make_session, party_names


def test_wilson_known_values() -> None:
    assert wilson(0, 0) is None
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 3)
    assert lo == 0.0 and round(hi, 4) == 0.5615
    lo, hi = wilson(3, 3)
    assert hi == 1.0 and round(lo, 4) == 0.4385
    assert rate(0, 0) == {"k": 0, "n": 0, "rate": None, "ci95": None}


@given(st.integers(1, 500), st.data())
@settings(max_examples=60, deadline=None)
def test_wilson_contains_the_rate(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_bootstrap_is_seeded_and_leaves_global_state_alone() -> None:
    state = np.random.get_state()[1].copy()
    values = [0.3, 1.7, 2.2, 0.1, 5.0, 1.1, 3.3, 0.4, 2.8, 1.9]
    first = bootstrap_mean_ci(values, seed=3)
    assert bootstrap_mean_ci(values, seed=3) == first
    assert bootstrap_mean_ci(values, seed=4) != first
    assert first[0] <= np.mean(values) <= first[1]
    assert np.array_equal(np.random.get_state()[1], state)
    assert bootstrap_mean_ci([]) is None
    assert mean_summary([None, 2.0, 4.0])["mean"] == 3.0
    assert mean_summary([None]) == {"mean": None, "ci95": None, "n": 0}


def test_bootstrap_many_sessions_stays_bounded() -> None:
    lo, hi = bootstrap_mean_ci(list(range(5000)), seed=1)
    assert lo < 2499.5 < hi


def test_diff_and_permutation() -> None:
    a, b = [1.0] * 20, [0.0] * 20
    assert permutation_test(a, b, seed=1) < 0.001
    assert permutation_test(a, a, seed=1) == 1.0
    lo, hi = bootstrap_diff_ci(a, b)
    assert lo == hi == 1.0
    x = [1, 2, 3, 4, 5, 6, 7, 8]
    y = [v + 1 for v in x]
    assert permutation_test(x, y, paired=True, seed=2) < 0.01  # always exactly 1 apart
    assert permutation_test(x, y, paired=False, seed=2) > 0.3
    assert permutation_test(x, y, seed=5) == permutation_test(x, y, seed=5)
    with pytest.raises(ValueError):
        permutation_test([1], [1, 2], paired=True)


def test_stated_scores() -> None:
    scoring = case_scoring(3)
    found = stated_scores("My score for A2,B1 is 45; my minimum is 50.\n"
                          "A1 (60) + B2 (0) = 60. A3 B3 was proposed in round 3.\n"
                          "A1,B1 gives me 70 points", scoring.issues)
    assert found == [(Deal((2, 1)), 45), (Deal((1, 2)), 60), (Deal((1, 1)), 70)]
    assert stated_scores("A1 or A2 with B1 scores 50", scoring.issues) == []  # ambiguous


def test_arithmetic_vote_consistency_and_formats() -> None:
    n = 4
    p1, p2, p3, p4 = party_names(n)
    scoring = case_scoring(n)
    session = make_session(scoring, [
        (p1, "opening", "<DEAL>A2,B1</DEAL>"),
        (p3, "round", "<DEAL>A1,B1</DEAL>"),
        (p1, "final", "<DEAL>A3,B1</DEAL>"),
    ], ballots=[(p2, "ACCEPT"), (p3, "REJECT"), (p4, None)], scratchpads={
        0: "My score for A2,B1 is 45.",          # correct
        1: "A1, B1 = 55",                          # wrong: 60
        2: "A3,B1 is worth 70 with the bonus",    # p1: 60 + 10, counted correct
    })
    assert arithmetic(session) == (2, 3)
    # final A3: everybody but p1 exactly at 50 -> either vote is consistent; None not judged
    assert vote_consistency(session, get_rules("default")) == (2, 2)
    bad = make_session(scoring, [(p1, "final", "<DEAL>A6,B1</DEAL>")],
                       ballots=[(p2, "ACCEPT"), (p3, "REJECT"), (p4, "ACCEPT")])
    assert vote_consistency(bad, get_rules("paper")) == (1, 3)  # p2 40 accepts; p3 60 rejects
    assert format_failures(session) == (0, 6)
    no_final = make_session(scoring, [(p1, "final", "nothing")], ballots=[(p2, "ACCEPT")])
    assert vote_consistency(no_final, get_rules("paper")) == (0, 0)
