"""Game analysis and authoring: stats, hardened and derived copies of a game folder, a plot.

Everything here reads a game folder and, for ``harden``/``derive``, writes a *new* one: the
copy is built in a temporary folder beside the destination, validated with ``load_game`` and
only then moved into place, so a failure never leaves a half-written game behind. Scoring is
never re-implemented: counts come from ``negotiation.core.deal_space`` and ``negotiation.games.check``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from negotiation.core.deal_space import MAX_DEALS, acceptance_matrix, all_scores, feasible_mask
from negotiation.core.errors import ConfigError, GameFormatError
from negotiation.core.game import Game, Party, Scoring
from negotiation.core.rules import DEFAULT_POLICY, best_deal, required_supporters, score
from negotiation.games.check import STRICT, render_text, summary
from negotiation.games.harden import HardenResult
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game, read_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_FORMATS = (".png", ".svg")


# --- stats -----------------------------------------------------------------------------------

def game_stats(game: Game) -> dict[str, Any]:
    """``check``'s summary plus p1's ideal deal and whether it is feasible (both comparisons)."""
    result = summary(game)
    scoring = game.scoring
    p1 = scoring.proposer
    ideal = best_deal(p1)
    result["proposer_ideal"] = {"party": p1.name, "deal": str(ideal), "score": score(ideal, p1)}
    if result["feasible"] is not None:
        _, scores = all_scores(scoring)
        column = scores[:, scoring.parties.index(p1)]
        rows = np.flatnonzero(column == column.max())
        result["proposer_ideal"]["feasible"] = {
            policy.comparison: bool(feasible_mask(scoring, acceptance_matrix(
                scoring, scores[rows], policy), policy).any())
            for policy in (DEFAULT_POLICY, STRICT)}
    return result


def render_stats(s: dict[str, Any]) -> str:
    """Text of ``game stats``: ``check``'s text, the ideal deal and the Pareto set (>=)."""
    lines = [render_text(s)]
    ideal = s["proposer_ideal"]
    feasible = ideal.get("feasible")
    status = "" if feasible is None else (
        ", feasible (>=)" if feasible[">="] else ", infeasible (>=)")
    lines.append(f"{ideal['party']}'s ideal deal: {ideal['deal']} "
                 f"({ideal['score']} points{status})")
    if s["analysis"] is not None:
        pareto = s["analysis"][">="]["pareto"]
        lines.append(f"Pareto-optimal feasible deals (>=, {len(pareto)}): " + " ".join(pareto))
    return "\n".join(lines)


# --- writing a new game folder -----------------------------------------------------------------

def output_folder(name: str | Path, games_dir: Path | None = None) -> Path:
    """A bare name is a folder under ``games_dir`` (default ``games_descriptions/``);
    anything with a path separator (or ``.``/``..``) is a path."""
    text = str(name)
    if not text or text in (".", ".."):
        raise ConfigError(f"--out {text!r} is not a folder name")
    if "/" in text or "\\" in text:
        return Path(text)
    return (games_dir or DEFAULT_GAMES_DIR) / text


def _check_destination(source: Path, out: Path, force: bool) -> None:
    src, dst = source.resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise ConfigError(f"--out {out} overlaps the source game {source}")
    if not out.exists():
        return
    if not force:
        raise ConfigError(f"{out} already exists; choose another --out or pass --force")
    if not out.is_dir() or (any(out.iterdir()) and not (out / "config.txt").is_file()):
        raise ConfigError(f"{out} exists and is not a game folder; refusing to replace it")


def publish_copy(source: Path, out: Path, edit: Callable[[Path], None], force: bool) -> Game:
    """Copy ``source`` to ``out`` with ``edit`` applied, validate it, then move it in place.

    Raises ConfigError when ``out`` exists (without ``force``) or the edited copy is invalid.
    """
    _check_destination(source, out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        stage = tmp / out.name
        shutil.copytree(source, stage)
        edit(stage)
        try:
            load_game(stage)
        except GameFormatError as err:
            raise ConfigError(f"the new game would be invalid: {err.reason}") from None
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_game(out)


def set_minimum(path: Path, value: int) -> None:
    """Rewrite only the last non-empty line (the minimum) of a score file, keeping its ending."""
    lines = read_text(path).splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.strip())
    ending = lines[last][len(lines[last].rstrip("\r\n")):]
    lines[last] = f"{value}{ending}"
    path.write_bytes("".join(lines).encode("utf-8"))


