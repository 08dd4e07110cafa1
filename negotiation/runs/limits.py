"""Per-provider limits shared by all sessions of a sweep: calls in flight and rate limits.

Every backend of one provider (``openai``, ``gemini``, …) goes through the same ``ProviderGate``:
a semaphore bounds its calls in flight, and token buckets enforce requests and tokens per minute.
The gate also counts calls in flight and tokens for the progress display.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from negotiation.backends.base import Backend, Completion, GenerateConfig, Message, StructuredMode
from negotiation.runs.specs import RateLimit

Clock = Callable[[], float]


@dataclass
class Bucket:
    """A token bucket refilled continuously at ``per_minute / 60`` units per second."""

    per_minute: float
    clock: Clock = time.monotonic
    level: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.level = self.per_minute
        self.stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.per_minute, self.level + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` units are available (0 when they are now)."""
        self._refill()
        missing = min(amount, self.per_minute) - self.level
        return max(0.0, missing * 60 / self.per_minute)

    def take(self, amount: float) -> None:
        """Consume units (the level may go negative: later calls then wait longer)."""
        self._refill()
        self.level -= amount


@dataclass
class Counters:
    """Live figures of a sweep for the progress display."""

    in_flight: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    """Estimated cost of the calls made so far (priced models only)."""
    unpriced_calls: int = 0
    """Calls to models without a price (the cost is then a lower bound)."""
    prices: Any = None
    """The ``PriceTable`` used for ``cost`` (None: no cost tracking)."""

    def add(self, spec: str, completion: Completion) -> None:
        """Count one finished call."""
        self.count(spec, completion.input_tokens, completion.output_tokens, completion.cached)

    def count(self, spec: str, input_tokens: int, output_tokens: int,
              cached: bool = False) -> None:
        """Count one call by its figures (a cached answer costs nothing)."""
        self.calls += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        if self.prices is None or cached:
            return
        from negotiation.runs.costs import cost_of

        value = cost_of(spec, input_tokens, output_tokens, self.prices)
        if value is None:
            self.unpriced_calls += 1
        else:
            self.cost += value


class ProviderGate:
    """Limits shared by every backend of one provider."""

    def __init__(self, limit: RateLimit, counters: Counters, in_flight: int) -> None:
        self.semaphore = asyncio.Semaphore(in_flight)
        self.in_flight_limit = in_flight
        self.requests = Bucket(limit.requests_per_minute) if limit.requests_per_minute else None
        self.tokens = Bucket(limit.tokens_per_minute) if limit.tokens_per_minute else None
        self.counters = counters
        self._lock = asyncio.Lock()

    async def _wait_for_budget(self) -> None:
        async with self._lock:
            for bucket in (self.requests, self.tokens):
                if bucket is None:
                    continue
                delay = bucket.wait_time(1)
                if delay > 0:
                    await asyncio.sleep(delay)
            if self.requests is not None:
                self.requests.take(1)

    async def call(self, backend: Backend, messages: list[Message],
                   config: GenerateConfig, spec: str = "") -> Completion:
        """Run one call under the semaphore and the rate limits, counting it."""
        async with self.semaphore:
            await self._wait_for_budget()
            self.counters.in_flight += 1
            try:
                completion = await backend.generate(messages, config)
            finally:
                self.counters.in_flight -= 1
        self.counters.add(spec or backend.spec, completion)
        if self.tokens is not None:
            self.tokens.take(completion.input_tokens + completion.output_tokens)
        return completion


class GatedBackend(Backend):
    """A backend whose calls pass through its provider's gate."""

    def __init__(self, inner: Backend, gate: ProviderGate) -> None:
        self.inner = inner
        self.gate = gate
        self.spec = inner.spec

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """Delegate through the gate."""
        return await self.gate.call(self.inner, messages, config, self.spec)

    async def aclose(self) -> None:
        """Close the wrapped backend."""
        await self.inner.aclose()

    @property
    def max_concurrency(self) -> int:
        """As the wrapped backend."""
        return self.inner.max_concurrency

    @property  # type: ignore[override]
    def structured_modes(self) -> tuple[StructuredMode, ...]:
        """As the wrapped backend."""
        return self.inner.structured_modes
