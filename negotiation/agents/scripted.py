"""Deterministic rule-based seats (``scripted:<policy>``): baselines and test fixtures.

Party policies read only what an LLM party would see (the observation: its own sheet, the
visible history, its own plan) and answer as a perfectly compliant model would:

- ``rational``: concedes over time: on its k-th turn it only considers deals scoring at least
  ``ideal - (ideal - minimum) * k / 4`` for itself (never below its minimum) and among them
  picks the one sharing most options with the other parties' latest proposals (then the one
  scoring highest for itself); it counts its turns in its private plan, as an LLM would;
- ``greedy``: the same but concedes half as fast and weighs its own score first;
- ``stubborn``: always its own ideal deal;
- ``random``: a uniformly random deal and a random vote (seeded per call);
- ``planner`` and ``oracle``: see ``planner.py`` and ``oracle.py``.
Votes (except ``random``) accept exactly when the deal clears the party's minimum.

Any scripted policy can also play a helper role: the moderator gives the floor to the speaker
who has waited longest, the summarizer lists the deals proposed since its last summary.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

import numpy as np

from negotiation.agents.base import DecidingSeat, latest_proposals, require_party
from negotiation.core.deal_space import MAX_DEALS, all_scores
from negotiation.core.errors import ConfigError
from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import accepts, best_deal, score
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Action, Observation, with_deal_tag

POLICIES: dict[str, float] = {"rational": 1.0, "greedy": 0.5, "stubborn": 0.0, "random": 0.0}
"""Concession speed: the share of (ideal - minimum) given up per turn, in quarters."""
CONCESSION_TURNS = 4
SATISFIED = 0.6
"""Share of a party's proposed options a deal must keep to count as likely acceptable to it."""
_TURN = re.compile(r"my turn (\d+)")


def vote_action(accept: bool) -> Action:
    """A vote with the scripted seats' one-sentence reason."""
    word = "ACCEPT" if accept else "REJECT"
    reason = "it clears my minimum" if accept else "it does not clear my minimum"
    return Action(public=f"I {word.lower()} because {reason}.", vote=word)  # type: ignore[arg-type]


def proposal_action(deal: Deal, mine: int, minimum: int, turn: int) -> Action:
    """A proposal with the scripted seats' scratchpad and plan (the plan counts turns)."""
    return Action(public=with_deal_tag("I suggest we settle on this:", deal), deal=deal,
                  scratchpad=f"My score for {deal} is {mine}; my minimum is {minimum}.",
                  plan=f"This was my turn {turn}; my reference proposal is {deal}.")


def turn_number(plan: str) -> int:
    """This seat's turn count, read from its own previous plan (0 on its first turn)."""
    previous = _TURN.search(plan)
    return int(previous.group(1)) + 1 if previous else 0


class ScriptedSeat(DecidingSeat):
    """A rule-based negotiator bound to one party of one game."""

    def __init__(self, policy: str, scoring: Scoring, party: str, prompts: PromptBuilder,
                 systems: Mapping[str, str]) -> None:
        super().__init__(scoring, prompts, systems)
        if policy not in POLICIES:
            raise ConfigError(f"unknown scripted policy {policy!r} (known: {', '.join(POLICIES)})")
        self.name = policy
        self.party = scoring.party(party)
        self._deals: tuple[np.ndarray, np.ndarray] | None = None

    def decide(self, obs: Observation) -> Action:
        """A vote when asked for one, else a proposal."""
        require_party(obs)
        rng = random.Random(obs.seed)
        if obs.phase is Phase.VOTE:
            if self.name == "random":
                return vote_action(rng.random() < 0.5)
            return vote_action(obs.deal is not None and accepts(obs.deal, self.party))
        turn = turn_number(obs.plan)
        deal = self._choose(obs, rng, turn)
        return proposal_action(deal, score(deal, self.party), self.party.minimum, turn)

    def _choose(self, obs: Observation, rng: random.Random, turn: int) -> Deal:
        if self.name == "random":
            return Deal(tuple(rng.randint(1, i.n_options) for i in self.scoring.issues))
        ideal = best_deal(self.party)
        if self.name == "stubborn" or self.scoring.n_deals() > MAX_DEALS:
            return ideal
        if self._deals is None:
            self._deals = all_scores(self.scoring)
        idx, scores = self._deals
        own = scores[:, [p.name for p in self.scoring.parties].index(self.party.name)]
        top, low = score(ideal, self.party), self.party.minimum
        share = min(1.0, POLICIES[self.name] * turn / CONCESSION_TURNS)
        floor = max(low, top - (top - low) * share)
        matches = np.zeros(len(idx))
        for deal in latest_proposals(obs).values():
            common = (idx == np.array(deal.options) - 1).sum(axis=1)
            matches += common + 10 * (common >= SATISFIED * len(deal.options))
        value = matches * 100.0 + own / 100.0 if self.name == "rational" \
            else own * 100.0 + matches
        value = np.where(own >= floor, value, -np.inf)
        if not np.isfinite(value).any():
            return ideal
        return Deal(tuple(int(k) + 1 for k in idx[int(np.argmax(value))]))


class ScriptedHelper(DecidingSeat):
    """A rule-based moderator or summarizer (any scripted policy name selects it)."""

    def __init__(self, policy: str, scoring: Scoring, prompts: PromptBuilder) -> None:
        super().__init__(scoring, prompts, {})
        self.name = policy

    def decide(self, obs: Observation) -> Action:
        """The moderator's choice of the next speaker, or the summarizer's summary."""
        if obs.phase is Phase.MODERATOR:
            return Action(public=longest_waiting(obs))
        if obs.phase is Phase.SUMMARY:
            return Action(public=deal_summary(obs))
        raise ConfigError(f"a scripted helper cannot act in the {obs.phase.value} phase")


def longest_waiting(obs: Observation) -> str:
    """The candidate who spoke least recently in the visible history (config order first)."""
    last = {m.speaker: m.index for m in obs.history}
    return min(obs.candidates, key=lambda name: (last.get(name, -1), obs.speakers.index(name)))


def deal_summary(obs: Observation) -> str:
    """Who proposed which deal since the previous summary, in one neutral paragraph."""
    latest: dict[str, Deal] = {}
    for message in obs.new_messages:
        if message.deal is not None:
            latest[message.speaker] = message.deal
    if not latest:
        return "No full deal was proposed in these messages."
    return " ".join(f"{who} proposed {deal}." for who, deal in latest.items())
