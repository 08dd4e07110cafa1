"""What every seat that decides without a model shares (scripted baselines, oracle, planner).

Such a seat reads the observation directly and returns an ``Action``; the prompt an LLM would
have seen is still rendered, but only for the session log (exports and the report show it), so
a template change cannot change a decision. The answer is recorded in the tagged format, as if
a perfectly compliant model had written it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from negotiation.core.errors import ConfigError
from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Action, Observation, SeatReply, structured_reply


class DecidingSeat(abc.ABC):
    """A seat bound to one game (and one party, or a helper role) that decides in code."""

    name: str = ""
    """The spec's policy name (``rational``, ``oracle``, …)."""

    def __init__(self, scoring: Scoring, prompts: PromptBuilder,
                 systems: Mapping[str, str]) -> None:
        self.scoring = scoring
        self.prompts = prompts
        self.systems = dict(systems)

    @abc.abstractmethod
    def decide(self, obs: Observation) -> Action:
        """This turn's action."""

    def _messages(self, obs: Observation) -> tuple[str, str]:
        if obs.phase.is_helper:
            return self.prompts.helper_messages(obs)
        return self.systems.get(obs.speaker, ""), self.prompts.user_message(obs)

    async def act(self, obs: Observation) -> SeatReply:
        """Decide, and record the decision with the prompt an LLM would have seen."""
        action = self.decide(obs)
        system, prompt = self._messages(obs)
        return structured_reply(action, obs, prompt, f"scripted:{self.name}", (system, prompt))


def require_party(obs: Observation) -> None:
    """Party seats act only in party phases."""
    if obs.party is None or obs.phase.is_helper:
        raise ConfigError(f"a party seat was asked to act as {obs.speaker} "
                          f"({obs.phase.value})")


def latest_proposals(obs: Observation) -> dict[str, Deal]:
    """Other speakers' most recent deals in the visible history, in order of first mention."""
    own = set(obs.own_speakers)
    latest: dict[str, Deal] = {}
    for message in obs.history:
        if message.speaker not in own and message.deal is not None:
            latest[message.speaker] = message.deal
    return latest


def is_vote(obs: Observation) -> bool:
    """Whether the seat is asked to vote."""
    return obs.phase is Phase.VOTE
