"""``evaluate``, ``leaderboard`` and ``plot``: metrics over session logs of any format.

Bad input files never stop these commands: each is reported (stderr, and the ``errors`` list
of the JSON) and skipped; the exit status is 2 only when nothing could be evaluated. Bad
arguments raise ``ConfigError`` (exit 2). matplotlib is imported only by ``plot``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation_cli.loading import say

RULE_CHOICES = ("default", "paper")


def _add_common(p: argparse.ArgumentParser) -> None:
    from negotiation_cli.game_cmds import add_games_dir

    p.add_argument("--game", help="game folder name or path overriding the game of the logs")
    add_games_dir(p)
    p.add_argument("--rules", choices=RULE_CHOICES, default="default",
                   help="default: the rules core; paper: the paper's evaluation, exactly")
    p.add_argument("--rounds", type=int, help="expected discussion turns of ld-history logs "
                   "(default: len(slot_assignment))")
    p.add_argument("--adversary", help="party whose success is excluded (default: parties "
                   "with an adversarial incentive)")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstrap and permutation tests")


def add_evaluate(p: argparse.ArgumentParser) -> None:
    """Options of ``evaluate``."""
    p.add_argument("paths", nargs="+", type=Path, help="run folders (read recursively) or files")
    _add_common(p)
    p.add_argument("--baseline", type=Path, help="paired cooperative run: report each "
                   "metric's drop with a 95%% CI")
    p.add_argument("--judge", metavar="MODEL_SPEC", help="also label leaks with an LLM judge")
    p.add_argument("--judge-cache", type=Path, help="judge label cache (default "
                   "judge_cache.json in the first PATH's folder)")
    p.add_argument("--json", type=Path, help="write {\"runs\": [...]} to this file")
    p.add_argument("--csv", type=Path, help="write one CSV row per run to this file")


def _options(args: argparse.Namespace) -> tuple[Any, Any]:
    from evaluation.aggregate import EvalOptions
    from evaluation.readers import ReadOptions
    from evaluation.rulesets import get_rules
    from negotiation.games.loader import load_scoring, resolve_game_path

    if args.rounds is not None and args.rounds < 0:
        raise ConfigError("--rounds must be >= 0")
    game = None
    if args.game:
        game = load_scoring(resolve_game_path(args.game, args.games_dir))
    return ReadOptions(game=game, rounds=args.rounds), \
        EvalOptions(get_rules(args.rules), args.adversary, args.seed)


def _report_errors(run: Any) -> None:
    for error in run.errors:
        print(f"warning: skipped {error['path']}: {error['error']}", file=sys.stderr)
    for session in run.sessions:
        if not session.complete:
            print(f"note: unfinished session excluded from rates: {session.source}",
                  file=sys.stderr)


def _load(paths: Sequence[Path], read: Any, options: Any) -> list[tuple[Any, list[Any]]]:
    from evaluation.aggregate import evaluate_run
    from evaluation.readers import read_run

    loaded = []
    for path in paths:
        run = read_run(path, read)
        results = evaluate_run(run, options)
        _report_errors(run)
        loaded.append((run, results))
    return loaded


def _judge(results: list[Any], args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    from evaluation.aggregate import apply_judge
    from evaluation.leakage import JudgeCache
    from negotiation.backends.base import FatalError

    first = args.paths[0]
    path = args.judge_cache or (first if first.is_dir() else first.parent) / "judge_cache.json"
    cache = JudgeCache(path)
    try:
        out, stats = apply_judge(results, args.judge, cache)
    except FatalError as err:
        raise ConfigError(f"--judge {args.judge}: {err}") from None
    if stats["cache_error"]:
        print(f"warning: judge cache not saved: {stats['cache_error']}", file=sys.stderr)
    if stats["failures"]:
        print(f"warning: {stats['failures']} judge call(s) failed or gave no label",
              file=sys.stderr)
    return out, {"model": args.judge, "cache": str(path), **stats}


def _baseline(args: argparse.Namespace, read: Any, options: Any,
              results: list[Any]) -> dict[str, Any]:
    from dataclasses import replace

    from evaluation.aggregate import baseline_drop

    adversaries = sorted({a for r in results for a in r.metrics.adversaries})
    base_options = replace(options, adversary=None, baseline_adversaries=adversaries or None)
    (run, base_results), = _load([args.baseline], read, base_options)
    return {"path": str(args.baseline), **baseline_drop(results, base_results, options.seed)}


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate each PATH; print a report, write --json/--csv; exit 2 if nothing evaluated."""
    from evaluation.aggregate import summarize
    from evaluation.text_tables import csv_text, run_text
    from negotiation.agents.specs import parse_model_spec

    if args.judge:
        parse_model_spec(args.judge)
    read, options = _options(args)
    entries = []
    for run, results in _load(args.paths, read, options):
        judge = None
        if args.judge and results:
            results, judge = _judge(results, args)
        entry = summarize(run, results, options, judge)
        if args.baseline is not None:
            entry["baseline"] = _baseline(args, read, options, results)
        entries.append(entry)
        say(run_text(entry))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": entries}, indent=1) + "\n", encoding="utf-8")
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(csv_text(entries), encoding="utf-8")
    if not any(e["n_sessions"] for e in entries):
        print("error: no complete session could be evaluated", file=sys.stderr)
        return 2
    return 0


