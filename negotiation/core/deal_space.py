"""Vectorised analysis of all deals of a game (feasible, unanimous, Pareto, welfare, Nash).

Deals are enumerated in lexicographic order (A1,B1,… first), so "the first maximum" is the
tie-break towards the lowest option numbers. Scores are computed in chunks as a
deals × parties matrix; games with more than ``MAX_DEALS`` deals are not enumerated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from negotiation.core.game import Deal, Scoring
from negotiation.core.rules import (
    DEFAULT_POLICY,
    RulePolicy,
    acceptance_offsets,
    clears_array,
    minimums,
    required_supporters,
    veto_mask,
)

MAX_DEALS = 5_000_000
CHUNK = 1 << 18


@dataclass(frozen=True)
class Analysis:
    """Figures of one game under one rule policy (all counts over every possible deal)."""

    comparison: str
    deals: int
    feasible: int
    unanimous: int
    acceptable: dict[str, int]
    pareto: tuple[Deal, ...]
    welfare_deal: Deal | None
    nash_deal: Deal | None


def score_tables(scoring: Scoring) -> list[np.ndarray]:
    """Per issue, an (options × parties) array of scores."""
    return [np.array([p.scores[i] for p in scoring.parties], dtype=np.int64).T
            for i in range(len(scoring.issues))]


def iter_chunks(scoring: Scoring, chunk: int = CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (option indices: deals × issues, 0-based; scores: deals × parties) chunks."""
    shape = tuple(i.n_options for i in scoring.issues)
    tables = score_tables(scoring)
    total = scoring.n_deals()
    for start in range(0, total, chunk):
        flat = np.arange(start, min(start + chunk, total), dtype=np.int64)
        idx = np.stack(np.unravel_index(flat, shape), axis=1)
        scores = sum(tables[i][idx[:, i]] for i in range(len(tables)))
        yield idx, np.asarray(scores)


def all_scores(scoring: Scoring) -> tuple[np.ndarray, np.ndarray]:
    """Option indices and scores of every deal (only for games up to ``MAX_DEALS``)."""
    if scoring.n_deals() > MAX_DEALS:
        raise ValueError(f"{scoring.n_deals():,} deals exceed the analysis limit of {MAX_DEALS:,}")
    parts = list(iter_chunks(scoring))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def acceptance_matrix(scoring: Scoring, scores: np.ndarray,
                      policy: RulePolicy = DEFAULT_POLICY) -> np.ndarray:
    """Deals × parties booleans: which party accepts which deal (``rules.accepts`` for every
    cell: p1's bonus counts only when the policy says so)."""
    return clears_array(scores + acceptance_offsets(scoring, policy), minimums(scoring), policy)


def feasible_mask(scoring: Scoring, accept: np.ndarray,
                  policy: RulePolicy = DEFAULT_POLICY) -> np.ndarray:
    """Deals that pass: enough supporters and every veto party among them."""
    enough = accept.sum(axis=1) >= required_supporters(scoring, policy)
    vetoes = veto_mask(scoring)
    if vetoes.any():
        enough &= accept[:, vetoes].all(axis=1)
    return enough


def pareto_front(scores: np.ndarray) -> np.ndarray:
    """Indices (into ``scores``) of rows not weakly dominated by another row, in input order."""
    order = np.lexsort((np.arange(len(scores)), -scores.sum(axis=1)))
    kept: list[int] = []
    for i in order:
        row = scores[i]
        if kept:
            others = scores[kept]
            if np.any(np.all(others >= row, axis=1) & np.any(others > row, axis=1)):
                continue
            if np.any(np.all(others == row, axis=1)):
                continue
        kept.append(int(i))
    return np.array(sorted(kept), dtype=np.int64)


def _deal(idx_row: np.ndarray) -> Deal:
    return Deal(tuple(int(k) + 1 for k in idx_row))


def analyse(scoring: Scoring, policy: RulePolicy = DEFAULT_POLICY) -> Analysis:
    """Enumerate every deal and compute the figures of ``Analysis`` under ``policy``."""
    idx, scores = all_scores(scoring)
    accept = acceptance_matrix(scoring, scores, policy)
    feasible = feasible_mask(scoring, accept, policy)
    unanimous = accept.all(axis=1)
    feasible_idx = np.flatnonzero(feasible)
    pareto = tuple(_deal(idx[feasible_idx[j]]) for j in pareto_front(scores[feasible_idx]))
    welfare = None
    if feasible_idx.size:
        welfare = _deal(idx[feasible_idx[int(np.argmax(scores[feasible_idx].sum(axis=1)))]])
    nash = None
    unanimous_idx = np.flatnonzero(unanimous)
    if unanimous_idx.size:
        surplus = scores[unanimous_idx].astype(np.float64) - minimums(scoring)
        nash = _deal(idx[unanimous_idx[int(np.argmax(np.prod(surplus, axis=1)))]])
    return Analysis(
        comparison=policy.comparison,
        deals=len(scores),
        feasible=int(feasible.sum()),
        unanimous=int(unanimous.sum()),
        acceptable={p.name: int(accept[:, i].sum()) for i, p in enumerate(scoring.parties)},
        pareto=pareto,
        welfare_deal=welfare,
        nash_deal=nash,
    )
