"""Exact search for minimum thresholds that give a game target feasible/unanimous counts.

``game harden`` looks for a threshold vector ``t`` (one minimum per party, each within
``±bound`` of the original ``m``) such that, over every possible deal,

* the number of feasible deals equals ``feasible``,
* the number of unanimous deals equals ``unanimous`` (when given), and
* every deal that maximises the proposer's (p1's) own score stays infeasible,

minimising the key ``(Σ|t_i − m_i|, parties changed, parties lowered, deltas in config order)``.

Method (a depth-first branch and bound; see ``docs/game-authoring.md`` for the proof):

1. The deals × parties score matrix is built once (``analysis.all_scores``).
2. A party's acceptance set changes only when its threshold crosses one of its own score
   values, so each party's thresholds fall into classes; only the member of each class
   closest to ``m_i`` can be optimal (same counts, smaller change). These are the candidates.
3. Raising a threshold only removes acceptances, so feasible and unanimous counts are
   non-increasing in every threshold. With some parties fixed and the others anywhere in a box
   ``[lo, hi]``, the counts lie between their values at ``hi`` and at ``lo``: a branch whose
   interval misses a target, or whose best case still makes p1's ideal deal feasible, is cut.
4. Once a solution of cost ``C`` is known, the other parties may only move by the budget
   left, which shrinks the box; all candidates of one party are judged in one numpy step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from negotiation.core.deal_space import acceptance_matrix, all_scores, feasible_mask
from negotiation.core.errors import ConfigError
from negotiation.core.game import Scoring
from negotiation.core.rules import (
    DEFAULT_POLICY,
    RulePolicy,
    acceptance_offsets,
    minimums,
    required_supporters,
    strict_margin,
    veto_mask,
)

DEFAULT_BOUND = 20
MAX_DEALS = 100_000
"""The search keeps a few (bound + 1) × deals arrays per party; larger games are refused."""


@dataclass(frozen=True)
class HardenResult:
    """The thresholds found (config order) and what they give."""

    names: tuple[str, ...]
    original: tuple[int, ...]
    minimums: tuple[int, ...]
    feasible: int
    unanimous: int
    nodes: int
    """Search nodes expanded (a measure of effort)."""

    @property
    def deltas(self) -> tuple[int, ...]:
        """New minus original threshold, per party."""
        return tuple(n - o for n, o in zip(self.minimums, self.original))

    @property
    def cost(self) -> int:
        """Total absolute change."""
        return sum(abs(d) for d in self.deltas)

    @property
    def changes(self) -> dict[str, tuple[int, int]]:
        """Party name -> (old, new) for the parties whose threshold changed."""
        return {n: (o, m) for n, o, m in zip(self.names, self.original, self.minimums) if o != m}


def solution_key(deltas: tuple[int, ...]) -> tuple[int, int, int, tuple[int, ...]]:
    """What is minimised: total change, parties changed, parties lowered, then the deltas."""
    return (sum(abs(d) for d in deltas), sum(d != 0 for d in deltas),
            sum(d < 0 for d in deltas), deltas)


@dataclass
class _Problem:
    """Precomputed arrays: a party accepts a deal iff ``eff[deal, party] >= threshold``."""

    eff: np.ndarray
    base: np.ndarray
    veto: np.ndarray
    required: int
    ideal: np.ndarray
    bound: int
    targets: tuple[int, int | None]
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cands: list[np.ndarray] = field(default_factory=list)
    acc: list[np.ndarray] = field(default_factory=list)
    rest: list[tuple[tuple[np.ndarray, np.ndarray], ...]] = field(default_factory=list)
    """Per search position j, for the box's low and high end: (acceptance count, veto ok) of
    the parties after j, (bound + 1) × deals, every threshold moved by r = 0 … bound."""

    @property
    def n(self) -> int:
        """Number of parties."""
        return int(self.base.size)


def _problem(scoring: Scoring, feasible: int, unanimous: int | None, bound: int,
             policy: RulePolicy) -> _Problem:
    _, scores = all_scores(scoring)
    # rules.accepts as ">=" on integers: s + bonus > t  <=>  s + bonus - 1 >= t
    eff = scores + acceptance_offsets(scoring, policy) - strict_margin(policy)
    p1 = scoring.parties.index(scoring.proposer)
    ideal = np.flatnonzero(scores[:, p1] == scores[:, p1].max())
    base = minimums(scoring)
    veto = veto_mask(scoring)
    required = required_supporters(scoring, policy)
    order = _search_order(eff, base, veto, required, bound)
    prob = _Problem(eff=eff[:, order], base=base[order], veto=veto[order],
                    required=required, ideal=ideal, bound=bound,
                    targets=(feasible, unanimous), order=order)
    for i in range(prob.n):
        column, minimum = prob.eff[:, i], int(prob.base[i])
        prob.cands.append(_candidates(column, minimum, bound))
        prob.acc.append(column[None, :] >= prob.cands[i][:, None])
    prob.rest = _suffix_boxes(prob)
    return prob


def _suffix_boxes(prob: _Problem) -> list[tuple[tuple[np.ndarray, np.ndarray], ...]]:
    d, r = prob.eff.shape[0], np.arange(prob.bound + 1)
    cnt = [np.zeros((r.size, d), dtype=np.int16) for _ in range(2)]
    vok = [np.ones((r.size, d), dtype=bool) for _ in range(2)]
    out = []
    for i in range(prob.n - 1, -1, -1):
        out.append(tuple((cnt[s].copy(), vok[s].copy()) for s in range(2)))
        for side, sign in enumerate((-1, 1)):
            acc = prob.eff[:, i][None, :] >= prob.base[i] + sign * r[:, None]
            cnt[side] += acc
            if prob.veto[i]:
                vok[side] &= acc
    return out[::-1]


def _search_order(eff: np.ndarray, base: np.ndarray, veto: np.ndarray, required: int,
                  bound: int) -> np.ndarray:
    """Parties by decreasing impact (how far feasible + unanimous counts move when that party
    alone goes from -bound to +bound): deciding them first narrows the intervals soonest."""
    impact = []
    for i in range(base.size):
        spread = 0
        for sign in (-1, 1):
            t = base.copy()
            t[i] += sign * bound
            accept = eff >= t
            counts = accept.sum(axis=1)
            f = int(((counts >= required) & accept[:, veto].all(axis=1)).sum())
            spread += -sign * (f + int((counts == base.size).sum()))
        impact.append(spread)
    return np.array(sorted(range(base.size), key=lambda i: -impact[i]), dtype=np.int64)


def _candidates(column: np.ndarray, minimum: int, bound: int) -> np.ndarray:
    """One threshold per acceptance class within ±bound: the one closest to ``minimum``,
    ordered by |change| (raising before lowering on ties)."""
    ts = np.arange(minimum - bound, minimum + bound + 1)
    counts = (column[:, None] >= ts[None, :]).sum(axis=0)
    best: dict[int, int] = {}
    for t, c in zip(ts.tolist(), counts.tolist()):
        if c not in best or abs(t - minimum) < abs(best[c] - minimum):
            best[c] = t
    return np.array(sorted(best.values(), key=lambda t: (abs(t - minimum), minimum - t)),
                    dtype=np.int64)


def _count(mask: np.ndarray) -> np.ndarray:
    """True entries per row of a candidates × deals mask."""
    return np.count_nonzero(mask, axis=1)


class _Search:
    """Depth-first branch and bound over the candidate thresholds, parties by impact."""

    def __init__(self, prob: _Problem) -> None:
        self.p = prob
        self.best: tuple[int, int, int, tuple[int, ...]] | None = None
        self.nodes = 0
        self.cap = 0

    def budget(self, spent: int) -> int:
        """How much change the parties not yet fixed may still use."""
        return (self.cap if self.best is None else min(self.cap, self.best[0])) - spent

    def run(self) -> tuple[int, ...] | None:
        """The best delta vector, or None when no vector within the bound qualifies.

        Iterative deepening on the total change: a pass with cap C finds the optimum among
        vectors costing at most C; caps double until one succeeds or covers the whole box.
        """
        d, full = self.p.eff.shape[0], self.p.n * self.p.bound
        self.cap = min(4, full)
        while True:
            self.visit(0, (), np.zeros(d, dtype=np.int16), np.ones(d, dtype=bool))
            if self.best is not None or self.cap >= full:
                return None if self.best is None else self.best[3]
            self.cap = min(2 * self.cap, full)

    def rest_box(self, j: int, radii: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Acceptance counts and veto flags (candidates × deals) of the parties after ``j``
        with every threshold moved by ``radii`` (one per candidate), down (0) or up (1)."""
        cnt, vok = self.p.rest[j][side]
        return cnt[radii], vok[radii]

    def counts(self, cnt: np.ndarray, vok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feasible and unanimous masks (candidates × deals) from counts and veto flags."""
        return (cnt >= self.p.required) & vok, cnt == self.p.n

    def viable(self, j: int, cnt: np.ndarray, vok: np.ndarray, spent: int,
               k: int) -> np.ndarray:
        """Which of party ``j``'s first ``k`` candidates may still lead to a solution: the
        counts must be able to hit the targets with the other parties anywhere in the box that
        the budget left allows, and p1's ideal deals must be infeasible at its top corner."""
        p = self.p
        col = p.acc[j][:k]
        vok = vok[None, :] & col if p.veto[j] else np.broadcast_to(vok[None, :], col.shape)
        steps = np.abs(p.cands[j][:k] - p.base[j])
        radii = np.minimum(p.bound, self.budget(spent) - steps)
        fixed = cnt[None, :] + col
        (lo_cnt, lo_vok), (hi_cnt, hi_vok) = (self.rest_box(j, radii, s) for s in (0, 1))
        f_max, u_max = self.counts(fixed + lo_cnt, vok & lo_vok)
        f_min, u_min = self.counts(fixed + hi_cnt, vok & hi_vok)
        feasible, unanimous = p.targets
        ok = (_count(f_min) <= feasible) & (feasible <= _count(f_max))
        if unanimous is not None:
            ok &= (_count(u_min) <= unanimous) & (unanimous <= _count(u_max))
        if p.ideal.size:
            ok &= ~f_min[:, p.ideal].any(axis=1)
        return ok

    def visit(self, j: int, deltas: tuple[int, ...], cnt: np.ndarray, vok: np.ndarray) -> None:
        """Try every viable candidate of party ``j`` given the thresholds of parties < j."""
        self.nodes += 1
        p, spent = self.p, sum(abs(x) for x in deltas)
        steps = np.abs(p.cands[j] - p.base[j])
        k = int(np.searchsorted(steps, self.budget(spent), side="right"))
        if k == 0:
            return
        viable = self.viable(j, cnt, vok, spent, k)
        for c in np.flatnonzero(viable).tolist():
            delta = int(p.cands[j][c] - p.base[j])
            if spent + abs(delta) > self.budget(0):
                break
            if j + 1 == p.n:
                self.offer(deltas + (delta,))
                continue
            col = p.acc[j][c]
            self.visit(j + 1, deltas + (delta,), cnt + col,
                       vok & col if p.veto[j] else vok)

    def offer(self, deltas: tuple[int, ...]) -> None:
        """A complete vector passed the exact test at the last party: keep it if better."""
        config = [0] * len(deltas)
        for pos, d in zip(self.p.order.tolist(), deltas):
            config[pos] = d
        key = solution_key(tuple(config))
        if self.best is None or key < self.best:
            self.best = key


def harden(scoring: Scoring, feasible: int, unanimous: int | None = None,
           bound: int = DEFAULT_BOUND, policy: RulePolicy = DEFAULT_POLICY) -> HardenResult | None:
    """The minimum-change thresholds meeting the targets, or None when none exist in ±bound."""
    if bound < 0:
        raise ConfigError("--bound must be >= 0")
    if scoring.n_deals() > MAX_DEALS:
        raise ConfigError(f"{scoring.name} has {scoring.n_deals():,} deals; harden searches games "
                          f"of at most {MAX_DEALS:,}")
    if not 0 <= feasible <= scoring.n_deals() or (
            unanimous is not None and not 0 <= unanimous <= feasible
            and required_supporters(scoring, policy) <= len(scoring.parties)):
        return None  # unanimous deals are feasible, so no thresholds can give these counts
    prob = _problem(scoring, feasible, unanimous, bound, policy)
    search = _Search(prob)
    deltas = search.run()
    if deltas is None:
        return None
    original = tuple(p.minimum for p in scoring.parties)
    minimums = tuple(m + d for m, d in zip(original, deltas))
    # Re-count with the rules core itself, independently of the search's own arithmetic.
    hardened = with_minimums(scoring, minimums)
    _, scores = all_scores(hardened)
    accept = acceptance_matrix(hardened, scores, policy)
    result = HardenResult(names=tuple(p.name for p in scoring.parties), original=original,
                          minimums=minimums,
                          feasible=int(feasible_mask(hardened, accept, policy).sum()),
                          unanimous=int(accept.all(axis=1).sum()), nodes=search.nodes)
    if result.feasible != feasible or unanimous not in (None, result.unanimous):
        raise AssertionError(f"harden search disagrees with the rules core: {result}")
    return result


def with_minimums(scoring: Scoring, minimums: Sequence[int]) -> Scoring:
    """The scoring view with new minimums (config order), nothing written."""
    return replace(scoring, parties=tuple(replace(p, minimum=int(m))
                                          for p, m in zip(scoring.parties, minimums)))