# --- harden ----------------------------------------------------------------------------------

def hardened_note(game: Game, result: HardenResult, targets: tuple[int, int | None],
                  bound: int) -> str:
    """The text of ``HARDENED.txt``."""
    files = {p.name: p.file_name for p in game.parties}
    unanimous = "any" if targets[1] is None else targets[1]
    lines = [f"Hardened from game {game.name!r} ({game.scoring.path}) by `game harden`.",
             f"Targets (>=): feasible {targets[0]}, unanimous {unanimous}; "
             f"thresholds searched within ±{bound} of the source's.",
             f"Result (>=): feasible {result.feasible}, unanimous {result.unanimous}; "
             f"{game.scoring.proposer.name}'s ideal deal(s) infeasible.",
             f"Total absolute change: {result.cost} (the minimum; see docs/game-authoring.md).",
             "Changed minimums:" if result.changes else "No minimum changed."]
    lines += [f"  {name} (scores_files/{files[name]}.txt): {old} -> {new} ({new - old:+d})"
              for name, (old, new) in result.changes.items()]
    previous = game.scoring.path / "HARDENED.txt"
    if previous.is_file():
        lines += ["", "The source was itself hardened:", read_text(previous).rstrip()]
    return "\n".join(lines) + "\n"


def write_hardened(game: Game, result: HardenResult, out: Path, targets: tuple[int, int | None],
                   bound: int, force: bool = False) -> Game:
    """Write the hardened copy of ``game`` to ``out`` and return it loaded."""
    files = {p.name: p.file_name for p in game.parties}

    def edit(stage: Path) -> None:
        for name, (_, new) in result.changes.items():
            set_minimum(stage / "scores_files" / f"{files[name]}.txt", new)
        (stage / "HARDENED.txt").write_text(hardened_note(game, result, targets, bound),
                                            encoding="utf-8")

    return publish_copy(game.scoring.path, out, edit, force)


# --- derive ----------------------------------------------------------------------------------

@dataclass
class Derivation:
    """What ``derive`` changes: parties dropped, incentives changed, and notes for the author."""

    drop: list[str] = field(default_factory=list)
    incentives: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def plan_derivation(game: Game, drops: Sequence[str], incentives: Sequence[str]) -> Derivation:
    """Validate ``--drop`` names and ``--incentive Party=name`` specs against the game."""
    plan = Derivation()
    for name in drops:
        party = _party(game, name)
        if party.has_veto:
            raise ConfigError(f"cannot drop {name!r}: it is {party.role}, a veto party the "
                              "protocol needs; edit config.txt by hand for such a variant")
        if name not in plan.drop:
            plan.drop.append(name)
    for spec in incentives:
        name, incentive = _incentive_spec(game, spec)
        if name in plan.drop:
            raise ConfigError(f"{name!r} is both dropped and given an incentive")
        plan.incentives[name] = incentive
    if not plan.drop and not plan.incentives:
        raise ConfigError("nothing to derive: give --drop and/or --incentive")
    if len(game.parties) - len(plan.drop) < 2:
        raise ConfigError("a game needs at least 2 parties")
    text = read_text(game.scoring.path / "global_instructions.txt")
    plan.notes += [f"global_instructions.txt still mentions {n!r}: edit its prose by hand"
                   for n in plan.drop if n in text]
    return plan


def _incentive_spec(game: Game, spec: str) -> tuple[str, str]:
    """``"Party=incentive"`` -> (party, incentive), the brief for it having to exist."""
    name, sep, incentive = spec.rpartition("=")
    name, incentive = name.strip(), incentive.strip()
    if not sep or not name or not incentive or any(c in incentive for c in ("/", "\\", "..")):
        raise ConfigError(f"--incentive {spec!r} must read 'Party=incentive' (a plain name)")
    party = _party(game, name)
    brief = Path("individual_instructions") / incentive / f"{party.file_name}.txt"
    if not (game.scoring.path / brief).is_file():
        raise ConfigError(f"incentive {incentive!r} has no brief for {name!r} (expected {brief})")
    return name, incentive


def _party(game: Game, name: str) -> Party:
    try:
        return game.scoring.party(name)
    except KeyError:
        names = ", ".join(p.name for p in game.parties)
        raise ConfigError(f"no party named {name!r} in {game.name} (parties: {names})") from None


