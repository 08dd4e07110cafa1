"""Table tests for ``negotiation.core.rules``: deal parsing, scores, acceptance, agreement, payoff."""

from __future__ import annotations

import pytest

from negotiation.core.errors import DealError
from negotiation.core.game import Deal
from negotiation.core.rules import (
    UNANIMITY_BONUS,
    RulePolicy,
    accepts,
    agreement,
    best_deal,
    clears,
    parse_deal,
    passes_with,
    payoff,
    required_supporters,
    score,
)
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_scoring
from tests.gamefactory import make_scoring

BASE = load_scoring(DEFAULT_GAMES_DIR / "base")  # issues A3 B3 C4 D4 E5
ISSUES = BASE.issues

# ---------------------------------------------------------------------------- parse_deal


@pytest.mark.parametrize(("text", "expected"), [
    ("A1,B2,C3,D4,E5", (1, 2, 3, 4, 5)),
    (" a1 , b2,c3 ,d4,  e5 ", (1, 2, 3, 4, 5)),
    ("E5,D4,C3,B2,A1", (1, 2, 3, 4, 5)),
    ("c1,a3,e2,b1,d2", (3, 1, 1, 2, 2)),
    ("A1;B2;C3;D4;E5", (1, 2, 3, 4, 5)),
    ("A 1, B 2, C 3, D 4, E 5", (1, 2, 3, 4, 5)),
    ("A1,B2,C3,D4,E5,", (1, 2, 3, 4, 5)),
    ("\tA01,B2,C3,D4,E5\n", (1, 2, 3, 4, 5)),
])
def test_parse_deal_accepts(text: str, expected: tuple[int, ...]) -> None:
    deal = parse_deal(text, ISSUES)
    assert deal == Deal(expected)
    assert parse_deal(str(deal), ISSUES) == deal


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty deal"),
    ("  , ;  ,", "empty deal"),
    ("A1,B2,C3,D4,EE", "'EE' is not an option"),
    ("A1,B2,C3,D4,5", "'5' is not an option"),
    ("A1 B2 C3 D4 E5", "is not an option"),
    ("A1,B2,C3,D4,E-1", "is not an option"),
    ("AB1,B2,C3,D4,E5", "is not an option"),
    ("A1,B2,C3,D4,F1", "unknown issue F"),
    ("A1,B2,C3,D5,E5", "unknown option D5: issue D has 4 options"),
    ("A0,B2,C3,D4,E5", "unknown option A0"),
    ("A1,B2,C3,D4,E6", "unknown option E6"),
    ("A1,a2,B2,C3,D4,E5", "issue A is given twice"),
    ("A1,B2,C3,D4", "misses issue(s) E"),
    ("B2,D4", "misses issue(s) A, C, E"),
])
def test_parse_deal_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DealError) as info:
        parse_deal(text, ISSUES)
    assert fragment in str(info.value)


def test_parse_deal_huge_option_number_is_deal_error() -> None:
    with pytest.raises(DealError):
        parse_deal("A" + "1" * 5000 + ",B1,C1,D1,E1", ISSUES)


# ---------------------------------------------------------------------------- score


@pytest.mark.parametrize(("deal", "party", "expected"), [
    ("A1,B1,C4,D1,E5", "SportCo", 14 + 11 + 17 + 35 + 23),
    ("A1,B1,C4,D1,E5", "Mayor", 14 + 12 + 0 + 40 + 10),
    ("A1,B1,C4,D1,E5", "Department of Tourism", 0 + 0 + 9 + 10 + 0),
    ("A3,B3,C1,D4,E1", "Environmental League", 45 + 55),
    ("A2,B3,C2,D2,E4", "Local Labour Union", 20 + 0 + 35 + 20 + 8),
])
def test_score(deal: str, party: str, expected: int) -> None:
    assert score(parse_deal(deal, ISSUES), BASE.party(party)) == expected


