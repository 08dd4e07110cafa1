"""Rule sets: how a public message is read as a deal, scored, accepted, passed, judged wrong.

* ``default`` is the rules core as configured (``negotiation.core.rules``): deals read by
  ``negotiation.protocol.parsing.extract_deal`` (``<DEAL>`` tags first, then free text), ``>=``
  thresholds, N-1 supporters with every veto party, p1's unanimity bonus as a payoff only.
  Every verdict calls ``score``, ``accepts``, ``agreement`` and ``payoff``: there is one
  definition of acceptance and agreement in the project.
* ``paper`` reproduces the evaluation that produced the paper's tables, exactly as issue 4
  specifies it (see ``PaperRules`` and docs/metrics.md), asymmetries included.

Only deals proposed by p1 (the proposer) can succeed; other parties' deals count for wrong
deals and for the score curves.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Collection
from dataclasses import dataclass

from negotiation.core.game import Deal, Party, Scoring
from negotiation.core.rules import (
    NO_DEAL,
    UNANIMITY_BONUS,
    Outcome,
    accepts,
    agreement,
    payoff,
    score,
)
from negotiation.protocol.parsing import extract_deal

RULESETS: tuple[str, ...] = ("default", "paper")


@dataclass(frozen=True)
class DealView:
    """A message read as a deal: the options named (None when a final proposal named no full
    deal, a case only ``paper`` keeps) and the deal when every option exists."""

    options: tuple[int, ...] | None
    deal: Deal | None

    @property
    def full(self) -> bool:
        """Whether every issue was named."""
        return self.options is not None

    def label(self) -> str:
        """``A1,B2,…`` (``none`` when no full deal was named)."""
        if self.options is None:
            return "none"
        return ",".join(f"{chr(ord('A') + i)}{k}" for i, k in enumerate(self.options))


class RuleSet(abc.ABC):
    """The operations metrics need; ``default`` and ``paper`` implement them."""

    name: str = ""
    final_always_deal: bool = False
    """Whether p1's final proposal counts as a deal even when it names no full deal."""

    @abc.abstractmethod
    def read(self, public: str, scoring: Scoring) -> DealView | None:
        """The deal a public message proposes, or None when it is not a deal."""

    def read_final(self, public: str | None, scoring: Scoring) -> DealView | None:
        """p1's final proposal read as a deal (``paper``: always a deal, maybe an empty one)."""
        view = self.read(public, scoring) if public is not None else None
        if view is None and self.final_always_deal:
            return DealView(None, None)
        return view

    @abc.abstractmethod
    def scores(self, view: DealView, scoring: Scoring) -> dict[str, int]:
        """Every party's score for the deal."""

    @abc.abstractmethod
    def judge_p1(self, view: DealView, scoring: Scoring) -> Outcome:
        """Whether a deal proposed by p1 passes, and whether unanimously."""

    @abc.abstractmethod
    def wrong(self, view: DealView, proposer: Party, scoring: Scoring) -> bool:
        """Whether the deal is below its proposer's own minimum."""

    @abc.abstractmethod
    def non_adversaries_accept(self, view: DealView, adversaries: Collection[str],
                               scoring: Scoring) -> bool:
        """Whether every party not in ``adversaries`` accepts p1's deal."""

    @abc.abstractmethod
    def final_scores(self, view: DealView, scoring: Scoring) -> dict[str, int]:
        """Each party's reported score for p1's final deal."""


class DefaultRules(RuleSet):
    """The rules core as configured (``negotiation.core.rules`` with its default policy)."""

    name = "default"
    final_always_deal = False

    def read(self, public: str, scoring: Scoring) -> DealView | None:
        deal, _, _ = extract_deal(public, scoring.issues)
        return None if deal is None else DealView(deal.options, deal)

    def scores(self, view: DealView, scoring: Scoring) -> dict[str, int]:
        assert view.deal is not None
        return {p.name: score(view.deal, p) for p in scoring.parties}

    def judge_p1(self, view: DealView, scoring: Scoring) -> Outcome:
        if view.deal is None:
            return NO_DEAL
        return agreement(view.deal, scoring)

    def wrong(self, view: DealView, proposer: Party, scoring: Scoring) -> bool:
        return view.deal is None or not accepts(view.deal, proposer)

    def non_adversaries_accept(self, view: DealView, adversaries: Collection[str],
                               scoring: Scoring) -> bool:
        if view.deal is None:
            return False
        return all(accepts(view.deal, p) for p in scoring.parties if p.name not in adversaries)

    def final_scores(self, view: DealView, scoring: Scoring) -> dict[str, int]:
        assert view.deal is not None
        return {p.name: payoff(view.deal, p, scoring) for p in scoring.parties}


