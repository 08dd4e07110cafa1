"""Turn kinds and helper roles: the one definition the engine, logs, evaluation and exports use.

A session is a sequence of turns. Four kinds are spoken by a party (p1's opening, a discussion
turn, p1's final proposal, a vote on it); two belong to optional helper seats that are not
parties (the summarizer's running summary, the moderator's choice of the next speaker). Code
outside the core asks a ``Phase`` what it is (``is_party``, ``is_public``) instead of comparing
names, so adding a helper kind cannot silently turn it into a party.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """The kind of one turn; its value is the name stored in session logs."""

    OPENING = "opening"
    """p1's first proposal (round 0)."""
    ROUND = "round"
    """A discussion turn of any party."""
    FINAL = "final"
    """p1's formal final proposal, put to the decision."""
    VOTE = "vote"
    """A party other than p1 accepting or rejecting the final proposal."""
    SUMMARY = "summary"
    """The summarizer's running summary (memory ``summary``)."""
    MODERATOR = "moderator"
    """The moderator's choice of the next speaker (speaker policy ``moderator``)."""

    @property
    def is_party(self) -> bool:
        """Spoken by a party of the game (its sheet scores what it proposes)."""
        return self not in (Phase.SUMMARY, Phase.MODERATOR)

    @property
    def is_public(self) -> bool:
        """A party's public message that may propose a deal (opening, round, final)."""
        return self in (Phase.OPENING, Phase.ROUND, Phase.FINAL)

    @property
    def is_helper(self) -> bool:
        """Produced by a helper seat, not by a party."""
        return not self.is_party

    @property
    def proposes(self) -> bool:
        """The turns of the proposer (p1) that can succeed: opening, rounds and final."""
        return self.is_public

    @property
    def helper(self) -> HelperRole | None:
        """The helper role that speaks in this phase (None for party phases)."""
        return {Phase.SUMMARY: HelperRole.SUMMARIZER,
                Phase.MODERATOR: HelperRole.MODERATOR}.get(self)


class HelperRole(StrEnum):
    """Seats that are not parties: they speak, but own no score sheet and cast no vote."""

    SUMMARIZER = "summarizer"
    MODERATOR = "moderator"

    @property
    def seat(self) -> str:
        """The name under which the helper appears in turn records (``@summarizer``)."""
        return HELPER_PREFIX + self.value

    @property
    def phase(self) -> Phase:
        """The phase of this helper's turns."""
        return Phase.SUMMARY if self is HelperRole.SUMMARIZER else Phase.MODERATOR


HELPER_PREFIX = "@"
"""Helper seat names start with this; party names cannot (the loader forbids it)."""


def is_helper_seat(name: str) -> bool:
    """Whether a turn's ``party`` field names a helper seat rather than a party."""
    return name.startswith(HELPER_PREFIX)


def helper_of(name: str) -> HelperRole:
    """The helper role behind a seat name such as ``@moderator`` (ValueError otherwise)."""
    return HelperRole(name.removeprefix(HELPER_PREFIX))


SUMMARY_MEMORY = "summary"
"""The memory mode in which the summarizer writes running summaries."""
WINDOW_MEMORY = "window"
"""The paper's memory: the last few public messages only."""
MEMORY_MODES: tuple[str, ...] = (WINDOW_MEMORY, SUMMARY_MEMORY)
MODERATOR_ORDER = "moderator"
"""The speaker policy in which the moderator picks each next speaker."""

PARTY_PHASES: tuple[Phase, ...] = tuple(p for p in Phase if p.is_party)
PUBLIC_PHASES: tuple[Phase, ...] = tuple(p for p in Phase if p.is_public)
PROMPT_PHASES: tuple[str, ...] = tuple(p.value for p in PARTY_PHASES)
"""The phases whose prompt ``main.py prompt --turn`` can show."""
