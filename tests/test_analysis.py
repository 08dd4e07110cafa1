"""Analysis tests: the paper's reference figures and a brute-force cross-check of ``analyse``."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation.core import deal_space as analysis
from negotiation.core.deal_space import MAX_DEALS, all_scores, analyse, iter_chunks, pareto_front
from negotiation.core.game import Deal, Game, Scoring
from negotiation.core.rules import RulePolicy, agreement, score
from negotiation.games import check as checking
from negotiation.games.check import render_text, summary
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game, load_scoring
from tests.gamefactory import make_scoring

STRICT = RulePolicy(strict=True)

# ---------------------------------------------------------------------------- reference figures


@pytest.mark.parametrize(("game", "deals", "loose", "strict"), [
    ("base", 720, (55, 12), (37, 6)),
    ("base_7parties", 2880, (204, 52), (139, 39)),
])
def test_reference_figures(game: str, deals: int, loose: tuple[int, int],
                           strict: tuple[int, int]) -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / game)
    a, s = analyse(scoring), analyse(scoring, STRICT)
    assert scoring.n_deals() == a.deals == s.deals == deals
    assert (a.comparison, a.feasible, a.unanimous) == (">=", *loose)
    assert (s.comparison, s.feasible, s.unanimous) == (">", *strict)
    result = summary(load_game(DEFAULT_GAMES_DIR / game))
    assert result["deals"] == deals
    assert result["feasible"] == {">=": loose[0], ">": strict[0]}
    assert result["unanimous"] == {">=": loose[1], ">": strict[1]}


def test_base_welfare_and_nash_deals() -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / "base")
    a = analyse(scoring)
    assert str(a.welfare_deal) == "A2,B3,C2,D2,E4"
    assert str(a.nash_deal) == "A2,B3,C3,D2,E3"
    assert len(a.pareto) == 51
    sportco = scoring.party("SportCo")
    assert a.acceptable["SportCo"] == sum(score(d, sportco) >= 55 for d in _deals(scoring))


# ---------------------------------------------------------------------------- brute force


def _deals(scoring: Scoring) -> list[Deal]:
    return [Deal(o) for o in itertools.product(*(range(1, i.n_options + 1)
                                                 for i in scoring.issues))]


def _dominates(x: tuple[int, ...], y: tuple[int, ...]) -> bool:
    return all(a >= b for a, b in zip(x, y)) and any(a > b for a, b in zip(x, y))


def brute_force_check(scoring: Scoring, policy: RulePolicy) -> analysis.Analysis:
    """Assert ``analyse`` agrees with a pure-Python loop over every deal; return it."""
    result = analyse(scoring, policy)
    deals = _deals(scoring)
    outcomes = {d: agreement(d, scoring, policy) for d in deals}
    vec = {d: tuple(score(d, p) for p in scoring.parties) for d in deals}
    feasible = [d for d in deals if outcomes[d].passes]
    unanimous = [d for d in deals if outcomes[d].unanimous]

    assert result.deals == len(deals) == scoring.n_deals()
    assert result.feasible == len(feasible)
    assert result.unanimous == len(unanimous)
    assert result.comparison == policy.comparison
    assert result.acceptable == {p.name: sum(p.name in outcomes[d].accepting for d in deals)
                                 for p in scoring.parties}

    # Pareto set over the feasible deals
    pareto = list(result.pareto)
    assert pareto == sorted(pareto, key=lambda d: d.options), "listed in enumeration order"
    assert set(pareto) <= set(feasible)
    assert len({vec[d] for d in pareto}) == len(pareto), "one deal per score vector"
    for d in pareto:
        assert not any(_dominates(vec[f], vec[d]) for f in feasible), d
    for f in set(feasible) - set(pareto):
        assert any(_dominates(vec[d], vec[f]) or vec[d] == vec[f] for d in pareto), f

    # welfare: maximal score sum among feasible deals, first in enumeration order
    if feasible:
        best = max(sum(vec[d]) for d in feasible)
        assert result.welfare_deal == next(d for d in feasible if sum(vec[d]) == best)
    else:
        assert result.welfare_deal is None and result.pareto == ()

    # Nash: maximal product of surpluses among unanimous deals, first in enumeration order
    if unanimous:
        def nash(d: Deal) -> int:
            return math.prod(v - p.minimum for v, p in zip(vec[d], scoring.parties))
        best_product = max(nash(d) for d in unanimous)
        assert result.nash_deal == next(d for d in unanimous if nash(d) == best_product)
    else:
        assert result.nash_deal is None
    return result


@pytest.mark.parametrize("game", ["base", "hospital_merger", "oss_licence", "river_dam"])
@pytest.mark.parametrize("policy", [RulePolicy(), STRICT, RulePolicy(bonus_in_acceptance=True)],
                         ids=[">=", ">", "bonus"])
def test_brute_force_on_shipped_games(game: str, policy: RulePolicy) -> None:
    result = brute_force_check(load_scoring(DEFAULT_GAMES_DIR / game), policy)
    assert result.feasible > 0 and result.unanimous > 0


POLICIES = st.one_of(
    st.builds(RulePolicy, strict=st.booleans(), bonus_in_acceptance=st.booleans()),
    st.builds(RulePolicy, strict=st.booleans(), required=st.integers(1, 5)),
)


@st.composite
def small_scorings(draw: st.DrawFn) -> Scoring:
    n = draw(st.integers(2, 5))
    shape = draw(st.lists(st.integers(2, 4), min_size=1, max_size=4))
    roles = ["player"] * n
    special = draw(st.permutations(range(n)))
    if draw(st.booleans()):
        roles[special[0]] = "p1"
    if draw(st.booleans()):
        roles[special[1]] = "p2"
    if n > 2 and draw(st.booleans()):
        roles[special[2]] = "target"
    sheets = []
    for role in roles:
        rows = [draw(st.lists(st.integers(-3, 12), min_size=k, max_size=k)) for k in shape]
        low, high = sum(min(r) for r in rows), sum(max(r) for r in rows)
        sheets.append((role, rows, draw(st.integers(low - 1, high + 1))))
    return make_scoring(sheets)


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_scorings(), POLICIES)
def test_brute_force_on_random_small_games(scoring: Scoring, policy: RulePolicy) -> None:
    brute_force_check(scoring, policy)


def test_random_small_games_are_not_all_trivial() -> None:
    # guard for the property above: its strategy reaches games with deals on every side
    seen = {"feasible": 0, "none": 0, "nash": 0}

    @settings(max_examples=60, deadline=None, database=None)
    @given(small_scorings())
    def count(scoring: Scoring) -> None:
        a = analyse(scoring)
        seen["feasible"] += a.feasible > 0
        seen["none"] += a.feasible == 0
        seen["nash"] += a.nash_deal is not None

    count()
    assert all(v > 0 for v in seen.values()), seen


def test_pareto_front_keeps_one_of_equal_rows_and_drops_dominated() -> None:
    scores = np.array([[1, 1], [3, 0], [2, 2], [2, 2], [0, 3], [2, 1], [0, 0]])
    assert pareto_front(scores).tolist() == [1, 2, 4]


def test_iter_chunks_matches_one_pass() -> None:
    scoring = load_scoring(DEFAULT_GAMES_DIR / "base")
    idx, scores = all_scores(scoring)
    parts = list(iter_chunks(scoring, chunk=7))
    assert len(parts) == math.ceil(720 / 7)
    assert np.array_equal(np.concatenate([p[0] for p in parts]), idx)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), scores)
    # row 0 is A1,B1,…; the last row the highest option of every issue
    assert idx[0].tolist() == [0, 0, 0, 0, 0] and idx[-1].tolist() == [2, 2, 3, 3, 4]
    sportco = scoring.party("SportCo")
    assert scores[-1, 0] == score(Deal((3, 3, 4, 4, 5)), sportco)


# ---------------------------------------------------------------------------- big games


def _big_game() -> Game:
    rows = [[(i * 7 + k * 3) % 11 for k in range(9)] for i in range(8)]
    scoring = make_scoring([("p1" if j == 0 else "player",
                             [[(v + j) % 13 for v in r] for r in rows], 30) for j in range(15)],
                           name="huge", path=Path("huge"))
    return Game(scoring, "A huge game.\n", {p.name: "Brief.\n" for p in scoring.parties},
                Deal((1,) * 8), True)


def test_game_above_limit_is_not_enumerated(monkeypatch: pytest.MonkeyPatch) -> None:
    game = _big_game()
    assert game.scoring.n_deals() == 9 ** 8 > MAX_DEALS

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a game above the limit must not be enumerated")

    monkeypatch.setattr(checking, "analyse", forbidden)
    monkeypatch.setattr(analysis, "iter_chunks", forbidden)
    result = summary(game)
    assert result["deals"] == 9 ** 8
    assert result["feasible"] is None and result["unanimous"] is None
    assert result["analysis"] is None
    assert "43,046,721" in result["analysis_message"]
    assert "5,000,000" in result["analysis_message"]
    assert "not enumerated" in render_text(result)
    monkeypatch.undo()
    monkeypatch.setattr(analysis, "iter_chunks", forbidden)
    with pytest.raises(ValueError, match="exceed the analysis limit"):
        analyse(game.scoring)


@pytest.mark.parametrize(("limit", "enumerated"), [(720, True), (719, False)])
def test_limit_is_inclusive(monkeypatch: pytest.MonkeyPatch, limit: int,
                            enumerated: bool) -> None:
    monkeypatch.setattr(checking, "MAX_DEALS", limit)
    monkeypatch.setattr(analysis, "MAX_DEALS", limit)
    result = summary(load_game(DEFAULT_GAMES_DIR / "base"))
    assert (result["feasible"] is not None) is enumerated
    assert ("analysis_message" in result) is not enumerated
