"""Measuring a strategy's pushes in the simulated world.

* :func:`summarize` -- click improvement (observed clicks / sum of usual CTRs) with an exact
  Poisson interval, the true improvement (expected clicks / sum of usual CTRs, no sampling error),
  clicks per 1,000 pushes, and inactive subscribers brought back per 1,000 pushes.
* :func:`weekly_active_lift` -- weekly-active rate of pushable subscribers against the holdout
  (opted-in subscribers the world forbids pushing), with a normal interval, post-stratified on
  the activity state at time 0 (a pre-treatment covariate) to narrow it.

Pure library: numpy/scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from recsys.simulate.calibration import INACTIVE
from recsys.simulate.world import PushLog, World

__all__ = ["ContentTable", "Lift", "PushSummary", "by_content", "poisson_interval", "summarize",
           "weekly_active_lift"]


@dataclass(frozen=True)
class PushSummary:
    pushes: int                      # delivered pushes (repeats included)
    clicks: int                      # clicks observed by the horizon
    usual_expected: float            # sum of usual CTRs at send (the product's "expected clicks", truth)
    improvement: float               # clicks / usual_expected
    improvement_ci: tuple[float, float]   # exact Poisson (Garwood) interval on clicks / usual_expected
    true_expected: float             # sum of true click probabilities
    true_improvement: float          # true_expected / usual_expected
    clicks_per_1000: float
    reactivated: int                 # clicks by subscribers inactive when the push was sent
    reactivated_per_1000: float
    level: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def poisson_interval(count: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson mean given one observed count. For a sum of
    Bernoulli clicks (variance below the mean) it is conservative."""
    a = 1 - level
    lo = 0.0 if count <= 0 else stats.chi2.ppf(a / 2, 2 * count) / 2
    hi = stats.chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return float(lo), float(hi)


def summarize(log: PushLog, *, horizon: float | None = None, mask=None, level: float = 0.95) -> PushSummary:
    """Summary of the pushes in ``log`` (optionally ``mask``-ed). Clicks after ``horizon``
    (seconds) are not counted; by default every eventual click counts."""
    if mask is not None:
        log = log.select(np.asarray(mask, bool))
    d = log.delivered
    clicked = d & np.isfinite(log.clicked_at)
    if horizon is not None:
        clicked &= log.clicked_at <= horizon
    n = int(d.sum())
    c = int(clicked.sum())
    e = float(log.usual_ctr[d].sum())
    p = float(log.p[d].sum())
    lo, hi = poisson_interval(c, level)
    react = int((clicked & (log.state == INACTIVE)).sum())
    per = 1000.0 / n if n else float("nan")
    return PushSummary(
        pushes=n, clicks=c, usual_expected=e,
        improvement=c / e if e > 0 else float("nan"),
        improvement_ci=(lo / e, hi / e) if e > 0 else (float("nan"), float("nan")),
        true_expected=p, true_improvement=p / e if e > 0 else float("nan"),
        clicks_per_1000=c * per, reactivated=react, reactivated_per_1000=react * per, level=level,
    )


@dataclass(frozen=True, eq=False)
class ContentTable:
    """Per pushed content (sorted by content index): the numbers a ramp is judged by."""

    content: np.ndarray
    pushes: np.ndarray               # delivered
    clicks: np.ndarray               # observed by the horizon
    usual_expected: np.ndarray
    true_expected: np.ndarray
    improvement: np.ndarray          # clicks / usual_expected
    true_improvement: np.ndarray     # true_expected / usual_expected: what the ramp tries to estimate
    first_sent: np.ndarray
    last_sent: np.ndarray


def by_content(log: PushLog, *, horizon: float | None = None) -> ContentTable:
    """Per-content totals of ``log``. ``true_improvement`` uses the truth at each send (state and
    freshness then), so it is the improvement the content really had with the audience it got --
    e.g. the share of contents with ``true_improvement < 1.5`` that a ramp expanded."""
    d = log.delivered
    clicked = d & np.isfinite(log.clicked_at)
    if horizon is not None:
        clicked &= log.clicked_at <= horizon
    ids, inv = np.unique(log.content, return_inverse=True)
    k = len(ids)
    pushes = np.bincount(inv, weights=d, minlength=k).astype(np.int64)
    clicks = np.bincount(inv, weights=clicked, minlength=k).astype(np.int64)
    usual = np.bincount(inv, weights=np.where(d, log.usual_ctr, 0.0), minlength=k)
    true = np.bincount(inv, weights=np.where(d, log.p, 0.0), minlength=k)
    first = np.full(k, np.inf)
    last = np.full(k, -np.inf)
    np.minimum.at(first, inv, log.sent_at)
    np.maximum.at(last, inv, log.sent_at)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ContentTable(ids, pushes, clicks, usual, true, clicks / usual, true / usual, first, last)


@dataclass(frozen=True)
class Lift:
    week: int
    treated_rate: float              # weekly-active share, pushable subscribers (opted in, not holdout)
    holdout_rate: float              # weekly-active share, opted-in holdout
    lift: float                      # difference in percentage points / 100 (post-stratified if asked)
    ci: tuple[float, float]
    relative: float                  # lift / holdout_rate
    n_treated: int
    n_holdout: int
    stratified: bool
    level: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def weekly_active_lift(world: World, week: int, *, stratify: bool = True, level: float = 0.95) -> Lift:
    """Weekly-active rate of opted-in non-holdout subscribers minus that of the opted-in holdout.

    With ``stratify`` the difference is taken within each activity state at time 0 and weighted
    by the states' shares (post-stratification); the interval is the normal one for a difference
    of proportions, per stratum. The holdout is a random 5% (``WorldConfig.holdout_share``), so
    the comparison is a randomized experiment.
    """
    s = world.subscribers
    active = world.weekly_active(week)
    treated = s.push_opt_in & ~s.holdout
    hold = s.push_opt_in & s.holdout
    z = stats.norm.ppf(0.5 + level / 2)
    rt, rh = float(active[treated].mean()), float(active[hold].mean()) if hold.any() else float("nan")
    if stratify:
        strata = s.initial_state
        diff, var = 0.0, 0.0
        total = int((treated | hold).sum())
        for k in np.unique(strata[treated | hold]):
            t_k, h_k = treated & (strata == k), hold & (strata == k)
            nt, nh = int(t_k.sum()), int(h_k.sum())
            if nt == 0 or nh == 0:
                continue
            w = (nt + nh) / total
            pt, ph = active[t_k].mean(), active[h_k].mean()
            diff += w * (pt - ph)
            var += w * w * (pt * (1 - pt) / nt + ph * (1 - ph) / nh)
    else:
        nt, nh = int(treated.sum()), int(hold.sum())
        diff = rt - rh
        var = rt * (1 - rt) / nt + rh * (1 - rh) / nh
    half = z * math.sqrt(var)
    return Lift(week=week, treated_rate=rt, holdout_rate=rh, lift=float(diff),
                ci=(float(diff - half), float(diff + half)),
                relative=float(diff / rh) if rh > 0 else float("nan"),
                n_treated=int(treated.sum()), n_holdout=int(hold.sum()), stratified=stratify, level=level)
