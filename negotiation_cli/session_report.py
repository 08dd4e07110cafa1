"""The short report printed after a session."""

from __future__ import annotations

from pathlib import Path

from evaluation.log_figures import (
    constrained_turns,
    format_failures,
    format_ok_share,
    proposals,
    template_echoes,
    tokens,
    wrong_deals,
)
from negotiation.logs.records import SessionLog
from negotiation_cli.loading import say


def _verdict(passes: bool | None) -> str:
    return "n/a" if passes is None else ("PASSES" if passes else "fails")


def print_report(log: SessionLog, path: Path) -> None:
    """Final deal, both outcomes, scores vs minimums, wrong deals, format figures, log path."""
    t_in, t_out = tokens(log)
    share = format_ok_share(log)
    lines = [f"--- session {log.session_id} ({log.game.name}, {log.status}) ---",
             f"final deal: {log.final_deal or 'none (p1 named no full deal)'}"]
    if log.threshold_outcome is not None:
        lines.append(f"threshold outcome: {_verdict(log.threshold_outcome.passes)}"
                     f"{' (unanimous)' if log.threshold_outcome.unanimous else ''}; "
                     f"accepting: {', '.join(log.threshold_outcome.accepting) or 'none'}")
    if log.vote_outcome is not None:
        lines.append(f"vote outcome: {_verdict(log.vote_outcome.passes)}; accepting: "
                     f"{', '.join(log.vote_outcome.accepting) or 'none'}"
                     f"{'  <- differs from the threshold outcome' if log.outcomes_differ else ''}")
    for party in log.parties:
        got = log.final_scores.get(party.name)
        mark = "" if got is None else ("ok" if got >= party.minimum else "BELOW minimum")
        lines.append(f"  {party.name:<30} {party.role:<7} score {got if got is not None else '-':>4}"
                     f" / minimum {party.minimum:<4} {mark}  [{party.model}, "
                     f"structured {party.structured}]")
    lines.append(f"deals proposed: {len(proposals(log))}; wrong deals (below proposer's minimum): "
                 f"{wrong_deals(log)}")
    lines.append(f"format: {format_failures(log)} of {len(log.turns)} turns needed repair or had "
                 f"parse issues; followed the format: "
                 f"{'n/a' if share is None else f'{100 * share:.0f}%'}")
    lines.append(f"template echoes (answers repeating the prompt's placeholders or example): "
                 f"{template_echoes(log)}; constrained turns: {constrained_turns(log)} of "
                 f"{len(log.turns)}{'; deal space: own (ablation)' if log.deal_space == 'own' else ''}")
    lines.append(f"tokens: {t_in} in, {t_out} out")
    lines.append(f"log: {path}")
    say("\n".join(lines))
