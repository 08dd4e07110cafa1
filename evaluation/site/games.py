"""The view of a game page, built from the scoring view recorded in the session logs.

A log carries the score sheets and thresholds of the game as played (party subsets and
incentive overrides included), so the page never needs the game folder. The figures are the
ones ``check`` reports (``negotiation.core.deal_space.analyse`` with ``>=`` and with ``>``);
games with more than ``MAX_DEALS`` deals are not enumerated.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from negotiation.core.deal_space import MAX_DEALS, Analysis, analyse
from negotiation.core.game import Scoring
from negotiation.core.rules import DEFAULT_POLICY, score
from negotiation.games.check import STRICT
from negotiation.logs.records import SessionLog

PARETO_SHOWN = 200


@dataclass(frozen=True)
class GameView:
    """Everything a game page shows."""

    key: str
    name: str
    content_hash: str
    scoring: Scoring
    briefs: tuple[tuple[str, str], ...]
    analyses: tuple[dict[str, Any], ...]
    message: str | None
    sessions: int


def scoring_key(log: SessionLog) -> str:
    """A digest of the game as played: name, issues, and every party's sheet and minimum."""
    data = [log.game.name, log.game.content_hash, log.issues,
            [(p.name, p.role, p.incentive, p.scores, p.minimum) for p in log.parties]]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def _analysis_view(found: Analysis, scoring: Scoring) -> dict[str, Any]:
    pareto = [{"deal": str(d), "scores": [score(d, p) for p in scoring.parties],
               "welfare": sum(score(d, p) for p in scoring.parties)}
              for d in found.pareto[:PARETO_SHOWN]]
    return {"comparison": found.comparison, "deals": found.deals, "feasible": found.feasible,
            "unanimous": found.unanimous, "acceptable": found.acceptable,
            "pareto": pareto, "pareto_total": len(found.pareto),
            "welfare_deal": str(found.welfare_deal) if found.welfare_deal else None,
            "nash_deal": str(found.nash_deal) if found.nash_deal else None}


def game_view(log: SessionLog, sessions: int) -> GameView:
    """The view of the game of ``log`` (the first session of that game)."""
    scoring = log.scoring()
    briefs = tuple((p.name, p.initial_prompt) for p in log.parties)
    n = scoring.n_deals()
    if n > MAX_DEALS:
        message = f"{n:,} deals exceed the analysis limit of {MAX_DEALS:,}"
        return GameView(scoring_key(log), log.game.name, log.game.content_hash, scoring, briefs,
                        (), message, sessions)
    analyses = tuple(_analysis_view(analyse(scoring, policy), scoring)
                     for policy in (DEFAULT_POLICY, STRICT))
    return GameView(scoring_key(log), log.game.name, log.game.content_hash, scoring, briefs,
                    analyses, None, sessions)
