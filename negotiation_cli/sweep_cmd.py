"""``run EXPERIMENT.yaml``: a sweep of many sessions (asyncio by default, or Ray)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from negotiation_cli.game_cmds import add_games_dir
from negotiation_cli.progress import SweepBar
from negotiation.core.errors import ConfigError
from negotiation.runs.specs import ExperimentPlan
from negotiation.runs.sweep import Job, Sweep, prepare, run_jobs


def add_run(p: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    p.add_argument("experiment", type=Path, help="experiment YAML file (docs/experiments.md)")
    p.add_argument("--dry-run", action="store_true", help="list the sessions, run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar (CI)")
    p.add_argument("--executor", choices=("asyncio", "ray"), default="asyncio")
    p.add_argument("--ray-address", help="join this Ray cluster (default: start a local one)")
    p.add_argument("--concurrency", type=int, help="override the file's concurrency")
    p.add_argument("--max-cost", type=float, help="stop launching sessions past this estimate")
    p.add_argument("--prices", type=Path, help="price table (default: the file's, ./prices.yaml, "
                   "or the shipped example)")
    add_games_dir(p)


def _cost_guard(plan: ExperimentPlan, jobs: list[Job], max_cost: float | None,
                prices: Path | None) -> Callable[[list[Job]], bool] | None:
    if max_cost is None:
        return None
    from negotiation.runs.costs import (
        budget_allows,
        default_prices_path,
        estimate_session_cost,
        load_prices,
        run_cost,
        unpriced_models,
    )

    path = prices or plan.prices or default_prices_path()
    if path is None:
        raise ConfigError("--max-cost needs a price table (prices.yaml)")
    table = load_prices(path)
    missing = unpriced_models({p.model for j in jobs for p in j.log.parties}, table)
    if missing:
        raise ConfigError(f"--max-cost: no price in {path} for {', '.join(missing)}")

    def allows(all_jobs: list[Job]) -> bool:
        logs = [j.log for j in all_jobs]
        spent = run_cost(logs, table).known_cost
        running = sum(1 for j in all_jobs if j.log.status == "running" and j.log.turns)
        return budget_allows(spent, running, estimate_session_cost(logs, table), max_cost)

    return allows


def _price_table(plan: ExperimentPlan, prices: Path | None) -> object | None:
    from negotiation.runs.costs import default_prices_path, load_prices

    path = prices or plan.prices or default_prices_path()
    return load_prices(path) if path is not None else None


def cmd_run_experiment(args: argparse.Namespace) -> int:
    """Run (or list) the sessions of an experiment file; exit 1 if any failed."""
    from negotiation.runs.experiment import describe, load_experiment

    plan = load_experiment(args.experiment, games_dir=args.games_dir)
    if args.concurrency is not None:
        if args.concurrency < 1:
            raise ConfigError("--concurrency must be >= 1")
        plan = dataclasses.replace(plan, concurrency=args.concurrency)
    if args.dry_run:
        print("\n".join(describe(plan)))
        print(f"{len(plan.sessions)} session(s) -> {plan.run_dir}")
        return 0
    jobs = prepare(plan)
    max_cost = args.max_cost if args.max_cost is not None else plan.max_cost
    guard = _cost_guard(plan, jobs, max_cost, args.prices)
    done = sum(1 for j in jobs if j.log.status == "complete")
    counters = Sweep(plan, []).counters
    counters.prices = _price_table(plan, args.prices)
    bar = SweepBar(len(jobs), done, counters, quiet=args.quiet)
    try:
        with bar:
            if args.executor == "ray":
                from negotiation.runs.ray_executor import run_jobs_ray

                summary = run_jobs_ray(plan, jobs, args.ray_address, bar)
            else:
                summary = run_jobs(plan, jobs, bar, guard, counters)
    except KeyboardInterrupt:
        print(f"interrupted: rerun the same command to resume {plan.run_dir}", file=sys.stderr)
        return 130
    print(json.dumps({k: v for k, v in summary.items() if k != "session_list"}, indent=1))
    return 1 if summary["failed"] else 0
