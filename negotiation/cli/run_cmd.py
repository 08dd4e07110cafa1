"""The default command (run negotiations) and ``export``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from negotiation.backends.base import Backend, FatalError, GenerateConfig, TransientError
from negotiation.cli.game_cmds import add_games_dir
from negotiation.cli.report import print_report
from negotiation.engine import SessionRunner
from negotiation.errors import ConfigError
from negotiation.game import Game
from negotiation.loader import load_game, resolve_game_path
from negotiation.records import SessionLog, TurnRecord, load_log
from negotiation.session import RunSettings, assign_models, make_backends, new_log
from negotiation.timeutil import stamp


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
    p = argparse.ArgumentParser(prog="negotiation", description="Run negotiation sessions. "
                                "Subcommands: games, check, prompt, export (see CMD --help).")
    p.add_argument("--game", default="base", help="game folder name or path (default base)")
    add_games_dir(p)
    p.add_argument("--model", help="model spec for every party, e.g. openai:gpt-4o")
    p.add_argument("--party-model", action="append", default=[], metavar="NAME=SPEC")
    p.add_argument("--incentive", action="append", default=[], metavar="NAME=INCENTIVE")
    p.add_argument("--rounds", type=int, help="discussion turns (default 4 x parties)")
    p.add_argument("--window", type=int, default=6, help="public messages shown (default 6)")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sessions", type=int, default=1, help="sessions of this condition")
    p.add_argument("--out", type=Path, default=Path("logs"), help="output folder (default logs/)")
    p.add_argument("--name", help="run name (default GAME-TIMESTAMP); reuse it to resume")
    p.add_argument("--resume", type=Path, help="continue a session file or every unfinished "
                   "session of a run folder")
    p.add_argument("--no-vote", action="store_true", help="skip the vote phase (as the paper)")
    p.add_argument("--base-url", help="base URL for openai: models (OpenAI-compatible server)")
    p.add_argument("--quiet", action="store_true", help="no per-turn progress")
    return p


def settings_from(args: argparse.Namespace) -> RunSettings:
    """Run settings from parsed flags (invalid values become ConfigError)."""
    if args.sessions < 1:
        raise ConfigError("--sessions must be >= 1")
    try:
        generation = GenerateConfig(temperature=args.temperature, top_p=args.top_p,
                                    top_k=args.top_k, max_tokens=args.max_tokens)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return RunSettings(model=args.model, party_models=_pairs(args.party_model, "--party-model"),
                       rounds=args.rounds, window=args.window, vote=not args.no_vote,
                       seed=args.seed, generation=generation, base_url=args.base_url)


def _progress(start: float, quiet: bool):  # type: ignore[no-untyped-def]
    def show(log: SessionLog, turn: TurnRecord, total: int) -> None:
        if quiet:
            return
        print(f"[{log.session_index}] turn {len(log.turns)}/{total} {turn.phase:<7} "
              f"{turn.party:<28} tokens {turn.input_tokens}+{turn.output_tokens} "
              f"elapsed {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)
    return show


async def _run_one(game: Game, log: SessionLog, path: Path, base_url: str | None,
                   cache: dict[str, Backend], quiet: bool) -> SessionLog:
    try:
        backends = make_backends(game, log, base_url, cache)
    except FatalError as err:
        raise ConfigError(f"{err} (models named in config.txt can be overridden with --model "
                          "or --party-model)") from None
    runner = SessionRunner(game, backends, log, path, _progress(time.monotonic(), quiet))
    return await runner.run()


def _jobs(args: argparse.Namespace) -> list[tuple[Game, SessionLog, Path]]:
    if args.resume is not None:
        return _resume_jobs(args.resume, args.games_dir)
    settings = settings_from(args)
    game = load_game(resolve_game_path(args.game, args.games_dir), _pairs(args.incentive, "--incentive"))
    for warning in game.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    models = assign_models(game, settings)
    run_dir = args.out / (args.name or f"{game.name}-{stamp()}")
    jobs = []
    for index in range(args.sessions):
        log = new_log(game, models, settings, run_dir.name, index)
        path = run_dir / f"session-{log.session_id}.json"
        if path.exists():
            log = load_log(path)
        jobs.append((game, log, path))
    return jobs


def _resume_jobs(target: Path, games_dir: Path | None) -> list[tuple[Game, SessionLog, Path]]:
    files = sorted(target.rglob("session-*.json")) if target.is_dir() else [target]
    if not files or not all(f.is_file() for f in files):
        raise ConfigError(f"--resume {target}: no session log found")
    jobs = []
    for path in files:
        log = load_log(path)
        incentives = {p.name: p.incentive for p in log.parties}
        game = load_game(resolve_game_path(log.game.path, games_dir), incentives)
        jobs.append((game, log, path))
    return jobs


async def _run_all(jobs: list[tuple[Game, SessionLog, Path]], base_url: str | None,
                   quiet: bool) -> int:
    cache: dict[str, Backend] = {}
    failed = 0
    try:
        for game, log, path in jobs:
            if log.status == "complete":
                print(f"session {log.session_id} already complete: {path}", file=sys.stderr)
                print_report(log, path)
                continue
            log.status, log.error = "running", None
            try:
                log = await _run_one(game, log, path, base_url, cache, quiet)
            except (FatalError, TransientError) as err:
                failed += 1
                print(f"error: session {log.session_id} failed: {err} (log: {path})",
                      file=sys.stderr)
                continue
            print_report(log, path)
    finally:
        for backend in cache.values():
            await backend.aclose()
    return failed


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) the sessions and print a report for each; exit 1 if any failed."""
    jobs = _jobs(args)
    failed = asyncio.run(_run_all(jobs, args.base_url, args.quiet))
    return 1 if failed else 0


def add_export(p: argparse.ArgumentParser) -> None:
    """Options of ``export``."""
    p.add_argument("run", type=Path, help="run folder (read recursively) or session file")
    p.add_argument("--format", choices=("ld",), required=True,
                   help="ld: the paper code's history_*.json layout")
    p.add_argument("--out", type=Path, required=True, help="output folder")


def cmd_export(args: argparse.Namespace) -> int:
    """Export session logs to another layout."""
    from negotiation.export_ld import export_ld

    written = export_ld(args.run, args.out)
    print(f"wrote {len(written)} session(s) to {args.out}")
    return 0
