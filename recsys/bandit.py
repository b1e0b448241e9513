"""Thompson sampling for title variants that share a wave.

Each variant's CTR has a Beta posterior ``Beta(prior_a + clicks, prior_b + sends - clicks)``.
:func:`thompson_allocate` splits the next wave's ``n`` recipients among the variants: every
variant keeps at least ``min_share`` of the wave (so a loser can still recover and the editor
sees numbers for all titles) and the rest goes one recipient at a time to the variant whose
posterior draw is highest, so the likely winner's share grows as evidence accumulates.
:func:`prob_best` gives each variant's posterior probability of having the highest CTR, for
display. Pure numpy/scipy; deterministic given the ``rng``.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = ["posterior_params", "prob_best", "thompson_allocate"]


def posterior_params(clicks, sends, prior: tuple[float, float] = (1.0, 1.0)):
    """Beta posterior parameters ``(a, b)`` per variant, validated."""
    c = np.asarray(clicks, dtype=float).ravel()
    s = np.asarray(sends, dtype=float).ravel()
    if c.shape != s.shape or c.size == 0:
        raise ValueError("clicks and sends must be non-empty and of the same length")
    if np.any(~np.isfinite(c)) or np.any(~np.isfinite(s)) or np.any(c < 0) or np.any(c > s):
        raise ValueError("need 0 <= clicks <= sends for every variant")
    a0, b0 = prior
    if not (a0 > 0 and b0 > 0):
        raise ValueError(f"prior must be positive, got {prior!r}")
    return a0 + c, b0 + s - c


def thompson_allocate(
    clicks,
    sends,
    n: int,
    rng: np.random.Generator,
    prior: tuple[float, float] = (1.0, 1.0),
    min_share: float = 0.05,
) -> np.ndarray:
    """Recipients per variant for the next wave: non-negative ints summing to ``n``.

    ``floor(min_share * n)`` go to every variant (scaled down if the variants cannot all have
    it); each of the remaining recipients goes to the argmax of one joint posterior draw.
    """
    a, b = posterior_params(clicks, sends, prior)
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not (0 <= min_share <= 1):
        raise ValueError(f"min_share must be in [0, 1], got {min_share!r}")
    n = int(n)
    k = a.size
    share = min(min_share, 1.0 / k)
    base = int(np.floor(share * n))
    counts = np.full(k, base, dtype=np.int64)
    rest = n - base * k
    if rest > 0:
        # Chunked so huge waves do not allocate a huge matrix at once.
        chunk = 65536
        done = 0
        while done < rest:
            m = min(chunk, rest - done)
            draws = rng.beta(a, b, size=(m, k))
            counts += np.bincount(np.argmax(draws, axis=1), minlength=k)
            done += m
    return counts


def prob_best(clicks, sends, prior: tuple[float, float] = (1.0, 1.0), grid: int = 2001) -> np.ndarray:
    """Posterior probability that each variant has the highest CTR (sums to 1).

    Deterministic numerical integration of ``P(j best) = int f_j(x) prod_{i!=j} F_i(x) dx`` on a
    grid covering every posterior's mass.
    """
    a, b = posterior_params(clicks, sends, prior)
    k = a.size
    if k == 1:
        return np.ones(1)
    # Union of per-variant grids, so a sharp posterior next to a flat one is still resolved.
    lo = stats.beta.ppf(1e-10, a, b)
    hi = stats.beta.ppf(1 - 1e-10, a, b)
    x = np.unique(np.concatenate([np.linspace(l, h, grid) for l, h in zip(lo, hi)]))
    logpdf = stats.beta.logpdf(x[None, :], a[:, None], b[:, None])
    logcdf = np.log(np.clip(special.betainc(a[:, None], b[:, None], x[None, :]), 1e-300, 1.0))
    total = logcdf.sum(axis=0)
    integrand = np.exp(logpdf + total[None, :] - logcdf)
    p = np.trapezoid(integrand, x, axis=1)
    p = np.clip(p, 0.0, None)
    s = p.sum()
    return p / s if s > 0 else np.full(k, 1.0 / k)
