"""OpenAI (and OpenAI-compatible servers, and Azure OpenAI) behind the ``Backend`` contract.

Translates messages to one ``chat.completions.create`` call of the official SDK and sorts the
SDK's exceptions into ``TransientError`` / ``FatalError``. The SDK's own retries are off: the
retry wrapper owns that policy. The API key never appears in messages, reprs or logs.
"""

from __future__ import annotations

import os
import time
from typing import Any

from negotiation.backends.base import (
    MALFORMED,
    Backend,
    Completion,
    FatalError,
    GenerateConfig,
    Message,
    TransientError,
    count_of,
    malformed_reply,
    text_of,
)
from negotiation.backends.wrappers import retry_after_seconds

try:
    import openai
except ImportError:  # pragma: no cover - depends on the environment
    openai = None  # type: ignore[assignment]

_PLACEHOLDER_KEY = "not-needed"
"""Sent to local OpenAI-compatible servers, which require no key but the SDK wants one."""

_RETRYABLE_STATUS = frozenset({408, 409, 429})
"""4xx statuses worth retrying (as the SDK itself would): timeout, conflict, rate limit."""


class OpenAIBackend(Backend):
    """One model on an OpenAI-compatible chat completions endpoint."""

    @property
    def max_concurrency(self) -> int:
        """No cap here: the sweep's per-provider ``RateLimit`` (default 8 in flight, set
        ``rate_limits`` in an experiment file) is the one limit on remote calls."""
        return 1 << 20

    def __init__(self, client: Any, model: str, spec: str, key_env: str,
                 secret: str | None) -> None:
        self._client = client
        self.model = model
        self.spec = spec
        self._key_env = key_env
        self._secret = secret

    def __repr__(self) -> str:
        return f"OpenAIBackend(spec={self.spec!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        started = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                timeout=config.timeout_s,
                **request_options(config),
            )
            return self._completion(response, time.perf_counter() - started)
        except openai.OpenAIError as error:
            raise map_error(error, self._key_env, self._secret) from None
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


def request_options(config: GenerateConfig) -> dict[str, Any]:
    """The generation settings as ``chat.completions.create`` keyword arguments."""
    options: dict[str, Any] = {"temperature": config.temperature,
                               "max_tokens": config.max_tokens}
    if config.top_p is not None:
        options["top_p"] = config.top_p
    if config.seed is not None:
        options["seed"] = config.seed
    if config.top_k is not None:
        options["extra_body"] = {"top_k": config.top_k}  # vLLM / llama.cpp extension
    return options


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


def create(model: str, base_url: str | None = None) -> Backend:
    """An OpenAI backend; ``base_url`` (or ``OPENAI_BASE_URL``) selects a compatible server.

    The key comes from ``OPENAI_API_KEY``; a custom server without one gets a placeholder.
    """
    _require_sdk()
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = os.environ.get("OPENAI_API_KEY") or None
    if key is None:
        if base_url is None:
            raise FatalError("OPENAI_API_KEY is not set (needed for the OpenAI API; set it, or "
                             "give a base URL for a local OpenAI-compatible server)")
        key = _PLACEHOLDER_KEY
    client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0)
    return OpenAIBackend(client, model, f"openai:{model}", "OPENAI_API_KEY", key)


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
                                     api_version=version, max_retries=0)
    return OpenAIBackend(client, deployment, f"azure:{deployment}", "AZURE_OPENAI_API_KEY", key)