# ---------------------------------------------------------------------------- a designed game
# Four parties, minimum 10 each. Issue A (9 options) fixes who reaches exactly 10; issue B adds
# 0 (B1) or 1 (B2) for everyone, to sit exactly on or just above the threshold.
A_ROWS = {  # option -> scores of (P0 p1, P1 p2, P2 player, P3 player)
    1: (10, 10, 10, 10),   # everyone exactly at the minimum
    2: (10, 10, 10, 0),    # P3 rejects: N-1 with both vetoes -> passes
    3: (10, 0, 10, 10),    # p2 rejects: blocked by the veto
    4: (0, 10, 10, 10),    # p1 exactly 10 below its minimum
    5: (10, 10, 0, 0),     # only the vetoes
    6: (0, 0, 0, 0),       # nobody
    7: (3, 10, 10, 10),    # p1 7 below
    8: (-1, 10, 10, 10),   # p1 11 below
    9: (10, 10, 0, 10),    # P2 rejects: passes without unanimity
}
ROLES = ("p1", "p2", "player", "player")
DESIGNED = make_scoring([
    (role, [[A_ROWS[k][j] for k in range(1, 10)], [0, 1]], 10) for j, role in enumerate(ROLES)
])
P0, P1, P2, P3 = DESIGNED.parties


def deal(a: int, b: int = 1) -> Deal:
    return Deal((a, b))


@pytest.mark.parametrize(("value", "minimum", "loose", "strict"), [
    (10, 10, True, False), (11, 10, True, True), (9, 10, False, False),
    (0, 0, True, False), (-5, -5, True, False), (-4, -5, True, True),
])
def test_clears(value: int, minimum: int, loose: bool, strict: bool) -> None:
    assert clears(value, minimum) is loose
    assert clears(value, minimum, RulePolicy(strict=True)) is strict


def test_accepts_at_exactly_the_threshold() -> None:
    for party in DESIGNED.parties:
        assert accepts(deal(1, 1), party)                                # 10 >= 10
        assert not accepts(deal(1, 1), party, RulePolicy(strict=True))   # 10 > 10 is false
        assert accepts(deal(1, 2), party, RulePolicy(strict=True))       # 11 > 10
    assert RulePolicy().comparison == ">=" and RulePolicy(strict=True).comparison == ">"


# (A option, B option, policy) -> (accepting, passes, unanimous)
STRICT = RulePolicy(strict=True)
BONUS = RulePolicy(bonus_in_acceptance=True)
BONUS_STRICT = RulePolicy(strict=True, bonus_in_acceptance=True)
AGREEMENT_TABLE = [
    (1, 1, RulePolicy(), ("P0", "P1", "P2", "P3"), True, True),
    (1, 1, STRICT, (), False, False),
    (1, 2, STRICT, ("P0", "P1", "P2", "P3"), True, True),
    (2, 1, RulePolicy(), ("P0", "P1", "P2"), True, False),
    (9, 1, RulePolicy(), ("P0", "P1", "P3"), True, False),
    (3, 1, RulePolicy(), ("P0", "P2", "P3"), False, False),   # p2's veto
    (4, 1, RulePolicy(), ("P1", "P2", "P3"), False, False),   # p1's veto
    (5, 1, RulePolicy(), ("P0", "P1"), False, False),
    (6, 2, RulePolicy(), (), False, False),
    (7, 1, RulePolicy(), ("P1", "P2", "P3"), False, False),   # bonus is no acceptance...
    (7, 1, BONUS, ("P0", "P1", "P2", "P3"), True, True),      # ...unless the policy says so
    (4, 1, BONUS, ("P0", "P1", "P2", "P3"), True, True),      # exactly 10 below: 0+10 >= 10
    (4, 1, BONUS_STRICT, (), False, False),                   # 10 > 10 false for everyone
    (4, 2, BONUS_STRICT, ("P0", "P1", "P2", "P3"), True, True),
    (8, 1, BONUS, ("P1", "P2", "P3"), False, False),          # 11 below: still rejects
    (2, 1, BONUS, ("P0", "P1", "P2"), True, False),           # players get no bonus
    (5, 1, RulePolicy(required=2), ("P0", "P1"), True, False),
    (2, 1, RulePolicy(required=4), ("P0", "P1", "P2"), False, False),
]


@pytest.mark.parametrize(("a", "b", "policy", "accepting", "passes", "unanimous"),
                         AGREEMENT_TABLE)
def test_agreement_table(a: int, b: int, policy: RulePolicy, accepting: tuple[str, ...],
                         passes: bool, unanimous: bool) -> None:
    outcome = agreement(deal(a, b), DESIGNED, policy)
    assert outcome.accepting == accepting
    assert (outcome.passes, outcome.unanimous) == (passes, unanimous)
    assert passes_with(set(accepting), DESIGNED, policy) == (passes, unanimous)