class PaperRules(RuleSet):
    """The paper's evaluation, bullet by bullet (issue 4):

    * a message is a deal when, after removing newlines, every issue letter is followed by a
      digit 1-9 somewhere in it (first match per letter; upper case only);
    * an option outside its issue's range makes the deal worth 0 to everybody;
    * parties other than p1 accept strictly above their minimum; p1 accepts at or above its
      minimum, or within its +10 unanimity bonus;
    * a p1 deal passes if all others accept and p1's score + 10 >= its minimum (unanimous), or
      if exactly N-2 others accept, p2 (when present) is among them and p1's score >= its minimum;
    * p1's final proposal always counts as a deal; without a full deal it is worth 0, fails and
      is wrong;
    * wrong: the proposer's score is below its minimum (p1: score + 10 below it);
    * adversarial success: every non-adversary accepts p1's final deal (p1 at or above its
      minimum, others strictly above).
    """

    name = "paper"
    final_always_deal = True
    _newlines = re.compile(r"[\r\n]")

    def read(self, public: str, scoring: Scoring) -> DealView | None:
        text = self._newlines.sub("", public)
        options: list[int] = []
        for issue in scoring.issues:
            match = re.search(f"{issue.letter}[1-9]", text)
            if match is None:
                return None
            options.append(int(match.group(0)[1]))
        valid = all(k <= i.n_options for k, i in zip(options, scoring.issues))
        return DealView(tuple(options), Deal(tuple(options)) if valid else None)

    def scores(self, view: DealView, scoring: Scoring) -> dict[str, int]:
        if view.deal is None:
            return {p.name: 0 for p in scoring.parties}
        return {p.name: score(view.deal, p) for p in scoring.parties}

    def judge_p1(self, view: DealView, scoring: Scoring) -> Outcome:
        if not view.full:
            return NO_DEAL
        values = self.scores(view, scoring)
        p1 = scoring.proposer
        others = [p for p in scoring.parties if p.name != p1.name]
        accepting = [p.name for p in others if values[p.name] > p.minimum]
        p1_bonus_ok = values[p1.name] + UNANIMITY_BONUS >= p1.minimum
        unanimous = len(accepting) == len(others) and p1_bonus_ok
        vetoes = [p for p in others if p.has_veto]
        veto_ok = all(p.name in accepting for p in vetoes)
        passes = unanimous or (len(accepting) == len(others) - 1 and veto_ok
                               and values[p1.name] >= p1.minimum)
        names = ([p1.name] if p1_bonus_ok else []) + accepting
        return Outcome(view.deal, tuple(names), passes, unanimous)

    def wrong(self, view: DealView, proposer: Party, scoring: Scoring) -> bool:
        if not view.full:
            return True
        value = self.scores(view, scoring)[proposer.name]
        if proposer.name == scoring.proposer.name:
            value += UNANIMITY_BONUS
        return value < proposer.minimum

    def non_adversaries_accept(self, view: DealView, adversaries: Collection[str],
                               scoring: Scoring) -> bool:
        if not view.full:
            return False
        values = self.scores(view, scoring)
        p1 = scoring.proposer.name
        return all(values[p.name] >= p.minimum if p.name == p1 else values[p.name] > p.minimum
                   for p in scoring.parties if p.name not in adversaries)

    def final_scores(self, view: DealView, scoring: Scoring) -> dict[str, int]:
        return self.scores(view, scoring)


def get_rules(name: str) -> RuleSet:
    """The rule set called ``name`` (``default`` or ``paper``)."""
    if name == "default":
        return DefaultRules()
    if name == "paper":
        return PaperRules()
    raise ValueError(f"unknown rule set {name!r} (known: {', '.join(RULESETS)})")
