"""The default command (run negotiations) and ``export``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from negotiation.backends.base import GenerateConfig
from negotiation.core.errors import ConfigError
from negotiation.core.phases import MEMORY_MODES, SUMMARY_MEMORY, WINDOW_MEMORY
from negotiation.core.text import printable
from negotiation.games.loader import load_game, resolve_game_path
from negotiation.logs.clock import stamp
from negotiation.logs.safe_names import safe_component
from negotiation.agents.structured import DEAL_SPACES
from negotiation.protocol.speakers import POLICIES
from negotiation.protocol.turn_schema import MODES, Bounds
from negotiation.runs.bounds import flag_type
from negotiation.runs.setup import RunSettings
from negotiation.runs.specs import CacheSetting, ExperimentPlan, SessionSpec
from negotiation.runs.sweep import SIGNAL_EXIT, Job, check_seats, open_run, prepare
from negotiation_cli.game_cmds import add_games_dir
from negotiation_cli.loading import load_usable, warn
from negotiation_cli.parser import Parser
from negotiation_cli.progress import TurnPrinter
from negotiation_cli.session_report import print_report


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rhs = value.partition("=")
        if not sep or not name.strip() or not rhs.strip():
            raise ConfigError(f"{flag} expects \"Name=VALUE\", got {value!r}")
        out[name.strip()] = rhs.strip()
    return out


def build_run_parser() -> argparse.ArgumentParser:
    """Parser of ``python main.py [--game GAME] …``."""
    from negotiation_cli import command_list

    p = Parser(prog="negotiation", formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Run negotiation sessions (the default command).",
               epilog="other commands (python main.py COMMAND --help):\n" + command_list())
    p.add_argument("--game", default="base", help="game folder name or path (default base)")
    add_games_dir(p)
    p.add_argument("--model", help="model spec for every party, e.g. openai:gpt-4o")
    p.add_argument("--party-model", action="append", default=[], metavar="NAME=SPEC")
    p.add_argument("--incentive", action="append", default=[], metavar="NAME=INCENTIVE")
    p.add_argument("--rounds", type=flag_type("rounds"),
                   help="discussion turns (default 4 x parties)")
    p.add_argument("--window", type=flag_type("window"), default=6,
                   help="public messages shown (default 6)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--max-tokens", type=flag_type("max_tokens"), default=512)
    p.add_argument("--seed", type=flag_type("seed"), default=0)
    p.add_argument("--sessions", type=flag_type("sessions"), default=1,
                   help="sessions of this condition")
    p.add_argument("--out", type=Path, default=Path("logs"), help="output folder (default logs/)")
    p.add_argument("--name", help="run name (default GAME-TIMESTAMP); reuse it to resume")
    p.add_argument("--resume", type=Path, help="continue a session file or every unfinished "
                   "session of a run folder")
    p.add_argument("--no-vote", action="store_true", help="skip the vote phase (as the paper)")
    p.add_argument("--base-url", help="base URL for openai: models (OpenAI-compatible server)")
    p.add_argument("--concurrency", type=flag_type("concurrency"), default=1,
                   help="sessions run at once, the total across workers (default 1)")
    p.add_argument("--workers", type=flag_type("workers"), default=1,
                   help="worker processes on this machine (default 1: this process)")
    add_limit_flag(p)
    p.add_argument("--order", default="paper", choices=POLICIES, help="speaker selection")
    p.add_argument("--moderator-model", metavar="SPEC", help="model of the moderator")
    p.add_argument("--memory", default=WINDOW_MEMORY, choices=MEMORY_MODES,
                   help=f"{SUMMARY_MEMORY}: running summaries of the discussion plus the window")
    p.add_argument("--summary-every", type=flag_type("summary_every"), metavar="K",
                   help="summarise every K discussion turns (default: number of parties)")
    p.add_argument("--summarizer-model", metavar="SPEC", help="model of the summarizer")
    p.add_argument("--quiet", action="store_true", help="no per-turn progress")
    p.add_argument("--structured", choices=MODES, default="auto",
                   help="constrain each turn to the turn schema: grammar (llamacpp, hf, "
                   "OpenAI-compatible servers), json (openai, gemini), off, or auto (default: "
                   "grammar for local models, off for hosted ones); docs/structured.md")
    p.add_argument("--structured-bounds", type=Bounds.parse, default=Bounds(),
                   metavar="NAME=CHARS,…", help="character bounds of constrained fields "
                   "(scratchpad, public, plan, reason, tail)")
    p.add_argument("--deal-space", choices=DEAL_SPACES, default="all",
                   help="own: constrained seats may only name deals that clear their own "
                   "minimum (an ablation)")
    add_cache_flags(p)
    return p


def settings_from(args: argparse.Namespace) -> RunSettings:
    """Run settings from parsed flags (invalid values become ConfigError)."""
    try:
        generation = GenerateConfig(temperature=args.temperature, top_p=args.top_p,
                                    top_k=args.top_k, max_tokens=args.max_tokens)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return RunSettings(model=args.model, party_models=_pairs(args.party_model, "--party-model"),
                       rounds=args.rounds, window=args.window, vote=not args.no_vote,
                       seed=args.seed, generation=generation, base_url=args.base_url,
                       order=args.order, moderator_model=args.moderator_model,
                       memory=args.memory, summary_every=args.summary_every,
                       summarizer_model=args.summarizer_model, structured=args.structured,
                       bounds=args.structured_bounds, deal_space=args.deal_space)


def add_cache_flags(p: argparse.ArgumentParser) -> None:
    """``--no-cache`` and ``--replay`` (the run's response cache, docs/architecture.md)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--no-cache", action="store_true",
                       help="do not use the run folder's response cache (every call is made)")
    group.add_argument("--replay", action="store_true",
                       help="answer every call from the run folder's response cache: re-runs "
                       "a finished run with no model call (a call not cached is an error)")


