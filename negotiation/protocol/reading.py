"""Text answers -> actions: what a model wrote, read for the phase it was asked for.

Party turns and votes go through the tagged-format parser (``parsing.py``); a summary is its
text; a moderator's answer is the speaker it names. The result is the same ``Action`` a
scripted seat returns, plus the parse record the log keeps.
"""

from __future__ import annotations

from negotiation.core.phases import Phase
from negotiation.protocol.parsing import ParsedOutput, parse_output, parse_vote
from negotiation.protocol.seats import VOTES, Action, Observation, ParseReport
from negotiation.protocol.speakers import pick_named


def _report(parsed: ParsedOutput) -> ParseReport:
    return ParseReport(parsed.deal_source, parsed.found, parsed.repairs, parsed.issues,
                       parsed.format_ok)


def other_speakers(obs: Observation) -> tuple[str, ...]:
    """Names an answer must not continue as: every party and speaker name but the speaker's
    own (its colleagues included: a representative must not write their turn either)."""
    names = dict.fromkeys((*obs.parties, *obs.speakers))
    return tuple(n for n in names if n != obs.speaker)


def read_answer(text: str, obs: Observation) -> tuple[Action, ParseReport]:
    """The action (and parse record) a text answer gives in ``obs``'s phase."""
    if obs.phase is Phase.VOTE:
        parsed = parse_vote(text)
        vote = parsed.vote if parsed.vote in VOTES else None
        return Action(public=parsed.public, vote=vote), _report(parsed)  # type: ignore[arg-type]
    if obs.phase is Phase.SUMMARY:
        return Action(public=text.strip()), ParseReport()
    if obs.phase is Phase.MODERATOR:
        chosen = pick_named(text.strip(), list(obs.speakers), obs.previous)
        return Action(public=chosen or ""), ParseReport()
    parsed = parse_output(text, obs.issues, other_speakers(obs))
    action = Action(public=parsed.public, deal=parsed.deal, plan=parsed.plan,
                    scratchpad=parsed.scratchpad)
    return action, _report(parsed)
