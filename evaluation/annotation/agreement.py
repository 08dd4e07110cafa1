"""Annotation statistics: per-label rates and inter-annotator agreement (pure functions).

Definitions (an *item* is one public message, identified by session and turn; a *rating* is
one annotator's yes/no for one label; missing ratings are left out):

* **rate** of a label for an annotator: yes / (yes + no) over the messages it rated.
* **Cohen's kappa** of two raters over the items both rated:
  ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the share of items on which they agree and
  ``p_e = sum_k p_a(k) * p_b(k)`` the agreement expected by chance from each rater's own
  category shares. 1 is perfect agreement, 0 chance level, negative worse than chance.
* **Fleiss' kappa** of m >= 2 raters over the N items rated by all of them (reported for
  m >= 3; an annotator without a single rating of the label does not count as a rater): with ``n_ij``
  the number of raters putting item i in category j, ``P_i = (sum_j n_ij^2 - m) / (m (m-1))``,
  ``P = mean_i P_i``, ``p_j = sum_i n_ij / (N m)``, ``P_e = sum_j p_j^2`` and
  ``kappa = (P - P_e) / (1 - P_e)``. For two raters it differs slightly from Cohen's (one
  pooled category distribution instead of one per rater).

Both are undefined (None) without items, and when ``p_e`` (``P_e``) is 1, i.e. every rating
falls in one single category: the formula is 0/0 there, so no agreement figure is claimed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

Item = tuple[Any, Any]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two equally long rating sequences (see the module docstring)."""
    if len(a) != len(b):
        raise ValueError(f"rating sequences differ in length: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from an items x categories table of rater counts (equal row sums)."""
    rows = [list(r) for r in counts if sum(r) > 0]
    if not rows:
        return None
    m = sum(rows[0])
    if m < 2 or any(sum(r) != m for r in rows):
        raise ValueError("every item needs the same number (>= 2) of ratings")
    n_items = len(rows)
    p_items = [(sum(x * x for x in r) - m) / (m * (m - 1)) for r in rows]
    p_bar = sum(p_items) / n_items
    shares = [sum(r[j] for r in rows) / (n_items * m) for j in range(len(rows[0]))]
    p_e = sum(p * p for p in shares)
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def fleiss_from_ratings(ratings: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa from items x raters labels (each item rated by the same number)."""
    categories = sorted({x for r in ratings for x in r}, key=repr)
    return fleiss_kappa([[Counter(r)[c] for c in categories] for r in ratings])


def _by_label(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict[Item, bool]]]:
    """label -> annotator -> item -> value (missing values left out)."""
    out: dict[str, dict[str, dict[Item, bool]]] = {}
    for r in rows:
        per = out.setdefault(r["label"], {}).setdefault(r["annotator"], {})
        if r["value"] is not None:
            per[(r["session"], r["turn"])] = bool(r["value"])
    return out


def label_rates(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """label -> annotator -> {yes, no, missing, rate}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        cell = out.setdefault(r["label"], {}).setdefault(
            r["annotator"], {"yes": 0, "no": 0, "missing": 0, "rate": None})
        key = "missing" if r["value"] is None else "yes" if r["value"] else "no"
        cell[key] += 1
    for per in out.values():
        for cell in per.values():
            rated = cell["yes"] + cell["no"]
            cell["rate"] = cell["yes"] / rated if rated else None
    return out


def agreement(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """label -> {"cohen": {"A|B": {kappa, n}}, "fleiss": {kappa, n, raters} or None}."""
    out: dict[str, dict[str, Any]] = {}
    for label, per in _by_label(rows).items():
        names = sorted(per)
        pairs = {}
        for x, y in combinations(names, 2):
            common = sorted(set(per[x]) & set(per[y]), key=repr)
            pairs[f"{x}|{y}"] = {"kappa": cohen_kappa([per[x][i] for i in common],
                                                      [per[y][i] for i in common]),
                                 "n": len(common)}
        fleiss = None
        raters = [n for n in names if per[n]]
        if len(raters) >= 3:
            common = sorted(set.intersection(*(set(per[n]) for n in raters)), key=repr)
            table = [[per[n][i] for n in raters] for i in common]
            fleiss = {"kappa": fleiss_from_ratings(table) if table else None,
                      "n": len(common), "raters": len(raters)}
        out[label] = {"cohen": pairs, "fleiss": fleiss}
    return out


def report(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rates and agreement of annotation rows, plus the number of messages."""
    messages = {(r["session"], r["turn"]) for r in rows}
    return {"messages": len(messages), "rates": label_rates(rows), "agreement": agreement(rows)}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_report(data: Mapping[str, Any]) -> str:
    """The report as text: one block per label."""
    lines = [f"{data['messages']} message(s) annotated"]
    for label, per in data["rates"].items():
        lines.append(f"\n{label}")
        for name, cell in per.items():
            lines.append(f"  rate {name}: {_fmt(cell['rate'])} ({cell['yes']} yes / "
                         f"{cell['yes'] + cell['no']} rated, {cell['missing']} missing)")
        agree = data["agreement"].get(label, {})
        for pair, cell in agree.get("cohen", {}).items():
            lines.append(f"  cohen kappa {pair}: {_fmt(cell['kappa'])} (n = {cell['n']})")
        fleiss = agree.get("fleiss")
        if fleiss:
            lines.append(f"  fleiss kappa ({fleiss['raters']} annotators): "
                         f"{_fmt(fleiss['kappa'])} (n = {fleiss['n']})")
    return "\n".join(lines)
