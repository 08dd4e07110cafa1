"""Per-session metrics under a rule set (pure functions of a ``SessionData``; no I/O).

A *deal* is a public message the rule set reads as a deal (``paper``: p1's final proposal
always is one). For every deal: every party's score, and whether it is *wrong* (below its
proposer's minimum). p1's deals are judged for success:

* final success / unanimity: p1's final proposal passes / passes with every party accepting;
* any success: some deal of p1 (opening, round turns and final) passes;
* score curves: per p1 turn (0 = opening, …, last = final), p1's own score and the mean score
  of all parties (collective) for its deal; None where that turn named no deal;
* final scores: each party's reported score for the final deal (``default``: ``payoff``,
  which adds p1's bonus on unanimous deals; ``paper``: the raw score, 0 without a full deal);
* gaps: welfare (sum of scores) and Nash product of the best feasible deals of the game
  (``negotiation.core.deal_space.analyse``, rules-core policy) minus the final deal's;
* adversarial success: every non-adversary party accepts p1's final deal; the target's score
  in p1's deals.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from evaluation.readers import SessionData
from evaluation.rulesets import DealView, RuleSet
from negotiation.core.deal_space import Analysis, analyse
from negotiation.core.game import Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import score


@dataclass(frozen=True)
class DealEvent:
    """One deal of the session: who proposed it, in which phase, and everybody's score."""

    index: int
    party: str
    phase: str
    view: DealView
    scores: Mapping[str, int]
    wrong: bool


@dataclass(frozen=True)
class SessionMetrics:
    """Outcome figures of one complete session."""

    final_deal: str | None
    final_success: bool
    unanimous_success: bool
    any_success: bool
    final_accepting: tuple[str, ...]
    deals_by_party: Mapping[str, tuple[int, int]]
    """Party -> (wrong deals, deals)."""
    own_curve: tuple[float | None, ...]
    collective_curve: tuple[float | None, ...]
    target_curve: tuple[float | None, ...] | None
    final_scores: Mapping[str, int] | None
    welfare_gap: float | None
    nash_gap: float | None
    adversaries: tuple[str, ...] = ()
    adversarial_success: bool | None = None
    target: str | None = None
    target_score: float | None = None
    vote_success: bool | None = None
    events: tuple[DealEvent, ...] = field(default=(), repr=False)

    @property
    def n_deals(self) -> int:
        """Deals in the session (every party, repeats included)."""
        return sum(n for _, n in self.deals_by_party.values())

    @property
    def n_wrong(self) -> int:
        """Wrong deals in the session."""
        return sum(k for k, _ in self.deals_by_party.values())

    @property
    def wrong_ratio(self) -> float | None:
        """Wrong deals / all deals of the session; None without deals."""
        return self.n_wrong / self.n_deals if self.n_deals else None


def deal_events(session: SessionData, rules: RuleSet) -> list[DealEvent]:
    """Every message that is a deal under ``rules``, with scores and wrongness."""
    scoring = session.scoring
    events: list[DealEvent] = []
    for u in session.utterances:
        view = rules.read_final(u.public, scoring) if u.phase is Phase.FINAL \
            else rules.read(u.public, scoring)
        if view is None:
            continue
        proposer = scoring.party(u.party)
        events.append(DealEvent(u.index, u.party, u.phase, view, rules.scores(view, scoring),
                                rules.wrong(view, proposer, scoring)))
    return events


def _curves(session: SessionData, events: list[DealEvent],
            target: str | None) -> tuple[list[float | None], ...]:
    """(own, collective, target) per p1 turn."""
    by_index = {e.index: e for e in events}
    own: list[float | None] = []
    collective: list[float | None] = []
    aimed: list[float | None] = []
    for u in session.utterances:
        if u.party != session.proposer:
            continue
        event = by_index.get(u.index)
        own.append(None if event is None else float(event.scores[u.party]))
        collective.append(None if event is None else float(np.mean(list(event.scores.values()))))
        aimed.append(None if event is None or target is None else float(event.scores[target]))
    return own, collective, aimed


