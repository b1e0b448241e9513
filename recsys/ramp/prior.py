"""Baseline CTR: Beta-binomial empirical Bayes (population prior and smoothed CTRs)."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special


def smoothed_ctr(clicks, sends, a: float, b: float) -> np.ndarray:
    """Posterior-mean CTR ``(clicks + a) / (sends + a + b)`` under a Beta(a, b) prior.

    Vectorized; a recipient with no history gets the prior mean ``a / (a + b)``.
    """
    c = np.asarray(clicks, dtype=float)
    s = np.asarray(sends, dtype=float)
    if not (a > 0 and b > 0):
        raise ValueError(f"prior parameters must be positive, got a={a!r}, b={b!r}")
    if np.any(c < 0) or np.any(s < 0) or np.any(c > s):
        raise ValueError("need 0 <= clicks <= sends for every recipient")
    return (c + a) / (s + a + b)


def _pooled(c: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (clicks, sends) pairs, sorted by clicks then sends, and how many recipients
    have each: ``np.unique(..., axis=0, return_counts=True)``'s answer. Whole counts (the usual
    case) are pooled through one integer key per recipient, a fraction of the time a row-wise
    unique takes on millions."""
    if len(c) and s.max() < 2 ** 31:
        ci, si = c.astype(np.int64), s.astype(np.int64)
        if np.array_equal(ci, c) and np.array_equal(si, s):
            width = int(si.max()) + 1
            keys = ci * width + si
            span = int(keys.max()) + 1
            if span <= 4 * len(keys) + (1 << 16):  # a count per possible key: one pass, no sort
                counts = np.bincount(keys, minlength=span)
                keys = np.flatnonzero(counts)
                weight = counts[keys]
            else:
                keys, weight = np.unique(keys, return_counts=True)
            return (keys // width).astype(float), (keys % width).astype(float), weight
    pairs, weight = np.unique(np.stack([c, s], axis=1), axis=0, return_counts=True)
    return pairs[:, 0], pairs[:, 1], weight


def pooled_pairs(clicks, sends) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The recipients with sends as their distinct (clicks, sends) pairs and how many have each:
    what ``fit_population_prior`` fits. Parts of a population pool separately and merge
    (``merge_pooled``) into the whole's."""
    c = np.asarray(clicks, dtype=float).ravel()
    s = np.asarray(sends, dtype=float).ravel()
    if c.shape != s.shape:
        raise ValueError("clicks and sends must have the same length")
    if np.any(~np.isfinite(c)) or np.any(~np.isfinite(s)):
        raise ValueError("clicks and sends must be finite")
    if np.any(c < 0) or np.any(c > s):
        raise ValueError("need 0 <= clicks <= sends for every recipient")
    keep = s > 0
    c, s = c[keep], s[keep]
    if c.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    return _pooled(c, s)


def merge_pooled(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pooled_pairs`` of the union of populations from each one's."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    pairs = np.stack([np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])], axis=1)
    weight = np.concatenate([np.asarray(p[2], dtype=np.int64) for p in parts])
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    return unique[:, 0], unique[:, 1], np.bincount(inverse.ravel(), weights=weight, minlength=len(unique)).astype(np.int64)


def fit_population_prior(
    clicks,
    sends,
    *,
    default: tuple[float, float] = (0.5, 49.5),
    prior_strength: float = 20.0,
    pooled: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[float, float]:
    """Fit a Beta(a, b) population prior for per-recipient push CTRs.

    Maximizes the beta-binomial marginal likelihood of everyone's (clicks, sends) over the
    prior mean and concentration ``a + b``, with weak hyperpriors so that tiny or degenerate data
    give sensible values instead of a runaway fit: the mean gets a Beta hyperprior worth
    ``prior_strength`` observations at ``default``'s mean, and ``log(a + b)`` a normal
    hyperprior (sd 2) at ``default``'s. Recipients with no sends are ignored; with no data at
    all ``default`` comes back unchanged. Identical (clicks, sends) pairs are pooled, so millions
    of recipients cost little. ``pooled``: the pairs already pooled (``pooled_pairs``,
    ``merge_pooled``), in place of ``clicks`` and ``sends`` (pass None for both).
    """
    a0, b0 = default
    if not (a0 > 0 and b0 > 0):
        raise ValueError("default prior parameters must be positive")
    pc, ps, weight = pooled if pooled is not None else pooled_pairs(clicks, sends)
    if len(pc) == 0:
        return float(a0), float(b0)
    w = np.asarray(weight).astype(float)
    mu0 = a0 / (a0 + b0)
    logk0 = math.log(a0 + b0)
    logit_mu0 = math.log(mu0 / (1 - mu0))

    def negloglik(x: np.ndarray) -> float:
        mu = special.expit(x[0])
        k = math.exp(x[1])
        a, b = mu * k, (1 - mu) * k
        ll = np.sum(w * (special.betaln(pc + a, ps - pc + b) - special.betaln(a, b)))
        # hyperprior: mean ~ Beta(prior_strength*mu0, prior_strength*(1-mu0)); log k ~ N(logk0, 2)
        lp = prior_strength * (mu0 * math.log(mu) + (1 - mu0) * math.log1p(-mu))
        lp += -0.5 * ((x[1] - logk0) / 2.0) ** 2
        return -(ll + lp)

    pooled_ctr = (np.dot(w, pc) + a0) / (np.dot(w, ps) + a0 + b0)
    x0 = np.array([math.log(pooled_ctr / (1 - pooled_ctr)), logk0])
    res = optimize.minimize(
        negloglik,
        x0,
        method="L-BFGS-B",
        bounds=[(logit_mu0 - 15, logit_mu0 + 15), (math.log(0.05), math.log(1e6))],
    )
    x = res.x if np.all(np.isfinite(res.x)) else x0
    mu = float(special.expit(x[0]))
    k = float(math.exp(x[1]))
    return mu * k, (1 - mu) * k
