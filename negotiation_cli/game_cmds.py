"""``games``, ``check`` and ``prompt``: inspect game folders without running a model."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.core.phases import PROMPT_PHASES, Phase
from negotiation.games.check import render_text, summary, validate
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game, resolve_game_path
from negotiation.protocol.prompting import PromptBuilder, preview_observation
from negotiation.protocol.turn_schema import TurnSchema
from negotiation_cli.loading import say


def add_games_dir(p: argparse.ArgumentParser) -> None:
    """The shared ``--games-dir`` option."""
    p.add_argument("--games-dir", type=Path, default=None,
                   help=f"folder holding game folders (default {DEFAULT_GAMES_DIR})")


def add_games(p: argparse.ArgumentParser) -> None:
    """Options of ``games``."""
    add_games_dir(p)


def cmd_games(args: argparse.Namespace) -> int:
    """List the games with their party and issue counts."""
    base = args.games_dir or DEFAULT_GAMES_DIR
    for folder in sorted(d for d in base.iterdir() if (d / "config.txt").is_file()):
        game = load_game(folder)
        say(f"{game.name:<24} {len(game.parties):>2} parties  {len(game.issues):>2} issues  "
              f"{game.scoring.n_deals():>9,} deals")
    return 0


def add_check(p: argparse.ArgumentParser) -> None:
    """Options of ``check``."""
    p.add_argument("game", help="game folder name or path")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_games_dir(p)


def print_summary(result: dict[str, Any], as_json: bool,
                  render: Callable[[dict[str, Any]], str]) -> int:
    """Print a game summary: one JSON object on stdout (notes to stderr) or rendered text."""
    if as_json:
        for note in result["notes"]:
            print(f"note: {note}", file=sys.stderr)
        print(json.dumps(result, indent=2))
    else:
        say(render(result))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a game and print its analysis."""
    game = load_game(resolve_game_path(args.game, args.games_dir))
    validate(game)
    return print_summary(summary(game), args.json, render_text)


def add_prompt(p: argparse.ArgumentParser) -> None:
    """Options of ``prompt``."""
    p.add_argument("game", help="game folder name or path")
    p.add_argument("--party", required=True, help="display name of the party")
    p.add_argument("--turn", choices=PROMPT_PHASES, default=Phase.ROUND.value)
    p.add_argument("--structured", choices=("off", "grammar", "json"), default="off",
                   help="show the prompt of a constrained seat, then its turn's grammar or "
                        "JSON Schema (docs/structured.md)")
    add_games_dir(p)


def cmd_prompt(args: argparse.Namespace) -> int:
    """Print what a party would see: its initial prompt and the prompt of one turn."""
    game = load_game(resolve_game_path(args.game, args.games_dir))
    try:
        party = game.scoring.party(args.party)
    except KeyError:
        names = ", ".join(p.name for p in game.parties)
        raise ConfigError(f"no party named {args.party!r} in {game.name} (parties: {names})") from None
    builder = PromptBuilder(game)
    speaker = args.party if args.party in party.speakers else party.speakers[0]
    obs = preview_observation(game, party, speaker, Phase(args.turn))
    say("=== system ===")
    say(builder.initial(party, speaker))
    say(f"=== user ({args.turn}) ===")
    say(builder.user_message(obs, args.structured))
    schema = None if args.structured == "off" else TurnSchema.for_observation(obs)
    if schema is not None:
        say(f"=== {args.structured} (key {schema.key}, max_tokens {schema.max_tokens()}) ===")
        say(schema.gbnf() if args.structured == "grammar"
            else json.dumps(schema.json_schema(), indent=2))
    return 0
