"""The scorer: this harness's per-session metrics as one dict-valued inspect ``Score``.

The figures are computed from the sample's native session log by the very functions
``main.py evaluate`` uses (``evaluation.readers.from_log`` and
``evaluation.aggregate.evaluate_session`` under the ``default`` rule set), so a sample's score
equals the evaluation of its session. Keys (each with inspect's ``mean`` and ``stderr`` over
samples; a value that is undefined for a session, such as the wrong-deal ratio of a session
without deals, is NaN, which inspect leaves out of the metrics):

``final_success``, ``unanimous_success``, ``any_success``, ``vote_success`` (1/0),
``wrong_deal_ratio``, ``deals``, ``wrong_deals``, ``format_failure_rate`` (turns that needed a
repair or had parse issues, over turns), ``leak_rate`` (public messages the deterministic
detector flags, over public messages), and ``score_<role>``: each party's final score
(``payoff``: p1's includes the unanimity bonus), under every role name of the party (its slug,
and ``p1``/``p2``). The counts behind the rates are in the score's metadata.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from inspect_ai.scorer import Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState

from evaluation.aggregate import EvalOptions, SessionResult, evaluate_session
from evaluation.inspect_logs import LOG_METADATA_KEY
from evaluation.readers import ReadOptions, from_log
from evaluation.rulesets import get_rules
from negotiation.core.game import Game
from negotiation.core.phases import is_helper_seat
from negotiation.logs.records import SessionLog
from negotiation_inspect.naming import in_package
from negotiation.games.roles import role_names

RULES = "default"
NAN = float("nan")


def _flag(value: bool | None) -> float:
    return NAN if value is None else float(value)


def _ratio(pair: tuple[int, int]) -> float:
    k, n = pair
    return k / n if n else NAN


def _total(counts: Any) -> tuple[int, int]:
    return sum(k for k, _ in counts.values()), sum(n for _, n in counts.values())


def evaluate_log(log: SessionLog) -> SessionResult:
    """The evaluation of one session log, as ``main.py evaluate`` computes it."""
    data = from_log(Path(f"session-{log.session_id}.json"), log, ReadOptions())
    return evaluate_session(data, EvalOptions(get_rules(RULES)))


def party_roles(game: Game) -> dict[str, str]:
    """Role name -> party, for the ``score_<role>`` keys (helpers have no score)."""
    return {r: p for r, p in role_names(game).items() if not is_helper_seat(p)}


def score_values(result: SessionResult, roles: dict[str, str]) -> dict[str, float]:
    """The score dict of one session (NaN where a figure is undefined)."""
    m = result.metrics
    values = {
        "final_success": float(m.final_success),
        "unanimous_success": float(m.unanimous_success),
        "any_success": float(m.any_success),
        "vote_success": _flag(m.vote_success),
        "wrong_deal_ratio": NAN if m.wrong_ratio is None else float(m.wrong_ratio),
        "deals": float(m.n_deals),
        "wrong_deals": float(m.n_wrong),
        "format_failure_rate": _ratio(_total(result.formats)),
        "leak_rate": _ratio(_total(result.leaks)),
    }
    finals = m.final_scores or {}
    for role, party in roles.items():
        value = finals.get(party)
        values[f"score_{role}"] = NAN if value is None else float(value)
    return values


def score_metadata(result: SessionResult, log: SessionLog) -> dict[str, Any]:
    """The counts and deals behind the score (per session, as ``evaluate --json`` rows)."""
    m = result.metrics
    return {"session_id": log.session_id, "session_index": log.session_index, "seed": log.seed,
            "final_deal": m.final_deal, "final_accepting": list(m.final_accepting),
            "final_scores": dict(m.final_scores) if m.final_scores else None,
            "format_failures": list(_total(result.formats)),
            "leaked_messages": list(_total(result.leaks)),
            "adversarial_success": m.adversarial_success, "rules": RULES}


def explanation(values: dict[str, float], metadata: dict[str, Any]) -> str:
    """A short text for the viewer."""
    def shown(key: str) -> str:
        value = values[key]
        return "n/a" if math.isnan(value) else f"{value:g}"

    return (f"final deal {metadata['final_deal'] or 'none'}; final success "
            f"{shown('final_success')}, unanimous {shown('unanimous_success')}, any "
            f"{shown('any_success')}; wrong deals {int(values['wrong_deals'])} of "
            f"{int(values['deals'])}; format failures {metadata['format_failures'][0]} of "
            f"{metadata['format_failures'][1]} turns; leaks {metadata['leaked_messages'][0]} of "
            f"{metadata['leaked_messages'][1]} messages")


@scorer(metrics={"*": [mean(), stderr()]})
@in_package
def session_metrics(roles: dict[str, str] | None = None) -> Scorer:
    """Score a sample by its session's metrics (``main.py evaluate``'s, rule set default);
    ``roles`` (role name -> party, ``party_roles``) names the ``score_<role>`` keys (default:
    the party names of each log)."""

    async def score(state: TaskState, target: Target) -> Score:
        raw = state.metadata.get(LOG_METADATA_KEY)
        if raw is None:
            return Score(value=NAN, explanation="no session log in this sample")
        log = SessionLog.model_validate(raw)
        if log.status != "complete":
            return Score(value=NAN, explanation=f"session {log.status}: {log.error}")
        result = evaluate_log(log)
        values = score_values(result, roles or {p.name: p.name for p in log.parties})
        metadata = score_metadata(result, log)
        return Score(value=values, answer=metadata["final_deal"],  # type: ignore[arg-type]
                     explanation=explanation(values, metadata), metadata=metadata)

    return score
