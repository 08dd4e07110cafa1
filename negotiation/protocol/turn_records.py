"""Seat replies -> turn records: what the session log keeps of one turn."""

from __future__ import annotations

from negotiation.core.phases import Phase
from negotiation.logs.records import TurnRecord
from negotiation.protocol.seats import SeatReply


def turn_record(index: int, party: str, phase: Phase, reply: SeatReply, own: int | None,
                speaker: str | None, public: str | None = None,
                issues: tuple[str, ...] | None = None) -> TurnRecord:
    """The ``TurnRecord`` of one reply; helper turns override ``public`` and ``issues``."""
    action, parse, stats = reply.action, reply.parse, reply.stats
    problems = parse.issues if issues is None else issues
    format_ok = parse.format_ok and not problems if phase.is_helper else parse.format_ok
    return TurnRecord(
        index=index, party=party, speaker=speaker, phase=phase, prompt=reply.prompt,
        raw_output=reply.raw_output, public=action.public if public is None else public,
        scratchpad=action.scratchpad, plan=action.plan, deal=action.deal,
        deal_source=parse.deal_source, vote=action.vote, found=list(parse.found),
        repairs=list(parse.repairs), parse_issues=list(problems), format_ok=format_ok,
        own_score=own, input_tokens=stats.input_tokens, output_tokens=stats.output_tokens,
        latency_s=round(stats.latency_s, 4), finish_reason=stats.finish_reason,
        model_id=stats.model_id, retries=stats.retries, extra=dict(stats.extra),
        cached=stats.cached, constrained=stats.constrained)


def skipped_vote(index: int, party: str) -> TurnRecord:
    """A vote that could not be asked because the final proposal named no full deal."""
    return TurnRecord(index=index, party=party, phase=Phase.VOTE, prompt="", raw_output="",
                      public="", parse_issues=["no final deal to vote on"],
                      finish_reason="skipped")
