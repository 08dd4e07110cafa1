"""``game stats|harden|derive|plot``: analyse a game folder and author variants of it.

The work is done in ``negotiation.games.authoring`` and ``negotiation.games.harden``; this module parses
arguments and prints. Every user error raises ``ConfigError``/``GameFormatError`` (exit 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from negotiation.core.errors import ConfigError
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game, resolve_game_path
from negotiation_cli.game_cmds import print_summary

HARDEN_BOUND = 20


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("game", help="game folder name (under --games-dir) or path")
    p.add_argument("--games-dir", type=Path, default=None,
                   help=f"folder holding game folders (default {DEFAULT_GAMES_DIR})")


def _writer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="NEW_NAME",
                   help="new folder: a bare name goes under --games-dir, otherwise a path")
    p.add_argument("--force", action="store_true", help="replace an existing game folder")


def add_game(p: argparse.ArgumentParser) -> None:
    """Options of ``game`` and its four actions."""
    sub = p.add_subparsers(dest="action", required=True)
    stats = sub.add_parser("stats", help="feasible/unanimous counts, Pareto set, welfare, Nash")
    _common(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    harden = sub.add_parser("harden", help="copy with minimum-change thresholds hitting "
                            "target feasible/unanimous counts (>=)")
    _common(harden)
    harden.add_argument("--feasible", type=int, required=True, metavar="N",
                        help="exact number of feasible deals wanted (>=)")
    harden.add_argument("--unanimous", type=int, default=None, metavar="M",
                        help="exact number of unanimous deals wanted (default: any)")
    harden.add_argument("--bound", type=int, default=HARDEN_BOUND,
                        help=f"max change of any one threshold (default ±{HARDEN_BOUND})")
    _writer(harden)
    derive = sub.add_parser("derive", help="copy with parties dropped or incentives changed")
    _common(derive)
    derive.add_argument("--drop", action="append", default=[], metavar="PARTY",
                        help="remove a party (not p1/p2); repeatable")
    derive.add_argument("--incentive", action="append", default=[], metavar="PARTY=INCENTIVE",
                        help="set a party's incentive (its brief must exist); repeatable")
    _writer(derive)
    plot = sub.add_parser("plot", help="p1's score vs number of agreeing parties")
    _common(plot)
    plot.add_argument("--out", required=True, type=Path, help="FILE.png or FILE.svg")


def cmd_game(args: argparse.Namespace) -> int:
    """Dispatch to the action."""
    handlers = {"stats": _stats, "harden": _harden, "derive": _derive, "plot": _plot}
    return handlers[args.action](args)


def _stats(args: argparse.Namespace) -> int:
    from negotiation.games.authoring import game_stats, render_stats

    result = game_stats(load_game(resolve_game_path(args.game, args.games_dir)))
    return print_summary(result, args.json, render_stats)


def _harden(args: argparse.Namespace) -> int:
    from negotiation.games.authoring import output_folder, write_hardened
    from negotiation.games.harden import harden

    game = load_game(resolve_game_path(args.game, args.games_dir))
    out = output_folder(args.out, args.games_dir)
    wanted = f"feasible {args.feasible}" + (
        "" if args.unanimous is None else f", unanimous {args.unanimous}")
    if out.exists() and not args.force:
        raise ConfigError(f"{out} already exists; choose another --out or pass --force")
    start = time.perf_counter()
    result = harden(game.scoring, args.feasible, args.unanimous, args.bound)
    elapsed = time.perf_counter() - start
    if result is None:
        raise ConfigError(f"no thresholds within ±{args.bound} of {game.name}'s give {wanted} "
                          f"(>=) with {game.scoring.proposer.name}'s ideal deal infeasible "
                          f"(searched in {elapsed:.2f} s); nothing written")
    written = write_hardened(game, result, out, (args.feasible, args.unanimous), args.bound,
                             args.force)
    print(f"wrote {out} ({wanted}; total change {result.cost}; search {elapsed:.2f} s, "
          f"{result.nodes} nodes)")
    for name, (old, new) in result.changes.items():
        print(f"  {name}: minimum {old} -> {new} ({new - old:+d})")
    for warning in written.warnings:
        print(f"note: {warning}", file=sys.stderr)
    return 0


def _derive(args: argparse.Namespace) -> int:
    from negotiation.games.authoring import output_folder, plan_derivation, write_derived

    game = load_game(resolve_game_path(args.game, args.games_dir))
    plan = plan_derivation(game, args.drop, args.incentive)
    out = output_folder(args.out, args.games_dir)
    written = write_derived(game, plan, out, args.force)
    print(f"wrote {out}: {len(written.parties)} parties ("
          + ", ".join(f"{p.name} {p.incentive}" for p in written.parties) + ")")
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from negotiation.games.authoring import save_game_plot
    from negotiation.games.loader import load_scoring

    path = save_game_plot(load_scoring(resolve_game_path(args.game, args.games_dir)), args.out)
    print(f"wrote {path}")
    return 0
