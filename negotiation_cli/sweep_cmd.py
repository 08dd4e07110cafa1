"""``run EXPERIMENT.yaml``: a sweep of many sessions (asyncio by default, or Ray)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from negotiation.core.errors import ConfigError
from negotiation.runs.bounds import flag_type
from negotiation.runs.budget import CostGuard
from negotiation.runs.costs import PriceTable, default_prices_path, load_prices
from negotiation.runs.limits import Counters
from negotiation.runs.specs import ExperimentPlan
from negotiation.runs.sweep import SIGNAL_EXIT, Job, check_seats, open_run, prepare
from negotiation_cli.game_cmds import add_games_dir
from negotiation_cli.loading import say
from negotiation_cli.progress import SweepBar
from negotiation_cli.run_cmd import add_cache_flags, add_limit_flag, cache_setting, with_limit


def add_run(p: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    p.add_argument("experiment", type=Path, help="experiment YAML file (docs/experiments.md)")
    p.add_argument("--dry-run", action="store_true", help="list the sessions, run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar (CI)")
    p.add_argument("--executor", choices=("asyncio", "ray"), default="asyncio")
    p.add_argument("--ray-address", help="join this Ray cluster (default: start a local one)")
    p.add_argument("--concurrency", type=flag_type("concurrency"),
                   help="override the file's concurrency (the total across workers)")
    p.add_argument("--workers", type=flag_type("workers"),
                   help="worker processes on this machine (override the file's; default 1)")
    add_limit_flag(p)
    p.add_argument("--max-cost", type=float, help="stop launching sessions past this estimate")
    p.add_argument("--prices", type=Path, help="price table (default: the file's, ./prices.yaml, "
                   "or the shipped example)")
    add_cache_flags(p)
    add_games_dir(p)


def _price_table(plan: ExperimentPlan, prices: Path | None) -> PriceTable | None:
    path = prices or plan.prices or default_prices_path()
    return load_prices(path) if path is not None else None


def _guard(args: argparse.Namespace, plan: ExperimentPlan, jobs: list[Job],
           table: PriceTable | None) -> CostGuard | None:
    max_cost = args.max_cost if args.max_cost is not None else plan.max_cost
    if max_cost is None:
        return None
    if max_cost <= 0:
        raise ConfigError("--max-cost must be > 0")
    if table is None:
        raise ConfigError("--max-cost needs a price table (prices.yaml)")
    return CostGuard.for_logs(max_cost, table, [j.log for j in jobs])


def _plan(args: argparse.Namespace) -> ExperimentPlan:
    from negotiation.runs.experiment import load_experiment

    plan = load_experiment(args.experiment, games_dir=args.games_dir)
    if args.concurrency is not None:
        plan = dataclasses.replace(plan, concurrency=args.concurrency)
    if args.workers is not None:
        plan = dataclasses.replace(plan, workers=args.workers)
    plan = with_limit(plan, args.max_in_flight)
    for name, limit in plan.rate_limits.items():
        if args.max_in_flight is None and limit.max_in_flight is not None and \
                limit.max_in_flight < plan.concurrency:
            print(f"note: at most {limit.max_in_flight} {name} call(s) in flight (rate_limits), "
                  f"below concurrency {plan.concurrency}", file=sys.stderr)
    if args.no_cache or args.replay:
        plan = dataclasses.replace(plan, cache=cache_setting(args))
    return plan


def cmd_run_experiment(args: argparse.Namespace) -> int:
    """Run (or list) the sessions of an experiment file; exit 1 if any failed."""
    from negotiation.runs.experiment import describe

    plan = _plan(args)
    if args.dry_run:
        say("\n".join(describe(plan)))
        print(f"{len(plan.sessions)} session(s) -> {plan.run_dir}")
        return 0
    table = _price_table(plan, args.prices)
    fresh = prepare(plan)
    check_seats(fresh)
    with open_run(plan, fresh) as run:
        guard = _guard(args, plan, run.jobs, table)
        done = sum(1 for j in run.jobs if j.log.status == "complete")
        counters = Counters(prices=table)
        with SweepBar(len(run.jobs), done, counters, quiet=args.quiet) as bar:
            summary = run.execute(bar, guard, counters, args.executor, args.ray_address)
    if run.interrupted is not None:
        print(f"interrupted: rerun the same command to resume {plan.run_dir}", file=sys.stderr)
        return SIGNAL_EXIT[run.interrupted]
    print(json.dumps({k: v for k, v in summary.items() if k != "session_list"}, indent=1))
    return 1 if summary["failed"] else 0
