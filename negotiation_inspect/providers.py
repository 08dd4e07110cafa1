"""This harness's seats as inspect_ai model providers: zero-key, offline models for any task.

* ``negotiation-llamacpp/<gguf path or alias>`` (``smollm2``: the embedded SmolLM2-135M GGUF),
* ``negotiation-hf/<folder or hub id>`` (transformers),
* ``negotiation-scripted/<policy>`` (``rational``, ``greedy``, ``stubborn``, ``random``,
  ``planner``, ``oracle``).

Each wraps the native backend or seat. The seat's identity comes from the seat context the
negotiation tasks set around every turn (``backend.SEAT``): llama.cpp and transformers use its
``session:speaker`` key for their per-conversation KV state exactly as native seats do, and a
scripted policy reads the turn's observation (its game and party come with it). Outside a
negotiation turn the local models run with one shared state (or the key given with
``-M cache_key=...``); a scripted policy has nothing to decide there and says so.

Inside the negotiation tasks a role bound to one of these providers normally gets the native
seat itself (``-T native_seats=false`` routes it through these providers instead); see
docs/inspect.md.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from negotiation.agents.registry import SCRIPTED_POLICIES, SPECIAL_POLICIES
from negotiation.agents.scripted import ScriptedHelper, ScriptedSeat
from negotiation.backends.base import Backend, Message
from negotiation.backends.base import GenerateConfig as NativeConfig
from negotiation.backends.registry import ModelSpec, create_backend
from negotiation.core.errors import ConfigError
from negotiation.core.phases import is_helper_seat
from negotiation.protocol.prompting import PromptBuilder
from negotiation.protocol.seats import Seat
from negotiation_inspect.backend import current_seat

NATIVE_KINDS = {"negotiation-llamacpp": "llamacpp", "negotiation-hf": "hf",
                "negotiation-scripted": "scripted"}
"""inspect provider name -> the native spec kind it stands for."""
DEFAULT_MAX_TOKENS = NativeConfig().max_tokens


def native_spec(api: str, name: str) -> ModelSpec | None:
    """The native spec of ``api/name`` when ``api`` is one of this package's providers."""
    kind = NATIVE_KINDS.get(api)
    return ModelSpec(kind, name) if kind else None


def _messages(input: list[ChatMessage]) -> list[Message]:
    out = []
    for message in input:
        role = message.role if message.role in ("system", "user", "assistant") else "user"
        out.append(Message(role, message.text))  # type: ignore[arg-type]
    return out


def _native_config(config: GenerateConfig, cache_key: str | None) -> NativeConfig:
    return NativeConfig(temperature=0.0 if config.temperature is None else config.temperature,
                        top_p=config.top_p, top_k=config.top_k,
                        max_tokens=config.max_tokens or DEFAULT_MAX_TOKENS, seed=config.seed,
                        cache_key=cache_key)


def _output(text: str, model: str, input_tokens: int, output_tokens: int, length: bool,
            seconds: float | None = None) -> ModelOutput:
    output = ModelOutput.from_content(model=model, content=text,
                                      stop_reason="max_tokens" if length else "stop")
    output.usage = ModelUsage(input_tokens=input_tokens, output_tokens=output_tokens,
                              total_tokens=input_tokens + output_tokens)
    output.time = seconds
    return output


class _LocalAPI(ModelAPI):
    """A native local backend (llama.cpp, transformers) behind inspect's ModelAPI."""

    kind = ""

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig = GenerateConfig(), **model_args: Any) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.default_key = model_args.pop("cache_key", None)
        if model_args:
            raise ConfigError(f"negotiation-{self.kind}: unknown model args "
                              f"{', '.join(sorted(model_args))} (known: cache_key)")
        self.backend: Backend = create_backend(ModelSpec(self.kind, model_name))

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo],
                       tool_choice: ToolChoice, config: GenerateConfig) -> ModelOutput:
        seat = current_seat()
        key = seat.cache_key if seat is not None else self.default_key
        completion = await self.backend.generate(_messages(input), _native_config(config, key))
        return _output(completion.text, completion.model_id or self.model_name,
                       completion.input_tokens, completion.output_tokens,
                       completion.finish_reason == "length", completion.latency_s)

    def max_connections(self) -> int:
        """One resident model evaluates one sequence at a time."""
        return self.backend.max_concurrency

    async def count_text_tokens(self, text: str) -> int:
        """Words, not tiktoken (which would download its vocabulary)."""
        return max(1, len(text.split()))

    async def aclose(self) -> None:
        """Release the native backend's handle (the resident model stays for other users)."""
        await self.backend.aclose()


@modelapi(name="negotiation-llamacpp")
class LlamaCppAPI(_LocalAPI):
    """``negotiation-llamacpp/smollm2`` or ``negotiation-llamacpp//path/to/model.gguf``."""

    kind = "llamacpp"


@modelapi(name="negotiation-hf")
class HFAPI(_LocalAPI):
    """``negotiation-hf/<local folder or hub id>`` through transformers."""

    kind = "hf"


@modelapi(name="negotiation-scripted")
class ScriptedAPI(ModelAPI):
    """A rule-based policy answering the negotiation turn it is asked about."""

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig = GenerateConfig(), **model_args: Any) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        if model_name not in SCRIPTED_POLICIES:
            raise ConfigError(f"negotiation-scripted/{model_name}: unknown policy (known: "
                              f"{', '.join(SCRIPTED_POLICIES)})")
        if model_args:
            raise ConfigError(f"negotiation-scripted: takes no model args, got "
                              f"{', '.join(sorted(model_args))}")
        self._seats: dict[tuple[int, str], Seat] = {}

    def _seat(self, game: Any, name: str) -> Seat:
        key = (id(game), name)
        if key not in self._seats:
            prompts = PromptBuilder(game)
            if is_helper_seat(name):
                seat: Seat = ScriptedHelper(self.model_name, game.scoring, prompts)
            elif self.model_name in SPECIAL_POLICIES:
                seat = SPECIAL_POLICIES[self.model_name](game.scoring, name, prompts, {})
            else:
                seat = ScriptedSeat(self.model_name, game.scoring, name, prompts, {})
            self._seats = {k: v for k, v in self._seats.items() if k[0] == id(game)}
            self._seats[key] = seat
        return self._seats[key]

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo],
                       tool_choice: ToolChoice, config: GenerateConfig) -> ModelOutput:
        seat = current_seat()
        if seat is None:
            raise ConfigError(f"negotiation-scripted/{self.model_name} only plays seats of the "
                              "negotiation tasks (no negotiation turn is in progress)")
        obs = seat.observation
        name = obs.party.name if obs.party is not None else obs.speaker
        reply = await self._seat(seat.game, name).act(obs)
        return _output(reply.raw_output, f"scripted:{self.model_name}",
                       reply.stats.input_tokens, reply.stats.output_tokens, False, 0.0)

    def max_connections(self) -> int:
        """Instant and in-process: no limit worth having."""
        return 64

    async def count_text_tokens(self, text: str) -> int:
        """Words, as the scripted seats count them."""
        return max(1, len(text.split()))
