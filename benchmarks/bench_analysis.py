#!/usr/bin/env python
"""Analysis benchmark: the full ``check`` analysis of ``base_7parties`` (2,880 deals x 7 parties,
both comparisons ``>=`` and ``>``: feasible, unanimous, acceptable per party, Pareto set among
feasible deals, welfare deal, Nash deal).

Ours: ``negotiation.core.deal_space.analyse`` once per comparison (numpy, a deals x parties matrix),
and ``negotiation.games.check.summary`` (what ``check --json`` prints: the same two analyses plus
the game notes). The paper notebook's approach (``adjust_games/evaluate_games_base.ipynb`` in
the original repository): build every deal as a list of option names with nested loops, then
for each deal call ``calculator(scores, deal)`` (a dict lookup per issue) for each party, and
count; extended here to the same figures as ours so that both can be checked for equality.

Run from the repository root::

    python benchmarks/bench_analysis.py            # 21 repetitions (loop: 5)
    python benchmarks/bench_analysis.py --quick    # 5 / 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from negotiation.core.deal_space import analyse  # noqa: E402
from negotiation.core.game import Scoring  # noqa: E402
from negotiation.core.rules import DEFAULT_POLICY  # noqa: E402
from negotiation.games.check import STRICT, summary  # noqa: E402
from negotiation.games.loader import load_game  # noqa: E402

GAME = ROOT / "games_descriptions" / "base_7parties"
TARGET_MS = 50.0


# --------------------------------------------------------------------------- the notebook's way

def notebook_tables(scoring: Scoring) -> tuple[dict[str, dict[str, Any]], list[list[str]], list[str]]:
    """Per party ``{'A': {'A1': 11, …}, …, 'min': 54}`` (as the notebook wrote them by hand),
    the option names per issue, and the veto parties."""
    parties: dict[str, dict[str, Any]] = {}
    for p in scoring.parties:
        table: dict[str, Any] = {i.letter: {f"{i.letter}{k + 1}": p.scores[n][k]
                                            for k in range(i.n_options)}
                                 for n, i in enumerate(scoring.issues)}
        table["min"] = p.minimum
        parties[p.name] = table
    options = [[f"{i.letter}{k + 1}" for k in range(i.n_options)] for i in scoring.issues]
    vetoes = [p.name for p in scoring.parties if p.role in ("p1", "p2")]
    return parties, options, vetoes


def get_all_deals(options: list[list[str]]) -> list[list[str]]:
    """Every deal in lexicographic order, built with a stack like the notebook's nested loops."""
    deals: list[list[str]] = []
    stack: list[str] = []

    def loop(depth: int) -> None:
        for option in options[depth]:
            stack.append(option)
            if depth == len(options) - 1:
                deals.append(list(stack))
            else:
                loop(depth + 1)
            stack.pop()

    loop(0)
    return deals


def calculator(scores: dict[str, Any], deal: list[str]) -> int:
    """The notebook's per-party score function."""
    deal_sum = 0
    for option in deal:
        deal_sum += scores[option[0]][option]
    return deal_sum


def notebook_analysis(scoring: Scoring, strict: bool) -> dict[str, Any]:
    """The figures of ``analyse`` computed the notebook's way (Python loops, dict lookups)."""
    parties, options, vetoes = notebook_tables(scoring)
    deals = get_all_deals(options)
    names = list(parties)
    required = len(names) - 1
    acceptable = {name: 0 for name in names}
    feasible: list[tuple[list[str], list[int]]] = []
    unanimous: list[tuple[list[str], list[int]]] = []
    for deal in deals:
        agree = []
        row = []
        veto_covered = [False] * len(vetoes)
        for party in names:
            deal_score = calculator(parties[party], deal)
            row.append(deal_score)
            ok = deal_score > parties[party]["min"] if strict else deal_score >= parties[party]["min"]
            if ok:
                agree.append(party)
                acceptable[party] += 1
                if party in vetoes:
                    veto_covered[vetoes.index(party)] = True
        if len(agree) >= required and all(veto_covered):
            feasible.append((deal, row))
        if len(agree) == len(names):
            unanimous.append((deal, row))
    pareto = []
    for i, (deal, row) in enumerate(feasible):
        dominated = False
        for j, (_other, other_row) in enumerate(feasible):
            if j == i:
                continue
            if all(o >= r for o, r in zip(other_row, row)) and any(
                    o > r for o, r in zip(other_row, row)):
                dominated = True
                break
            if j < i and other_row == row:  # an identical earlier deal represents it
                dominated = True
                break
        if not dominated:
            pareto.append(",".join(deal))
    welfare = None
    best = None
    for deal, row in feasible:
        if best is None or sum(row) > best:
            best, welfare = sum(row), ",".join(deal)
    nash = None
    best_product = None
    minimums = [float(parties[name]["min"]) for name in names]
    for deal, row in unanimous:
        product = 1.0
        for value, minimum in zip(row, minimums):
            product *= value - minimum
        if best_product is None or product > best_product:
            best_product, nash = product, ",".join(deal)
    return {"deals": len(deals), "feasible": len(feasible), "unanimous": len(unanimous),
            "acceptable": acceptable, "pareto": pareto, "welfare_deal": welfare,
            "nash_deal": nash}


