"""Retry, timeout and concurrency-limit wrappers, on scripted in-memory backends and on the
loopback server (for in-flight counting). No test waits on a timing sleep: backoff uses an
injected sleep and slow calls block on events that are never set."""

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
from negotiation.backends.wrappers import (
    LimitedBackend,
    RetryingBackend,
    TimeoutBackend,
    retry_after_seconds,
    wrap,
)
from tests.fakes.fake_llm_server import FakeLLMServer

MESSAGES = [Message("user", "hi")]
CONFIG = GenerateConfig()


class SleepRecorder:
    """An injectable ``sleep`` that records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class ScriptedBackend(Backend):
    """Raises the scripted exceptions in order, then answers ``"ok"``."""

    spec = "scripted:test"

    def __init__(self, script: list[BaseException] | None = None) -> None:
        self.script = list(script or [])
        self.calls = 0
        self.closed = False

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        self.calls += 1
        if self.script:
            raise self.script.pop(0)
        return Completion(text="ok", input_tokens=3, output_tokens=1)

    async def aclose(self) -> None:
        self.closed = True

    @property
    def max_concurrency(self) -> int:
        return 3


class HangingBackend(ScriptedBackend):
    """Never answers (until cancelled)."""

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        self.calls += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def generate(backend: Backend, config: GenerateConfig = CONFIG) -> Completion:
    return asyncio.run(backend.generate(MESSAGES, config))


def test_transient_errors_are_retried_and_counted() -> None:
    inner = ScriptedBackend([TransientError("a"), TransientError("b")])
    sleep = SleepRecorder()
    completion = generate(RetryingBackend(inner, sleep=sleep))
    assert (completion.text, completion.retries, completion.input_tokens) == ("ok", 2, 3)
    assert inner.calls == 3
    assert len(sleep.delays) == 2


def test_backoff_grows_and_is_capped() -> None:
    inner = ScriptedBackend([TransientError("x") for _ in range(5)])
    sleep = SleepRecorder()
    generate(RetryingBackend(inner, max_attempts=6, base_delay=1.0, max_delay=5.0, sleep=sleep))
    assert len(sleep.delays) == 5
    assert 1.0 <= sleep.delays[0] <= 2.0  # base plus up to one base of jitter
    assert 4.0 <= sleep.delays[2] <= 5.0
    assert all(d <= 5.0 for d in sleep.delays)


def test_retry_after_wins_over_shorter_backoff_and_is_capped() -> None:
    inner = ScriptedBackend([TransientError("slow down", retry_after=7.0),
                             TransientError("slow down", retry_after=500.0)])
    sleep = SleepRecorder()
    generate(RetryingBackend(inner, max_delay=60.0, sleep=sleep))
    assert sleep.delays == [pytest.approx(7.0), pytest.approx(60.0)]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    inner = ScriptedBackend([TransientError(str(i)) for i in range(10)])
    sleep = SleepRecorder()
    with pytest.raises(TransientError, match="^2$"):
        generate(RetryingBackend(inner, max_attempts=3, sleep=sleep))
    assert inner.calls == 3
    assert len(sleep.delays) == 2


@pytest.mark.parametrize("error", [FatalError("bad request"), ValueError("bug")])
def test_other_errors_are_not_retried(error: Exception) -> None:
    inner = ScriptedBackend([error])
    sleep = SleepRecorder()
    with pytest.raises(type(error)):
        generate(RetryingBackend(inner, sleep=sleep))
    assert inner.calls == 1
    assert sleep.delays == []


def test_timeout_becomes_transient() -> None:
    inner = HangingBackend()
    with pytest.raises(TransientError, match="0.05s"):
        generate(TimeoutBackend(inner), GenerateConfig(timeout_s=0.05))
    assert inner.calls == 1


def test_timeout_passes_answers_through() -> None:
    assert generate(TimeoutBackend(ScriptedBackend())).text == "ok"


def test_wrappers_forward_spec_close_and_concurrency() -> None:
    inner = ScriptedBackend()
    stack = wrap(inner)
    assert stack.spec == "scripted:test"
    assert stack.max_concurrency == 3
    stack.spec = "renamed:x"
    assert inner.spec == "renamed:x"
    asyncio.run(stack.aclose())
    assert inner.closed
    assert LimitedBackend(inner, 5).max_concurrency == 5
    assert TimeoutBackend(inner).max_concurrency == 3


def test_wrap_retries_transient_errors() -> None:
    inner = ScriptedBackend([TransientError("reset")])
    sleep = SleepRecorder()
    assert generate(wrap(inner, sleep=sleep)).retries == 1


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LimitedBackend(ScriptedBackend(), 0)


def test_limited_backend_works_across_event_loops() -> None:
    backend = LimitedBackend(ScriptedBackend(), 1)
    for _ in range(2):
        async def burst() -> list[Completion]:
            return await asyncio.gather(*(backend.generate(MESSAGES, CONFIG) for _ in range(3)))
        assert [c.text for c in asyncio.run(burst())] == ["ok"] * 3


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(replies="ok", delay_s=0.1) as srv:
        yield srv


def _burst(backend: Backend, calls: int) -> list[Completion]:
    async def go() -> list[Completion]:
        try:
            return await asyncio.gather(*(backend.generate(MESSAGES, CONFIG)
                                          for _ in range(calls)))
        finally:
            await backend.aclose()
    return asyncio.run(go())


def test_limited_backend_bounds_requests_in_flight(server: FakeLLMServer) -> None:
    provider = openai_backend.create("gpt-test", base_url=server.openai_base_url)
    completions = _burst(LimitedBackend(provider, 2), calls=8)
    assert [c.text for c in completions] == ["ok"] * 8
    assert len(server.requests) == 8
    assert server.max_in_flight == 2


def test_unlimited_burst_overlaps(server: FakeLLMServer) -> None:
    """Control for the test above: without the limit, the server does see overlap."""
    provider = openai_backend.create("gpt-test", base_url=server.openai_base_url)
    _burst(provider, calls=8)
    assert server.max_in_flight > 2


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": "1.5", "retry-after-ms": "250"}, 0.25),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ({"retry-after": "soon"}, None),
    ({}, None),
    (None, None),
])
def test_retry_after_seconds(headers: dict[str, str] | None, expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected
