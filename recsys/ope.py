"""Off-policy estimates: the click improvement another ranker would have had on logged waves.

A logged wave sent its ranker's top with certainty (propensity 1) and a slice drawn uniformly at
random from the rest of the eligible pool (propensity q, known). A candidate ranker picks its own
top k from the same pool. Its clicks and expected clicks are estimated by inverse propensity:
a pick the logged wave sent with certainty counts once, an explored one counts 1/q times (it
stands for the q-sampled part of the pool), a pick the wave did not send counts nothing. The
improvement is their ratio (self-normalized): unbiased numerator and denominator, consistent
ratio. Anyone sent at random is also missing at random (a holdout, a failed delivery): both sums
shrink by the same factor, which the ratio cancels.

What the candidate's picks outside the logged top did is seen only through the explored slice:
with a slice of q ~ 1% and usual CTRs of 1-2%, a week of waves holds one or two explored clicks
among a candidate's picks, each standing for 1/q ~ 100-200 clicks. The estimate is then right on
average but skewed: most weeks see fewer explored clicks than expected and it comes out below the
truth, a few see more and it comes out far above (``Estimate.explored_clicks`` says how many it
rests on, ``explored_share`` how much of its expected clicks stand on them).

Intervals: for a client's estimate, waves resampled with replacement and, in each resample, each
propensity group's clicks (the certain and the explored, pooled over the waves) drawn from their
Jeffreys posterior, so that clicks that could have happened and did not are counted (a group with
no click is not certain to have none); for one wave's, the sends resampled within each propensity
group and the counts drawn from their Jeffreys posteriors (conservative: wide). With few explored
clicks the intervals are wide: that is what the logs can say.

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
    explored_clicks: int = 0  # clicks among the picks the logged waves sent at random (propensity < 1)
    explored_share: float = float("nan")  # share of ``expected`` standing on those explored sends


def wave_terms(wave: LoggedWave, picks: np.ndarray) -> tuple[float, float]:
    """Estimated clicks and expected clicks of ``picks`` on this wave."""
    weight = np.isin(wave.sent_ids, np.asarray(picks, dtype=np.int64)) / wave.propensity
    return float(np.sum(weight * wave.clicked)), float(np.sum(weight * wave.expected))


def _ratio(clicks: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, clicks / np.where(expected > 0, expected, 1.0), np.nan)


def _group_terms(wave: LoggedWave, picks: np.ndarray) -> np.ndarray:
    """Per propensity group of a wave (0: sent with certainty, 1: explored), over the picked sends:
    weighted clicks, weighted expected clicks, the expected clicks weighted twice (sum of
    expected / q^2: with the second, how many clicks one click of the group stands for) and the
    raw click count."""
    picked = np.isin(wave.sent_ids, np.asarray(picks, dtype=np.int64))
    out = np.zeros((2, 4))
    for g, in_group in enumerate((wave.propensity >= 1.0, wave.propensity < 1.0)):
        m = picked & in_group
        w = 1.0 / wave.propensity[m]
        out[g] = (np.sum(w * wave.clicked[m]), np.sum(w * wave.expected[m]), np.sum(w * w * wave.expected[m]),
                  np.sum(wave.clicked[m]))
    return out


def estimate(waves: list[LoggedWave], picks: list[np.ndarray], rng: np.random.Generator, *, level: float = 0.9,
             n_boot: int = 1000) -> Estimate:
    """The candidate's improvement over the waves, with an interval.

    Each resample draws the waves with replacement, then draws each propensity group's clicks
    again, pooled over the resampled waves: the group's weighted clicks C, with one click standing
    for s = sum(expected / q^2) / sum(expected / q) clicks, come from s x Gamma(C / s + 1/2), the
    Jeffreys posterior of a Poisson count. Pooled over the week, because its explored picks click
    once or twice in all: per wave, the prior's half click (worth 1/q) would be added ~35 times.
    The method before redrew each wave's counts as Poisson with the observed count as their
    mean: a group with no click then had no chance of one, and on the simulator's own pools
    (explore, holdout and clicks drawn again) the 90% interval covered 57-86% of the time, the
    truth always above it. This one covers 99.7-100% there, and 96-98.5% on synthetic pools:
    conservative, since the wave resampling and the count draw both carry the click noise
    (docs/simulator.md)."""
    if len(waves) != len(picks):
        raise ValueError("one pick list per wave")
    terms = np.array([_group_terms(w, p) for w, p in zip(waves, picks)], dtype=float).reshape(-1, 2, 4)
    c, e = float(terms[:, :, 0].sum()), float(terms[:, :, 1].sum())
    value = float(_ratio(np.array([c]), np.array([e]))[0])
    explored_clicks = int(terms[:, 1, 3].sum())
    explored_share = float(terms[:, 1, 1].sum() / e) if e > 0 else float("nan")
    if len(waves) < 2:
        return Estimate(value, float("nan"), float("nan"), level, len(waves), c, e, explored_clicks, explored_share)
    idx = rng.integers(0, len(waves), size=(n_boot, len(waves)))
    times = np.zeros((n_boot, len(waves)))
    np.add.at(times, (np.repeat(np.arange(n_boot), len(waves)), idx.ravel()), 1.0)  # how often each wave is drawn
    sums = np.einsum("bw,wgk->bgk", times, terms[:, :, :3])  # per resample and group: C, E, sum of expected / q^2
    clicks, expected, twice = sums[..., 0], sums[..., 1], sums[..., 2]
    has = expected > 0
    scale = np.where(has, twice / np.where(has, expected, 1.0), 1.0)
    drawn = np.where(has, scale * rng.gamma(clicks / scale + 0.5), 0.0)
    boot = _ratio(drawn.sum(axis=1), expected.sum(axis=1))
    boot = boot[np.isfinite(boot)]
    lo, hi = (np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]) if len(boot) else (np.nan, np.nan))
    return Estimate(value, float(lo), float(hi), level, len(waves), c, e, explored_clicks, explored_share)


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
