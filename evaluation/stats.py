"""Interval estimates and tests used by every aggregate (pure functions, explicit seeds).

* ``wilson``: the Wilson score 95% interval of a proportion k/n.
* ``bootstrap_mean_ci``: a percentile bootstrap of a mean, 10,000 resamples over sessions.
* ``bootstrap_diff_ci``: the same for a difference of means (paired or independent samples).
* ``permutation_test``: a two-sided permutation test of a difference of means (label shuffles
  for independent samples, sign flips for paired ones), with the (count + 1) / (R + 1)
  correction so a p-value is never exactly 0.

Randomness always comes from ``numpy.random.default_rng(seed)`` with an explicit seed; nothing
here touches a global random state, so the same inputs give the same intervals and p-values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Z95 = 1.959963984540054
RESAMPLES = 10_000
DEFAULT_SEED = 0


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of k successes out of n; None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"k={k} is not within 0..n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def rate(k: int, n: int) -> dict[str, Any]:
    """``{"k", "n", "rate", "ci95"}`` with a Wilson interval; rate and interval None if n = 0."""
    interval = wilson(k, n)
    return {"k": int(k), "n": int(n), "rate": (k / n) if n else None,
            "ci95": list(interval) if interval else None}


def _chunks(resamples: int, size: int, budget: int = 2_000_000) -> list[int]:
    """Row counts that split ``resamples`` rows of ``size`` draws into bounded blocks."""
    step = max(1, budget // max(size, 1))
    return [min(step, resamples - start) for start in range(0, resamples, step)]


def _boot_means(rng: np.random.Generator, data: np.ndarray, resamples: int) -> np.ndarray:
    """Means of ``resamples`` bootstrap samples of ``data`` (drawn in bounded blocks)."""
    parts = [data[rng.integers(0, data.size, size=(rows, data.size))].mean(axis=1)
             for rows in _chunks(resamples, data.size)]
    return np.concatenate(parts)


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None], dtype=np.float64)


def bootstrap_mean_ci(values: Sequence[float | None], seed: int = DEFAULT_SEED,
                      resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of the mean (None values dropped; None if empty)."""
    data = _clean(values)
    if data.size == 0:
        return None
    means = _boot_means(np.random.default_rng(seed), data, resamples)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def mean_summary(values: Sequence[float | None], seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """``{"mean", "ci95", "n"}`` over the non-None values (mean and interval None if empty)."""
    data = _clean(values)
    interval = bootstrap_mean_ci(data.tolist(), seed)
    return {"mean": float(data.mean()) if data.size else None,
            "ci95": list(interval) if interval else None, "n": int(data.size)}


def bootstrap_diff_ci(a: Sequence[float], b: Sequence[float], paired: bool = False,
                      seed: int = DEFAULT_SEED,
                      resamples: int = RESAMPLES) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of mean(a) - mean(b).

    Paired samples are resampled as pairs (``a[i]`` with ``b[i]``); independent samples are
    resampled separately. None when either sample is empty.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        return None
    rng = np.random.default_rng(seed)
    if paired:
        if x.size != y.size:
            raise ValueError("paired samples need the same length")
        stats = _boot_means(rng, x - y, resamples)
    else:
        stats = _boot_means(rng, x, resamples) - _boot_means(rng, y, resamples)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def permutation_test(a: Sequence[float], b: Sequence[float], paired: bool = False,
                     seed: int = DEFAULT_SEED, resamples: int = RESAMPLES) -> float | None:
    """Two-sided p-value for mean(a) != mean(b); None when either sample is empty."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        return None
    rng = np.random.default_rng(seed)
    if paired:
        if x.size != y.size:
            raise ValueError("paired samples need the same length")
        diff = x - y
        observed = abs(diff.mean())
        blocks = [np.abs((rng.choice(np.array([-1.0, 1.0]), size=(rows, diff.size))
                          * diff).mean(axis=1)) for rows in _chunks(resamples, diff.size)]
    else:
        pooled = np.concatenate([x, y])
        observed = abs(x.mean() - y.mean())
        blocks = []
        for rows in _chunks(resamples, pooled.size):
            perms = rng.permuted(np.tile(pooled, (rows, 1)), axis=1)
            blocks.append(np.abs(perms[:, : x.size].mean(axis=1) - perms[:, x.size:].mean(axis=1)))
    stats = np.concatenate(blocks)
    extreme = int(np.sum(stats >= observed - 1e-12))
    return (extreme + 1) / (resamples + 1)
