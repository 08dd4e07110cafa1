"""The LLM seat: renders an observation with the prompt templates, calls a model, parses.

One seat per party (or helper role) of one session. The system prompt of a party is the one
recorded in the session log when it started (so a resumed session keeps it even if the
templates changed since); the user message is rendered from the observation every turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from negotiation.backends.base import Backend, Completion, GenerateConfig, Message
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.reading import read_answer
from negotiation.protocol.seats import CallStats, Observation, SeatReply


def call_stats(completion: Completion) -> CallStats:
    """The figures of a completion as a turn record keeps them."""
    return CallStats(input_tokens=completion.input_tokens,
                     output_tokens=completion.output_tokens, latency_s=completion.latency_s,
                     finish_reason=completion.finish_reason, model_id=completion.model_id,
                     retries=completion.retries, cached=completion.cached,
                     extra=dict(completion.extra))


class LLMSeat:
    """A party (or helper) played by a model behind ``backend``."""

    def __init__(self, backend: Backend, prompts: PromptBuilder, generation: GenerateConfig,
                 systems: Mapping[str, str], session_id: str) -> None:
        self.backend = backend
        self.prompts = prompts
        self.generation = generation
        self.systems = dict(systems)
        """Speaker name -> its system prompt (party seats; helpers render their own)."""
        self.session_id = session_id

    def messages(self, obs: Observation) -> list[Message]:
        """The chat messages of this turn."""
        if obs.phase.is_helper:
            system, user = self.prompts.helper_messages(obs)
        else:
            system, user = self.systems[obs.speaker], self.prompts.user_message(obs)
        return [Message("system", system), Message("user", user)]

    def config(self, obs: Observation) -> GenerateConfig:
        """The generation settings of this turn: the seat's, with the turn's seed and a
        per-speaker key for local models' KV caches."""
        return dataclasses.replace(self.generation, seed=obs.seed,
                                   cache_key=f"{self.session_id}:{obs.speaker}")

    async def act(self, obs: Observation) -> SeatReply:
        """Render, call, parse."""
        messages = self.messages(obs)
        completion = await self.backend.generate(messages, self.config(obs))
        action, report = read_answer(completion.text, obs)
        return SeatReply(action, messages[-1].content, completion.text, report,
                         call_stats(completion))
