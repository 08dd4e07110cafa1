"""The Gemini backend against a real loopback server: replies, usage, settings, error mapping.

The standard wrapper stack runs with an injected sleep, so retry delays are asserted as values
and the suite never waits on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from negotiation.backends import gemini_backend
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

SECRET = "gemini-test-secret-0123456789"
MESSAGES = [Message("system", "You are a seller."), Message("user", "Offer ten"),
            Message("assistant", "Counter twenty"), Message("user", "Fifteen then")]


class SleepRecorder:
    """An injectable ``sleep`` that records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(replies="Agreed at fifteen") as srv:
        yield srv


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    for name in ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(name, raising=False)


def run(backend: Backend, config: GenerateConfig | None = None) -> Completion:
    async def go() -> Completion:
        try:
            return await backend.generate(MESSAGES, config or GenerateConfig())
        finally:
            await backend.aclose()
    return asyncio.run(go())


def wrapped(server: FakeLLMServer, sleep: SleepRecorder) -> Backend:
    return wrap(gemini_backend.create("gemini-test", base_url=server.url), sleep=sleep)


def test_canned_reply_round_trips(server: FakeLLMServer) -> None:
    completion = run(gemini_backend.create("gemini-test", base_url=server.url))
    assert completion.text == "Agreed at fifteen"
    assert completion.finish_reason == "stop"
    assert completion.model_id == "gemini-test"
    assert completion.retries == 0
    (request,) = server.requests
    assert request.api == "gemini"
    assert request.path.endswith("/models/gemini-test:generateContent")
    assert request.headers["x-goog-api-key"] == SECRET


def test_roles_and_system_instruction(server: FakeLLMServer) -> None:
    run(gemini_backend.create("gemini-test", base_url=server.url))
    body = server.requests[0].body
    assert body["systemInstruction"]["parts"] == [{"text": "You are a seller."}]
    assert [(c["role"], c["parts"][0]["text"]) for c in body["contents"]] == [
        ("user", "Offer ten"), ("model", "Counter twenty"), ("user", "Fifteen then")]


def test_usage_is_reported(server: FakeLLMServer) -> None:
    completion = run(gemini_backend.create("gemini-test", base_url=server.url))
    assert completion.input_tokens == 10  # 4 system words + 2 + 2 + 2
    assert completion.output_tokens == 3


def test_generation_settings_reach_the_request(server: FakeLLMServer) -> None:
    config = GenerateConfig(temperature=0.7, top_p=0.9, top_k=40, max_tokens=77, seed=1234)
    run(gemini_backend.create("gemini-test", base_url=server.url), config)
    generation = server.requests[0].body["generationConfig"]
    assert generation == {"temperature": 0.7, "topP": 0.9, "topK": 40.0,
                          "maxOutputTokens": 77, "seed": 1234}


def test_rate_limit_is_retried_honouring_retry_after(server: FakeLLMServer) -> None:
    server.inject([Failure(429, {"Retry-After": "2"})])
    sleep = SleepRecorder()
    completion = run(wrapped(server, sleep))
    assert completion.text == "Agreed at fifteen"
    assert completion.retries == 1
    assert sleep.delays == [pytest.approx(2.0)]
    assert len(server.requests) == 2


def test_server_error_is_retried(server: FakeLLMServer) -> None:
    server.inject([500])
    sleep = SleepRecorder()
    assert run(wrapped(server, sleep)).retries == 1
    assert len(sleep.delays) == 1
    assert len(server.requests) == 2


def test_timeout_is_retried(server: FakeLLMServer) -> None:
    server.inject([TIMEOUT])  # the server holds this answer for 1.5 s
    sleep = SleepRecorder()
    completion = run(wrapped(server, sleep), GenerateConfig(timeout_s=0.5))
    assert completion.text == "Agreed at fifteen"
    assert completion.retries == 1
    assert len(server.requests) == 2


def test_sdk_timeout_is_transient(server: FakeLLMServer) -> None:
    server.inject([TIMEOUT])
    with pytest.raises(TransientError):
        run(gemini_backend.create("gemini-test", base_url=server.url), GenerateConfig(timeout_s=0.5))
    assert len(server.requests) == 1

def test_unretried_server_error_is_transient(server: FakeLLMServer) -> None:
    server.inject([503])
    with pytest.raises(TransientError, match="503"):
        run(gemini_backend.create("gemini-test", base_url=server.url))
    assert len(server.requests) == 1  # the SDK's own retries are off


@pytest.mark.parametrize("status", [401, 403])
def test_authentication_error_is_fatal_and_hides_the_key(server: FakeLLMServer,
                                                         status: int) -> None:
    server.inject([Failure(status, message=f"bad key {SECRET}")])
    sleep = SleepRecorder()
    with pytest.raises(FatalError) as caught:
        run(wrapped(server, sleep))
    assert "GEMINI_API_KEY" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert len(server.requests) == 1
    assert sleep.delays == []


def test_invalid_key_400_names_the_variable(server: FakeLLMServer) -> None:
    server.inject([Failure(400, message="API key not valid. Please pass a valid API key.")])
    with pytest.raises(FatalError, match="GEMINI_API_KEY"):
        run(gemini_backend.create("gemini-test", base_url=server.url))


def test_bad_request_is_not_retried(server: FakeLLMServer) -> None:
    server.inject([Failure(400, message="bad field")])
    sleep = SleepRecorder()
    with pytest.raises(FatalError, match="400"):
        run(wrapped(server, sleep))
    assert len(server.requests) == 1
    assert sleep.delays == []


def test_missing_key_without_base_url_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(FatalError, match="GEMINI_API_KEY"):
        gemini_backend.create("gemini-test")


def test_google_api_key_is_accepted(server: FakeLLMServer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    run(gemini_backend.create("gemini-test", base_url=server.url))
    assert server.requests[0].headers["x-goog-api-key"] == "google-key"


def test_repr_does_not_leak_the_key(server: FakeLLMServer) -> None:
    backend = gemini_backend.create("gemini-test", base_url=server.url)
    assert SECRET not in repr(backend)
    assert SECRET not in repr(wrap(backend))
    asyncio.run(backend.aclose())
