"""Rank correlation between two score vectors (NAS ranking, paper sec. 6.5), with ties.

- ``spearman_rho``: Pearson correlation of the average ranks (ties share the mean rank).
- ``kendall_tau``: Kendall's tau-b, (P - Q) / sqrt((n0 - n1)(n0 - n2)) over all pairs, where P and
  Q count concordant and discordant pairs, n0 = n(n-1)/2 and n1, n2 the pairs tied in x, in y.

Both return NaN when undefined (fewer than 2 items, or a constant vector), as ``scipy.stats`` does;
``ranking_summary`` reports them only from ``MIN_RANKED`` items (two cells are always ranked +-1).
``bootstrap_interval`` gives either one a 95% percentile interval over the items (resampled with
replacement), the spread a reader should expect from another sample of K cells.
"""

from __future__ import annotations

import math

import numpy as np


def average_ranks(x) -> np.ndarray:
    """1-based ranks of ``x``; tied values share the mean of the ranks they span."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]  # exclusive
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def spearman_rho(x, y) -> float:
    rx, ry = average_ranks(x), average_ranks(y)
    if len(rx) != len(ry):
        raise ValueError(f"rank correlation needs equal lengths, got {len(rx)} and {len(ry)}")
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def kendall_tau(x, y) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"rank correlation needs equal lengths, got {len(x)} and {len(y)}")
    upper = np.triu(np.ones((len(x), len(x)), dtype=bool), k=1)  # each pair once
    sx, sy = np.sign(x[:, None] - x[None, :])[upper], np.sign(y[:, None] - y[None, :])[upper]
    n0 = upper.sum()
    denominator = math.sqrt(float(n0 - (sx == 0).sum()) * float(n0 - (sy == 0).sum()))
    return float((sx * sy).sum() / denominator) if denominator > 0 else math.nan


BOOTSTRAP_RESAMPLES = 2000
MIN_RANKED = 3  # fewer items give no ranking to agree with: rho and tau of two are always +-1


def bootstrap_interval(x, y, statistic, resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(x, y)`` over items resampled with replacement
    (a seeded draw, so a table is reproducible); resamples where it is undefined are left out."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < MIN_RANKED:
        return math.nan, math.nan
    draws = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    values = np.array([statistic(x[d], y[d]) for d in draws])
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return math.nan, math.nan
    tail = 100 * (1 - confidence) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def ranking_summary(proxy: dict[str, float], truth: dict[str, float]) -> dict:
    """Rank agreement of per-cell proxy scores with the ground truth, with bootstrap 95% intervals
    over cells; rho and tau are NaN below ``MIN_RANKED`` cells. The bootstrap draws cells by
    position, so they are put in one order (sorted names) first: the interval is the same whichever
    order a caller holds them in (the task's records and the report's regrouped rows did differ)."""
    archs = list(proxy)  # sample order: top-1 keeps the first of tied cells
    ordered = sorted(archs)
    p, t = [proxy[a] for a in ordered], [truth[a] for a in ordered]
    ranked = len(archs) >= MIN_RANKED
    rho, tau = (spearman_rho(p, t), kendall_tau(p, t)) if ranked else (math.nan, math.nan)
    top1 = max(archs, key=proxy.__getitem__)
    best = max(archs, key=truth.__getitem__)
    return {"k": len(archs), "spearman_rho": rho, "spearman_ci": bootstrap_interval(p, t, spearman_rho),
            "kendall_tau": tau, "kendall_ci": bootstrap_interval(p, t, kendall_tau),
            "top1_arch": top1, "top1_ground_truth": truth[top1], "best_arch": best, "best_ground_truth": truth[best],
            "top1_regret": truth[best] - truth[top1]}
