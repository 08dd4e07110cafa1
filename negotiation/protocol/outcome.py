"""The end of a session: the final deal, both outcomes and the final scores.

The threshold outcome judges p1's final deal by the rules core (scores vs minimums); the vote
outcome counts the parties' votes (p1 accepts its own proposal; a missing or unreadable vote is
a REJECT) with the same definition of passing (``rules.passes_with``).
"""

from __future__ import annotations

from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import NO_DEAL, Outcome, agreement, payoff, vote_result
from negotiation.logs.records import SessionLog


def final_deal(log: SessionLog) -> Deal | None:
    """p1's final proposal, None when it named no full deal (or the session has none)."""
    final = next((t for t in log.turns if t.phase is Phase.FINAL), None)
    return None if final is None else final.deal


def vote_outcome(log: SessionLog, scoring: Scoring, deal: Deal | None) -> Outcome:
    """The outcome by votes."""
    if deal is None:
        return NO_DEAL
    accepting = [log.proposer] + [t.party for t in log.turns
                                  if t.phase is Phase.VOTE and t.vote == "ACCEPT"]
    return vote_result(deal, accepting, scoring)


def conclude(log: SessionLog, scoring: Scoring) -> None:
    """Fill the log's final deal, outcomes and final scores."""
    deal = final_deal(log)
    log.final_deal = deal
    log.threshold_outcome = NO_DEAL if deal is None else agreement(deal, scoring)
    if deal is not None:
        log.final_scores = {p.name: payoff(deal, p, scoring) for p in scoring.parties}
    if log.vote:
        log.vote_outcome = vote_outcome(log, scoring, deal)
        log.outcomes_differ = log.vote_outcome.passes != log.threshold_outcome.passes
