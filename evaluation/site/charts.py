"""Charts of the report: the per-session score chart as inline-SVG geometry, and the
evaluation figures (``evaluation.plots``) as copied PNG/SVG files plus ``data:`` PNG URIs.

The score chart is computed here as numbers only (coordinates, colours from a fixed palette);
the template draws it with SVG elements, so every label (party names, deals) goes through
Jinja's autoescaping. Figures are embedded as ``data:image/png`` images, which cannot run
script whatever text they contain.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from negotiation.core.game import Scoring

if TYPE_CHECKING:
    from evaluation.site.sessions import DealCheck

PALETTE: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                            "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
WIDTH, HEIGHT = 900, 320
LEFT, RIGHT, TOP, BOTTOM = 48, 640, 16, 280


@dataclass(frozen=True)
class Point:
    """One marker: position and its hover text."""

    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    """One party's line: its scores for the deals proposed, and its minimum."""

    name: str
    color: str
    points: tuple[Point, ...]
    polyline: str
    minimum: int
    min_y: float
    legend_y: float


@dataclass(frozen=True)
class Chart:
    """An SVG line chart: size, plot box, ticks and series."""

    width: int
    height: int
    box: tuple[int, int, int, int]
    xticks: tuple[tuple[float, str], ...]
    yticks: tuple[tuple[float, str], ...]
    series: tuple[Series, ...]


def _scale(value: float, lo: float, hi: float, start: float, end: float) -> float:
    return round(start + (value - lo) / (hi - lo) * (end - start), 1) if hi > lo else start


def _ticks(top: int, last_turn: int) -> tuple[tuple[tuple[float, str], ...], ...]:
    step_y = 10 if top <= 100 else 20 if top <= 200 else 50
    ys = tuple((_scale(v, 0, top, BOTTOM, TOP), str(v)) for v in range(0, top + 1, step_y))
    step_x = max(1, (last_turn + 9) // 10)
    xs = tuple((_scale(t, 0, last_turn, LEFT, RIGHT), str(t))
               for t in range(0, last_turn + 1, step_x))
    return xs, ys


def score_chart(points: Sequence[tuple[int, DealCheck]], scoring: Scoring) -> Chart:
    """Each party's score for every deal proposed, by turn index, with its minimum."""
    last = max([i for i, _ in points] + [1])
    values = [m.score for _, c in points for m in c.marks] + [p.minimum for p in scoring.parties]
    top = max(100, *values)
    top = -(-top // 10) * 10
    series = []
    for k, party in enumerate(scoring.parties):
        marks = [(i, c.deal, c.score_of(party.name)) for i, c in points]
        pts = tuple(Point(_scale(i, 0, last, LEFT, RIGHT), _scale(s, 0, top, BOTTOM, TOP),
                          f"{party.name}: {s} for {deal} (turn {i}, minimum {party.minimum})")
                    for i, deal, s in marks)
        series.append(Series(party.name, PALETTE[k % len(PALETTE)], pts,
                             " ".join(f"{p.x},{p.y}" for p in pts), party.minimum,
                             _scale(party.minimum, 0, top, BOTTOM, TOP), TOP + 8 + 18 * k))
    xs, ys = _ticks(top, last)
    return Chart(WIDTH, max(HEIGHT, TOP + 30 + 18 * len(series)), (LEFT, TOP, RIGHT, BOTTOM),
                 xs, ys, tuple(series))


def png_uri(path: Path) -> str:
    """A ``data:image/png;base64,…`` URI of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def evaluation_figures(rows: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]],
                       out: Path) -> list[dict[str, str]]:
    """Draw the ``plot`` command's figures into ``out`` (PNG and SVG): name, files, data URI."""
    from evaluation import plots

    if not entries:
        return []
    figures = {"success_rates": plots.success_figure(rows),
               "score_curves": plots.curves_figure(entries),
               "final_scores": plots.final_scores_figure(entries),
               "target_scores": plots.target_figure(entries)}
    found = []
    for name, fig in figures.items():
        if fig is None:
            continue
        png, svg = plots.save(fig, out, name)
        found.append({"name": name.replace("_", " "), "png": f"{out.name}/{png.name}",
                      "svg": f"{out.name}/{svg.name}", "uri": png_uri(png)})
    return found
