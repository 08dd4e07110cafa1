"""The seat contract: the engine hands a seat an ``Observation`` and gets back a ``SeatReply``.

A seat is whoever sits at the table for a party (or for a helper role): an LLM seat renders the
observation with the Jinja2 templates, calls its model and parses the text; a scripted or human
seat reads the observation directly. Nothing reads engine state back out of prompt text, so a
template change cannot change what a scripted baseline decides.

A reply carries the ``Action`` (public message, deal, plan, vote) plus what the log keeps about
how it was produced: the prompt shown, the raw text, the parse record and the call's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from negotiation.core.game import Deal, Issue, Party
from negotiation.core.phases import Phase

Vote = Literal["ACCEPT", "REJECT"]
VOTES: tuple[Vote, ...] = ("ACCEPT", "REJECT")


@dataclass(frozen=True)
class PublicMessage:
    """One public message of the discussion as a seat may see it."""

    index: int
    """The turn's position in the session."""
    speaker: str
    """Who spoke (a representative's name when a party has several)."""
    party: str
    """The party behind the speaker."""
    text: str
    """The public message."""
    deal: Deal | None
    """The full valid deal it proposed, if any."""


@dataclass(frozen=True)
class Observation:
    """Everything one seat may know when it has to act; nothing more.

    A party seat sees its own sheet and minimum, never another party's. ``history`` is the
    window of recent public messages the prompt shows; ``plan`` is the seat's own private note
    from its previous turn.
    """

    phase: Phase
    index: int
    """The step's position in the session."""
    seed: int
    """The per-call seed derived from the session seed and ``index``."""
    speaker: str
    """Who acts: a party's (representative's) name, or a helper seat (``@moderator``)."""
    party: Party | None
    """The acting party with its score sheet and minimum; None for helper seats."""
    issues: tuple[Issue, ...]
    parties: tuple[str, ...]
    """Every party's name, in config order."""
    speakers: tuple[str, ...]
    """Every speaker's name (a party with several representatives has several)."""
    proposer: str
    """The party that opens and makes the final proposal."""
    vetoes: tuple[str, ...] = ()
    """The parties every passing deal needs (the prompts name them)."""
    required: int = 0
    """How many parties must accept a deal (the prompts state it)."""
    history: tuple[PublicMessage, ...] = ()
    """The recent public messages shown in the prompt, oldest first."""
    summaries: tuple[str, ...] = ()
    """Running summaries of the earlier discussion (memory ``summary``)."""
    plan: str = ""
    """The seat's private plan from its previous turn."""
    final_turn: bool = False
    """This is the speaker's last discussion turn (it writes no plan)."""
    deal: Deal | None = None
    """The opening deal (OPENING) or the final proposal under vote (VOTE)."""
    own_score: int | None = None
    """VOTE: the party's own score for the deal under vote."""
    previous: str = ""
    """MODERATOR: who has just spoken."""
    candidates: tuple[str, ...] = ()
    """MODERATOR: who may speak next."""
    new_messages: tuple[PublicMessage, ...] = ()
    """SUMMARY: the public messages since the previous summary."""

    @property
    def own_speakers(self) -> tuple[str, ...]:
        """The names the acting party speaks under (itself and its colleagues)."""
        return self.party.speakers if self.party is not None else (self.speaker,)


@dataclass(frozen=True)
class Action:
    """What a seat does in one turn."""

    public: str = ""
    """The public message (``<DEAL>`` tags kept verbatim); a vote's one-sentence reason; a
    summary; a moderator's choice."""
    deal: Deal | None = None
    """The full valid deal proposed, if any."""
    plan: str = ""
    """Private notes for the seat's next turn."""
    scratchpad: str = ""
    """Private reasoning (never shown to others)."""
    vote: Vote | None = None
    """VOTE: ACCEPT or REJECT; None when missing or unreadable."""


@dataclass(frozen=True)
class ParseReport:
    """How the action was read from text (for seats that answer in text)."""

    deal_source: str = "none"
    found: tuple[str, ...] = ()
    repairs: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    format_ok: bool = True


@dataclass(frozen=True)
class CallStats:
    """The figures of the call behind a reply (zeros for seats that call no model)."""

    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str = "stop"
    model_id: str = ""
    retries: int = 0
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    constrained: bool = False
    """The answer was produced under, and follows, a structured-output constraint."""


@dataclass(frozen=True)
class SeatReply:
    """A seat's action plus what the session log keeps about how it was produced."""

    action: Action
    prompt: str
    """The user message shown for this turn (rendered from the observation)."""
    raw_output: str
    """The text as produced (for structured seats, the action in the tagged format)."""
    parse: ParseReport = field(default_factory=ParseReport)
    stats: CallStats = field(default_factory=CallStats)


class Seat(Protocol):
    """Anything that can act at the table."""

    async def act(self, observation: Observation) -> SeatReply:
        """Decide this turn's action."""
        ...

    async def aclose(self) -> None:
        """Release what the seat holds (its model client); the engine calls it at the end."""
        ...


def with_deal_tag(message: str, deal: Deal | None) -> str:
    """A public message with its deal written inline as ``<DEAL>A1,B2</DEAL>``."""
    if deal is None:
        return message
    return f"{message} <DEAL>{deal}</DEAL>".strip()


def render_tags(action: Action, phase: Phase) -> str:
    """The action in the tagged format the prompts ask for (empty sections left out)."""
    if phase is Phase.VOTE:
        return f"<VOTE>{action.vote}</VOTE> {action.public}".rstrip()
    if phase.is_helper:
        return action.public
    parts = [f"<SCRATCHPAD>{action.scratchpad}</SCRATCHPAD>"] if action.scratchpad else []
    parts.append(f"<ANSWER>{action.public}</ANSWER>")
    if action.plan:
        parts.append(f"<PLAN>{action.plan}</PLAN>")
    return "\n".join(parts)


def structured_report(action: Action, phase: Phase) -> ParseReport:
    """The parse record of an action that needed no parsing (what ``render_tags`` holds)."""
    if phase is Phase.VOTE:
        return ParseReport(found=("VOTE",))
    if phase.is_helper:
        return ParseReport()
    found = ["SCRATCHPAD"] * bool(action.scratchpad) + ["ANSWER"] + ["PLAN"] * bool(action.plan)
    found += ["DEAL"] * (action.deal is not None)
    return ParseReport(deal_source="tag" if action.deal is not None else "none",
                       found=tuple(found))


def structured_reply(action: Action, observation: Observation, prompt: str,
                     model_id: str, words_in: Sequence[str] = ()) -> SeatReply:
    """The reply of a seat that decides without a model (scripted, human).

    Token counts are words, as the fake servers count them: the prompt texts given in
    ``words_in`` and the rendered answer.
    """
    text = render_tags(action, observation.phase)
    stats = CallStats(input_tokens=sum(len(w.split()) for w in words_in),
                      output_tokens=len(text.split()), model_id=model_id)
    return SeatReply(action, prompt, text, structured_report(action, observation.phase), stats)
