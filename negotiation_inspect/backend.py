"""The harness's model contract (``Backend``) over an inspect_ai ``Model``, and the seat context.

``InspectBackend.generate`` calls ``Model.generate`` of the model inspect resolved for a role, so
inspect's retries, connection limits, cache and token accounting apply, and the call shows up
as a model event in the sample's transcript. Its output is mapped back to a ``Completion``
(text, input/output tokens, stop reason, model id); the turn records the inspect model and
role in ``extra``.

``SEAT`` is the identity of the seat acting right now (game, session, observation). The table
sets it around every turn, so a provider of this package called through inspect
(``negotiation-llamacpp``, ``negotiation-scripted``; ``providers.py``) knows which party of which
session it plays: llama.cpp keeps one KV state per ``session:speaker``, a scripted policy reads
the observation.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from negotiation.backends.base import Backend, Completion, GenerateConfig, Message
from negotiation.core.game import Game
from negotiation.protocol.seats import Observation

if TYPE_CHECKING:
    from inspect_ai.model import Model

STOP_REASONS = {"stop": "stop", "max_tokens": "length", "model_length": "length",
                "content_filter": "content_filter", "tool_calls": "tool_calls",
                "unknown": "unknown"}
"""inspect's stop reasons -> the finish reasons native backends record."""


@dataclass(frozen=True)
class SeatContext:
    """Who is acting: the game, the session and the observation of this turn."""

    game: Game
    session_id: str
    observation: Observation

    @property
    def cache_key(self) -> str:
        """The per-(session, speaker) key native seats give local backends."""
        return f"{self.session_id}:{self.observation.speaker}"


SEAT: contextvars.ContextVar[SeatContext | None] = contextvars.ContextVar(
    "negotiation_seat", default=None)


def current_seat() -> SeatContext | None:
    """The seat acting in this task (None outside a negotiation turn)."""
    return SEAT.get()


def inspect_messages(messages: list[Message]) -> list[Any]:
    """Harness messages -> inspect chat messages."""
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

    kinds = {"system": ChatMessageSystem, "user": ChatMessageUser,
             "assistant": ChatMessageAssistant}
    return [kinds[m.role](content=m.content) for m in messages]


def inspect_config(config: GenerateConfig) -> Any:
    """The harness's generation settings as an inspect ``GenerateConfig`` (explicit values
    override the role model's own)."""
    from inspect_ai.model import GenerateConfig as InspectConfig

    return InspectConfig(temperature=config.temperature, top_p=config.top_p,
                         top_k=config.top_k, max_tokens=config.max_tokens, seed=config.seed)


class InspectBackend(Backend):
    """A party's (or helper's) model as inspect resolved it for its role."""

    local = False

    def __init__(self, model: Model, spec: str, role: str | None) -> None:
        self.model = model
        self.spec = spec
        self.role = role
        """The model role that chose this model (None: the eval's default model)."""

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """One ``Model.generate`` call; errors are inspect's (after its own retries)."""
        started = time.perf_counter()
        output = await self.model.generate(inspect_messages(messages),
                                           config=inspect_config(config))
        usage = output.usage
        stop = output.stop_reason if output.choices else "unknown"
        extra: dict[str, Any] = {"inspect_model": str(self.model)}
        if self.role is not None:
            extra["inspect_role"] = self.role
        if output.error:
            extra["inspect_error"] = str(output.error)[:500]
        return Completion(
            text=output.completion or "",
            input_tokens=int(usage.input_tokens) if usage else 0,
            output_tokens=int(usage.output_tokens) if usage else 0,
            latency_s=float(output.time) if output.time else time.perf_counter() - started,
            finish_reason=STOP_REASONS.get(str(stop), str(stop)),
            model_id=output.model or str(self.model), extra=extra)

    @property
    def max_concurrency(self) -> int:
        """inspect limits connections itself (``--max-connections``)."""
        return 64