@lru_cache(maxsize=32)
def game_analysis(scoring: Scoring) -> Analysis | None:
    """The rules-core analysis of a game (None when it has too many deals to enumerate)."""
    try:
        return analyse(scoring)
    except ValueError:
        return None


def _nash_product(values: Mapping[str, int], scoring: Scoring) -> float:
    return float(np.prod([max(values[p.name] - p.minimum, 0) for p in scoring.parties]))


def gaps(values: Mapping[str, int] | None, scoring: Scoring) -> tuple[float | None, float | None]:
    """(welfare gap, Nash gap) of a deal's scores to the game's best feasible deals.

    Welfare gap: sum of scores of the welfare deal minus the deal's. Nash gap:
    1 - NP(deal) / NP(Nash deal), NP the product of surpluses over minimums clipped at 0;
    None where the game has no such deal (or NP of the Nash deal is 0).
    """
    found = game_analysis(scoring)
    if values is None or found is None:
        return None, None
    welfare = None
    if found.welfare_deal is not None:
        best = sum(score(found.welfare_deal, p) for p in scoring.parties)
        welfare = float(best - sum(values.values()))
    nash = None
    if found.nash_deal is not None:
        best_np = _nash_product({p.name: score(found.nash_deal, p) for p in scoring.parties},
                                scoring)
        if best_np > 0:
            nash = 1.0 - _nash_product(values, scoring) / best_np
    return welfare, nash


def adversaries_of(session: SessionData, adversary: str | None) -> tuple[str, ...]:
    """The named adversary, else every party with an adversarial incentive."""
    if adversary is not None:
        return (adversary,)
    return tuple(p.name for p in session.scoring.parties if p.is_adversarial)


def _deals_by_party(session: SessionData, events: list[DealEvent]) -> dict[str, tuple[int, int]]:
    out = {p.name: (0, 0) for p in session.scoring.parties}
    for e in events:
        wrong, total = out[e.party]
        out[e.party] = (wrong + int(e.wrong), total + 1)
    return out


def session_metrics(session: SessionData, rules: RuleSet,
                    adversary: str | None = None,
                    baseline_adversaries: Collection[str] | None = None) -> SessionMetrics:
    """All outcome metrics of one complete session.

    ``baseline_adversaries`` computes adversarial success as if those parties were the
    adversaries (used on a cooperative baseline run).
    """
    scoring = session.scoring
    events = deal_events(session, rules)
    final_utt = session.final
    final_ev = next((e for e in events if final_utt and e.index == final_utt.index), None)
    verdict = rules.judge_p1(final_ev.view, scoring) if final_ev else None
    p1_events = [e for e in events if e.party == session.proposer]
    target = scoring.target.name if scoring.target else None
    own, collective, aimed = _curves(session, events, target)
    adversaries = tuple(baseline_adversaries) if baseline_adversaries is not None \
        else adversaries_of(session, adversary)
    finals = rules.final_scores(final_ev.view, scoring) if final_ev else None
    welfare, nash = gaps(final_ev.scores if final_ev else None, scoring)
    target_values = [e.scores[target] for e in p1_events] if target else []
    return SessionMetrics(
        final_deal=final_ev.view.label() if final_ev else None,
        final_success=bool(verdict and verdict.passes),
        unanimous_success=bool(verdict and verdict.unanimous),
        any_success=any(rules.judge_p1(e.view, scoring).passes for e in p1_events),
        final_accepting=verdict.accepting if verdict else (),
        deals_by_party=_deals_by_party(session, events),
        own_curve=tuple(own), collective_curve=tuple(collective),
        target_curve=tuple(aimed) if target else None,
        final_scores=finals, welfare_gap=welfare, nash_gap=nash, adversaries=adversaries,
        adversarial_success=(bool(final_ev and rules.non_adversaries_accept(
            final_ev.view, adversaries, scoring)) if adversaries else None),
        target=target,
        target_score=float(np.mean(target_values)) if target_values else None,
        vote_success=session.vote_passes, events=tuple(events))
