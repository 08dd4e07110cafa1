"""Deterministic rule-based negotiators (``scripted:<policy>``).

They read only what an LLM party would see (the prompt's history) plus their own score sheet,
and answer in the same tagged format, so the whole pipeline runs without a model. They are
leaderboard baselines as much as test fixtures:

- ``rational``: concedes over time: on its k-th turn it only considers deals scoring at least
  ``ideal - (ideal - minimum) * k / 4`` for itself (never below its minimum) and among them
  picks the one sharing most options with the other parties' latest proposals (then the one
  scoring highest for itself); it counts its turns in its private plan, as an LLM would;
- ``greedy``: the same but concedes half as fast and weighs its own score first;
- ``stubborn``: always its own ideal deal;
- ``random``: a uniformly random deal and a random vote (seeded per call).
Votes (except ``random``) accept exactly when the deal clears the party's minimum.
"""

from __future__ import annotations

import random
import re

import numpy as np

from negotiation.core.deal_space import MAX_DEALS, all_scores
from negotiation.backends.base import Backend, Completion, FatalError, GenerateConfig, Message
from negotiation.core.game import Deal, Scoring
from negotiation.protocol.parsing import extract_deal
from negotiation.core.rules import accepts, best_deal, score

POLICIES: dict[str, float] = {"rational": 1.0, "greedy": 0.5, "stubborn": 0.0, "random": 0.0}
"""Concession speed: the share of (ideal - minimum) given up per turn, in quarters."""
CONCESSION_TURNS = 4
SATISFIED = 0.6
"""Share of a party's proposed options a deal must keep to count as likely acceptable to it."""
_TURN = re.compile(r"my turn (\d+)")
_LINE = re.compile(r"^(?:You \((?P<me>[^)]*)\)|(?P<name>[^:\n]{1,80})): (?P<text>.*)$", re.M)
_FULL_DEAL = re.compile(r"\b(?:[A-Z][0-9]\s*,\s*)+[A-Z][0-9]\b")


class ScriptedBackend(Backend):
    """A rule-based negotiator bound to one party of one game."""

    def __init__(self, policy: str, scoring: Scoring, party: str) -> None:
        if policy not in POLICIES:
            raise FatalError(f"unknown scripted policy {policy!r} (known: {', '.join(POLICIES)})")
        self.policy = policy
        self.scoring = scoring
        self.party = scoring.party(party)
        self._others = {s for p in scoring.parties if p.name != self.party.name for s in p.speakers}
        self._deals: tuple[np.ndarray, np.ndarray] | None = None

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """Answer the last user message: a vote if asked for one, else a proposal."""
        prompt = messages[-1].content
        rng = random.Random(config.seed)
        text = self._vote(prompt, rng) if "<VOTE>" in prompt else self._propose(prompt, rng)
        words = sum(len(m.content.split()) for m in messages)
        return Completion(text=text, input_tokens=words, output_tokens=len(text.split()),
                          finish_reason="stop", model_id=f"scripted:{self.policy}")

    @property
    def max_concurrency(self) -> int:
        """Pure computation: no limit needed beyond the default."""
        return 64

    def _others_latest(self, prompt: str) -> list[Deal]:
        latest: dict[str, Deal] = {}
        for match in _LINE.finditer(prompt):
            speaker = match.group("me") or match.group("name")
            if match.group("me") or speaker not in self._others:
                continue
            deal, _, _ = extract_deal(match.group("text"), self.scoring.issues)
            if deal is not None:
                latest[speaker] = deal
        return list(latest.values())

    def _choose(self, prompt: str, rng: random.Random, turn: int) -> Deal:
        if self.policy == "random":
            return Deal(tuple(rng.randint(1, i.n_options) for i in self.scoring.issues))
        ideal = best_deal(self.party)
        if self.policy == "stubborn" or self.scoring.n_deals() > MAX_DEALS:
            return ideal
        if self._deals is None:
            self._deals = all_scores(self.scoring)
        idx, scores = self._deals
        own = scores[:, [p.name for p in self.scoring.parties].index(self.party.name)]
        top, low = score(ideal, self.party), self.party.minimum
        share = min(1.0, POLICIES[self.policy] * turn / CONCESSION_TURNS)
        floor = max(low, top - (top - low) * share)
        matches = np.zeros(len(idx))
        for deal in self._others_latest(prompt):
            common = (idx == np.array(deal.options) - 1).sum(axis=1)
            matches += common + 10 * (common >= SATISFIED * len(deal.options))
        own_weight = 1.0 if self.policy == "rational" else 100.0
        value = matches * 100.0 + own * own_weight / 100.0 if self.policy == "rational" \
            else own * own_weight + matches
        value = np.where(own >= floor, value, -np.inf)
        if not np.isfinite(value).any():
            return ideal
        return Deal(tuple(int(k) + 1 for k in idx[int(np.argmax(value))]))

    def _propose(self, prompt: str, rng: random.Random) -> str:
        previous = _TURN.search(prompt)
        turn = int(previous.group(1)) + 1 if previous else 0
        deal = self._choose(prompt, rng, turn)
        mine = score(deal, self.party)
        return (f"<SCRATCHPAD>My score for {deal} is {mine}; my minimum is "
                f"{self.party.minimum}.</SCRATCHPAD>\n"
                f"<ANSWER>I suggest we settle on this: <DEAL>{deal}</DEAL></ANSWER>\n"
                f"<PLAN>This was my turn {turn}; my reference proposal is {deal}.</PLAN>")

    def _vote(self, prompt: str, rng: random.Random) -> str:
        match = _FULL_DEAL.search(prompt)
        deal = extract_deal(f"<DEAL>{match.group(0)}</DEAL>", self.scoring.issues)[0] if match else None
        if self.policy == "random":
            accept = rng.random() < 0.5
        else:
            accept = deal is not None and accepts(deal, self.party)
        word = "ACCEPT" if accept else "REJECT"
        reason = "it clears my minimum" if accept else "it does not clear my minimum"
        return f"<VOTE>{word}</VOTE> I {word.lower()} because {reason}."


def create(model: str, *, scoring: Scoring, party: str) -> Backend:
    """Factory used by the registry: ``scripted:<policy>``."""
    return ScriptedBackend(model, scoring, party)