def notebook_check(scoring: Scoring) -> dict[str, dict[str, Any]]:
    return {">=": notebook_analysis(scoring, False), ">": notebook_analysis(scoring, True)}


# --------------------------------------------------------------------------- ours

def ours_analyse(scoring: Scoring) -> dict[str, dict[str, Any]]:
    out = {}
    for policy in (DEFAULT_POLICY, STRICT):
        a = analyse(scoring, policy)
        out[a.comparison] = {
            "deals": a.deals, "feasible": a.feasible, "unanimous": a.unanimous,
            "acceptable": dict(a.acceptable), "pareto": [str(d) for d in a.pareto],
            "welfare_deal": str(a.welfare_deal) if a.welfare_deal else None,
            "nash_deal": str(a.nash_deal) if a.nash_deal else None}
    return out


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(reps):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--reps", type=int, help="repetitions of ours (default 21)")
    args = parser.parse_args()
    reps = args.reps or (5 if args.quick else 21)
    loop_reps = max(2, reps // 4)

    game = load_game(GAME)
    scoring = game.scoring
    print(f"game {game.name}: {scoring.n_deals():,} deals x {len(scoring.parties)} parties, "
          f"{len(scoring.issues)} issues; load average {os.getloadavg()[0]:.2f}")

    # first calls (numpy warm-up, Jinja compilation for the notes) are timed apart
    started = time.perf_counter()
    summary(game)
    first_check = time.perf_counter() - started
    t_ours, ours = timed(lambda: ours_analyse(scoring), reps)
    t_check, check = timed(lambda: summary(game), reps)
    t_loop, loop = timed(lambda: notebook_check(scoring), loop_reps)
    # where ours spends its time: the Pareto filter (a Python loop over feasible deals) vs the rest
    import numpy as np

    from negotiation.core.deal_space import (
        acceptance_matrix,
        all_scores,
        feasible_mask,
        pareto_front,
    )

    _, scores = all_scores(scoring)
    feasible_rows = {p.comparison: scores[np.flatnonzero(feasible_mask(
        scoring, acceptance_matrix(scoring, scores, p), p))] for p in (DEFAULT_POLICY, STRICT)}
    t_pareto, _ = timed(lambda: [pareto_front(rows) for rows in feasible_rows.values()], reps)

    same = ours == loop
    mismatches = [f"{cmp} {key}" for cmp in ours for key in ours[cmp]
                  if ours[cmp][key] != loop[cmp][key]]
    same_as_check = all(check["feasible"][c] == ours[c]["feasible"]
                        and check["unanimous"][c] == ours[c]["unanimous"]
                        and check["analysis"][c]["pareto"] == ours[c]["pareto"] for c in ours)
    for cmp in (">=", ">"):
        o = ours[cmp]
        print(f"  {cmp:<2}: feasible {o['feasible']}, unanimous {o['unanimous']}, Pareto "
              f"{len(o['pareto'])}, welfare {o['welfare_deal']}, Nash {o['nash_deal']}")
    print(f"both approaches give the same figures (counts, acceptable per party, Pareto set, "
          f"welfare and Nash deals, both comparisons): {same}"
          + ("" if same else f" — differ on {', '.join(mismatches)}"))
    print(f"check summary agrees with analyse: {same_as_check}")
    print(f"\nmedian times ({reps} reps; loop {loop_reps} reps):")
    print(f"  ours, analyse(>=) + analyse(>)       {1000 * t_ours:8.2f} ms")
    print(f"  ours, checking.summary (check --json) {1000 * t_check:8.2f} ms  "
          f"(first call {1000 * first_check:.1f} ms: compiles the prompt templates for the notes)")
    print(f"    of which pareto_front (x2)          {1000 * t_pareto:8.2f} ms  (a Python loop over "
          f"{', '.join(str(len(r)) for r in feasible_rows.values())} feasible deals)")
    print(f"  notebook approach (Python loops)     {1000 * t_loop:8.2f} ms")
    print(f"  ratio loop / ours(analyse) = {t_loop / t_ours:.1f}x; loop / ours(summary) = "
          f"{t_loop / t_check:.1f}x")
    print(f"target: ours < {TARGET_MS:g} ms: analyse {verdict(t_ours * 1000 < TARGET_MS)}, "
          f"summary {verdict(t_check * 1000 < TARGET_MS)}; same figures: {verdict(same)}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


if __name__ == "__main__":
    main()
