"""Google Gemini (Gemini API or Vertex AI) behind the ``Backend`` contract.

Translates messages to one async ``generate_content`` call of ``google-genai`` and sorts its
exceptions into ``TransientError`` / ``FatalError``. The SDK's own retries are off (one
attempt): the retry wrapper owns that policy. The API key never appears in messages or reprs.

Structured turns (``GenerateConfig.constraint`` in mode ``json``) set
``response_mime_type="application/json"`` and ``response_schema``. That field takes Gemini's
``Schema``, a subset of OpenAPI 3.0, not JSON Schema, so the strict schema is converted
(``gemini_schema``): ``anyOf: [X, {"type": "null"}]`` becomes X with ``nullable: true``,
``additionalProperties`` is dropped (the Developer API refuses it; a response schema only ever
yields the properties it lists), and ``propertyOrdering`` keeps the fields in the schema's
order, so the model writes its scratchpad before its message. Gemini takes no grammar.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
from typing import Any

from negotiation.backends.base import (
    MALFORMED,
    Backend,
    Completion,
    Constraint,
    FatalError,
    GenerateConfig,
    Message,
    StructuredMode,
    TransientError,
    count_of,
    malformed_reply,
)
from negotiation.backends.structured import require_mode
from negotiation.backends.wrappers import retry_after_seconds

try:
    from google import genai
    from google.auth.exceptions import GoogleAuthError
    from google.genai import errors as genai_errors
    from google.genai import types
except ImportError:  # pragma: no cover - depends on the environment
    genai = None  # type: ignore[assignment]


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network-level exception classes of whichever HTTP client the SDK uses (httpx, or
    aiohttp when it is installed: its timeouts are ``TimeoutError``)."""
    found: list[type[BaseException]] = [TimeoutError]
    for name, attr in (("httpx2", "TransportError"), ("httpx", "TransportError"),
                       ("aiohttp", "ClientError")):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(getattr(module, attr))
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()
_KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_PLACEHOLDER_KEY = "not-needed"
_RETRYABLE_STATUS = frozenset({408, 429})
_FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length"}


class GeminiBackend(Backend):
    """One Gemini model through ``client.aio.models.generate_content``.

    Takes ``json`` constraints (``response_schema``); ``Completion.constrained`` is True when
    the schema was sent with the request.
    """

    structured_modes: tuple[StructuredMode, ...] = ("json",)

    @property
    def max_concurrency(self) -> int:
        """No cap here: the sweep's per-provider ``RateLimit`` (default 8 in flight, set
        ``rate_limits`` in an experiment file) is the one limit on remote calls."""
        return 1 << 20

    def __init__(self, client: Any, model: str, secret: str | None) -> None:
        self._client = client
        self.model = model
        self.spec = f"gemini:{model}"
        self._secret = secret

    def __repr__(self) -> str:
        return f"GeminiBackend(spec={self.spec!r})"

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        constraint = require_mode(self.spec, self.structured_modes, config.constraint)
        system, contents = split_messages(messages)
        started = time.perf_counter()
        try:
            response = await self._client.aio.models.generate_content(
                model=self.model, contents=contents,
                config=generation_config(config, system))
        except genai_errors.APIError as error:
            raise map_error(error, self._secret) from None
        except _TRANSPORT_ERRORS as error:
            raise TransientError(f"Gemini connection failed: {type(error).__name__}: "
                                 f"{_redact(str(error), self._secret)}") from None
        except MALFORMED as error:  # the SDK could not decode the reply
            raise malformed_reply(self.spec, error) from None
        try:
            completion = _to_completion(response, time.perf_counter() - started, self.model)
        except MALFORMED as error:
            raise malformed_reply(self.spec, error) from None
        return dataclasses.replace(completion, constrained=constraint is not None)


def split_messages(messages: list[Message]) -> tuple[str | None, list[Any]]:
    """System text (joined) and the user/model ``Content`` list."""
    system = [m.content for m in messages if m.role == "system"]
    contents = [types.Content(role="model" if m.role == "assistant" else "user",
                              parts=[types.Part(text=m.content)])
                for m in messages if m.role != "system"]
    return ("\n\n".join(system) if system else None), contents


def generation_config(config: GenerateConfig, system: str | None) -> Any:
    """The generation settings as a ``GenerateContentConfig`` (with a per-call timeout); a
    ``json`` constraint adds the JSON mime type and its schema in Gemini's dialect."""
    structured: dict[str, Any] = {}
    if config.constraint is not None and config.constraint.mode == "json":
        structured = {"response_mime_type": "application/json",
                      "response_schema": response_schema(config.constraint)}
    return types.GenerateContentConfig(
        system_instruction=system,
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        max_output_tokens=config.max_tokens,
        seed=config.seed,
        http_options=types.HttpOptions(timeout=int(config.timeout_s * 1000)),
        **structured,
    )


def response_schema(constraint: Constraint) -> Any:
    """The constraint's JSON Schema as a ``google.genai.types.Schema``."""
    try:
        return types.Schema.model_validate(gemini_schema(constraint.json_schema))
    except (ValueError, TypeError) as error:
        raise FatalError(f"the schema of constraint {constraint.name!r} has no Gemini "
                         f"equivalent: {' '.join(str(error).split())[:300]}") from None


