"""The LLM seat: renders an observation with the prompt templates, calls a model, parses.

One seat per party (or helper role) of one session. The system prompt of a party is the one
recorded in the session log when it started (so a resumed session keeps it even if the
templates changed since); the user message is rendered from the observation every turn.

With a structured mode (``agents/structured.py``) each call carries the turn's schema as a
constraint, ``max_tokens`` comes from the schema (so a constrained answer is never cut), and
the answer is read for what it is: a JSON object (json mode), or the tagged format read by the
grammar's own structure (grammar mode; the deal is its DEAL tag, so options a small model copies
into its prose are neither a deal nor a conflict). An answer without that structure (a server
that ignored the constraint) is read by the free-text parser, and the turn is recorded as not
constrained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from negotiation.agents.structured import OFF, constraint_of
from negotiation.backends.base import Backend, Completion, GenerateConfig, Message
from negotiation.core.game import Deal
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.reading import read_answer
from negotiation.protocol.seats import (
    Action,
    CallStats,
    Observation,
    ParseReport,
    SeatReply,
    structured_report,
)
from negotiation.protocol.turn_schema import Bounds, TurnSchema


def call_stats(completion: Completion, constrained: bool = False) -> CallStats:
    """The figures of a completion as a turn record keeps them."""
    return CallStats(input_tokens=completion.input_tokens,
                     output_tokens=completion.output_tokens, latency_s=completion.latency_s,
                     finish_reason=completion.finish_reason, model_id=completion.model_id,
                     retries=completion.retries, cached=completion.cached,
                     extra=dict(completion.extra), constrained=constrained)


class LLMSeat:
    """A party (or helper) played by a model behind ``backend``."""

    def __init__(self, backend: Backend, prompts: PromptBuilder, generation: GenerateConfig,
                 systems: Mapping[str, str], session_id: str, structured: str = OFF,
                 bounds: Bounds = Bounds(), deals: Sequence[Deal] | None = None) -> None:
        self.backend = backend
        self.prompts = prompts
        self.generation = generation
        self.systems = dict(systems)
        """Speaker name -> its system prompt (party seats; helpers render their own)."""
        self.session_id = session_id
        self.structured = structured
        """This seat's resolved mode: off, grammar or json."""
        self.bounds = bounds
        self.deals = tuple(deals) if deals is not None else None
        """The deals a constrained answer may name (``--deal-space own``), None: all."""

    def schema(self, obs: Observation) -> TurnSchema | None:
        """The schema this turn is constrained to (None when free)."""
        if self.structured == OFF:
            return None
        return TurnSchema.for_observation(obs, self.bounds, self.deals)

    def messages(self, obs: Observation) -> list[Message]:
        """The chat messages of this turn."""
        if obs.phase.is_helper:
            system, user = self.prompts.helper_messages(obs, self.structured)
        else:
            system = self.systems[obs.speaker]
            user = self.prompts.user_message(obs, self.structured)
        return [Message("system", system), Message("user", user)]

    def config(self, obs: Observation, schema: TurnSchema | None = None) -> GenerateConfig:
        """The generation settings of this turn: the seat's, with the turn's seed, a
        per-speaker key for local models' KV caches and, when constrained, the schema."""
        config = dataclasses.replace(self.generation, seed=obs.seed,
                                     cache_key=f"{self.session_id}:{obs.speaker}")
        if schema is None:
            return config
        return dataclasses.replace(config, constraint=constraint_of(schema, self.structured),
                                   max_tokens=schema.max_tokens())

    def read(self, completion: Completion, obs: Observation,
             schema: TurnSchema | None) -> tuple[Action, ParseReport, bool]:
        """(action, parse record, whether the answer follows its constraint)."""
        found = None
        if schema is not None and self.structured == "json":
            found = schema.read_json(completion.text)
        elif schema is not None and completion.constrained:
            found = schema.read_tagged(completion.text)
        if found is not None:
            action, problems = found
            report = dataclasses.replace(structured_report(action, obs.phase),
                                         issues=tuple(problems), format_ok=not problems)
            return action, report, completion.constrained and not problems
        action, report = read_answer(completion.text, obs)
        constrained = schema is not None and self.structured == "grammar" and \
            completion.constrained and report.format_ok
        return action, report, constrained

    async def act(self, obs: Observation) -> SeatReply:
        """Render, call, parse."""
        schema = self.schema(obs)
        messages = self.messages(obs)
        completion = await self.backend.generate(messages, self.config(obs, schema))
        action, report, constrained = self.read(completion, obs, schema)
        return SeatReply(action, messages[-1].content, completion.text, report,
                         call_stats(completion, constrained))
