"""Well-formed negotiation turns for the fake LLM server (a fake at the network edge).

The reply depends only on the request's content (a hash of its prompt), so a session gives the
same log whatever the order in which concurrent requests reach the server. An optional seeded
per-call delay (also derived from the content) keeps requests in flight long enough to overlap.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.fakes.fake_llm_server import prompt_text

BASE_SHAPE = (3, 3, 4, 4, 5)


def _digest(body: dict[str, Any], seed: int) -> bytes:
    return hashlib.sha256(f"{seed}|{prompt_text(body)}".encode()).digest()


def turn_text(body: dict[str, Any], shape: Sequence[int] = BASE_SHAPE, seed: int = 0) -> str:
    """A tagged turn (or a vote) derived deterministically from the prompt."""
    digest = _digest(body, seed)
    if "<VOTE>" in prompt_text(body):
        return f"<VOTE>{'ACCEPT' if digest[0] % 2 else 'REJECT'}</VOTE> That is my decision."
    deal = ",".join(f"{chr(65 + i)}{digest[i + 1] % n + 1}" for i, n in enumerate(shape))
    return (f"<SCRATCHPAD>Weighing the options.</SCRATCHPAD>\n"
            f"<ANSWER>Let us consider <DEAL>{deal}</DEAL> as a fair basis.</ANSWER>\n"
            f"<PLAN>Follow up on {deal}.</PLAN>")


def replies(max_delay_s: float = 0.0, seed: int = 0,
            shape: Sequence[int] = BASE_SHAPE) -> Callable[[dict[str, Any]], str]:
    """A reply function for ``FakeLLMServer`` with a content-derived delay in [0, max_delay_s]."""

    def reply(body: dict[str, Any]) -> str:
        if max_delay_s > 0:
            time.sleep(max_delay_s * _digest(body, seed + 1)[0] / 255)  # simulated model latency
        return turn_text(body, shape, seed)

    return reply