_SCHEMA_KEYS = {"type", "enum", "properties", "required", "items", "description", "nullable",
                "format", "title", "anyOf", "minItems", "maxItems", "minimum", "maximum"}
"""JSON Schema keywords kept as they are (the rest, e.g. additionalProperties, are dropped)."""


def gemini_schema(schema: Any) -> dict[str, Any]:
    """A (strict, OpenAI-style) JSON Schema in Gemini's OpenAPI dialect (see the module doc).

    ``anyOf`` with a ``null`` branch becomes ``nullable``; ``"type": [T, "null"]`` too; an
    object gets ``propertyOrdering`` in the order of its ``properties``.
    """
    if not isinstance(schema, dict):
        raise TypeError(f"a schema must be an object, got {type(schema).__name__}")
    out: dict[str, Any] = {}
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if len(kept) < len(branches):
            out["nullable"] = True
        if len(kept) == 1:
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            merged = gemini_schema({**kept[0], **rest})
            return {**merged, **out}
        out["anyOf"] = [gemini_schema(b) for b in kept]
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) < len(kind):
            out["nullable"] = True
        if len(kinds) != 1:
            raise TypeError(f"cannot express type {kind!r} in a Gemini schema")
        kind = kinds[0]
    if kind == "null":
        raise TypeError("a Gemini schema cannot be only null")
    for key, value in schema.items():
        if key not in _SCHEMA_KEYS or key == "anyOf":
            continue
        if key == "type":
            out["type"] = str(kind).upper()
        elif key == "properties":
            out["properties"] = {name: gemini_schema(sub) for name, sub in value.items()}
            out["propertyOrdering"] = list(value)
        elif key == "items":
            out["items"] = gemini_schema(value)
        else:
            out[key] = value
    return out


def _to_completion(response: Any, latency: float, model: str) -> Completion:
    candidate = response.candidates[0] if response.candidates else None
    parts = (candidate.content.parts or []) if candidate and candidate.content else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    if candidate is None:
        finish = "blocked" if response.prompt_feedback else "empty"
    elif candidate.finish_reason is None:
        finish = "stop"
    else:
        name = getattr(candidate.finish_reason, "name", str(candidate.finish_reason))
        finish = _FINISH_REASONS.get(name, name.lower())
    usage = response.usage_metadata
    extra: dict[str, Any] = {}
    if usage is not None and usage.thoughts_token_count:
        extra["thoughts_tokens"] = usage.thoughts_token_count
    return Completion(
        text=text,
        input_tokens=count_of(usage.prompt_token_count) if usage else 0,
        output_tokens=count_of(usage.candidates_token_count) if usage else 0,
        latency_s=latency,
        finish_reason=finish,
        model_id=response.model_version or model,
        extra=extra,
    )


def map_error(error: Any, secret: str | None) -> Exception:
    """Sort a ``google.genai.errors.APIError`` into ``TransientError`` or ``FatalError``."""
    status = int(error.code or 0)
    detail = _redact(str(error), secret)
    if status >= 500 or status in _RETRYABLE_STATUS:
        headers = getattr(error.response, "headers", None)
        return TransientError(f"Gemini HTTP {status}: {detail}",
                              retry_after=retry_after_seconds(headers))
    # The Gemini API answers a bad key with 400 API_KEY_INVALID, not 401.
    if status in (401, 403) or "API_KEY_INVALID" in detail or "API key not valid" in detail:
        return FatalError(f"Gemini rejected the credentials (HTTP {status}); check "
                          f"GEMINI_API_KEY (or GOOGLE_API_KEY): {detail}")
    return FatalError(f"Gemini HTTP {status}: {detail}")


def _redact(text: str, secret: str | None) -> str:
    if secret and secret != _PLACEHOLDER_KEY:
        return text.replace(secret, "***")
    return text


def _use_vertex() -> bool:
    return os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").strip().lower() in ("1", "true")


def create(model: str, base_url: str | None = None) -> Backend:
    """A Gemini backend; key from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``, or Vertex AI when
    ``GOOGLE_GENAI_USE_VERTEXAI`` is set (the SDK then reads project/location itself)."""
    if genai is None:
        raise FatalError("the 'google-genai' package is not installed (pip install google-genai)")
    http_options = types.HttpOptions(base_url=base_url,
                                     retry_options=types.HttpRetryOptions(attempts=1))
    key = next((os.environ[name] for name in _KEY_ENVS if os.environ.get(name)), None)
    if _use_vertex():
        key = None
    elif key is None:
        if base_url is None:
            raise FatalError("GEMINI_API_KEY is not set (or GOOGLE_API_KEY; or set "
                             "GOOGLE_GENAI_USE_VERTEXAI for Vertex AI)")
        key = _PLACEHOLDER_KEY
    try:
        client = genai.Client(api_key=key, http_options=http_options)
    except (ValueError, GoogleAuthError) as error:
        raise FatalError(f"cannot configure the Gemini client: {_redact(str(error), key)}") \
            from None
    return GeminiBackend(client, model, key)
