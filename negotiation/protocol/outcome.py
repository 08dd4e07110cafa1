"""The end of a session: the final deal, both outcomes and the final scores.

The threshold outcome judges p1's final deal by the rules core (scores vs minimums); the vote
outcome counts the parties' votes (p1 accepts its own proposal; a missing or unreadable vote is
a REJECT) with the same definition of passing (``rules.passes_with``).
"""

from __future__ import annotations

from negotiation.core.game import Deal, Scoring
from negotiation.logs.records import DealOutcome, SessionLog
from negotiation.core.rules import agreement, parse_deal, passes_with, payoff

NO_DEAL = DealOutcome(deal=None, accepting=[], passes=False, unanimous=False)


def final_deal(log: SessionLog, scoring: Scoring) -> Deal | None:
    """p1's final proposal, None when it named no full deal (or the session has none)."""
    final = next((t for t in log.turns if t.phase == "final"), None)
    if final is None or final.deal is None:
        return None
    return parse_deal(final.deal, scoring.issues)


def vote_outcome(log: SessionLog, scoring: Scoring, deal: Deal | None) -> DealOutcome:
    """The outcome by votes."""
    if deal is None:
        return NO_DEAL
    accepting = [log.proposer] + [t.party for t in log.turns
                                  if t.phase == "vote" and t.vote == "ACCEPT"]
    passes, unanimous = passes_with(set(accepting), scoring)
    return DealOutcome(deal=str(deal), accepting=accepting, passes=passes, unanimous=unanimous)


def conclude(log: SessionLog, scoring: Scoring) -> None:
    """Fill the log's final deal, outcomes and final scores."""
    deal = final_deal(log, scoring)
    log.final_deal = str(deal) if deal else None
    if deal is None:
        log.threshold_outcome = NO_DEAL
    else:
        verdict = agreement(deal, scoring)
        log.threshold_outcome = DealOutcome(deal=str(deal), accepting=list(verdict.accepting),
                                            passes=verdict.passes, unanimous=verdict.unanimous)
        log.final_scores = {p.name: payoff(deal, p, scoring) for p in scoring.parties}
    if log.vote:
        log.vote_outcome = vote_outcome(log, scoring, deal)
        log.outcomes_differ = log.vote_outcome.passes != log.threshold_outcome.passes
