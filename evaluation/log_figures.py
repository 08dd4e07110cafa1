"""Per-session figures computed from a native session log (pure functions, no I/O).

Definitions:
- a *proposal* is a turn of the proposer (p1/chair) in the opening, round or final phase
  whose public message holds a full valid deal;
- a *wrong deal* is any turn's proposed deal whose proposer's own score is below its minimum;
- a *format failure* is a turn whose output did not follow the requested format (any repair
  or parse issue, see ``negotiation.protocol.parsing``).
"""

from __future__ import annotations

from negotiation.core.rules import clears
from negotiation.logs.records import SessionLog, TurnRecord
from negotiation.protocol.echo import template_echo


def proposals(log: SessionLog) -> list[TurnRecord]:
    """Turns (opening, round, final) that proposed a full valid deal."""
    return [t for t in log.turns if t.phase.is_public and t.deal is not None]


def wrong_deals(log: SessionLog) -> int:
    """How many proposed deals score below their proposer's own minimum."""
    minimum = {p.name: p.minimum for p in log.parties}
    return sum(1 for t in proposals(log)
               if t.own_score is not None and not clears(t.own_score, minimum[t.party]))


def format_failures(log: SessionLog) -> int:
    """Turns whose output needed a repair or had a parse issue."""
    return sum(1 for t in log.turns if not t.format_ok)


def format_ok_share(log: SessionLog) -> float | None:
    """Share of turns that followed the format; None when there are no turns."""
    if not log.turns:
        return None
    return 1 - format_failures(log) / len(log.turns)


def template_echoes(log: SessionLog) -> int:
    """Public turns whose answer repeats the prompt's placeholder text or example deal."""
    return sum(1 for t in log.turns if t.phase.is_public
               and template_echo(t.prompt, t.public, t.scratchpad, t.plan, t.deal, t.phase))


def constrained_turns(log: SessionLog) -> int:
    """Turns produced under (and following) a structured-output constraint."""
    return sum(1 for t in log.turns if t.constrained)


def tokens(log: SessionLog) -> tuple[int, int]:
    """Total (input, output) tokens of the session."""
    return (sum(t.input_tokens for t in log.turns), sum(t.output_tokens for t in log.turns))
