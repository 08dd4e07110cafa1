"""OpenAI (and OpenAI-compatible servers, and Azure OpenAI) behind the ``Backend`` contract.

Translates messages to one chat completion through the official SDK and sorts the SDK's
exceptions into ``TransientError`` / ``FatalError``. The request goes through the client's own
``post`` (the SDK's documented way to call an endpoint with a plain body; ``create`` does the
same after walking every parameter against its TypedDict annotations, which cost ~3.4 of the
SDK's ~5 ms of CPU per call for this harness's plain-string messages); the response is parsed
into the SDK's ``ChatCompletion`` and errors are the SDK's, as with ``create``. The SDK's own
retries are off: the retry wrapper owns that policy. The API key never appears in messages, reprs or logs.

Structured turns (``GenerateConfig.constraint``):

* ``json``: ``response_format={"type": "json_schema", "json_schema": {"name", "strict": True,
  "schema"}}`` (OpenAI's structured outputs; vLLM and llama.cpp's server take the same field).
* ``grammar`` (OpenAI-compatible servers only, i.e. a base URL is set): the GBNF in the request
  body, in the field the server reads. ``NEGOTIATION_OPENAI_GRAMMAR_FIELD`` selects it for all
  such backends of a process, a ``#FIELD`` suffix on the model name for one spec
  (``openai:qwen#guided_grammar@http://127.0.0.1:8000/v1``; the suffix is not sent):

  - ``structured_outputs`` (default): ``{"structured_outputs": {"grammar": …}}``, vLLM >= 0.12
    (which dropped ``guided_*`` and silently ignores it);
  - ``guided_grammar``: ``{"guided_grammar": …}``, vLLM before 0.12;
  - ``grammar``: ``{"grammar": …}``, llama.cpp's ``llama-server`` (and llama-cpp-python's);
  - ``none``: the server takes no grammar; the backend then offers ``json`` only.

``Completion.constrained`` only means the constraint was *sent*: a server may ignore a field it
does not know (vLLM ignores unknown fields; some llama.cpp server builds accept a json_schema
without enforcing it), so the seat decides from the content whether the answer follows the
schema. A server that rejects the constraint (HTTP 400/422) fails the call with a
``FatalError`` naming what was rejected; it is not retried.
"""

from __future__ import annotations

import copy
import dataclasses
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
    text_of,
)
from negotiation.backends.structured import require_mode
from negotiation.backends.wrappers import retry_after_seconds

try:
    import openai
    from openai.types.chat import ChatCompletion
except ImportError:  # pragma: no cover - depends on the environment
    openai = None  # type: ignore[assignment]
    ChatCompletion = None  # type: ignore[assignment,misc]

_PLACEHOLDER_KEY = "not-needed"
"""Sent to local OpenAI-compatible servers, which require no key but the SDK wants one."""

_RETRYABLE_STATUS = frozenset({408, 409, 429})
"""4xx statuses worth retrying (as the SDK itself would): timeout, conflict, rate limit."""

CHAT_PATH = "/chat/completions"
GRAMMAR_FIELD_ENV = "NEGOTIATION_OPENAI_GRAMMAR_FIELD"
GRAMMAR_FIELDS: tuple[str, ...] = ("structured_outputs", "guided_grammar", "grammar", "none")
"""Where a grammar goes in the request body (see the module docstring)."""
DEFAULT_GRAMMAR_FIELD = "structured_outputs"


