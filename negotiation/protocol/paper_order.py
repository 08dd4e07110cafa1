"""The speaking order of the discussion rounds (paper protocol: shuffled blocks).

The order is a concatenation of blocks, each a permutation of all parties drawn from a seeded
``random.Random`` (never the global generator), truncated to ``rounds`` turns, such that:
no party speaks twice in a row (also across block boundaries), the proposer is never last in a
block, and the proposer is neither the first nor the last round speaker (it speaks just before
with its opening and just after with its final proposal).

With two parties these rules cannot all hold (alternation forces the proposer last in every
block); there the order simply alternates, starting with the other party, and only the
no-repeat and not-first rules are guaranteed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

MAX_ATTEMPTS = 10_000


def _block_ok(block: Sequence[str], previous: str | None, proposer: str, first: bool) -> bool:
    if previous is not None and block[0] == previous:
        return False
    if first and block[0] == proposer:
        return False
    return block[-1] != proposer


def speaking_order(parties: Sequence[str], proposer: str, rounds: int, seed: int) -> list[str]:
    """Build the speaker of each of ``rounds`` discussion turns.

    Args:
        parties: display names of all parties, in config order.
        proposer: the party that opens and closes (p1, or the chair).
        rounds: number of discussion turns (not counting opening and final proposal).
        seed: seed of the private random generator.
    """
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    if len(parties) == 2:
        other = next(p for p in parties if p != proposer)
        return [other if i % 2 == 0 else proposer for i in range(rounds)]
    rng = random.Random(seed)
    order: list[str] = []
    previous: str | None = proposer
    while len(order) < rounds:
        size = min(len(parties), rounds - len(order))
        block = _draw_block(rng, parties, size, previous, proposer, first=not order)
        order.extend(block)
        previous = block[-1]
    return order


def _draw_block(rng: random.Random, parties: Sequence[str], size: int, previous: str | None,
                proposer: str, first: bool) -> list[str]:
    pool = list(parties)
    for _ in range(MAX_ATTEMPTS):
        rng.shuffle(pool)
        block = pool[:size]
        if _block_ok(block, previous, proposer, first):
            return block
    raise RuntimeError(f"no valid speaking block for {len(parties)} parties")  # pragma: no cover
