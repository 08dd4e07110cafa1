"""The OpenAI backend against a real loopback server: replies, usage, settings, error mapping.

The standard wrapper stack runs with an injected sleep, so retry delays are asserted as values
and the suite never waits on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from negotiation.backends import openai_backend
from negotiation.backends.base import (
    Backend,
    Completion,
    FatalError,
    GenerateConfig,
    Message,
    TransientError,
)
from negotiation.backends.wrappers import wrap
from tests.fakes.fake_llm_server import TIMEOUT, Failure, FakeLLMServer

SECRET = "sk-test-secret-0123456789"
MESSAGES = [Message("system", "You are a buyer."), Message("user", "Offer one two three")]


class SleepRecorder:
    """An injectable ``sleep`` that records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(replies="Deal at forty") as srv:
        yield srv


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def run(backend: Backend, config: GenerateConfig | None = None,
        messages: list[Message] | None = None) -> Completion:
    async def go() -> Completion:
        try:
            return await backend.generate(messages or MESSAGES, config or GenerateConfig())
        finally:
            await backend.aclose()
    return asyncio.run(go())


def wrapped(server: FakeLLMServer, sleep: SleepRecorder) -> Backend:
    return wrap(openai_backend.create("gpt-test", base_url=server.openai_base_url), sleep=sleep)


def test_canned_reply_round_trips(server: FakeLLMServer) -> None:
    completion = run(openai_backend.create("gpt-test", base_url=server.openai_base_url))
    assert completion.text == "Deal at forty"
    assert completion.finish_reason == "stop"
    assert completion.model_id == "gpt-test"
    assert completion.retries == 0
    assert completion.latency_s > 0
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.body["messages"] == [{"role": "system", "content": "You are a buyer."},
                                        {"role": "user", "content": "Offer one two three"}]


def test_usage_is_reported(server: FakeLLMServer) -> None:
    completion = run(openai_backend.create("gpt-test", base_url=server.openai_base_url))
    assert completion.input_tokens == 8  # "You are a buyer." + "Offer one two three"
    assert completion.output_tokens == 3


def test_generation_settings_reach_the_request(server: FakeLLMServer) -> None:
    config = GenerateConfig(temperature=0.7, top_p=0.9, top_k=40, max_tokens=77, seed=1234)
    run(openai_backend.create("gpt-test", base_url=server.openai_base_url), config)
    body = server.requests[0].body
    assert body["model"] == "gpt-test"
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.7, 0.9, 40)
    assert (body["max_tokens"], body["seed"]) == (77, 1234)


def test_unset_optional_settings_are_not_sent(server: FakeLLMServer) -> None:
    run(openai_backend.create("gpt-test", base_url=server.openai_base_url))
    body = server.requests[0].body
    assert {"top_p", "top_k", "seed"}.isdisjoint(body)
    assert body["temperature"] == 0.0


def test_rate_limit_is_retried_honouring_retry_after(server: FakeLLMServer) -> None:
    server.inject([Failure(429, {"Retry-After": "2"})])
    sleep = SleepRecorder()
    completion = run(wrapped(server, sleep))
    assert completion.text == "Deal at forty"
    assert completion.retries == 1
    assert sleep.delays == [pytest.approx(2.0)]
    assert len(server.requests) == 2


def test_retry_after_ms_is_honoured(server: FakeLLMServer) -> None:
    server.inject([Failure(429, {"retry-after-ms": "4500"})])
    sleep = SleepRecorder()
    assert run(wrapped(server, sleep)).retries == 1
    assert sleep.delays == [pytest.approx(4.5)]


def test_server_error_is_retried(server: FakeLLMServer) -> None:
    server.inject([500, 503])
    sleep = SleepRecorder()
    completion = run(wrapped(server, sleep))
    assert completion.retries == 2
    assert len(sleep.delays) == 2
    assert all(0 < d <= 60 for d in sleep.delays)
    assert len(server.requests) == 3


def test_timeout_is_retried(server: FakeLLMServer) -> None:
    server.inject([TIMEOUT])  # the server holds this answer for 1.5 s
    sleep = SleepRecorder()
    completion = run(wrapped(server, sleep), GenerateConfig(timeout_s=0.5))
    assert completion.text == "Deal at forty"
    assert completion.retries == 1
    assert len(server.requests) == 2


def test_sdk_timeout_is_transient(server: FakeLLMServer) -> None:
    server.inject([TIMEOUT])
    with pytest.raises(TransientError):
        run(openai_backend.create("gpt-test", base_url=server.openai_base_url), GenerateConfig(timeout_s=0.5))
    assert len(server.requests) == 1

def test_retries_give_up_after_max_attempts(server: FakeLLMServer) -> None:
    server.inject([500] * 10)
    sleep = SleepRecorder()
    backend = wrap(openai_backend.create("gpt-test", base_url=server.openai_base_url),
                   max_attempts=3, sleep=sleep)
    with pytest.raises(TransientError, match="500"):
        run(backend)
    assert len(server.requests) == 3
    assert len(sleep.delays) == 2


def test_authentication_error_is_fatal_and_hides_the_key(server: FakeLLMServer) -> None:
    server.inject([Failure(401, message=f"Incorrect API key provided: {SECRET}")])
    sleep = SleepRecorder()
    with pytest.raises(FatalError) as caught:
        run(wrapped(server, sleep))
    assert "OPENAI_API_KEY" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert len(server.requests) == 1
    assert sleep.delays == []


def test_bad_request_is_not_retried(server: FakeLLMServer) -> None:
    server.inject([Failure(400, message="unknown parameter")])
    sleep = SleepRecorder()
    with pytest.raises(FatalError, match="400"):
        run(wrapped(server, sleep))
    assert len(server.requests) == 1
    assert sleep.delays == []


def test_missing_key_without_base_url_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(FatalError, match="OPENAI_API_KEY"):
        openai_backend.create("gpt-test")


def test_local_server_needs_no_key(server: FakeLLMServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    assert run(openai_backend.create("local", base_url=server.openai_base_url)).text
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_base_url_from_environment(server: FakeLLMServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    assert run(openai_backend.create("gpt-test")).text == "Deal at forty"
    assert len(server.requests) == 1


def test_repr_does_not_leak_the_key(server: FakeLLMServer) -> None:
    backend = openai_backend.create("gpt-test", base_url=server.openai_base_url)
    assert SECRET not in repr(backend)
    assert SECRET not in repr(wrap(backend))
    asyncio.run(backend.aclose())


def test_azure_names_missing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    with pytest.raises(FatalError) as caught:
        openai_backend.create_azure("my-deployment")
    assert "AZURE_OPENAI_ENDPOINT" in str(caught.value)
    assert "OPENAI_API_VERSION" in str(caught.value)
    assert "AZURE_OPENAI_API_KEY" not in str(caught.value)