def test_p2_veto_blocks_an_otherwise_n_minus_1_deal_in_base() -> None:
    # find a base deal accepted by everybody except the Department of Tourism (p2)
    import itertools

    tourism = BASE.party("Department of Tourism")
    found = []
    for options in itertools.product(*(range(1, i.n_options + 1) for i in ISSUES)):
        d = Deal(options)
        out = agreement(d, BASE)
        if set(out.accepting) == {p.name for p in BASE.parties} - {tourism.name}:
            found.append((d, out))
    assert found, "base has deals that only the Department of Tourism rejects"
    for d, out in found:
        assert len(out.accepting) == len(BASE.parties) - 1 == required_supporters(BASE)
        assert not out.passes and not out.unanimous


def test_passes_with_ignores_unknown_names_and_needs_vetoes() -> None:
    assert passes_with({"P0", "P1", "Stranger", "Ghost"}, DESIGNED) == (False, False)
    assert passes_with({"P1", "P2", "P3"}, DESIGNED) == (False, False)
    assert passes_with({"P0", "P1", "P3"}, DESIGNED) == (True, False)
    assert passes_with(set(), DESIGNED) == (False, False)


def test_required_supporters() -> None:
    assert required_supporters(DESIGNED) == 3
    assert required_supporters(BASE) == 5
    assert required_supporters(DESIGNED, RulePolicy(required=1)) == 1


# ---------------------------------------------------------------------------- payoff


@pytest.mark.parametrize(("a", "b", "party", "policy", "expected"), [
    (1, 1, 0, RulePolicy(), 10 + UNANIMITY_BONUS),  # p1, unanimous
    (1, 2, 0, RulePolicy(), 11 + UNANIMITY_BONUS),
    (2, 1, 0, RulePolicy(), 10),                    # p1, passes but not unanimous
    (3, 1, 0, RulePolicy(), 10),                    # p1, fails
    (1, 1, 1, RulePolicy(), 10),                    # p2 never gets the bonus
    (1, 1, 2, RulePolicy(), 10),                    # players neither
    (1, 1, 0, STRICT, 10),                          # not unanimous under '>'
    (1, 2, 0, STRICT, 11 + UNANIMITY_BONUS),
    (7, 1, 0, RulePolicy(), 3),                     # p1 rejects -> not unanimous
    (7, 1, 0, BONUS, 3 + UNANIMITY_BONUS),          # unanimous once the bonus counts
])
def test_payoff(a: int, b: int, party: int, policy: RulePolicy, expected: int) -> None:
    assert UNANIMITY_BONUS == 10
    assert payoff(deal(a, b), DESIGNED.parties[party], DESIGNED, policy) == expected


def test_bonus_never_enters_acceptability_by_default() -> None:
    # p1 scores 3 on A7 (minimum 10): the +10 it would earn must not make it accept
    assert not accepts(deal(7), P0)
    assert accepts(deal(7), P0, BONUS)
    assert not accepts(deal(8), P0, BONUS)
    # the bonus policy only ever helps p1
    for d in (deal(2), deal(9), deal(5)):
        for party in (P1, P2, P3):
            assert accepts(d, party, BONUS) == accepts(d, party)


def test_no_p1_means_no_bonus() -> None:
    scoring = make_scoring([("player", [[10, 0], [0, 1]], 5), ("p2", [[10, 0], [0, 1]], 5),
                            ("player", [[10, 0], [0, 1]], 5)])
    assert not scoring.has_p1 and scoring.proposer is scoring.parties[0]
    chair = scoring.parties[0]
    assert agreement(Deal((1, 1)), scoring).unanimous
    assert payoff(Deal((1, 1)), chair, scoring) == 10


# ---------------------------------------------------------------------------- best_deal


@pytest.mark.parametrize(("rows", "expected"), [
    ([[1, 5, 3], [2, 2]], (2, 1)),
    ([[7, 7, 7], [0, 9]], (1, 2)),
    ([[-3, -1, -1], [4, 4, 9, 9]], (2, 3)),
])
def test_best_deal_ties_to_lowest_option(rows: list[list[int]], expected: tuple[int, ...]) -> None:
    scoring = make_scoring([("p1", rows, 0), ("player", rows, 0)])
    assert best_deal(scoring.parties[0]) == Deal(expected)


def test_best_deal_in_base() -> None:
    assert str(best_deal(BASE.party("SportCo"))) == "A1,B1,C4,D1,E5"
    assert str(best_deal(BASE.party("Environmental League"))) == "A3,B3,C1,D1,E1"
