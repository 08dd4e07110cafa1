"""Cross-cutting behaviour shared by every provider: retry, timeout and a concurrency limit.

Providers only translate messages and classify failures as ``TransientError`` or
``FatalError``; these wrappers (each itself a ``Backend``) decide what to do about them, so the
policy is written and tested once. ``wrap`` builds the standard stack:
limit -> retry -> timeout -> provider (every attempt gets its own timeout, and a call holds its
concurrency slot while it backs off).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import tenacity
from tenacity.wait import wait_base

from negotiation.backends.base import (
    Backend,
    Completion,
    GenerateConfig,
    Message,
    StructuredMode,
    TransientError,
    env_number,
)

logger = logging.getLogger(__name__)

SleepFn = Callable[[float], Awaitable[None]]


class Forwarding(Backend):
    """Base for wrappers: forwards ``spec``, ``aclose`` and ``max_concurrency`` to ``inner``."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property  # type: ignore[override]
    def spec(self) -> str:
        return self.inner.spec

    @spec.setter
    def spec(self, value: str) -> None:
        self.inner.spec = value

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def max_concurrency(self) -> int:
        return self.inner.max_concurrency

    @property  # type: ignore[override]
    def structured_modes(self) -> tuple[StructuredMode, ...]:
        return self.inner.structured_modes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


class _RetryAfterWait(wait_base):
    """Exponential backoff with jitter, but never shorter than the server's ``retry_after``."""

    def __init__(self, base_delay: float, max_delay: float) -> None:
        self.max_delay = max_delay
        self._backoff = tenacity.wait_exponential_jitter(
            initial=base_delay, max=max_delay, jitter=base_delay)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = self._backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return backoff
        return min(max(float(retry_after), backoff), self.max_delay)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
    logger.warning("transient failure (attempt %d), retrying in %.1fs: %s",
                   retry_state.attempt_number, delay, error)


class RetryingBackend(Forwarding):
    """Retries ``TransientError`` with backoff; anything else propagates at once.

    After ``max_attempts`` attempts the last ``TransientError`` is re-raised. The answer's
    ``Completion.retries`` says how many attempts failed before it.
    """

    def __init__(self, inner: Backend, max_attempts: int = 6, base_delay: float = 1.0,
                 max_delay: float = 60.0, sleep: SleepFn = asyncio.sleep) -> None:
        super().__init__(inner)
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        # The first attempt runs outside tenacity (it succeeds in almost every call, and
        # tenacity's machinery costs more than the rest of the harness's bookkeeping); a
        # failure is handed to tenacity as its first attempt, so waits and counts are its own.
        try:
            return await self.inner.generate(messages, config)
        except TransientError as err:
            first: list[TransientError] = [err]
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=_RetryAfterWait(self.base_delay, self.max_delay),
            retry=tenacity.retry_if_exception_type(TransientError),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if first:
                    raise first.pop()
                completion = await self.inner.generate(messages, config)
                return dataclasses.replace(
                    completion, retries=attempt.retry_state.attempt_number - 1)
        raise AssertionError("unreachable: tenacity either returns or re-raises")


class TimeoutBackend(Forwarding):
    """Bounds each call by ``config.timeout_s``; running out is a ``TransientError``."""

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        try:
            async with asyncio.timeout(config.timeout_s):  # no extra task per call
                return await self.inner.generate(messages, config)
        except TimeoutError:
            raise TransientError(f"no answer within {config.timeout_s:g}s") from None


class LimitedBackend(Forwarding):
    """At most ``limit`` calls in flight at once; the rest wait their turn."""

    def __init__(self, inner: Backend, limit: int) -> None:
        super().__init__(inner)
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def max_concurrency(self) -> int:
        return self.limit

    def _current_semaphore(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; a fresh loop (e.g. a new asyncio.run) gets a
        # fresh one instead of "bound to a different event loop" errors.
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.limit), loop
        return self._semaphore

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        async with self._current_semaphore():
            return await self.inner.generate(messages, config)


RETRY_ATTEMPTS_ENV = "NEGOTIATION_RETRY_ATTEMPTS"
RETRY_DELAY_ENV = "NEGOTIATION_RETRY_BASE_DELAY_S"


def wrap(backend: Backend, *, max_attempts: int | None = None,
         sleep: SleepFn = asyncio.sleep) -> Backend:
    """The standard stack around a provider: limit -> retry -> timeout -> provider.

    Local backends get no timeout: their computation keeps running (and holding the model)
    after a timeout, and a slow 2-core machine is not a transient fault. Attempts (default 6)
    and the first backoff delay (default 1 s, doubling) can be set through the environment
    variables ``NEGOTIATION_RETRY_ATTEMPTS`` and ``NEGOTIATION_RETRY_BASE_DELAY_S``.
    """
    attempts = max_attempts or int(env_number(RETRY_ATTEMPTS_ENV, 6, 1))
    timed: Backend = backend if backend.local else TimeoutBackend(backend)
    retrying = RetryingBackend(timed, max_attempts=attempts,
                               base_delay=env_number(RETRY_DELAY_ENV, 1.0), sleep=sleep)
    return LimitedBackend(retrying, backend.max_concurrency)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date).

    ``headers`` should be case-insensitive (httpx's are) or use lower-case names.
    """
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            logger.debug("ignoring malformed retry-after-ms header %r", millis)
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            logger.debug("ignoring malformed retry-after header %r", value)
            return None
        return max(when.timestamp() - time.time(), 0.0)
