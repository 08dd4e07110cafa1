"""The run's ``summary.json``: how many sessions completed, failed or were left, and the cost."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from negotiation.logs.clock import now_iso
from negotiation.logs.records import SessionLog, write_atomic
from negotiation.runs.costs import default_prices_path, format_cost, load_prices, run_cost
from negotiation.runs.specs import ExperimentPlan


class HasLog(Protocol):
    """A job: its log, its path and its label."""

    log: SessionLog
    path: Path
    label: str


def summarise(plan: ExperimentPlan, jobs: Sequence[HasLog], wall_s: float,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's ``summary.json`` content."""
    statuses = [j.log.status for j in jobs]
    prices = plan.prices or default_prices_path()
    totals = run_cost([j.log for j in jobs], load_prices(prices)) if prices else None
    tokens_in = sum(t.input_tokens for j in jobs for t in j.log.turns)
    tokens_out = sum(t.output_tokens for j in jobs for t in j.log.turns)
    return {
        "run": plan.name, "sessions": len(jobs), "completed": statuses.count("complete"),
        "failed": statuses.count("failed"), "unfinished": statuses.count("running"),
        "tokens": {"input": tokens_in, "output": tokens_out}, "wall_s": round(wall_s, 3),
        "estimated_cost": None if totals is None else totals.cost,
        "cost_note": None if totals is None else f"{format_cost(totals)} (prices: {prices})",
        "updated_at": now_iso(), **(extra or {}),
        "session_list": [{"id": j.log.session_id, "status": j.log.status, "label": j.label,
                          "error": j.log.error, "file": j.path.name} for j in jobs],
    }


def write_summary(plan: ExperimentPlan, summary: dict[str, Any]) -> Path:
    """Write ``summary.json`` atomically into the run folder."""
    path = plan.run_dir / "summary.json"
    write_atomic(path, json.dumps(summary, indent=1) + "\n")
    return path
