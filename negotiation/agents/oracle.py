"""``scripted:oracle``: a calibration baseline that sees every party's score sheet.

It is not a player (no LLM seat knows the others' sheets), and leaderboards and reports label
it "oracle"; it shows what competent play reaches on a game. It proposes only deals from the
feasible set that clear its own minimum, moving from its own best such deal towards the Nash
deal (the unanimous deal with the largest product of surpluses over the minimums) over its
turns; p1's final proposal is the Nash deal itself (else the feasible deal best for it). It
accepts exactly what clears its own minimum. p1 opens with the game's opening deal, as the
protocol prescribes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from negotiation.agents.base import DecidingSeat, require_party
from negotiation.agents.scripted import (
    CONCESSION_TURNS,
    proposal_action,
    turn_number,
    vote_action,
)
from negotiation.core.deal_space import MAX_DEALS, acceptance_matrix, all_scores, feasible_mask
from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import accepts, best_deal, minimums, score
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Action, Observation


class OracleSeat(DecidingSeat):
    """One party played with knowledge of every party's sheet."""

    name = "oracle"

    def __init__(self, scoring: Scoring, party: str, prompts: PromptBuilder,
                 systems: Mapping[str, str]) -> None:
        super().__init__(scoring, prompts, systems)
        self.party = scoring.party(party)
        self._column = [p.name for p in scoring.parties].index(self.party.name)
        self._space: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def decide(self, obs: Observation) -> Action:
        """Vote by its own minimum; otherwise propose along the path to the Nash deal."""
        require_party(obs)
        if obs.phase is Phase.VOTE:
            return vote_action(obs.deal is not None and accepts(obs.deal, self.party))
        turn = turn_number(obs.plan)
        if obs.phase is Phase.OPENING and obs.deal is not None:
            deal = obs.deal
        else:
            weight = 1.0 if obs.phase is Phase.FINAL else min(1.0, turn / CONCESSION_TURNS)
            deal = self._choose(weight)
        return proposal_action(deal, score(deal, self.party), self.party.minimum, turn)

    def _deal_space(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Option indices, own scores and Nash products of the deals it may propose."""
        if self._space is None:
            idx, scores = all_scores(self.scoring)
            accept = acceptance_matrix(self.scoring, scores)
            allowed = feasible_mask(self.scoring, accept) & accept[:, self._column]
            surplus = np.clip(scores - minimums(self.scoring), 0, None).astype(np.float64)
            nash = np.where(accept.all(axis=1), np.prod(surplus, axis=1), 0.0)
            self._space = (idx[allowed], scores[allowed, self._column].astype(np.float64),
                           nash[allowed])
        return self._space

    def _choose(self, weight: float) -> Deal:
        if self.scoring.n_deals() > MAX_DEALS:
            return best_deal(self.party)
        idx, own, nash = self._deal_space()
        if not len(idx):
            return best_deal(self.party)
        value = (1 - weight) * own / max(own.max(), 1.0)
        if nash.max() > 0:
            value = value + weight * nash / nash.max()
        else:
            value = own  # no unanimous deal: the feasible deal best for itself
        return Deal(tuple(int(k) + 1 for k in idx[int(np.argmax(value))]))
