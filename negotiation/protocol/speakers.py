"""Speaker-selection policies: who speaks at each discussion turn.

``paper`` (default) precomputes the shuffled-block order of the paper; ``round-robin`` cycles
through the parties; ``random`` draws uniformly without immediate repeats; ``moderator`` asks a
moderator model, turn by turn, to pick the next speaker from the recent history, falling back to
the round-robin successor when its answer names no party. Static policies fix the whole order up
front (stored in the log); the moderator's choices are appended to the stored order as they are
made, so a resumed session keeps them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from negotiation.core.phases import MODERATOR_ORDER
from negotiation.protocol.paper_order import speaking_order

POLICIES: tuple[str, ...] = ("paper", "round-robin", "random", MODERATOR_ORDER)


@dataclass(frozen=True)
class SpeakerContext:
    """What a policy may use: the speakers, the proposer, the rounds and the seed."""

    speakers: tuple[str, ...]
    proposer: str
    rounds: int
    seed: int


def static_order(policy: str, ctx: SpeakerContext) -> list[str]:
    """The full order for a static policy; empty for ``moderator`` (decided turn by turn)."""
    if policy == "paper":
        return speaking_order(ctx.speakers, ctx.proposer, ctx.rounds, ctx.seed)
    if policy == "round-robin":
        return round_robin(ctx)
    if policy == "random":
        return uniform_random(ctx)
    if policy == MODERATOR_ORDER:
        return []
    raise ValueError(f"unknown speaker policy {policy!r} (known: {', '.join(POLICIES)})")


def round_robin(ctx: SpeakerContext) -> list[str]:
    """Config order, starting with the party after the proposer (the proposer comes last in
    each cycle, so it never speaks twice in a row around its opening)."""
    start = ctx.speakers.index(ctx.proposer) + 1 if ctx.proposer in ctx.speakers else 0
    cycle = list(ctx.speakers[start:]) + list(ctx.speakers[:start])
    return [cycle[i % len(cycle)] for i in range(ctx.rounds)]


def uniform_random(ctx: SpeakerContext) -> list[str]:
    """Uniform draws from a seeded generator, never the previous speaker (the proposer opens)."""
    rng = random.Random(ctx.seed)
    order: list[str] = []
    previous = ctx.proposer
    for _ in range(ctx.rounds):
        choice = rng.choice([s for s in ctx.speakers if s != previous])
        order.append(choice)
        previous = choice
    return order


def successor(speakers: Sequence[str], previous: str) -> str:
    """The next speaker in config order after ``previous`` (the moderator's fallback)."""
    index = speakers.index(previous) if previous in speakers else -1
    return speakers[(index + 1) % len(speakers)]


def pick_named(answer: str, speakers: Sequence[str], previous: str) -> str | None:
    """The speaker a moderator's answer names (the longest name found first; never the
    previous speaker); None when it names nobody usable."""
    text = answer.lower()
    found = []
    for name in sorted(speakers, key=len, reverse=True):
        match = re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", text)
        if match and name != previous:
            found.append((match.start(), name))
            text = text[:match.start()] + " " * len(name) + text[match.end():]
    return min(found)[1] if found else None
