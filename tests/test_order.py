"""Speaking-order invariants over many seeds and party counts 2-15."""

from __future__ import annotations

import pytest

from negotiation.protocol.paper_order import speaking_order


def _parties(n: int) -> list[str]:
    return [f"P{i}" for i in range(n)]


@pytest.mark.parametrize("n", range(3, 16))
def test_invariants(n: int) -> None:
    parties = _parties(n)
    proposer = parties[0]
    for seed in range(40):
        for rounds in (4 * n, n, 2 * n + 1, 1):
            order = speaking_order(parties, proposer, rounds, seed)
            assert len(order) == rounds
            full = [proposer, *order, proposer]  # opening and final proposal around the rounds
            assert all(a != b for a, b in zip(full, full[1:])), (seed, rounds, order)
            for start in range(0, rounds, n):
                block = order[start:start + n]
                assert len(set(block)) == len(block)
                assert block[-1] != proposer
            if rounds >= n:
                assert set(order[:n]) == set(parties)


def test_chair_may_be_any_party() -> None:
    parties = _parties(5)
    order = speaking_order(parties, "P3", 20, 1)
    assert order[0] != "P3" and order[-1] != "P3"
    assert order.count("P3") == 4


def test_seeded_and_independent_of_global_random() -> None:
    import random

    parties = _parties(6)
    random.seed(1)
    a = speaking_order(parties, "P0", 24, 5)
    random.seed(2)
    b = speaking_order(parties, "P0", 24, 5)
    assert a == b
    assert speaking_order(parties, "P0", 24, 6) != a


def test_two_parties_alternate() -> None:
    order = speaking_order(["A", "B"], "A", 5, 0)
    assert order == ["B", "A", "B", "A", "B"]


def test_negative_rounds_rejected() -> None:
    with pytest.raises(ValueError):
        speaking_order(_parties(3), "P0", -1, 0)
