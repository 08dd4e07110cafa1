"""Load what the report shows about one run: native logs, evaluation figures, costs, config.

Each RUN path is read twice: its native ``session-*.json`` logs (for the transcripts, the
configuration, session statuses and costs) and, through ``evaluation.readers.read_run``, every
log of any format (for the metrics, exactly as ``evaluate`` / ``leaderboard`` compute them).
A log that cannot be read is listed, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evaluation.aggregate import EvalOptions, SessionResult, evaluate_run, summarize
from evaluation.readers import ReadOptions, RunData, read_run
from negotiation.runs.costs import CostTotals, PriceTable, run_cost
from negotiation.core.errors import ConfigError
from evaluation.exports.ld import session_files
from negotiation.logs.records import SessionLog, load_log


@dataclass(frozen=True)
class LoadedLog:
    """A native session log and the file it came from."""

    path: Path
    log: SessionLog


@dataclass
class RunInfo:
    """Everything the index and the session pages need about one RUN path."""

    path: Path
    index: int
    logs: list[LoadedLog] = field(default_factory=list)
    bad_logs: list[dict[str, str]] = field(default_factory=list)
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
        """Files that could not be read (by either reader), one entry per path."""
        seen: dict[str, str] = {e["path"]: e["error"] for e in self.bad_logs}
        for e in (self.data.errors if self.data else []):
            seen.setdefault(e["path"], e["error"])
        return [{"path": p, "error": m} for p, m in seen.items()]


def read_native(path: Path) -> tuple[list[LoadedLog], list[dict[str, str]]]:
    """Native logs under ``path`` (none when it holds only other formats) and bad files."""
    try:
        files = session_files(path) if path.exists() else []
    except ConfigError:
        return [], []
    logs, bad = [], []
    for file in files:
        try:
            logs.append(LoadedLog(file, load_log(file)))
        except (OSError, UnicodeDecodeError, ValidationError, ValueError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            bad.append({"path": str(file), "error": f"not a valid session log: {first}"})
    return logs, bad


def config_of(log: SessionLog) -> dict[str, Any]:
    """The settings of one session that define its condition (no seed, no times)."""
    return {
        "game": log.game.name, "rounds": log.rounds, "window": log.window, "vote": log.vote,
        "order_policy": log.order_policy, "memory": log.memory,
        "summary_every": log.summary_every, "helpers": dict(log.helpers),
        "parties": [{"name": p.name, "role": p.role, "incentive": p.incentive,
                     "model": p.model, "minimum": p.minimum,
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
    info.logs, info.bad_logs = read_native(path)
    info.data = read_run(path, ReadOptions())
    info.results = evaluate_run(info.data, options)
    info.entry = summarize(info.data, info.results, options)
    if info.logs:
        info.costs = run_cost([item.log for item in info.logs], prices or PriceTable())
    info.configs = distinct_configs(info.logs)
    return info
