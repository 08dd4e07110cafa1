"""``annotate`` (LLM annotators over a run's messages) and ``index`` (the SQLite results store)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from negotiation.core.errors import ConfigError
from negotiation_cli.loading import say, warn


def add_annotate(p: argparse.ArgumentParser) -> None:
    """Options of ``annotate``."""
    p.add_argument("run", type=Path, help="run folder (read recursively) or session file")
    p.add_argument("--annotators", type=Path, help="annotators YAML file "
                   "(experiments/annotators.yaml is an example)")
    p.add_argument("--concurrency", type=int, default=8, help="calls in flight (default 8)")
    p.add_argument("--report", action="store_true", help="only print the rates and agreement "
                   "of the existing annotations.jsonl (no model calls)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _print_report(path: Path, as_json: bool) -> None:
    from evaluation.annotation.agreement import render_report, report
    from evaluation.annotation.run import read_rows

    data = report(read_rows(path))
    say(json.dumps(data, indent=1) if as_json else render_report(data))


def cmd_annotate(args: argparse.Namespace) -> int:
    """Annotate (cached, resumable), then print the report; exit 1 if some calls failed."""
    from evaluation.annotation.annotators import load_annotators
    from evaluation.annotation.run import OUTPUT_NAME, annotate_run, run_folder

    if not args.run.exists():
        raise ConfigError(f"{args.run}: no such run folder or session file")
    if args.report:
        _print_report(run_folder(args.run) / OUTPUT_NAME, args.json)
        return 0
    if args.annotators is None:
        raise ConfigError("annotate needs --annotators FILE (or --report)")
    config = load_annotators(args.annotators)
    result = annotate_run(args.run, config, args.concurrency)
    for error in result.skipped + result.errors:
        warn(error)
    print(f"{result.tasks} (message, annotator) pair(s): {result.cached} from the cache, "
          f"{result.calls} call(s) made (identical prompts share one), {len(result.errors)} "
          f"failed; wrote {len(result.rows)} row(s) to {result.path}",
          file=sys.stderr)
    _print_report(result.path, args.json)
    return 1 if result.errors else 0


def add_index(p: argparse.ArgumentParser) -> None:
    """Options of ``index``."""
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="run folders (read recursively) or session files")
    p.add_argument("--db", type=Path, help="SQLite file (default <first RUN>/results.sqlite)")
    p.add_argument("--leaderboard", metavar="BY", nargs="?", const="model",
                   help="then print the store's leaderboard (BY: model, model,game, "
                   "model,role or model,incentive; default model)")


def cmd_index(args: argparse.Namespace) -> int:
    """Upsert the usable logs into the store (the others are reported and skipped)."""
    from evaluation.results_store import GROUPINGS, index_paths, leaderboard_rows, table_counts

    if args.leaderboard and args.leaderboard not in GROUPINGS:
        raise ConfigError(f"--leaderboard must be one of {', '.join(GROUPINGS)}")
    result = index_paths(args.runs, args.db)
    for error in result.errors:
        warn(error)
    if not result.updated and not result.unchanged:
        raise ConfigError(f"no usable session logs in {', '.join(map(str, args.runs))}")
    counts = table_counts(result.db)
    print(f"indexed {result.files} file(s) into {result.db}: {result.updated} updated, "
          f"{result.unchanged} unchanged, {len(result.errors)} unreadable; "
          + ", ".join(f"{n} {t}" for t, n in counts.items()))
    if args.leaderboard:
        for row in leaderboard_rows(result.db, args.leaderboard):
            rate = row["final_success_rate"]
            mean = row["mean_own_score"]
            say(f"{row['group']}: {row['sessions']} session(s), final success "
                  f"{row['final_success']} ({rate:.2f}), unanimous {row['unanimous_success']}, "
                  f"mean own score {'-' if mean is None else f'{mean:.1f}'}")
    return 0