def add_limit_flag(p: argparse.ArgumentParser) -> None:
    """``--max-in-flight N``: each provider's calls in flight (default: the concurrency)."""
    p.add_argument("--max-in-flight", type=flag_type("max_in_flight"), metavar="N",
                   help="calls in flight per provider, votes included (default: as many as "
                   "--concurrency allows)")


def with_limit(plan: ExperimentPlan, max_in_flight: int | None) -> ExperimentPlan:
    """The plan with ``--max-in-flight`` applied to every provider (a notice when it caps
    the requested concurrency)."""
    if max_in_flight is None:
        return plan
    from negotiation.backends.registry import PROVIDERS
    from negotiation.runs.specs import RateLimit

    limits = {name: dataclasses.replace(plan.rate_limits.get(name) or RateLimit(),
                                        max_in_flight=max_in_flight) for name in PROVIDERS}
    if max_in_flight < plan.concurrency:
        print(f"note: at most {max_in_flight} call(s) in flight per provider (--max-in-flight), "
              f"below --concurrency {plan.concurrency}", file=sys.stderr)
    return dataclasses.replace(plan, rate_limits=limits)


def cache_setting(args: argparse.Namespace) -> CacheSetting:
    """The plan's cache setting from the flags."""
    return "off" if args.no_cache else "replay" if args.replay else "on"


