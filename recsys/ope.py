"""Off-policy estimates: the click improvement another ranker would have had on logged waves.

A logged wave sent its ranker's top with certainty (propensity 1) and a slice drawn uniformly at
random from the rest of the eligible pool (propensity q, known). A candidate ranker picks its own
top k from the same pool. Its clicks and expected clicks are estimated by inverse propensity:
a pick the logged wave sent with certainty counts once, an explored one counts 1/q times (it
stands for the q-sampled part of the pool), a pick the wave did not send counts nothing. The
improvement is their ratio (self-normalized): unbiased numerator and denominator, consistent
ratio. Anyone sent at random is also missing at random (a holdout, a failed delivery): both sums
shrink by the same factor, which the ratio cancels.

Intervals: for a client's estimate, waves resampled with replacement and each one's click counts
(per propensity group) drawn again as Poisson counts; for one wave's, the sends resampled within
each propensity group and the counts drawn from their Jeffreys posteriors (conservative: wide). With a slice of q ~ 1% the weights are large and the intervals wide: that is what the
logs can say.

Public API::

    LoggedWave(sent_ids, propensity, expected, clicked)
    wave_terms(wave, picks) -> (clicks_hat, expected_hat)
    estimate(waves, picks, rng, level=0.9, n_boot=1000) -> Estimate   # over waves
    wave_interval(wave, picks, rng, level=0.9, n_boot=1000) -> (value, lo, hi)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LoggedWave", "Estimate", "wave_terms", "estimate", "wave_interval"]


@dataclass(frozen=True)
class LoggedWave:
    """The delivered sends of one logged wave, aligned arrays."""

    sent_ids: np.ndarray  # int64
    propensity: np.ndarray  # float, probability of being chosen (1 = the ranked top)
    expected: np.ndarray  # float, each one's usual push CTR
    clicked: np.ndarray  # bool

    def __post_init__(self) -> None:
        n = len(self.sent_ids)
        if not (len(self.propensity) == len(self.expected) == len(self.clicked) == n):
            raise ValueError("a logged wave's arrays must have one row per send")
        if n and (np.any(~np.isfinite(self.propensity)) or np.any(self.propensity <= 0) or np.any(self.propensity > 1)):
            raise ValueError("propensities must be in (0, 1]")


@dataclass(frozen=True)
class Estimate:
    value: float  # estimated click improvement (nan without expected clicks)
    lo: float
    hi: float
    level: float
    waves: int
    clicks: float  # estimated clicks
    expected: float  # estimated expected clicks


def wave_terms(wave: LoggedWave, picks: np.ndarray) -> tuple[float, float]:
    """Estimated clicks and expected clicks of ``picks`` on this wave."""
    weight = np.isin(wave.sent_ids, np.asarray(picks, dtype=np.int64)) / wave.propensity
    return float(np.sum(weight * wave.clicked)), float(np.sum(weight * wave.expected))


def _ratio(clicks: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, clicks / np.where(expected > 0, expected, 1.0), np.nan)


def _groups(wave: LoggedWave, picks: np.ndarray) -> list[tuple[float, int, float]]:
    """Per propensity group q of a wave: (q, clicks among the picked sends, their expected clicks / q)."""
    picked = np.isin(wave.sent_ids, np.asarray(picks, dtype=np.int64))
    out = []
    for q in np.unique(wave.propensity):
        g = picked & (wave.propensity == q)
        if g.any():
            out.append((float(q), int(wave.clicked[g].sum()), float(wave.expected[g].sum() / q)))
    return out


def estimate(waves: list[LoggedWave], picks: list[np.ndarray], rng: np.random.Generator, *, level: float = 0.9,
             n_boot: int = 1000) -> Estimate:
    """The candidate's improvement over the waves, with an interval: waves resampled with
    replacement, and each resampled wave's click counts (per propensity group) drawn again as
    Poisson counts with their observed means, since a wave's explored picks click a handful of
    times at most and resampling waves alone is too sure of itself (on synthetic pools: 85%
    coverage at the 90% level for 35 waves; with the Poisson draws 91%)."""
    if len(waves) != len(picks):
        raise ValueError("one pick list per wave")
    terms = np.array([wave_terms(w, p) for w, p in zip(waves, picks)], dtype=float).reshape(-1, 2)
    c, e = terms[:, 0].sum(), terms[:, 1].sum()
    value = float(_ratio(np.array([c]), np.array([e]))[0])
    if len(waves) < 2:
        return Estimate(value, float("nan"), float("nan"), level, len(waves), c, e)
    groups = [_groups(w, p) for w, p in zip(waves, picks)]
    idx = rng.integers(0, len(waves), size=(n_boot, len(waves)))
    cs, es = np.zeros(n_boot), np.zeros(n_boot)
    for j, g in enumerate(groups):
        times = (idx == j).sum(axis=1)  # how often wave j is in each resample
        for q, k, ex in g:
            # the sum of ``times`` independent Poisson(k) draws is Poisson(times x k)
            cs += rng.poisson(times * k) / q
            es += times * ex
    boot = _ratio(cs, es)
    boot = boot[np.isfinite(boot)]
    lo, hi = (np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]) if len(boot) else (np.nan, np.nan))
    return Estimate(value, float(lo), float(hi), level, len(waves), c, e)


def wave_interval(wave: LoggedWave, picks: np.ndarray, rng: np.random.Generator, *, level: float = 0.9,
                  n_boot: int = 1000) -> tuple[float, float, float]:
    """One wave's estimate with an interval: the sends resampled within each propensity group
    (the certain and the explored apart, each keeping its size), and each group's click count
    drawn from its Jeffreys (Gamma) posterior, because clicks among a few dozen explored people
    are a handful and a plain bootstrap of so few events is too sure of itself."""
    picked = np.isin(wave.sent_ids, np.asarray(picks, dtype=np.int64))
    y, b = picked * wave.clicked, picked / wave.propensity * wave.expected
    value = float(_ratio(np.array([(y / wave.propensity).sum()]), np.array([b.sum()]))[0])
    cs, es = np.zeros(n_boot), np.zeros(n_boot)
    for q in np.unique(wave.propensity):
        g = np.flatnonzero(wave.propensity == q)
        draw = g[rng.integers(0, len(g), size=(n_boot, len(g)))]
        counts = y[draw].sum(axis=1)
        es += b[draw].sum(axis=1)
        cs += rng.gamma(counts + 0.5, 1.0) / q * (picked[g].any())
    boot = _ratio(cs, es)
    boot = boot[np.isfinite(boot)]
    if not len(boot):
        return value, float("nan"), float("nan")
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return value, float(lo), float(hi)
