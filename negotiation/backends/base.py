"""The model contract: one small async ``generate`` that every provider implements.

Retry, timeouts and concurrency limits are wrappers around a provider (see ``wrappers.py``), so
providers stay small and only translate messages to their SDK and back.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


StructuredMode = Literal["grammar", "json"]


@dataclass(frozen=True)
class Constraint:
    """A structured-output constraint on one call, in the forms providers take.

    ``grammar``: the provider constrains decoding with ``gbnf`` (llama.cpp, xgrammar, or an
    OpenAI-compatible server that takes a grammar); ``json``: the provider enforces
    ``json_schema`` (OpenAI ``response_format``, Gemini ``response_schema``). ``key`` identifies
    the constraint (same key, same constraint), so compiled grammars can be cached.
    """

    mode: StructuredMode
    key: str
    gbnf: str
    json_schema: Mapping[str, Any]
    name: str = "negotiation_turn"


@dataclass(frozen=True)
class GenerateConfig:
    """Generation settings; passed to the provider where supported, always recorded."""

    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int = 512
    seed: int | None = None
    timeout_s: float = 120.0
    cache_key: str | None = None
    """A stable key (e.g. the party name) that local backends use to keep one KV state per
    conversation; remote providers ignore it."""
    constraint: Constraint | None = None
    """Constrain this call's output (structured turns); None: free text."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")

    def to_record(self) -> dict[str, Any]:
        """The settings as logged (the cache key and the per-turn constraint are not)."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record.pop("cache_key")
        record.pop("constraint")
        return record


@dataclass(frozen=True)
class Completion:
    """What a provider returns for one call."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str = "stop"
    model_id: str = ""
    """The provider's own model identifier as it reported it."""
    retries: int = 0
    """How many retried attempts preceded this answer (filled by the retry wrapper)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Provider-specific figures, e.g. prompt tokens actually evaluated by a local model."""
    cached: bool = False
    """The answer came from a response cache (no model call was made)."""
    constrained: bool = False
    """The provider applied the call's constraint (a grammar or a schema) to this answer."""


class TransientError(Exception):
    """A failure worth retrying: rate limit, 5xx, timeout, connection reset.

    ``retry_after`` carries the server's ``Retry-After`` in seconds when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(Exception):
    """A failure that retrying cannot fix: bad request, authentication, missing SDK or model."""


MALFORMED: tuple[type[Exception], ...] = (ValueError, TypeError, AttributeError, KeyError,
                                          IndexError)
"""What decoding a reply of the wrong shape raises (JSON and pydantic errors are ValueErrors)."""


def malformed_reply(spec: str, error: Exception) -> TransientError:
    """A reply that could not be decoded (a proxy's HTML page, cut JSON, wrong types): worth a
    bounded number of retries, as the provider edge's one classification of such replies."""
    detail = " ".join(str(error).split())[:200]
    return TransientError(f"{spec}: malformed reply ({type(error).__name__}: {detail})")


def env_number(name: str, default: float, minimum: float = 0.0) -> float:
    """A number from the environment (``FatalError`` when malformed or below ``minimum``)."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise FatalError(f"{name} must be a number, got {raw[:30]!r}") from None
    if value < minimum:
        raise FatalError(f"{name} must be at least {minimum:g}, got {value:g}")
    return value


def text_of(value: object) -> str:
    """A reply's text field, which must be a string (or absent)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"text is {type(value).__name__}, not a string")
    return value


def count_of(value: object) -> int:
    """A token count, which must be a non-negative integer (or absent)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"token count {value!r} is not a non-negative integer")
    return value


class Backend(abc.ABC):
    """A model provider. Implementations translate messages to one SDK call and back.

    ``generate`` must raise ``TransientError`` for retryable failures and ``FatalError`` for
    the others; wrappers rely on that split.
    """

    spec: str = ""
    """The model spec string that selected this backend, e.g. ``openai:gpt-4o``."""
    local: bool = False
    """True for in-process models (llama.cpp, transformers): a timeout cannot stop their
    computation, so the standard wrapper stack applies none to them."""
    structured_modes: tuple[StructuredMode, ...] = ()
    """The constraint modes this provider can apply (``GenerateConfig.constraint``)."""

    @abc.abstractmethod
    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """Produce one completion for ``messages``."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Release clients or models; the default has nothing to release."""

    @property
    def max_concurrency(self) -> int:
        """How many calls may be in flight at once for this backend."""
        return 8
