"""Figures of evaluated runs (matplotlib, Agg backend; every figure saved as PNG and SVG).

* ``success_figure``: final / unanimous / any success per model (leaderboard rows) with
  Wilson 95% interval error bars;
* ``curves_figure``: per run, p1's own score and the collective score per p1 turn, mean ± std
  over sessions, with p1's minimum as a horizontal line;
* ``target_figure``: per adversarial run, the target party's score in p1's deals per p1 turn
  (mean ± std) with the target's minimum;
* ``final_scores_figure``: per run, the distribution of each party's final score (box plots).

Builders return a ``Figure`` (tests inspect its Axes); ``save`` writes it and closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # party and model names are text, never TeX

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from negotiation.core.game import PROPOSER_ROLE  # noqa: E402

SUCCESS_KEYS: tuple[str, ...] = ("final_success", "unanimous_success", "any_success")


def _run_label(entry: dict[str, Any]) -> str:
    return Path(entry["path"]).name or entry["path"]


def success_figure(rows: Sequence[dict[str, Any]]) -> Figure:
    """Grouped bars of the three success rates per group, with CI error bars."""
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * len(rows) + 2), 4))
    width = 0.8 / len(SUCCESS_KEYS)
    x = np.arange(len(rows))
    for i, key in enumerate(SUCCESS_KEYS):
        rates = [r[key]["rate"] or 0.0 for r in rows]
        lower = [r[key]["rate"] - r[key]["ci95"][0] if r[key]["ci95"] else 0.0 for r in rows]
        upper = [r[key]["ci95"][1] - r[key]["rate"] if r[key]["ci95"] else 0.0 for r in rows]
        ax.bar(x + (i - 1) * width, rates, width, yerr=[lower, upper], capsize=3,
               label=key.replace("_", " "))
    ax.set_xticks(x, [r["group"] for r in rows], rotation=15, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate (95% Wilson CI)")
    ax.set_title("Success rates per model")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _band(ax: Any, curve: Sequence[dict[str, Any]], label: str, color: str) -> None:
    points = [(c["turn"], c["mean"], c["std"]) for c in curve if c["mean"] is not None]
    if not points:
        return
    turns, means, stds = (np.array(v, dtype=float) for v in zip(*points))
    ax.plot(turns, means, marker="x", label=label, color=color)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.fill_between(turns, means - stds, means + stds, alpha=0.2, color=color)


def curves_figure(entries: Sequence[dict[str, Any]]) -> Figure:
    """Own vs collective score per p1 turn, one panel per run."""
    fig, axes = plt.subplots(1, len(entries), figsize=(5 * len(entries), 4), squeeze=False)
    for ax, entry in zip(axes[0], entries):
        curves = entry["score_curves"]
        _band(ax, curves["own"], f"own ({curves[PROPOSER_ROLE]})", "#E56DB1")
        _band(ax, curves["collective"], "collective (mean of all parties)", "black")
        if curves["p1_minimum"] is not None:
            ax.axhline(curves["p1_minimum"], linestyle="--", color="grey", label="p1 minimum")
        ax.set_xlabel("p1 turn (0 = opening, last = final)")
        ax.set_ylabel("score")
        ax.set_title(_run_label(entry))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def target_figure(entries: Sequence[dict[str, Any]]) -> Figure | None:
    """The target's score in p1's deals per p1 turn, for runs with an adversary and a target."""
    chosen = [e for e in entries if e.get("adversarial", {}).get("target")]
    if not chosen:
        return None
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 4), squeeze=False)
    for ax, entry in zip(axes[0], chosen):
        adv = entry["adversarial"]
        _band(ax, adv["target_curve"], f"target ({adv['target']})", "#1f77b4")
        if adv["target_minimum"] is not None:
            ax.axhline(adv["target_minimum"], linestyle="--", color="grey", label="target minimum")
        ax.set_xlabel("p1 turn")
        ax.set_ylabel("target's score in p1's deal")
        ax.set_title(f"{_run_label(entry)} (adversaries: {', '.join(adv['adversaries'])})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def final_scores_figure(entries: Sequence[dict[str, Any]]) -> Figure:
    """Box plots of every party's final score, one panel per run, minimums as markers."""
    fig, axes = plt.subplots(1, len(entries), figsize=(6 * len(entries), 4.5), squeeze=False)
    for ax, entry in zip(axes[0], entries):
        names = list(entry["final_scores"])
        data = [[s["final_scores"][n] for s in entry["sessions"]
                 if s["final_scores"] and n in s["final_scores"]] for n in names]
        kept = [(n, d) for n, d in zip(names, data) if d]
        if kept:
            ax.boxplot([d for _, d in kept], showmeans=True)
            ax.set_xticks(range(1, len(kept) + 1), [n for n, _ in kept], rotation=25, ha="right")
            minimums = [entry["final_scores"][n]["minimum"] for n, _ in kept]
            ax.scatter(range(1, len(kept) + 1), minimums, marker="_", s=300, color="red",
                       label="minimum", zorder=3)
            ax.legend(fontsize=8)
        ax.set_ylabel("final score")
        ax.set_title(_run_label(entry))
    fig.tight_layout()
    return fig


def save(fig: Figure, out: Path, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.svg`` under ``out`` and close the figure."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths
