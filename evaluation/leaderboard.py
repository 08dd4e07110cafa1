"""Leaderboards: one row per group of sessions, and pairwise comparisons with evidence.

Groups (``--by``): ``model`` (p1's model, the default), ``model,game`` (p1's model and the
game), ``model,structured`` (p1's model and its structured mode: a free and a constrained run
of one model side by side), ``model,role`` and ``model,incentive`` (every party's own model with its role or
incentive: a session counts once in each group one of its parties belongs to, and that
group's per-party figures use only those parties). A row holds: sessions, final / unanimous /
any success with Wilson 95% intervals, the wrong-deal rate (mean over sessions of the
group's parties' wrong deals / their deals), leakage, format-failure and template-echo rates
(pooled over the group's messages / outputs), the mean own final score by role, and tokens.

A model label ends in ``(oracle)`` for a calibration baseline that sees every party's sheet
(``scripted:oracle``): its row shows what competent play reaches, not a player's result.

``compare`` reports A minus B in final success and in mean own score (p1's final score for
p1 groups, the group's parties' otherwise) with seeded permutation-test p-values; paired
(``--baseline``) it matches sessions by game, seed and session index and flips signs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.aggregate import SessionResult
from evaluation.stats import bootstrap_diff_ci, mean_summary, permutation_test, rate
from negotiation.agents.specs import seat_label

BY_CHOICES: tuple[str, ...] = ("model", "model,role", "model,game", "model,incentive",
                               "model,structured")
FORMATS: tuple[str, ...] = ("table", "md", "csv", "json")


@dataclass(frozen=True)
class Member:
    """One session's share in a group: the session and the parties that count."""

    result: SessionResult
    parties: tuple[str, ...]
    party_level: bool


def group_members(results: Sequence[SessionResult], by: str) -> dict[str, list[Member]]:
    """Group label -> members, in first-seen order."""
    if by not in BY_CHOICES:
        raise ValueError(f"--by must be one of {', '.join(BY_CHOICES)}")
    groups: dict[str, list[Member]] = {}
    for r in results:
        s = r.data
        if by in ("model", "model,game", "model,structured"):
            model = seat_label(s.p1_model)
            label = {"model": model, "model,game": f"{model} / {s.scoring.name}",
                     "model,structured": f"{model} / {s.structured.get(s.proposer, 'off')}"}[by]
            groups.setdefault(label, []).append(
                Member(r, tuple(p.name for p in s.scoring.parties), False))
            continue
        shares: dict[str, list[str]] = {}
        for p in s.scoring.parties:
            kind = p.role if by == "model,role" else p.incentive
            model = seat_label(s.models.get(p.name, "unknown"))
            shares.setdefault(f"{model} / {kind}", []).append(p.name)
        for label, names in shares.items():
            groups.setdefault(label, []).append(Member(r, tuple(names), True))
    return groups


def _pooled(members: Sequence[Member], field: str) -> dict[str, Any]:
    pairs = [getattr(m.result, field)[p] for m in members for p in m.parties]
    return rate(sum(k for k, _ in pairs), sum(n for _, n in pairs))


def _wrong_rate(member: Member) -> float | None:
    pairs = [member.result.metrics.deals_by_party[p] for p in member.parties]
    total = sum(n for _, n in pairs)
    return sum(k for k, _ in pairs) / total if total else None


def own_score(member: Member) -> float | None:
    """The member's own final score: p1's for p1 groups, the mean of its parties' otherwise."""
    finals = member.result.metrics.final_scores
    if not finals:
        return None
    names = member.parties if member.party_level else (member.result.data.proposer,)
    return float(np.mean([finals[n] for n in names]))


def _own_by_role(members: Sequence[Member]) -> dict[str, Any]:
    values: dict[str, list[float]] = {}
    for m in members:
        finals = m.result.metrics.final_scores or {}
        for p in m.result.data.scoring.parties:
            if p.name in m.parties and p.name in finals:
                values.setdefault(p.role, []).append(float(finals[p.name]))
    return {role: {"mean": float(np.mean(v)), "n": len(v)} for role, v in sorted(values.items())}


def _success(members: Sequence[Member], flag: str) -> dict[str, Any]:
    values = [getattr(m.result.metrics, flag) for m in members]
    return rate(sum(bool(v) for v in values), len(values))


def _cost(members: Sequence[Member], prices: Any) -> float | None:
    """Estimated cost of the members' parties' tokens; None without prices or when a model
    has no price (see negotiation/costs.py)."""
    if prices is None:
        return None
    from negotiation.runs.costs import cost_of

    total = 0.0
    for m in members:
        for p in m.parties:
            i, o = m.result.tokens[p]
            value = cost_of(m.result.data.models.get(p, "unknown"), i, o, prices)
            if value is None:
                return None
            total += value
    return round(total, 6)


def leaderboard_rows(results: Sequence[SessionResult], by: str = "model",
                     seed: int = 0, prices: Any = None) -> list[dict[str, Any]]:
    """One row per group (see the module docstring); ``prices`` (a ``PriceTable``) adds an
    estimated cost per group."""
    rows = []
    for label, members in group_members(results, by).items():
        tokens = [m.result.tokens[p] for m in members for p in m.parties]
        rows.append({
            "group": label, "sessions": len(members),
            "final_success": _success(members, "final_success"),
            "unanimous_success": _success(members, "unanimous_success"),
            "any_success": _success(members, "any_success"),
            "wrong_deal_rate": mean_summary([_wrong_rate(m) for m in members], seed),
            "leakage_rate": _pooled(members, "leaks"),
            "format_failure_rate": _pooled(members, "formats"),
            "template_echo_rate": _pooled(members, "echoes"),
            "own_score_by_role": _own_by_role(members),
            "tokens": {"input": sum(i for i, _ in tokens), "output": sum(o for _, o in tokens)},
            "estimated_cost": _cost(members, prices),
        })
    return rows


def _diff(a: list[float], b: list[float], paired: bool, seed: int) -> dict[str, Any]:
    if not a or not b:
        return {"a": None, "b": None, "diff": None, "ci95": None, "p_value": None, "n": 0}
    interval = bootstrap_diff_ci(a, b, paired, seed)
    return {"a": float(np.mean(a)), "b": float(np.mean(b)),
            "diff": float(np.mean(a) - np.mean(b)), "ci95": list(interval) if interval else None,
            "p_value": permutation_test(a, b, paired, seed), "n": min(len(a), len(b))}


def _paired_values(a: Sequence[Member], b: Sequence[Member], get: Any) -> tuple[list[float], ...]:
    b_by_key = {m.result.data.pair_key(): m for m in b}
    xs, ys = [], []
    for m in a:
        twin = b_by_key.get(m.result.data.pair_key())
        if twin is None:
            continue
        x, y = get(m), get(twin)
        if x is not None and y is not None:
            xs.append(float(x))
            ys.append(float(y))
    return xs, ys


def compare(a: Sequence[Member], b: Sequence[Member], paired: bool = False,
            seed: int = 0) -> dict[str, Any]:
    """A minus B in final success and mean own score, with permutation p-values."""
    metrics = {"final_success": lambda m: float(m.result.metrics.final_success),
               "own_score": own_score}
    out: dict[str, Any] = {"paired": paired}
    for name, get in metrics.items():
        if paired:
            xs, ys = _paired_values(a, b, get)
        else:
            xs = [float(v) for v in map(get, a) if v is not None]
            ys = [float(v) for v in map(get, b) if v is not None]
        out[name] = _diff(xs, ys, paired, seed)
    return out


def _cell(value: dict[str, Any]) -> str:
    if value.get("rate") is None and value.get("mean") is None:
        return "-"
    centre = value["rate"] if "rate" in value else value["mean"]
    ci = value.get("ci95")
    return f"{centre:.2f}" + (f" [{ci[0]:.2f},{ci[1]:.2f}]" if ci else "")


def flat_rows(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and string cells of the rows (one ``own:<role>`` column per role)."""
    roles = sorted({role for r in rows for role in r["own_score_by_role"]})
    header = ["group", "sessions", "final", "unanimous", "any", "wrong", "leak", "format",
              "echo"]
    header += [f"own:{role}" for role in roles] + ["tokens_in", "tokens_out", "cost"]
    body = []
    for r in rows:
        own = r["own_score_by_role"]
        body.append([r["group"], str(r["sessions"])] + [_cell(r[k]) for k in (
            "final_success", "unanimous_success", "any_success", "wrong_deal_rate",
            "leakage_rate", "format_failure_rate", "template_echo_rate")]
            + [f"{own[role]['mean']:.1f}" if role in own else "-" for role in roles]
            + [str(r["tokens"]["input"]), str(r["tokens"]["output"]),
               "-" if r.get("estimated_cost") is None else f"{r['estimated_cost']:.4f}"])
    return header, body


def render(rows: Sequence[dict[str, Any]], fmt: str,
           comparison: dict[str, Any] | None = None) -> str:
    """The leaderboard as a text table, Markdown, CSV or JSON."""
    if fmt == "json":
        return json.dumps({"rows": list(rows), "compare": comparison}, indent=1)
    header, body = flat_rows(rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([header, *body])
        return buffer.getvalue().rstrip("\n")
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
    else:
        widths = [max(len(x) for x in col) for col in zip(header, *body)]
        lines = ["  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip()
                 for row in (header, *body)]
    return "\n".join(lines + render_comparison(comparison))


def render_comparison(comparison: dict[str, Any] | None) -> list[str]:
    """Text lines of a comparison (empty when there is none)."""
    if not comparison:
        return []
    lines = ["", f"compare {comparison['a']} vs {comparison['b']}"
             f" ({'paired' if comparison['paired'] else 'unpaired'}):"]
    for name in ("final_success", "own_score"):
        d = comparison[name]
        if d["diff"] is None:
            lines.append(f"  {name}: not enough data")
            continue
        ci = d["ci95"]
        lines.append(f"  {name}: A {d['a']:.3f} - B {d['b']:.3f} = {d['diff']:+.3f}"
                     f" [{ci[0]:+.3f},{ci[1]:+.3f}], permutation p = {d['p_value']:.4f}"
                     f" (n = {d['n']})")
    return lines
