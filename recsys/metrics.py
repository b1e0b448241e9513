"""Offline metrics shared by the models, the replay and the promotion rule.

Public API::

    auc(y, score); log_loss(y, p); spearman(a, b)
    sampled_auc(user_factors, item_factors, users, items, rng, seen=None)   # held-out pairs vs random items
    wilson_interval(k, n, z=1.96) -> (lo, hi); proportion_difference_interval(k1, n1, k0, n0, z=1.96) -> (lo, hi)
    reliability_table(y, p, bins=10) -> list[ReliabilityBin]; expected_calibration_error(y, p)
    isotonic_fit(score, y) -> (knots_x, knots_y); isotonic_apply(knots, score)
    ranking_metrics(ranked_hits, n_relevant, n_candidates, k) -> dict
    mean_ci(values) -> (mean, low, high)   # 95% normal interval of the mean
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "auc",
    "log_loss",
    "spearman",
    "sampled_auc",
    "wilson_interval",
    "proportion_difference_interval",
    "ReliabilityBin",
    "reliability_table",
    "expected_calibration_error",
    "isotonic_fit",
    "isotonic_apply",
    "ranking_metrics",
    "mean_ci",
]


def auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); nan without both classes.
    With ``weights``, each pair counts by the product of its rows' weights."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    score = np.asarray(score, dtype=np.float64)
    if weights is None:
        r = rankdata(score)
        return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    w = np.asarray(weights, dtype=np.float64)
    neg_s, neg_w = score[~y], w[~y]
    order = np.argsort(neg_s, kind="stable")
    neg_s, cum = neg_s[order], np.concatenate([[0.0], np.cumsum(neg_w[order])])
    below = cum[np.searchsorted(neg_s, score[y], side="left")]
    tied = cum[np.searchsorted(neg_s, score[y], side="right")] - below
    total = w[y].sum() * neg_w.sum()
    return float(np.sum(w[y] * (below + 0.5 * tied)) / total) if total > 0 else float("nan")


def log_loss(y: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def sampled_auc(user_factors: np.ndarray, item_factors: np.ndarray, users: np.ndarray, items: np.ndarray,
                rng: np.random.Generator, seen=None) -> float:
    """Share of held-out (user, item) pairs whose score (dot product of factors) beats the same
    user with a random item (ties count half): the usual sampled AUC of a factor model.

    ``seen`` (a users x items sparse matrix of training positives) re-draws negatives that were
    positives of that user, a few times. 0.5 without pairs.
    """
    users, items = np.asarray(users), np.asarray(items)
    if len(users) == 0:
        return 0.5
    neg = rng.integers(0, item_factors.shape[0], len(users))
    if seen is not None:
        for _ in range(10):
            hit = np.asarray(seen[users, neg]).ravel() > 0
            if not hit.any():
                break
            neg[hit] = rng.integers(0, item_factors.shape[0], int(hit.sum()))
    pos_s = np.einsum("ij,ij->i", user_factors[users], item_factors[items])
    neg_s = np.einsum("ij,ij->i", user_factors[users], item_factors[neg])
    return float(np.mean(pos_s > neg_s) + 0.5 * np.mean(pos_s == neg_s))


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (sound at 0 and n, unlike the normal one)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_difference_interval(k1: int, n1: int, k0: int, n0: int, z: float = 1.96) -> tuple[float, float]:
    """Interval of p1 - p0 for two independent proportions: Newcombe's hybrid score interval
    (1998, method 10), built from the two Wilson intervals; it keeps its coverage with small
    groups and with counts of zero, where the normal approximation claims far too much."""
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson_interval(k1, n1, z)
    l0, u0 = wilson_interval(k0, n0, z)
    d = p1 - p0
    return d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10, strategy: str = "quantile") -> list[ReliabilityBin]:
    """Predicted vs observed click rate per bin of predicted probability.

    ``strategy="quantile"`` gives bins of equal count (readable for rare clicks),
    ``"uniform"`` bins of equal width on [0, 1]. Empty bins are left out.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if not len(p):
        return []
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    elif strategy == "uniform":
        edges = np.linspace(0, 1, bins + 1)
    else:
        raise ValueError("strategy must be 'quantile' or 'uniform'")
    if len(edges) < 2:  # one predicted value for every row: one bin
        return [ReliabilityBin(float(p[0]), float(p[0]), len(p), float(p.mean()), float(y.mean()))]
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        m = which == b
        if m.any():
            out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), int(m.sum()), float(p[m].mean()), float(y[m].mean())))
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |predicted - observed| over quantile bins."""
    table = reliability_table(y, p, bins)
    n = sum(b.count for b in table)
    if not n:
        return float("nan")
    return float(sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in table) / n)


def isotonic_fit(score: np.ndarray, y: np.ndarray, max_knots: int = 200,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Monotone map score -> probability by pool-adjacent-violators (each row weighted by
    ``weights``, default 1); returns interpolation knots."""
    order = np.argsort(score, kind="stable")
    x = np.asarray(score, dtype=np.float64)[order]
    t = np.asarray(y, dtype=np.float64)[order]
    wt = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    # blocks: value, weight, x-range; merged while they violate monotonicity
    vals, wts, xs_lo, xs_hi = [], [], [], []
    for xi, ti, wi in zip(x, t, wt):
        vals.append(ti)
        wts.append(float(wi))
        xs_lo.append(xi)
        xs_hi.append(xi)
        while len(vals) > 1 and vals[-2] >= vals[-1]:
            w = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w
            hi = xs_hi[-1]
            for lst in (vals, wts, xs_lo, xs_hi):
                lst.pop()
            vals[-1], wts[-1], xs_hi[-1] = v, w, hi
    kx = (np.array(xs_lo) + np.array(xs_hi)) / 2
    ky = np.array(vals)
    if len(kx) > max_knots:  # thin the knots, keeping the ends
        keep = np.unique(np.linspace(0, len(kx) - 1, max_knots).round().astype(int))
        kx, ky = kx[keep], ky[keep]
    return kx, ky


def isotonic_apply(knots: tuple[np.ndarray, np.ndarray], score: np.ndarray) -> np.ndarray:
    kx, ky = knots
    return np.interp(np.asarray(score, dtype=np.float64), kx, ky)


def ranking_metrics(hits_in_order: np.ndarray, n_relevant: int, n_candidates: int, k: int) -> dict[str, float]:
    """precision@k, lift@k, recall@k and ndcg@k for one ranked list.

    ``hits_in_order`` is a boolean array over the ranked candidates (best first, at least the
    first k); lift is precision over the base rate ``n_relevant / n_candidates``.
    """
    top = np.asarray(hits_in_order[:k], dtype=np.float64)
    prec = top.sum() / k
    base = n_relevant / n_candidates if n_candidates else 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(n_relevant, k)].sum()
    return {
        f"precision@{k}": float(prec),
        f"lift@{k}": float(prec / base) if base > 0 else float("nan"),
        f"recall@{k}": float(top.sum() / n_relevant) if n_relevant else float("nan"),
        f"ndcg@{k}": float((top * discounts[: len(top)]).sum() / ideal) if ideal > 0 else float("nan"),
    }


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and 95% normal-approximation interval of the mean (nan values ignored)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    half = 1.96 * float(v.std(ddof=1)) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return m, m - half, m + half
