"""``scripted:planner``: an honest baseline that uses only what an LLM seat sees.

It knows its own sheet and minimum, the visible public history, the vetoes and the number of
supporters a deal needs (the prompts state both), and its own private plan, in which it keeps
what it has learnt, as an LLM would: the last ``MEMORY`` deals each other party proposed.

Inference: a party proposes deals it can accept, so the options it names are the ones it
likes; a deal's *support* from a party is the share of issues on which it matches one of that
party's remembered proposals (the best match), and veto parties count ``VETO_WEIGHT`` times.
Play: on its k-th turn it considers the deals scoring at least ``ideal - (ideal - minimum) *
k / CONCESSION_TURNS`` for itself and proposes the one with the most support (its own score
breaks ties), so it concedes over time toward the deals the others keep proposing. p1's final
proposal is the best-supported deal that clears p1's minimum. It votes by its own minimum.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from negotiation.agents.base import DecidingSeat, require_party
from negotiation.agents.scripted import proposal_action, turn_number, vote_action
from negotiation.core.deal_space import MAX_DEALS, all_scores
from negotiation.core.errors import DealError
from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import accepts, best_deal, parse_deal, score
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Action, Observation

CONCESSION_TURNS = 4
MEMORY = 3
VETO_WEIGHT = 2.0
SHARPNESS = 2.0
"""Support from a party is (share of matching issues) ** SHARPNESS: near-copies count most."""
_SEEN = "; seen: "


def remembered(plan: str, obs: Observation) -> dict[str, list[Deal]]:
    """The proposals remembered in the seat's own plan (``Name=A1,B2/A2,B2|…``)."""
    memory: dict[str, list[Deal]] = {}
    _, _, text = plan.partition(_SEEN)
    for entry in filter(None, text.split("|")):
        name, _, deals = entry.partition("=")
        for item in filter(None, deals.split("/")):
            try:
                memory.setdefault(name, []).append(parse_deal(item, obs.issues))
            except DealError:
                continue
    return memory


def update_memory(memory: dict[str, list[Deal]], obs: Observation) -> dict[str, list[Deal]]:
    """Add the proposals of the visible history (each party keeps its ``MEMORY`` latest)."""
    own = set(obs.own_speakers)
    out = {name: list(deals) for name, deals in memory.items()}
    for message in obs.history:
        if message.party in own or message.speaker in own or message.deal is None:
            continue
        deals = out.setdefault(message.party, [])
        if message.deal in deals:
            deals.remove(message.deal)
        deals.append(message.deal)
        del deals[:-MEMORY]
    return out


def memory_text(memory: Mapping[str, list[Deal]]) -> str:
    """The memory as the plan carries it."""
    return "|".join(f"{name}=" + "/".join(str(d) for d in deals)
                    for name, deals in memory.items() if deals)


class PlannerSeat(DecidingSeat):
    """One party that infers the others' preferences from their proposals."""

    name = "planner"

    def __init__(self, scoring: Scoring, party: str, prompts: PromptBuilder,
                 systems: Mapping[str, str]) -> None:
        super().__init__(scoring, prompts, systems)
        self.party = scoring.party(party)
        self._own: tuple[np.ndarray, np.ndarray] | None = None

    def decide(self, obs: Observation) -> Action:
        """Vote by its own minimum; otherwise propose the best-supported deal it allows."""
        require_party(obs)
        if obs.phase is Phase.VOTE:
            return vote_action(obs.deal is not None and accepts(obs.deal, self.party))
        turn = turn_number(obs.plan)
        memory = update_memory(remembered(obs.plan, obs), obs)
        if obs.phase is Phase.OPENING and obs.deal is not None:
            deal = obs.deal
        else:
            share = 1.0 if obs.phase is Phase.FINAL else min(1.0, turn / CONCESSION_TURNS)
            deal = self._choose(memory, share, obs)
        action = proposal_action(deal, score(deal, self.party), self.party.minimum, turn)
        return Action(public=action.public, deal=deal, scratchpad=action.scratchpad,
                      plan=action.plan + _SEEN + memory_text(memory))

    def _own_scores(self) -> tuple[np.ndarray, np.ndarray]:
        if self._own is None:
            idx, scores = all_scores(self.scoring)
            column = [p.name for p in self.scoring.parties].index(self.party.name)
            self._own = idx, scores[:, column]
        return self._own

    def _choose(self, memory: Mapping[str, list[Deal]], share: float, obs: Observation) -> Deal:
        ideal = best_deal(self.party)
        if self.scoring.n_deals() > MAX_DEALS or not memory:
            return ideal
        idx, own = self._own_scores()
        top, low = score(ideal, self.party), self.party.minimum
        floor = max(low, top - (top - low) * share)
        support, veto = np.zeros(len(idx)), np.ones(len(idx))
        for name, deals in memory.items():
            match = np.max([(idx == np.array(d.options) - 1).mean(axis=1) for d in deals],
                           axis=0) ** SHARPNESS
            support += match
            if name in obs.vetoes:
                veto *= match ** (VETO_WEIGHT - 1)
        value = np.where(own >= floor, support * veto * 1000.0 + own, -np.inf)
        return Deal(tuple(int(k) + 1 for k in idx[int(np.argmax(value))]))
