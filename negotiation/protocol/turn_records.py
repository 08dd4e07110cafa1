"""Building turn records from a completion and its parse (shared by every phase)."""

from __future__ import annotations

from collections.abc import Sequence

from negotiation.backends.base import Completion
from negotiation.protocol.parsing import ParsedOutput
from negotiation.logs.records import TurnRecord


def make_turn(index: int, party: str, phase: str, prompt: str, completion: Completion,
              parsed: ParsedOutput | None, own: int | None, public: str | None = None,
              issues: Sequence[str] = ()) -> TurnRecord:
    """A ``TurnRecord``; helper turns (summary, moderator) pass ``public`` and no parse."""
    fields: dict[str, object] = {}
    if parsed is not None:
        fields = dict(public=parsed.public, scratchpad=parsed.scratchpad, plan=parsed.plan,
                      deal=str(parsed.deal) if parsed.deal else None,
                      deal_source=parsed.deal_source, vote=parsed.vote, found=list(parsed.found),
                      repairs=list(parsed.repairs), parse_issues=list(parsed.issues),
                      format_ok=parsed.format_ok)
    else:
        fields = dict(public=public or "", parse_issues=list(issues), format_ok=not issues)
    return TurnRecord(
        index=index, party=party, phase=phase, prompt=prompt,  # type: ignore[arg-type]
        raw_output=completion.text, own_score=own, input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens, latency_s=round(completion.latency_s, 4),
        finish_reason=completion.finish_reason, model_id=completion.model_id,
        retries=completion.retries, extra=dict(completion.extra), **fields)  # type: ignore[arg-type]


def skipped_vote(index: int, party: str) -> TurnRecord:
    """A vote that could not be asked because the final proposal named no full deal."""
    return TurnRecord(index=index, party=party, phase="vote", prompt="", raw_output="",
                      public="", parse_issues=["no final deal to vote on"],
                      finish_reason="skipped")
