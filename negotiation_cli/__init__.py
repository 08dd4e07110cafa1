"""Command-line interface: parses arguments and dispatches; the library does the work.

``python main.py --game base`` (no subcommand) runs a negotiation; other commands are
subcommands (``games``, ``check``, ``prompt``, ``export``, …). Bad input exits with status 2 and
one line ``error: …``; a disk-full or permission error exits 1 with one line naming the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from negotiation.core.errors import ConfigError, DealError, GameFormatError, TemplateError
from negotiation.core.text import printable
from negotiation_cli.parser import Parser

USER_ERRORS = (GameFormatError, TemplateError, ConfigError, DealError)

Command = Callable[[argparse.Namespace], int]


HELP = {
    "games": "list the games with party and issue counts",
    "check": "validate a game folder and print its analysis",
    "prompt": "print exactly what a party would see",
    "export": "export session logs (ld, csv, jsonl, parquet, sft, preference)",
    "run": "run a sweep from an experiment file",
    "evaluate": "metrics over session logs of any format",
    "leaderboard": "leaderboards over session logs",
    "plot": "figures of evaluated runs",
    "game": "game analysis and authoring (stats, harden, derive, plot)",
    "annotate": "label public messages with LLM annotators",
    "index": "index session logs into a SQLite results store",
    "report": "a self-contained HTML report of runs (optionally served)",
}
"""One line per subcommand, for ``--help``."""


def _subcommands() -> dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command]]:
    from negotiation_cli import (
        authoring_cmds,
        data_cmds,
        eval_cmds,
        game_cmds,
        run_cmd,
        site_cmd,
        sweep_cmd,
    )

    return {
        "games": (game_cmds.add_games, game_cmds.cmd_games),
        "check": (game_cmds.add_check, game_cmds.cmd_check),
        "prompt": (game_cmds.add_prompt, game_cmds.cmd_prompt),
        "export": (run_cmd.add_export, run_cmd.cmd_export),
        "run": (sweep_cmd.add_run, sweep_cmd.cmd_run_experiment),
        "evaluate": (eval_cmds.add_evaluate, eval_cmds.cmd_evaluate),
        "leaderboard": (eval_cmds.add_leaderboard, eval_cmds.cmd_leaderboard),
        "plot": (eval_cmds.add_plot, eval_cmds.cmd_plot),
        "game": (authoring_cmds.add_game, authoring_cmds.cmd_game),
        "annotate": (data_cmds.add_annotate, data_cmds.cmd_annotate),
        "index": (data_cmds.add_index, data_cmds.cmd_index),
        "report": (site_cmd.add_report, site_cmd.cmd_report),
    }


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The subcommand parser (the default run command has its own parser)."""
    parser = Parser(prog="negotiation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    handlers: dict[str, Command] = {}
    for name, (add, handler) in _subcommands().items():
        add(sub.add_parser(name, help=HELP[name], description=HELP[name]))
        handlers[name] = handler
    return parser, handlers


def command_list() -> str:
    """Every subcommand with its one-line help (the run command's ``--help`` shows it)."""
    return "\n".join(f"  {name:<12} {text}" for name, text in HELP.items())


def _os_error(err: OSError) -> str:
    where = err.filename if err.filename is not None else "the output"
    return f"error: {printable(str(where), single_line=True)}: {err.strerror or err}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python main.py`` and the ``negotiation`` console command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in _subcommands():
            parser, handlers = build_parser()
            args = parser.parse_args(args_list)
            return handlers[args.command](args)
        from negotiation_cli import run_cmd

        return run_cmd.cmd_run(run_cmd.build_run_parser().parse_args(args_list))
    except USER_ERRORS as err:
        print(f"error: {printable(str(err), single_line=True)}", file=sys.stderr)
        return 2
    except OSError as err:  # disk full, permission denied: the data written so far is intact
        print(_os_error(err), file=sys.stderr)
        return 1