def _rewrite_config(stage: Path, game: Game, plan: Derivation) -> None:
    path = stage / "config.txt"
    lines = read_text(path).splitlines(keepends=True)
    for party in game.parties:
        index = party.line - 1
        if party.name in plan.drop:
            lines[index] = ""
        elif party.name in plan.incentives:
            ending = lines[index][len(lines[index].rstrip("\r\n")):]
            fields = [f.strip() for f in lines[index].rstrip("\r\n").split(",")]
            fields[3] = plan.incentives[party.name]
            lines[index] = ",".join(fields) + (ending or "\n")
    path.write_bytes("".join(lines).encode("utf-8"))


def write_derived(game: Game, plan: Derivation, out: Path, force: bool = False) -> Game:
    """Write the derived copy of ``game`` to ``out`` and return it loaded."""

    def edit(stage: Path) -> None:
        _rewrite_config(stage, game, plan)
        for name in plan.drop:
            file_name = game.scoring.party(name).file_name
            (stage / "scores_files" / f"{file_name}.txt").unlink()
            for brief in (stage / "individual_instructions").glob(f"*/{file_name}.txt"):
                brief.unlink()
        lines = [f"Derived from game {game.name!r} ({game.scoring.path}) by `game derive`."]
        lines += [f"Dropped: {name}" for name in plan.drop]
        lines += [f"Incentive: {name} -> {inc}" for name, inc in plan.incentives.items()]
        lines += [f"Note: {note}" for note in plan.notes]
        (stage / "DERIVED.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    return publish_copy(game.scoring.path, out, edit, force)


# --- plot ------------------------------------------------------------------------------------

def game_figure(scoring: Scoring) -> Figure:
    """p1's score against the number of parties agreeing (score >= minimum), one point per
    distinct pair (area ~ number of deals), feasible deals highlighted; the upper envelope is
    the maximum number of agreeing parties at each p1 score; p1's minimum is a vertical line."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams["text.parse_math"] = False  # party names are text, never TeX

    if scoring.n_deals() > MAX_DEALS:
        raise ConfigError(f"{scoring.name} has {scoring.n_deals():,} deals; the plot enumerates "
                          f"at most {MAX_DEALS:,}")
    _, scores = all_scores(scoring)
    accept = acceptance_matrix(scoring, scores)
    feasible = feasible_mask(scoring, accept)
    p1 = scoring.proposer
    own, agree = scores[:, scoring.parties.index(p1)], accept.sum(axis=1)
    fig = Figure(figsize=(7, 5), dpi=100)
    ax = fig.add_subplot()
    for mask, colour, label in ((~feasible, "tab:grey", "not feasible"),
                                (feasible, "tab:green", "feasible")):
        pairs, counts = np.unique(np.stack([own[mask], agree[mask]], axis=1), axis=0,
                                  return_counts=True)
        if len(pairs):
            ax.scatter(pairs[:, 0], pairs[:, 1], s=12 + 6 * np.sqrt(counts), c=colour,
                       alpha=0.6, label=f"{label} ({int(mask.sum())} deals)")
    levels = np.unique(own)
    ax.step(levels, [agree[own == v].max() for v in levels], where="mid", color="tab:blue",
            linewidth=1, label="max agreeing parties")
    ax.axvline(p1.minimum, color="tab:red", linestyle="--", label=f"{p1.name}'s minimum")
    ax.axhline(required_supporters(scoring), color="black", linestyle=":", linewidth=0.8,
               label="supporters required")
    ax.set(xlabel=f"{p1.name}'s score", ylabel="parties agreeing (score >= minimum)",
           title=f"{scoring.name}: {int(feasible.sum())} feasible of {len(own)} deals")
    ax.set_ylim(-0.5, len(scoring.parties) + 0.5)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    fig.tight_layout()
    return fig


def save_game_plot(scoring: Scoring, out: Path) -> Path:
    """Write ``game_figure`` as PNG or SVG, chosen by the file extension."""
    if out.suffix.lower() not in PLOT_FORMATS:
        raise ConfigError(f"--out {out}: the figure must end in {' or '.join(PLOT_FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    game_figure(scoring).savefig(out, format=out.suffix.lower()[1:])
    return out