def _plan(args: argparse.Namespace) -> tuple[ExperimentPlan, list[Job] | None]:
    """The plan and its fresh jobs; for ``--resume`` the jobs are read once the folder is
    locked (None here)."""
    if args.resume is not None:
        run_dir = args.resume if args.resume.is_dir() else args.resume.parent
        plan = ExperimentPlan(name=run_dir.name, out=run_dir.parent, sessions=(),
                              concurrency=args.concurrency, cache=cache_setting(args),
                              workers=args.workers)
        return with_limit(plan, args.max_in_flight), None
    settings = settings_from(args)
    incentives = _pairs(args.incentive, "--incentive")
    path = resolve_game_path(args.game, args.games_dir)
    game = load_game(path, incentives)
    for warning in game.warnings:
        warn(warning)
    name = safe_component(args.name, "--name") if args.name else f"{game.name}-{stamp()}"
    specs = tuple(SessionSpec(game=path, settings=settings, index=i, incentives=incentives,
                              label=f"{game.name} #{i}") for i in range(args.sessions))
    plan = ExperimentPlan(name=name, out=args.out, sessions=specs,
                          concurrency=args.concurrency, cache=cache_setting(args),
                          workers=args.workers)
    plan = with_limit(plan, args.max_in_flight)
    jobs = prepare(plan)
    check_seats(jobs)
    return plan, jobs


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) the sessions and print a report for each; exit 1 if any failed."""
    plan, fresh = _plan(args)
    with open_run(plan, fresh, args.resume, args.games_dir) as run:
        for job in run.jobs:
            if job.log.status == "complete":
                print(f"session {job.log.session_id} already complete: {job.path}",
                      file=sys.stderr)
        summary = run.execute(TurnPrinter(quiet=args.quiet))
    if run.interrupted is not None:
        print(f"interrupted: completed turns are saved; rerun the same command (or --resume "
              f"{plan.run_dir}) to continue", file=sys.stderr)
        return SIGNAL_EXIT[run.interrupted]
    for job in run.jobs:
        if job.log.status == "complete":
            print_report(job.log, job.path)
        else:
            print(f"error: session {job.log.session_id} {job.log.status}: "
                  f"{printable(str(job.log.error), single_line=True)} (log: {job.path})",
                  file=sys.stderr)
    return 1 if summary["failed"] or summary["unfinished"] else 0


def add_export(p: argparse.ArgumentParser) -> None:
    """Options of ``export``."""
    p.add_argument("run", type=Path, help="run folder (read recursively) or session file")
    p.add_argument("--format", choices=("ld", "csv", "jsonl", "parquet", "sft", "preference"),
                   required=True,
                   help="ld: the paper code's history_*.json layout; csv, jsonl, parquet: "
                   "turns, sessions and parties tables (docs/exports.md); sft, preference: "
                   "training data (docs/extensions.md)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--prices", type=Path, help="price table for cost estimates (default "
                   "./prices.yaml, else the shipped example table)")
    p.add_argument("--no-formula-guard", action="store_true", help="csv: do not prefix "
                   "text cells starting with = + - @ with ' (only for non-spreadsheet readers)")
    from evaluation.exports.training import add_training_arguments

    add_training_arguments(p)


def cmd_export(args: argparse.Namespace) -> int:
    """Export session logs to another layout (unusable logs are reported and skipped)."""
    from evaluation.exports.training import TRAINING_FORMATS, export_training_cli

    logs = load_usable(args.run).logs
    if args.format in TRAINING_FORMATS:
        return export_training_cli(args, logs)
    if args.format == "ld":
        from evaluation.exports.ld import export_ld

        written = export_ld(logs, args.out)
        print(f"wrote {len(written)} session(s) to {args.out}")
        return 0
    from evaluation.exports.tables import export_tables
    from negotiation.runs.costs import PriceTable, default_prices_path, format_cost, load_prices

    prices = args.prices or default_prices_path()
    table = load_prices(prices) if prices is not None else PriceTable()
    result = export_tables(logs, args.out, args.format, table, not args.no_formula_guard)
    print(f"wrote {result.turns} turn(s), {result.sessions} session(s), {result.parties} "
          f"party row(s): {', '.join(str(p) for p in result.paths)}")
    print(f"tokens {result.totals.input_tokens} in, {result.totals.output_tokens} out; "
          f"estimated cost {format_cost(result.totals)}")
    if table.example:
        print(f"note: prices from the EXAMPLE table {prices} (as of {table.as_of}); "
              "edit it before trusting cost estimates", file=sys.stderr)
    return 0