class OpenAIBackend(Backend):
    """One model on an OpenAI-compatible chat completions endpoint."""

    @property
    def max_concurrency(self) -> int:
        """No cap here: the sweep's per-provider ``RateLimit`` (default 8 in flight, set
        ``rate_limits`` in an experiment file) is the one limit on remote calls."""
        return 1 << 20

    def __init__(self, client: Any, model: str, spec: str, key_env: str,
                 secret: str | None, grammar_field: str = "none") -> None:
        self._client = client
        self.model = model
        self.spec = spec
        self._key_env = key_env
        self._secret = secret
        self.grammar_field = grammar_field
        """The request field a grammar is sent in (``none``: no grammar mode)."""
        self.structured_modes: tuple[StructuredMode, ...] = (
            ("grammar", "json") if grammar_field != "none" else ("json",))

    def __repr__(self) -> str:
        return f"OpenAIBackend(spec={self.spec!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """One chat completion; under a constraint, ``Completion.constrained`` means the
        constraint was sent (not that the server enforced it: the seat checks the content)."""
        constraint = require_mode(self.spec, self.structured_modes, config.constraint)
        started = time.perf_counter()
        try:
            response = await self._client.post(
                CHAT_PATH, cast_to=ChatCompletion,
                body=request_body(self.model, messages, config, self.grammar_field),
                options={"timeout": config.timeout_s})
            completion = self._completion(response, time.perf_counter() - started)
            return dataclasses.replace(completion, constrained=constraint is not None)
        except openai.OpenAIError as error:
            mapped = map_error(error, self._key_env, self._secret)
            if constraint is not None:
                mapped = _rejected_constraint(error, mapped, constraint, self.grammar_field)
            raise mapped from None
        except MALFORMED as error:  # an HTML page, cut JSON, a string where numbers belong
            raise malformed_reply(self.spec, error) from None

    def _completion(self, response: Any, latency: float) -> Completion:
        if not response.choices:
            raise TransientError(f"{self.spec}: the response had no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=text_of(choice.message.content),
            input_tokens=count_of(usage.prompt_tokens) if usage else 0,
            output_tokens=count_of(usage.completion_tokens) if usage else 0,
            latency_s=latency,
            finish_reason=text_of(choice.finish_reason) or "stop",
            model_id=text_of(response.model) or self.model,
        )


def request_body(model: str, messages: list[Message], config: GenerateConfig,
                 grammar_field: str = DEFAULT_GRAMMAR_FIELD) -> dict[str, Any]:
    """The JSON body of one chat completion (``request_options`` with ``extra_body`` merged in,
    as the SDK's ``chat.completions.create`` would send it)."""
    options = request_options(config, grammar_field)
    extra = options.pop("extra_body", {})
    return {"model": model, "messages": [{"role": m.role, "content": m.content} for m in messages],
            **options, **extra}


def request_options(config: GenerateConfig,
                    grammar_field: str = DEFAULT_GRAMMAR_FIELD) -> dict[str, Any]:
    """The generation settings (and the constraint) as ``chat.completions.create`` keyword
    arguments; a grammar goes in ``grammar_field`` of the body (``extra_body``)."""
    options: dict[str, Any] = {"temperature": config.temperature,
                               "max_tokens": config.max_tokens}
    extra_body: dict[str, Any] = {}
    if config.top_p is not None:
        options["top_p"] = config.top_p
    if config.seed is not None:
        options["seed"] = config.seed
    if config.top_k is not None:
        extra_body["top_k"] = config.top_k  # vLLM / llama.cpp extension
    constraint = config.constraint
    if constraint is not None and constraint.mode == "json":
        options["response_format"] = response_format(constraint)
    elif constraint is not None and constraint.mode == "grammar":
        if grammar_field == "structured_outputs":
            extra_body["structured_outputs"] = {"grammar": constraint.gbnf}
        elif grammar_field in ("guided_grammar", "grammar"):
            extra_body[grammar_field] = constraint.gbnf
        else:
            raise FatalError(f"no grammar field for this server ({GRAMMAR_FIELD_ENV}="
                             f"{grammar_field!r}; use one of {', '.join(GRAMMAR_FIELDS[:-1])})")
    if extra_body:
        options["extra_body"] = extra_body
    return options


def response_format(constraint: Constraint) -> dict[str, Any]:
    """OpenAI's strict structured-output ``response_format`` for a JSON constraint."""
    return {"type": "json_schema",
            "json_schema": {"name": constraint.name, "strict": True,
                            "schema": copy.deepcopy(dict(constraint.json_schema))}}


def _rejected_constraint(error: Exception, mapped: Exception, constraint: Constraint,
                         grammar_field: str) -> Exception:
    """A 400/422 on a constrained request says what the server rejected (still fatal)."""
    status = getattr(error, "status_code", None)
    if not isinstance(mapped, FatalError) or status not in (400, 422):
        return mapped
    what = ("the response_format json_schema" if constraint.mode == "json"
            else f"the grammar sent as {grammar_field!r}")
    return FatalError(f"the server rejected {what} of constraint {constraint.name!r} "
                      f"(HTTP {status}); it may not support structured outputs: {mapped}")


def map_error(error: Exception, key_env: str, secret: str | None) -> Exception:
    """Sort an SDK exception into ``TransientError`` or ``FatalError`` (key redacted)."""
    detail = _redact(str(error), secret)
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return TransientError(f"OpenAI connection failed: {detail}")
    if isinstance(error, openai.APIResponseValidationError):
        return TransientError(f"OpenAI malformed reply: {detail}")
    if not isinstance(error, openai.APIStatusError):
        return FatalError(f"OpenAI SDK error: {type(error).__name__}: {detail}")
    status = error.status_code
    if status >= 500 or status in _RETRYABLE_STATUS:
        retry_after = retry_after_seconds(error.response.headers)
        return TransientError(f"OpenAI HTTP {status}: {detail}", retry_after=retry_after)
    if status in (401, 403):
        return FatalError(f"OpenAI rejected the credentials (HTTP {status}); check {key_env}: "
                          f"{detail}")
    return FatalError(f"OpenAI HTTP {status}: {detail}")


def _redact(text: str, secret: str | None) -> str:
    if secret and secret != _PLACEHOLDER_KEY:
        return text.replace(secret, "***")
    return text


def _require_sdk() -> None:
    if openai is None:
        raise FatalError("the 'openai' package is not installed (pip install openai)")


def grammar_field_of(model: str, base_url: str | None) -> tuple[str, str]:
    """The model name to send and the grammar field: a ``#FIELD`` suffix of ``model``, else
    ``NEGOTIATION_OPENAI_GRAMMAR_FIELD``, else ``structured_outputs`` for a compatible server
    (a base URL) and ``none`` for the OpenAI API itself (it takes no grammar)."""
    name, sep, suffix = model.partition("#")
    field = suffix.strip() if sep else os.environ.get(GRAMMAR_FIELD_ENV, "").strip()
    if field and field not in GRAMMAR_FIELDS:
        where = f"model suffix #{field}" if sep else f"{GRAMMAR_FIELD_ENV}={field}"
        raise FatalError(f"unknown grammar field ({where[:60]}): use one of "
                         f"{', '.join(GRAMMAR_FIELDS)}")
    if not name:
        raise FatalError(f"model spec {model!r} names no model before '#'")
    if base_url is None:  # the environment variable does not apply to the OpenAI API
        if sep and field != "none":
            raise FatalError(f"the OpenAI API takes no grammar: #{field} needs an "
                             "OpenAI-compatible server (give a base URL)")
        return name, "none"
    return name, field or DEFAULT_GRAMMAR_FIELD


KEEPALIVE_CONNECTIONS = 1000
"""Idle connections kept per client (the SDK keeps 100: a sweep with more calls in flight than
that opened a new TCP connection for most calls, ~9 ms of client CPU each at 200 in flight)."""


def _http_client() -> Any:
    """The SDK's own httpx client, keeping as many idle connections as it may open."""
    import httpx

    return openai.DefaultAsyncHttpxClient(limits=httpx.Limits(
        max_connections=KEEPALIVE_CONNECTIONS, max_keepalive_connections=KEEPALIVE_CONNECTIONS))


def create(model: str, base_url: str | None = None) -> Backend:
    """An OpenAI backend; ``base_url`` (or ``OPENAI_BASE_URL``) selects a compatible server.

    The key comes from ``OPENAI_API_KEY``; a custom server without one gets a placeholder.
    ``model`` may end in ``#FIELD``: where that server takes a grammar (``grammar_field_of``).
    """
    _require_sdk()
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    model, grammar_field = grammar_field_of(model, base_url)
    key = os.environ.get("OPENAI_API_KEY") or None
    if key is None:
        if base_url is None:
            raise FatalError("OPENAI_API_KEY is not set (needed for the OpenAI API; set it, or "
                             "give a base URL for a local OpenAI-compatible server)")
        key = _PLACEHOLDER_KEY
    client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0,
                                http_client=_http_client())
    return OpenAIBackend(client, model, f"openai:{model}", "OPENAI_API_KEY", key, grammar_field)


def create_azure(deployment: str, base_url: str | None = None) -> Backend:
    """An Azure OpenAI deployment; needs ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT``
    (or ``base_url``) and ``OPENAI_API_VERSION``."""
    _require_sdk()
    key = os.environ.get("AZURE_OPENAI_API_KEY") or None
    endpoint = base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or None
    version = os.environ.get("OPENAI_API_VERSION") or None
    missing = [name for name, value in (("AZURE_OPENAI_API_KEY", key),
                                        ("AZURE_OPENAI_ENDPOINT", endpoint),
                                        ("OPENAI_API_VERSION", version)) if value is None]
    if missing:
        raise FatalError(f"Azure OpenAI needs {', '.join(missing)} to be set")
    client = openai.AsyncAzureOpenAI(api_key=key, azure_endpoint=endpoint,
                                     api_version=version, max_retries=0,
                                     http_client=_http_client())
    return OpenAIBackend(client, deployment, f"azure:{deployment}", "AZURE_OPENAI_API_KEY", key)
