"""Load what the report shows about one run: native logs, evaluation figures, costs, config.

Each RUN path is read once, through ``evaluation.readers.read_run`` (the one loader for native
logs): the native logs give the transcripts, the configuration, session statuses and costs;
every log of any format gives the metrics, exactly as ``evaluate`` / ``leaderboard`` compute
them. A log that cannot be read is listed, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.aggregate import EvalOptions, SessionResult, evaluate_run, summarize
from evaluation.readers import ReadOptions, RunData, read_run
from negotiation.logs.reading import LoadedLog
from negotiation.logs.records import SessionLog
from negotiation.runs.costs import CostTotals, PriceTable, run_cost


@dataclass
class RunInfo:
    """Everything the index and the session pages need about one RUN path."""

    path: Path
    index: int
    logs: list[LoadedLog] = field(default_factory=list)
    data: RunData | None = None
    results: list[SessionResult] = field(default_factory=list)
    entry: dict[str, Any] | None = None
    costs: CostTotals | None = None
    configs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """A short name: the folder (or file) name."""
        return self.path.name or str(self.path)

    def counts(self) -> dict[str, int]:
        """Sessions by status (native statuses; other formats complete or unfinished)."""
        out = {"complete": 0, "failed": 0, "unfinished": 0}
        for item in self.logs:
            key = {"complete": "complete", "failed": "failed"}.get(item.log.status, "unfinished")
            out[key] += 1
        for session in (self.data.sessions if self.data else []):
            if session.format != "native":
                out["complete" if session.complete else "unfinished"] += 1
        out["unreadable"] = len(self.errors())
        return out

    def errors(self) -> list[dict[str, str]]:
        """Files that could not be read, one entry per path."""
        seen: dict[str, str] = {}
        for e in (self.data.errors if self.data else []):
            seen.setdefault(e["path"], e["error"])
        return [{"path": p, "error": m} for p, m in seen.items()]


def config_of(log: SessionLog) -> dict[str, Any]:
    """The settings of one session that define its condition (no seed, no times)."""
    return {
        "game": log.game.name, "rounds": log.rounds, "window": log.window, "vote": log.vote,
        "order_policy": log.order_policy, "memory": log.memory,
        "summary_every": log.summary_every, "helpers": dict(log.helpers),
        "deal_space": log.deal_space,
        "parties": [{"name": p.name, "role": p.role, "incentive": p.incentive,
                     "model": p.model, "minimum": p.minimum, "structured": p.structured,
                     "generation": {k: v for k, v in p.generation.items() if v is not None},
                     "representatives": len(p.representatives) or 1}
                    for p in log.parties],
    }


def distinct_configs(logs: list[LoadedLog]) -> list[dict[str, Any]]:
    """The distinct configurations of a run, each with its session count, first-seen order."""
    found: dict[str, dict[str, Any]] = {}
    for item in logs:
        config = config_of(item.log)
        key = json.dumps(config, sort_keys=True, default=str)
        found.setdefault(key, {**config, "sessions": 0})["sessions"] += 1
    return list(found.values())


def load_run(path: Path, index: int, options: EvalOptions,
             prices: PriceTable | None) -> RunInfo:
    """Read one RUN path: native logs, evaluation results and summary, costs, configs."""
    info = RunInfo(path, index)
    info.data = read_run(path, ReadOptions())
    info.logs = [LoadedLog(s.source, s.log, "") for s in info.data.sessions if s.log is not None]
    info.results = evaluate_run(info.data, options)
    info.entry = summarize(info.data, info.results, options)
    if info.logs:
        info.costs = run_cost([item.log for item in info.logs], prices or PriceTable())
    info.configs = distinct_configs(info.logs)
    return info