def add_leaderboard(p: argparse.ArgumentParser) -> None:
    """Options of ``leaderboard``."""
    from evaluation.leaderboard import BY_CHOICES, FORMATS

    p.add_argument("runs", nargs="+", type=Path, help="run folders or files (any format)")
    _add_common(p)
    p.add_argument("--by", choices=BY_CHOICES, default="model",
                   help="grouping (default: the model of p1)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="two group labels (or RUN paths) to compare, A minus B")
    p.add_argument("--baseline", action="store_true",
                   help="pair the compared sessions by game, seed and session index")


def _members(label: str, groups: dict[str, list[Any]],
             loaded: list[tuple[Any, list[Any]]]) -> list[Any]:
    from evaluation.leaderboard import group_members

    if label in groups:
        return groups[label]
    for run, results in loaded:
        if Path(label).resolve() == run.path.resolve():
            return [m for ms in group_members(results, "model").values() for m in ms]
    raise ConfigError(f"--compare {label!r} is neither a group ({', '.join(groups)}) "
                      f"nor one of the RUN paths")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Print one row per group, and a comparison when asked."""
    from evaluation.leaderboard import compare, group_members, leaderboard_rows, render

    if args.baseline and not args.compare:
        raise ConfigError("--baseline pairs the sessions of --compare A B; give --compare")
    read, options = _options(args)
    loaded = _load(args.runs, read, options)
    results = [r for _, rs in loaded for r in rs]
    if not results:
        print("error: no complete session could be evaluated", file=sys.stderr)
        return 2
    from negotiation.runs.costs import default_prices_path, load_prices

    prices_path = default_prices_path()
    rows = leaderboard_rows(results, args.by, args.seed,
                            load_prices(prices_path) if prices_path else None)
    comparison = None
    if args.compare:
        groups = group_members(results, args.by)
        a, b = (_members(label, groups, loaded) for label in args.compare)
        comparison = {"a": args.compare[0], "b": args.compare[1],
                      **compare(a, b, args.baseline, args.seed)}
    say(render(rows, args.format, comparison))
    return 0


def add_plot(p: argparse.ArgumentParser) -> None:
    """Options of ``plot``."""
    p.add_argument("runs", nargs="+", type=Path, help="run folders or files (any format)")
    _add_common(p)
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG and SVG files")


def cmd_plot(args: argparse.Namespace) -> int:
    """Write the figures of the runs (PNG and SVG) under --out."""
    from evaluation import plots
    from evaluation.aggregate import summarize
    from evaluation.leaderboard import leaderboard_rows

    read, options = _options(args)
    loaded = [(run, results) for run, results in _load(args.runs, read, options) if results]
    if not loaded:
        print("error: no complete session could be evaluated", file=sys.stderr)
        return 2
    entries = [summarize(run, results, options) for run, results in loaded]
    rows = leaderboard_rows([r for _, rs in loaded for r in rs], "model", args.seed)
    figures = {"success_rates": plots.success_figure(rows),
               "score_curves": plots.curves_figure(entries),
               "final_scores": plots.final_scores_figure(entries),
               "target_scores": plots.target_figure(entries)}
    for name, fig in figures.items():
        if fig is not None:
            for path in plots.save(fig, args.out, name):
                print(path)
    return 0
