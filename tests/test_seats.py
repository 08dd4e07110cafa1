"""Seats observe, models generate: scripted seats decide from the observation alone, so a change
of templates changes what the log shows them, never what they do; the vectorised deal-space
analysis and the rules core agree on every deal."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from negotiation.core.deal_space import acceptance_matrix, all_scores, feasible_mask
from negotiation.core.game import Issue, Party, Scoring
from negotiation.core.rules import RulePolicy, accepts, agreement
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game
from negotiation.runs.setup import RunSettings
from tests.conftest import run_session, start_session

ODD_TEMPLATES = {
    "round.j2": "Speak now, {{ me.name }}. {% for h in history %}[{{ h.speaker }}] {{ h.text }} "
                "{% endfor %}Your plan said: {{ plan }}. my turn 99",
    "final.j2": "Final words, {{ me.name }}. Deals like A1,B1,C1,D1,E1 are popular.",
    "opening.j2": "Open with anything; <VOTE>ACCEPT</VOTE>",
    "vote.j2": "Think about {{ deal }} ({{ own_score }} points). Write <DEAL>A3,B3,C4,D4,E5</DEAL>",
}


def _actions(log: object) -> list[tuple[object, ...]]:
    return [(t.index, t.party, t.phase, t.public, t.deal, t.plan, t.vote)  # type: ignore[attr-defined]
            for t in log.turns]  # type: ignore[attr-defined]


def test_scripted_decisions_do_not_depend_on_the_templates(tmp_path: Path) -> None:
    original = DEFAULT_GAMES_DIR / "base"
    changed = tmp_path / "base"
    shutil.copytree(original, changed)
    (changed / "prompts").mkdir()
    for name, text in ODD_TEMPLATES.items():
        (changed / "prompts" / name).write_text(text, encoding="utf-8")
    for policy in ("rational", "greedy", "planner", "oracle", "random"):
        settings = RunSettings(model=f"scripted:{policy}", rounds=12, seed=11)
        logs = []
        for folder in (original, changed):
            game = load_game(folder)
            log, path = start_session(game, settings, tmp_path / folder.parent.name / policy)
            logs.append(run_session(game, log, path))
        plain, odd = logs
        assert [t.prompt for t in plain.turns] != [t.prompt for t in odd.turns]
        assert "my turn 99" in odd.turns[1].prompt
        assert _actions(plain) == _actions(odd), policy


def _scoring(draw: st.DrawFn) -> Scoring:
    n = draw(st.integers(2, 15))
    shape = draw(st.lists(st.integers(2, 4), min_size=1, max_size=3))
    vetoes = draw(st.sampled_from([(), ("p1",), ("p1", "p2")]))
    parties = []
    for i in range(n):
        role = vetoes[i] if i < len(vetoes) else "player"
        rows = tuple(tuple(draw(st.integers(-5, 40)) for _ in range(k)) for k in shape)
        minimum = draw(st.integers(0, 60))
        parties.append(Party(f"P{i}", f"p{i}", role, "cooperative", "scripted:rational", rows,
                             minimum))
    issues = tuple(Issue(chr(65 + i), k) for i, k in enumerate(shape))
    return Scoring("random", Path("random"), issues, tuple(parties))


@given(st.data())
def test_vectorised_analysis_agrees_with_the_rules_core(data: st.DataObject) -> None:
    scoring = data.draw(st.composite(_scoring)())
    policy = RulePolicy(strict=data.draw(st.booleans()),
                        bonus_in_acceptance=data.draw(st.booleans()),
                        required=data.draw(st.none() | st.integers(1, len(scoring.parties))))
    idx, scores = all_scores(scoring)
    accept = acceptance_matrix(scoring, scores, policy)
    feasible = feasible_mask(scoring, accept, policy)
    from negotiation.core.game import Deal

    for row, options in enumerate(idx):
        deal = Deal(tuple(int(k) + 1 for k in options))
        assert list(accept[row]) == [accepts(deal, p, policy) for p in scoring.parties]
        assert bool(feasible[row]) == agreement(deal, scoring, policy).passes
