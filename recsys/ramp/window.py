"""Marginal decisions: waves drawn so that their clicks speak for the people an expansion reaches.

A ranked campaign sends to its best-ranked people first, so the clicks of the people already sent
say little about the next ranks, which an expansion would reach. Instead, each wave is a random
sample (stratified by rank) of the campaign's current **window**: the ranks the wave and the
expansion after it would cover together, ``window_size(n, growth)`` = (1 + growth) x n people.
An expansion sends to the window's unsent rest, which the probes sampled like everyone else, so
the test on the probes is a test about the expansion's own audience (``docs/ramp.md``, "Marginal
decisions").

A re-send (undecided) grows the window by the next ``n`` ranks and draws its ``n`` probes so that
every member of the window has had the same chance of being probed: the expansion keeps
``growth x n`` people, and the probes remain an equal-probability sample of the window.
"""

from __future__ import annotations

import math

import numpy as np


def window_size(n: int, growth: float) -> int:
    """The ranks a wave of ``n`` probes and its expansion cover together: (1 + growth) x n."""
    if n < 0 or not (growth >= 1 and math.isfinite(growth)):
        raise ValueError(f"need n >= 0 and growth >= 1, got {n!r}, {growth!r}")
    return round((1.0 + growth) * n)


def probe_counts(*, probed: int, old_unsent: int, new: int, n: int) -> tuple[int, int]:
    """How many of a wave's ``n`` probes to draw from the window's members not yet probed
    (``old_unsent``) and from those it just gained (``new``), given how many members it has
    probed already (``probed``).

    Target: every member's probability of having been probed is the same,
    ``pi = (probed + n) / (probed + old_unsent + new)``. The old members had ``probed / (probed +
    old_unsent)`` each, so they need ``pi`` overall; the new ones get ``pi`` now: ``round(pi x new)``
    new, the rest old. (With fewer people than planned, the shortfall is taken from the other
    group and the sample is as close to equal as the window allows.)
    """
    if min(probed, old_unsent, new, n) < 0:
        raise ValueError("counts must be >= 0")
    size = probed + old_unsent + new
    if size == 0 or n == 0:
        return 0, 0
    pi = min((probed + n) / size, 1.0)
    c_new = min(new, n, round(pi * new))
    c_old = min(old_unsent, n - c_new)
    c_new = min(new, n - c_old)
    return int(c_old), int(c_new)


def block_counts(m: int, count: int, strata: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``m`` items in rank order into ``strata`` contiguous blocks of (nearly) equal size and
    share ``count`` draws among them in proportion (largest remainder, earlier blocks first on
    ties). Returns (block starts, draws per block); blocks never get more draws than items."""
    if m < 0 or count < 0 or count > m or strata < 1:
        raise ValueError(f"need 0 <= count <= m and strata >= 1, got m={m}, count={count}, strata={strata}")
    k = max(min(strata, m), 1)
    sizes = np.array([len(b) for b in np.array_split(np.arange(m), k)], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    if m == 0:
        return starts, np.zeros_like(sizes)
    quota = count * sizes / m
    draws = np.floor(quota).astype(np.int64)
    left = count - int(draws.sum())
    order = np.argsort(-(quota - draws), kind="stable")
    draws[order[:left]] += 1
    return starts, np.minimum(draws, sizes)


def stratified_pick(m: int, count: int, strata: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` of ``m`` items in rank order, stratified: ``count`` shared among ``strata``
    rank blocks in proportion to their size, uniformly at random within each. Returns (indices
    in increasing order, each one's probability of being drawn: its block's draws / size)."""
    starts, draws = block_counts(m, count, strata)
    ends = np.concatenate([starts[1:], [m]])
    picked, prob = [], []
    for a, b, d in zip(starts.tolist(), ends.tolist(), draws.tolist()):
        if d:
            picked.append(a + rng.choice(b - a, size=d, replace=False))
            prob.append(np.full(d, d / (b - a)))
    if not picked:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    idx, p = np.concatenate(picked), np.concatenate(prob)
    order = np.argsort(idx)
    return idx[order].astype(np.int64), p[order]


def strata_summary(position, window: int, clicks, expected, strata: int = 5) -> list[dict]:
    """Per rank block of the window (``strata`` equal blocks, best ranks first): probes, clicks,
    expected clicks (as the caller counts them, e.g. delay-adjusted) and their ratio.

    position  each probe's place in the window (0 = best rank); clicks, expected: per probe."""
    pos = np.asarray(position, dtype=np.int64)
    c = np.asarray(clicks, dtype=float)
    e = np.asarray(expected, dtype=float)
    if not (pos.shape == c.shape == e.shape):
        raise ValueError("position, clicks and expected must have the same length")
    if window <= 0:
        return []
    k = max(min(strata, window), 1)
    edges = np.concatenate([[0], np.cumsum([len(b) for b in np.array_split(np.arange(window), k)])])
    block = np.clip(np.searchsorted(edges, pos, side="right") - 1, 0, k - 1)
    out = []
    for j in range(k):
        sel = block == j
        ej = float(e[sel].sum())
        out.append({"ranks": [int(edges[j]) + 1, int(edges[j + 1])], "probes": int(sel.sum()),
                    "clicks": round(float(c[sel].sum())), "expected_clicks": round(ej, 3),
                    "improvement": round(float(c[sel].sum()) / ej, 3) if ej > 0 else None})
    return out
