"""Wave-ramp statistics: click improvement, anytime-valid ramp decisions, click delays.

A campaign sends a content in waves. After each wave's observation window the campaign asks
:func:`decide` whether to **expand** (next wave = ``growth`` x the last one), **re-send** (same
size again) or **stop**, given everything observed so far (cumulative over all waves).

Click improvement = clicks observed / clicks expected, where expected clicks are the recipients'
usual push CTRs (:func:`smoothed_ctr`) weighted by the share of their eventual clicks that should
have arrived by now (:class:`ClickDelayModel`).

The decision is a pair of one-sided mixture sequential probability ratio tests (equivalently the
two ends of a confidence sequence): expand when the e-value against "improvement <= floor"
reaches ``1/alpha``; stop for futility when the e-value against "improvement >= target" reaches
``1/alpha``. Both e-values are nonnegative supermartingales under their null for Bernoulli clicks
with any per-recipient CTRs and any wave sizes, so by Ville's inequality the error stays below
``alpha`` however often the campaign looks. See ``docs/ramp.md``.

Pure library: numpy/scipy only, arrays and frozen dataclasses in and out.
``python -m recsys.ramp simulate ...`` runs the policy on simulated campaigns.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import optimize, special

__all__ = [
    "ClickDelayModel",
    "RampConfig",
    "RampDecision",
    "WaveStats",
    "coverage",
    "decide",
    "decision_due",
    "fit_population_prior",
    "improvement_interval",
    "normal_interval",
    "simulate",
    "smoothed_ctr",
    "wave_stats",
]

ACTIONS = ("expand", "resend", "stop")


# --------------------------------------------------------------------------------------------
# Configuration and data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RampConfig:
    """Settings of the ramp. Defaults are the product defaults (see docs/ramp.md)."""

    floor: float = 1.5  # expand only when confident the improvement is above this
    target: float = 2.4  # stop for futility when confident the improvement is below this
    alpha: float = 0.05  # error of each one-sided test, valid under continuous monitoring
    initial_size: int = 300  # size of wave 1
    growth: float = 4.0  # next wave = growth x last wave on "expand"
    max_waves: int = 16  # budget: "stop/budget" when still undecided after this many waves
    observation_window_s: float = 1200.0  # a wave is judged only after this many seconds
    mixture_shape: float = 10.0  # Gamma shape of the mixing distribution (larger = more focused)

    def __post_init__(self) -> None:
        if not (self.floor > 0 and math.isfinite(self.floor)):
            raise ValueError(f"floor must be a positive number, got {self.floor!r}")
        if not (self.target >= self.floor and math.isfinite(self.target)):
            raise ValueError(f"target must be >= floor ({self.floor}), got {self.target!r}")
        if not (0 < self.alpha < 0.5):
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha!r}")
        if int(self.initial_size) != self.initial_size or self.initial_size < 1:
            raise ValueError(f"initial_size must be a positive integer, got {self.initial_size!r}")
        if not (self.growth >= 1 and math.isfinite(self.growth)):
            raise ValueError(f"growth must be >= 1, got {self.growth!r}")
        if int(self.max_waves) != self.max_waves or self.max_waves < 1:
            raise ValueError(f"max_waves must be a positive integer, got {self.max_waves!r}")
        if not (self.observation_window_s >= 0):
            raise ValueError(
                f"observation_window_s must be >= 0, got {self.observation_window_s!r}"
            )
        if not (self.mixture_shape > 0 and math.isfinite(self.mixture_shape)):
            raise ValueError(f"mixture_shape must be positive, got {self.mixture_shape!r}")

    # Mixing distributions of the two one-sided tests, on theta = true / null improvement.
    @property
    def _mix_up(self) -> tuple[float, float]:
        mean = max(self.target / self.floor, 1.25)
        return self.mixture_shape, self.mixture_shape / mean

    @property
    def _mix_down(self) -> tuple[float, float]:
        mean = min(self.floor / self.target, 0.8)
        return self.mixture_shape, self.mixture_shape / mean


DEFAULT_CONFIG = RampConfig()


@dataclass(frozen=True)
class WaveStats:
    """What one wave has shown so far. Build it with :func:`wave_stats` from per-recipient arrays.

    sends            recipients in the wave
    expected_clicks  sum of the recipients' baseline CTRs (full horizon, no delay correction)
    clicks           clicks from this wave observed so far (late clicks keep counting)
    completion       expected share of the wave's eventual clicks arrived by now, in [0, 1]
                     (sum ctr_i * F(now - sent_at_i) / sum ctr_i, F the click-delay CDF)
    ctr_sq_sum       sum of squared CTRs; None = assume equal CTRs (sends * mean^2)
    ctr_max          largest CTR in the wave; None = assume equal CTRs (the mean)
    clicked_gap      sum over clickers of ctr_i * (F(now - sent_i) - F(click_i - sent_i)); the
                     exposure a clicker can no longer use. 0 is a fine approximation for small CTRs
    age_seconds      seconds since the wave's last send (None = unknown, no window check)

    The three optional moments make the test exact for large and uneven CTRs; with CTRs of a few
    percent they change the numbers by about a percent.
    """

    sends: int
    expected_clicks: float
    clicks: int
    completion: float = 1.0
    ctr_sq_sum: float | None = None
    ctr_max: float | None = None
    clicked_gap: float = 0.0
    age_seconds: float | None = None

    def __post_init__(self) -> None:
        if int(self.sends) != self.sends or self.sends < 0:
            raise ValueError(f"sends must be a non-negative integer, got {self.sends!r}")
        if not (0 <= self.expected_clicks <= self.sends) or not math.isfinite(self.expected_clicks):
            raise ValueError(
                f"expected_clicks must be in [0, sends={self.sends}], got {self.expected_clicks!r}"
            )
        if int(self.clicks) != self.clicks or self.clicks < 0:
            raise ValueError(f"clicks must be a non-negative integer, got {self.clicks!r}")
        if self.clicks > self.sends:
            raise ValueError(f"clicks ({self.clicks}) cannot exceed sends ({self.sends})")
        if not (0 <= self.completion <= 1):
            raise ValueError(f"completion must be in [0, 1], got {self.completion!r}")
        if self.ctr_sq_sum is not None and not (
            0 <= self.ctr_sq_sum <= self.expected_clicks + 1e-9
        ):
            raise ValueError(
                f"ctr_sq_sum must be in [0, expected_clicks], got {self.ctr_sq_sum!r}"
            )
        if self.ctr_max is not None and not (0 <= self.ctr_max <= 1):
            raise ValueError(f"ctr_max must be in [0, 1], got {self.ctr_max!r}")
        if not (self.clicked_gap >= 0) or not math.isfinite(self.clicked_gap):
            raise ValueError(f"clicked_gap must be >= 0, got {self.clicked_gap!r}")
        if self.age_seconds is not None and not (self.age_seconds >= 0):
            raise ValueError(f"age_seconds must be >= 0, got {self.age_seconds!r}")

    # Moments with the "equal CTRs" defaults filled in.
    def _sq(self) -> float:
        if self.ctr_sq_sum is not None:
            return float(self.ctr_sq_sum)
        return self.expected_clicks**2 / self.sends if self.sends else 0.0

    def _max(self) -> float:
        if self.ctr_max is not None:
            return float(self.ctr_max)
        return self.expected_clicks / self.sends if self.sends else 0.0


@dataclass(frozen=True)
class RampDecision:
    """The outcome of :func:`decide`.

    action     "expand", "resend" or "stop"
    next_size  size of the next wave (0 when stopping)
    reason     one human-readable sentence with the numbers
    code       machine-readable reason: "above_floor", "undecided", "futility", "budget", "cap"
    numbers    JSON-able snapshot of everything the decision saw (store it with the decision)
    """

    action: str
    next_size: int
    reason: str
    code: str
    numbers: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Baseline CTR: Beta-binomial empirical Bayes
# --------------------------------------------------------------------------------------------


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


def fit_population_prior(
    clicks,
    sends,
    *,
    default: tuple[float, float] = (0.5, 49.5),
    prior_strength: float = 20.0,
) -> tuple[float, float]:
    """Fit a Beta(a, b) population prior for per-recipient push CTRs.

    Maximizes the beta-binomial marginal likelihood of everyone's (clicks, sends) over the
    prior mean and concentration ``a + b``, with weak hyperpriors so that tiny or degenerate data
    give sensible values instead of a runaway fit: the mean gets a Beta hyperprior worth
    ``prior_strength`` observations at ``default``'s mean, and ``log(a + b)`` a normal
    hyperprior (sd 2) at ``default``'s. Recipients with no sends are ignored; with no data at
    all ``default`` comes back unchanged. Identical (clicks, sends) pairs are pooled, so millions
    of recipients cost little.
    """
    c = np.asarray(clicks, dtype=float).ravel()
    s = np.asarray(sends, dtype=float).ravel()
    if c.shape != s.shape:
        raise ValueError("clicks and sends must have the same length")
    if np.any(~np.isfinite(c)) or np.any(~np.isfinite(s)):
        raise ValueError("clicks and sends must be finite")
    if np.any(c < 0) or np.any(c > s):
        raise ValueError("need 0 <= clicks <= sends for every recipient")
    a0, b0 = default
    if not (a0 > 0 and b0 > 0):
        raise ValueError("default prior parameters must be positive")
    keep = s > 0
    c, s = c[keep], s[keep]
    if c.size == 0:
        return float(a0), float(b0)
    pairs, weight = np.unique(np.stack([c, s], axis=1), axis=0, return_counts=True)
    pc, ps = pairs[:, 0], pairs[:, 1]
    w = weight.astype(float)
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

    pooled = (c.sum() + a0) / (s.sum() + a0 + b0)
    x0 = np.array([math.log(pooled / (1 - pooled)), logk0])
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


# --------------------------------------------------------------------------------------------
# Click delays
# --------------------------------------------------------------------------------------------

_KNOT_LO_S = 1.0
_HORIZON_S = 48 * 3600.0
_N_KNOTS = 96


def _default_cdf(t: np.ndarray) -> np.ndarray:
    """Default delay CDF: 85% of clicks lognormal around 3 min, 15% lognormal around 1 h."""
    from scipy.stats import norm

    t = np.maximum(np.asarray(t, dtype=float), 1e-9)
    f = 0.85 * norm.cdf(np.log(t / 180.0) / 1.0) + 0.15 * norm.cdf(np.log(t / 3600.0) / 1.2)
    f_h = 0.85 * norm.cdf(math.log(_HORIZON_S / 180.0)) + 0.15 * norm.cdf(
        math.log(_HORIZON_S / 3600.0) / 1.2
    )
    return np.minimum(f / f_h, 1.0)


@dataclass(frozen=True)
class ClickDelayModel:
    """CDF of the delay between a push being sent and its click, among pushes that get clicked.

    Piecewise linear in log-time between knots (1 s ... 48 h); F(t) = 1 beyond the last knot.
    ``fit`` blends the empirical CDF of observed delays with the default curve, weighted by
    ``prior_weight`` pseudo-observations, so a handful of delays cannot produce a silly curve.
    """

    knots_s: tuple[float, ...]
    cdf_values: tuple[float, ...]
    n_observed: int = 0

    def __post_init__(self) -> None:
        k = np.asarray(self.knots_s, dtype=float)
        f = np.asarray(self.cdf_values, dtype=float)
        if k.ndim != 1 or k.size < 2 or k.shape != f.shape:
            raise ValueError("knots_s and cdf_values must be equal-length lists (>= 2 points)")
        if np.any(~np.isfinite(k)) or k[0] <= 0 or np.any(np.diff(k) <= 0):
            raise ValueError("knots_s must be positive and strictly increasing")
        if np.any(~np.isfinite(f)) or f[0] <= 0 or np.any(np.diff(f) <= 0) or abs(f[-1] - 1) > 1e-9:
            raise ValueError("cdf_values must be strictly increasing, positive, and end at 1")

    # ---- construction ----
    @classmethod
    def default(cls) -> "ClickDelayModel":
        knots = np.geomspace(_KNOT_LO_S, _HORIZON_S, _N_KNOTS)
        f = _default_cdf(knots)
        f[-1] = 1.0
        return cls(tuple(float(x) for x in knots), tuple(float(x) for x in f), 0)

    @classmethod
    def fit(cls, delays_s, *, prior_weight: float = 50.0) -> "ClickDelayModel":
        """Fit from observed click delays in seconds (clicks from finished past campaigns)."""
        d = np.asarray(delays_s, dtype=float).ravel()
        if np.any(~np.isfinite(d)) or np.any(d < 0):
            raise ValueError("delays must be finite and >= 0 seconds")
        if prior_weight <= 0:
            raise ValueError("prior_weight must be positive")
        base = cls.default()
        knots = np.asarray(base.knots_s)
        f0 = np.asarray(base.cdf_values)
        n = d.size
        if n == 0:
            return base
        emp = np.searchsorted(np.sort(d), knots, side="right") / n
        emp[-1] = 1.0  # delays past the horizon count as arriving at the horizon
        f = (n * emp + prior_weight * f0) / (n + prior_weight)
        return cls(tuple(float(x) for x in knots), tuple(float(x) for x in f), int(n))

    # ---- evaluation ----
    def cdf(self, t) -> np.ndarray:
        """Share of eventual clicks that have arrived ``t`` seconds after sending (vectorized)."""
        t = np.asarray(t, dtype=float)
        k = np.asarray(self.knots_s)
        f = np.asarray(self.cdf_values)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.interp(np.log(np.maximum(t, k[0])), np.log(k), f)
        below = t < k[0]
        out = np.where(below, f[0] * np.clip(t, 0, None) / k[0], out)
        return np.where(np.isnan(t), np.nan, out)

    def quantile(self, q) -> np.ndarray:
        """Inverse CDF in seconds (vectorized)."""
        q = np.asarray(q, dtype=float)
        k = np.asarray(self.knots_s)
        f = np.asarray(self.cdf_values)
        inner = np.exp(np.interp(q, f, np.log(k)))
        return np.where(q < f[0], k[0] * np.clip(q, 0, None) / f[0], inner)

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        return self.quantile(rng.random(size))

    # ---- persistence ----
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "click_delay_knots",
            "version": 1,
            "knots_s": list(self.knots_s),
            "cdf": list(self.cdf_values),
            "n_observed": self.n_observed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClickDelayModel":
        if data.get("kind") != "click_delay_knots" or data.get("version") != 1:
            raise ValueError("not a click-delay model dict (kind/version mismatch)")
        return cls(
            tuple(float(x) for x in data["knots_s"]),
            tuple(float(x) for x in data["cdf"]),
            int(data.get("n_observed", 0)),
        )


def wave_stats(
    ctr,
    sent_at,
    clicked_at,
    now: float,
    delay: ClickDelayModel | None = None,
) -> WaveStats:
    """Summarize one wave from per-recipient arrays (times in seconds, any common epoch).

    ctr         baseline CTR of each recipient (see :func:`smoothed_ctr`)
    sent_at     when each push was sent
    clicked_at  when each recipient clicked, NaN if not (yet); clicks after ``now`` are ignored
    """
    p = np.asarray(ctr, dtype=float).ravel()
    s = np.asarray(sent_at, dtype=float).ravel()
    k = np.asarray(clicked_at, dtype=float).ravel()
    if not (p.shape == s.shape == k.shape):
        raise ValueError("ctr, sent_at and clicked_at must have the same length")
    if np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError("ctr must be in [0, 1]")
    if np.any(~np.isfinite(s)) or np.any(s > now):
        raise ValueError("sent_at must be finite and not after now")
    delay = delay or ClickDelayModel.default()
    f_now = delay.cdf(now - s)
    clicked = np.isfinite(k) & (k <= now)
    f_click = delay.cdf(np.where(clicked, k - s, 0.0))
    total = float(p.sum())
    completion = float((p * f_now).sum() / total) if total > 0 else 1.0
    gap = float(np.sum(np.where(clicked, p * np.maximum(f_now - f_click, 0.0), 0.0)))
    return WaveStats(
        sends=int(p.size),
        expected_clicks=total,
        clicks=int(clicked.sum()),
        completion=min(max(completion, 0.0), 1.0),
        ctr_sq_sum=float(np.sum(p * p)),
        ctr_max=float(p.max()) if p.size else 0.0,
        clicked_gap=gap,
        age_seconds=float(now - s.max()) if s.size else None,  # since the wave's last send
    )


# --------------------------------------------------------------------------------------------
# The mixture e-values (vectorized core)
# --------------------------------------------------------------------------------------------
#
# For a recipient clicking with probability q and delay CDF F, the clicked-by-t indicator is a
# counting process with compensator A(t) = -log(1 - q F(t ^ T)) (T the click time; a clicker's
# compensator freezes at its click). For any theta > 0, theta^N(t) exp(-(theta - 1) A(t)) is a
# nonnegative martingale. We replace A by an "exposure" computable from wave totals that differs
# from the compensator of any null value by an amount that only grows with time; multiplying a
# nonnegative martingale by a non-increasing positive factor keeps a supermartingale:
#   theta >= 1 (null "improvement <= r"):
#     U(r) = r Z1 + r^2 Q2 / (2 (1 - r qmax))  >=  sum_i -log(1 - r z_i)
#   theta <= 1 (null "improvement >= r"):
#     L(r) = r Z1                              <=  sum_i -log(1 - r z_i)
# with z_i = p_i F(t ^ T_i) (F at the click time for clickers), Z1 = sum z_i = Q1 - gap,
# Q1 = sum p_i F_i(t), gap = sum over clickers p_i (F_i(t) - F_i(T_i)), Q2 = sum (p_i F_i(t))^2,
# qmax = max p_i F_i(t). (The quadratic term is the smallest of the form c z^2 whose growth keeps
# pace with -log(1 - r z) for every z <= qmax.) Mixing theta over a truncated Gamma gives
# closed forms with regularized incomplete gamma functions.


def _log_gammaincc(s, x):
    with np.errstate(divide="ignore"):
        return np.log(special.gammaincc(s, x))


def _log_gammainc(s, x):
    with np.errstate(divide="ignore"):
        return np.log(special.gammainc(s, x))


def _log_e_up(clicks, exposure, shape: float, rate: float) -> np.ndarray:
    """log of  int_{theta>=1} theta^C exp(-(theta-1) U) dGamma(shape, rate)(theta) / P(theta>=1)."""
    c = np.asarray(clicks, dtype=float)
    u = np.asarray(exposure, dtype=float)
    s = c + shape
    with np.errstate(invalid="ignore", over="ignore"):
        out = (
            u
            + shape * math.log(rate)
            + special.gammaln(s)
            - special.gammaln(shape)
            - float(_log_gammaincc(shape, rate))
            - s * np.log(u + rate)
            + _log_gammaincc(s, u + rate)
        )
    return np.where(np.isinf(u), -np.inf, out)


def _log_e_down(clicks, exposure, shape: float, rate: float) -> np.ndarray:
    """log of  int_{0<theta<=1} theta^C exp((1-theta) L) dGamma(shape, rate)(theta) / P(theta<=1)."""
    c = np.asarray(clicks, dtype=float)
    v = np.asarray(exposure, dtype=float)
    s = c + shape
    with np.errstate(invalid="ignore", over="ignore"):
        out = (
            v
            + shape * math.log(rate)
            + special.gammaln(s)
            - special.gammaln(shape)
            - float(_log_gammainc(shape, rate))
            - s * np.log(v + rate)
            + _log_gammainc(s, v + rate)
        )
    return np.where(np.isinf(v), np.inf, out)


def _upper_exposure(r, q1, q2, qmax, gap) -> np.ndarray:
    r = np.asarray(r, dtype=float)
    denom = 1.0 - r * qmax
    z1 = np.maximum(np.asarray(q1) - np.asarray(gap), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = r * z1 + np.where(q2 > 0, (r * r * q2) / (2.0 * denom), 0.0)
    return np.where(denom > 0, u, np.inf)


def _lower_exposure(r, q1, gap) -> np.ndarray:
    return np.asarray(r, dtype=float) * np.maximum(np.asarray(q1) - np.asarray(gap), 0.0)


def _e_values(clicks, q1, q2, qmax, gap, config: RampConfig):
    """log e-values against 'improvement <= floor' and against 'improvement >= target'."""
    k_up, rate_up = config._mix_up
    k_dn, rate_dn = config._mix_down
    log_up = _log_e_up(clicks, _upper_exposure(config.floor, q1, q2, qmax, gap), k_up, rate_up)
    log_dn = _log_e_down(clicks, _lower_exposure(config.target, q1, gap), k_dn, rate_dn)
    return log_up, log_dn


def improvement_interval(
    clicks,
    expected,
    *,
    alpha: float | None = None,
    expected_sq=0.0,
    expected_max=0.0,
    clicked_gap=0.0,
    config: RampConfig = DEFAULT_CONFIG,
    iterations: int = 60,
):
    """Anytime-valid confidence sequence for the click improvement (vectorized).

    clicks       clicks observed so far (cumulative)
    expected     delay-adjusted expected clicks so far, sum_i ctr_i F(now - sent_i)
    expected_sq  sum_i (ctr_i F_i)^2, expected_max = max_i ctr_i F_i, clicked_gap: see WaveStats;
                 the zero defaults are the small-CTR (Poisson) limit.

    Returns ``(lo, hi)``. Each end is a one-sided ``alpha`` bound valid simultaneously over all
    looks: P(lo ever exceeds the truth) <= alpha and P(hi ever falls below it) <= alpha, so
    ``[lo, hi]`` is a (1 - 2 alpha) two-sided confidence sequence. ``decide`` expands iff
    ``lo > floor`` and stops for futility iff ``hi < target`` (with ``alpha = config.alpha``).
    """
    alpha = config.alpha if alpha is None else alpha
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    c, q1, q2, qm, gap = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (clicks, expected, expected_sq, expected_max, clicked_gap))
    )
    thr = math.log(1.0 / alpha)
    k_up, rate_up = config._mix_up
    k_dn, rate_dn = config._mix_down
    tiny = 1e-9

    def m_up(r):
        return _log_e_up(c, _upper_exposure(r, q1, q2, qm, gap), k_up, rate_up)

    def m_dn(r):
        return _log_e_down(c, _lower_exposure(r, q1, gap), k_dn, rate_dn)

    # ---- lower end: largest r still rejected by the test of "improvement <= r" ----
    # m_up decreases in r. Upper bracket: where the upper exposure stops being finite, or
    # high enough that the e-value is below the threshold.
    with np.errstate(divide="ignore", invalid="ignore"):
        r_cap = np.where(qm > 0, (1.0 - 1e-12) / qm, np.inf)
        guess = np.where(q1 > 0, 2.0 * (c + 1.0) / q1 + 1.0, 1.0)
    hi_b = np.minimum(guess, r_cap)
    for _ in range(200):
        need = (m_up(hi_b) >= thr) & (hi_b < r_cap)
        if not np.any(need):
            break
        hi_b = np.where(need, np.minimum(hi_b * 2.0, r_cap), hi_b)
    lo_b = np.full_like(hi_b, tiny)
    rejected_at_tiny = m_up(lo_b) >= thr
    a_, b_ = np.log(lo_b), np.log(hi_b)
    for _ in range(iterations):
        mid = 0.5 * (a_ + b_)
        rej = m_up(np.exp(mid)) >= thr
        a_ = np.where(rej, mid, a_)
        b_ = np.where(rej, b_, mid)
    lo = np.where(rejected_at_tiny, np.exp(a_), 0.0)
    # Never above the point estimate clicks / expected. (The exposure above credits clickers'
    # unusable exposure, so with huge samples the raw bound could pass the estimate by a hair;
    # lowering a lower confidence bound keeps it valid.)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(q1 > 0, np.minimum(lo, c / np.where(q1 > 0, q1, 1.0)), lo)

    # ---- upper end: smallest r rejected by the test of "improvement >= r" ----
    informative = (q1 - gap) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hb = np.where(informative, 2.0 * (c + 1.0) / np.maximum(q1 - gap, tiny) + 1.0, 1.0)
    for _ in range(200):
        need = informative & (m_dn(hb) < thr)
        if not np.any(need):
            break
        hb = np.where(need, hb * 2.0, hb)
    lb = np.full_like(hb, tiny)
    already = m_dn(lb) >= thr  # cannot happen for a proper prior, kept for safety
    a_, b_ = np.log(lb), np.log(hb)
    for _ in range(iterations):
        mid = 0.5 * (a_ + b_)
        rej = m_dn(np.exp(mid)) >= thr
        a_ = np.where(rej, a_, mid)
        b_ = np.where(rej, mid, b_)
    hi = np.where(informative, np.where(already, 0.0, np.exp(b_)), np.inf)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def normal_interval(clicks, expected, *, alpha: float | None = None, config: RampConfig = DEFAULT_CONFIG):
    """Plain normal (Wald) interval for the improvement, for display only (vectorized).

    ``clicks / expected +- z * sqrt(clicks) / expected`` with ``z`` the one-sided ``1 - alpha``
    normal quantile, i.e. a (1 - 2 alpha) two-sided interval. Valid for ONE look at a large
    sample; checked after every wave it errs far more often than advertised.
    """
    from scipy.stats import norm

    alpha = config.alpha if alpha is None else alpha
    c = np.asarray(clicks, dtype=float)
    e = np.asarray(expected, dtype=float)
    z = norm.ppf(1 - alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(e > 0, c / e, np.nan)
        half = np.where(e > 0, z * np.sqrt(c) / e, np.nan)
    lo, hi = est - half, est + half
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------


def _pool(waves: Sequence[WaveStats]) -> dict[str, float]:
    q1 = sum(w.completion * w.expected_clicks for w in waves)
    q2 = sum(w.completion**2 * w._sq() for w in waves)
    qmax = max((w.completion * w._max() for w in waves), default=0.0)
    return {
        "clicks": int(sum(w.clicks for w in waves)),
        "expected": float(q1),
        "expected_sq": float(q2),
        "expected_max": float(qmax),
        "clicked_gap": float(min(sum(w.clicked_gap for w in waves), q1)),
        "expected_full": float(sum(w.expected_clicks for w in waves)),
        "sends": int(sum(w.sends for w in waves)),
    }


def decision_due(waves: Sequence[WaveStats], config: RampConfig = DEFAULT_CONFIG) -> bool:
    """True once the last wave's observation window has passed (or its age is unknown)."""
    if not waves:
        return False
    age = waves[-1].age_seconds
    return age is None or age >= config.observation_window_s


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _fmt(x: float) -> str:
    return "inf" if not math.isfinite(x) else f"{x:.2f}"


def decide(
    waves: Sequence[WaveStats],
    config: RampConfig = DEFAULT_CONFIG,
    remaining_cap: int | None = None,
) -> RampDecision:
    """Expand, re-send or stop, from all waves so far (cumulative).

    remaining_cap  how many more recipients this content may still reach (None = no cap).

    Raises ValueError if there is no wave or the last wave's observation window has not passed.
    """
    waves = list(waves)
    if not waves:
        raise ValueError("decide needs at least one wave")
    if not decision_due(waves, config):
        raise ValueError(
            f"last wave observed for {waves[-1].age_seconds:.0f} s; decide only after the "
            f"{config.observation_window_s:.0f} s observation window"
        )
    if remaining_cap is not None and remaining_cap < 0:
        raise ValueError(f"remaining_cap must be >= 0, got {remaining_cap!r}")

    p = _pool(waves)
    c, q1 = p["clicks"], p["expected"]
    log_up, log_dn = _e_values(c, q1, p["expected_sq"], p["expected_max"], p["clicked_gap"], config)
    log_up, log_dn = float(log_up), float(log_dn)
    thr = math.log(1.0 / config.alpha)
    lo, hi = improvement_interval(
        c,
        q1,
        expected_sq=p["expected_sq"],
        expected_max=p["expected_max"],
        clicked_gap=p["clicked_gap"],
        config=config,
    )
    nlo, nhi = normal_interval(c, q1, config=config)
    improvement = c / q1 if q1 > 0 else float("nan")
    level = 1 - 2 * config.alpha
    e_up = math.exp(min(log_up, 700.0))
    e_dn = math.exp(min(log_dn, 700.0))
    numbers: dict[str, Any] = {
        "improvement": _finite(improvement),
        "clicks": c,
        "expected_clicks": q1,
        "expected_clicks_full_horizon": p["expected_full"],
        "completion": (q1 / p["expected_full"]) if p["expected_full"] > 0 else None,
        "sends": p["sends"],
        "waves": len(waves),
        "anytime_interval": {
            "lo": _finite(lo),
            "hi": _finite(hi),
            "level": level,
            "label": f"anytime-valid {level:.0%} confidence sequence (each end {1 - config.alpha:.0%}, "
            "valid at every look)",
        },
        "normal_interval": {
            "lo": _finite(nlo),
            "hi": _finite(nhi),
            "level": level,
            "label": f"normal (Wald) {level:.0%} interval: one look only, NOT valid when "
            "checked after every wave",
        },
        "e_value_above_floor": e_up,
        "e_value_below_target": e_dn,
        "e_value_threshold": 1.0 / config.alpha,
        "floor": config.floor,
        "target": config.target,
        "alpha": config.alpha,
    }
    seen = (
        f"{c} clicks vs {q1:.1f} expected by now (improvement {_fmt(improvement)}, "
        f"anytime {level:.0%} interval {_fmt(lo)}-{_fmt(hi)}, normal {_fmt(nlo)}-{_fmt(nhi)})"
    )
    last = waves[-1].sends
    cap = remaining_cap if remaining_cap is not None else None

    def sized(n: int) -> int:
        return int(min(n, cap)) if cap is not None else int(n)

    # Expand only on evidence AND a point estimate above the floor (see improvement_interval).
    if log_up >= thr and c > config.floor * q1:
        nxt = sized(max(int(round(config.growth * last)), last))
        if nxt <= 0:
            return RampDecision(
                "stop", 0, f"stop: above the floor {config.floor} but the content's cap is reached; {seen}",
                "cap", numbers,
            )
        return RampDecision(
            "expand",
            nxt,
            f"expand to {nxt}: confident improvement > floor {config.floor} "
            f"(e-value {e_up:.1f} >= {1 / config.alpha:.0f}); {seen}",
            "above_floor",
            numbers,
        )
    if log_dn >= thr:
        return RampDecision(
            "stop",
            0,
            f"stop: confident improvement < target {config.target} "
            f"(e-value {e_dn:.1f} >= {1 / config.alpha:.0f}); {seen}",
            "futility",
            numbers,
        )
    if len(waves) >= config.max_waves:
        return RampDecision(
            "stop",
            0,
            f"stop: budget of {config.max_waves} waves used without a confident answer; {seen}",
            "budget",
            numbers,
        )
    nxt = sized(last)
    if nxt <= 0:
        return RampDecision("stop", 0, f"stop: the content's cap is reached; {seen}", "cap", numbers)
    return RampDecision(
        "resend",
        nxt,
        f"re-send {nxt}: not yet confident either way "
        f"(e-values {e_up:.1f} and {e_dn:.1f}, need {1 / config.alpha:.0f}); {seen}",
        "undecided",
        numbers,
    )


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


def _simulated_looks(
    rng: np.random.Generator,
    true_improvement: float,
    baseline_ctr: float,
    wave_size: int,
    trials: int,
    looks: int,
    active: np.ndarray,
    *,
    window: float,
    ctr_shape: float | None,
    delay: ClickDelayModel,
    delay_scale: float,
):
    """Yield, after each wave's window, every trial's cumulative evidence.

    A new wave of ``wave_size`` goes to each trial still ``active`` (the caller may clear
    entries between looks) at times 0, window, 2 window, ...; the look after wave k is at
    (k + 1) window. Yields ``(k, clicks, q1, q2, qmax, gap)`` arrays over all trials (the
    quantities of :func:`improvement_interval`); entries of inactive trials are stale.
    """
    T, N = int(trials), int(wave_size)
    s1 = np.zeros((T, looks))
    s2 = np.zeros((T, looks))
    mx = np.zeros((T, looks))
    ck_trial: list[np.ndarray] = []
    ck_wave: list[np.ndarray] = []
    ck_p: list[np.ndarray] = []
    ck_delay: list[np.ndarray] = []
    for k in range(looks):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            return
        if ctr_shape is None:
            p = np.full((idx.size, N), baseline_ctr)
        else:
            b = ctr_shape * (1 - baseline_ctr) / baseline_ctr
            p = rng.beta(ctr_shape, b, size=(idx.size, N))
        s1[idx, k] = p.sum(axis=1)
        s2[idx, k] = np.einsum("ij,ij->i", p, p)
        mx[idx, k] = p.max(axis=1)
        hit = rng.random(p.shape) < np.minimum(true_improvement * p, 1.0)
        rows, cols = np.nonzero(hit)
        ck_trial.append(idx[rows])
        ck_wave.append(np.full(rows.size, k))
        ck_p.append(p[rows, cols])
        ck_delay.append(delay.sample(rng, rows.size) * delay_scale)
        del p, hit

        ages = (k + 1 - np.arange(k + 1)) * window  # wave j was sent at j * window
        comp = delay.cdf(ages)
        q1 = s1[:, : k + 1] @ comp
        q2 = s2[:, : k + 1] @ (comp**2)
        qmax = (mx[:, : k + 1] * comp).max(axis=1)
        tr = np.concatenate(ck_trial)
        wv = np.concatenate(ck_wave)
        cp = np.concatenate(ck_p)
        dl = np.concatenate(ck_delay)
        arrived = dl <= ages[wv]
        clicks = np.bincount(tr[arrived], minlength=T).astype(float)
        gap = np.bincount(
            tr[arrived],
            weights=cp[arrived] * np.maximum(comp[wv[arrived]] - delay.cdf(dl[arrived]), 0.0),
            minlength=T,
        )
        yield k, clicks, q1, q2, qmax, np.minimum(gap, q1)


def _check_sim_args(true_improvement, baseline_ctr, wave_size, trials):
    if not (0 < baseline_ctr < 1):
        raise ValueError("baseline_ctr must be in (0, 1)")
    if true_improvement < 0 or wave_size < 1 or trials < 1:
        raise ValueError("need true_improvement >= 0, wave_size >= 1, trials >= 1")


def simulate(
    true_improvement: float,
    baseline_ctr: float,
    wave_size: int,
    trials: int,
    *,
    policy: str = "anytime",
    seed: int = 0,
    config: RampConfig = DEFAULT_CONFIG,
    ctr_shape: float | None = 2.0,
    delay: ClickDelayModel | None = None,
    delay_scale: float = 1.0,
    naive_alpha: float = 0.025,
) -> dict[str, Any]:
    """Run the ramp on simulated campaigns, vectorized over trials.

    Each trial re-sends waves of ``wave_size`` every observation window until the policy expands,
    stops, or the wave budget runs out. Recipients' CTRs are Beta(ctr_shape, ...) around
    ``baseline_ctr`` (``ctr_shape=None``: all equal); each clicks with probability
    ``min(1, true_improvement * ctr)`` after a delay drawn from ``delay`` (stretched by
    ``delay_scale`` to test a wrong delay model). Clicks keep arriving from all earlier waves.

    policy "anytime": :func:`decide`'s rule. "naive": the repeated normal-interval rule (expand if
    the two-sided (1 - 2 naive_alpha) Wald interval is above the floor, stop if below the target).
    """
    if policy not in ("anytime", "naive"):
        raise ValueError(f"policy must be 'anytime' or 'naive', got {policy!r}")
    _check_sim_args(true_improvement, baseline_ctr, wave_size, trials)
    rng = np.random.default_rng(seed)
    T, N = int(trials), int(wave_size)
    active = np.ones(T, dtype=bool)
    outcome = np.full(T, "budget", dtype=object)
    waves_used = np.zeros(T, dtype=int)
    thr = math.log(1.0 / config.alpha)
    for k, clicks, q1, q2, qmax, gap in _simulated_looks(
        rng, true_improvement, baseline_ctr, N, T, config.max_waves, active,
        window=config.observation_window_s, ctr_shape=ctr_shape,
        delay=delay or ClickDelayModel.default(), delay_scale=delay_scale,
    ):
        waves_used[active] += 1
        if policy == "anytime":
            log_up, log_dn = _e_values(clicks, q1, q2, qmax, gap, config)
            up = (log_up >= thr) & (clicks > config.floor * q1)
            down = log_dn >= thr
        else:
            lo, hi = normal_interval(clicks, q1, alpha=naive_alpha)
            up = np.nan_to_num(lo, nan=-np.inf) > config.floor
            down = np.nan_to_num(hi, nan=np.inf) < config.target
        exp_now = active & up
        stop_now = active & ~up & down
        outcome[exp_now] = "expand"
        outcome[stop_now] = "futility"
        active &= ~(exp_now | stop_now)

    sends = waves_used * N
    expanded = outcome == "expand"
    share = float(expanded.mean())
    return {
        "expanded_share": share,
        "stopped_share": float((outcome == "futility").mean()),
        "budget_share": float((outcome == "budget").mean()),
        "mean_sends": float(sends.mean()),
        "mean_waves": float(waves_used.mean()),
        "mean_sends_when_expanded": float(sends[expanded].mean()) if expanded.any() else None,
        "expanded_share_se": math.sqrt(share * (1 - share) / T),
        "settings": {
            "policy": policy,
            "true_improvement": true_improvement,
            "baseline_ctr": baseline_ctr,
            "wave_size": N,
            "trials": T,
            "seed": seed,
            "ctr_shape": ctr_shape,
            "delay_scale": delay_scale,
            "naive_level": 1 - 2 * naive_alpha if policy == "naive" else None,
            "config": asdict(config),
        },
    }


def coverage(
    true_improvement: float,
    baseline_ctr: float,
    wave_size: int,
    trials: int,
    *,
    looks: int = 20,
    seed: int = 0,
    config: RampConfig = DEFAULT_CONFIG,
    ctr_shape: float | None = 2.0,
    delay_scale: float = 1.0,
) -> dict[str, Any]:
    """Share of simulated campaigns whose interval EVER misses the true improvement, per side,
    over ``looks`` looks (one per wave, waves never stop), for the anytime-valid interval and
    the normal interval at the same nominal level (each side ``config.alpha``)."""
    _check_sim_args(true_improvement, baseline_ctr, wave_size, trials)
    rng = np.random.default_rng(seed)
    T = int(trials)
    active = np.ones(T, dtype=bool)
    miss = {key: np.zeros(T, dtype=bool) for key in ("any_lo", "any_hi", "nrm_lo", "nrm_hi")}
    r = true_improvement
    for _, clicks, q1, q2, qmax, gap in _simulated_looks(
        rng, r, baseline_ctr, wave_size, T, looks, active,
        window=config.observation_window_s, ctr_shape=ctr_shape,
        delay=ClickDelayModel.default(), delay_scale=delay_scale,
    ):
        lo, hi = improvement_interval(clicks, q1, expected_sq=q2, expected_max=qmax,
                                      clicked_gap=gap, config=config)
        nlo, nhi = normal_interval(clicks, q1, config=config)
        miss["any_lo"] |= lo > r
        miss["any_hi"] |= hi < r
        miss["nrm_lo"] |= np.nan_to_num(nlo, nan=-np.inf) > r
        miss["nrm_hi"] |= np.nan_to_num(nhi, nan=np.inf) < r
    out = {
        "anytime_lower_end_ever_above_truth": float(miss["any_lo"].mean()),
        "anytime_upper_end_ever_below_truth": float(miss["any_hi"].mean()),
        "normal_lower_end_ever_above_truth": float(miss["nrm_lo"].mean()),
        "normal_upper_end_ever_below_truth": float(miss["nrm_hi"].mean()),
        "allowed_per_side": config.alpha,
        "settings": {
            "true_improvement": r, "baseline_ctr": baseline_ctr, "wave_size": wave_size,
            "trials": T, "looks": looks, "seed": seed, "ctr_shape": ctr_shape,
            "delay_scale": delay_scale,
        },
    }
    return out


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _config_from_args(args: argparse.Namespace) -> RampConfig:
    base = DEFAULT_CONFIG
    return RampConfig(
        floor=args.floor if args.floor is not None else base.floor,
        target=args.target if args.target is not None else base.target,
        alpha=args.alpha if args.alpha is not None else base.alpha,
        initial_size=base.initial_size,
        growth=base.growth,
        max_waves=args.max_waves if args.max_waves is not None else base.max_waves,
        observation_window_s=args.window if args.window is not None else base.observation_window_s,
        mixture_shape=args.mixture_shape if args.mixture_shape is not None else base.mixture_shape,
    )


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--floor", type=float)
    p.add_argument("--target", type=float)
    p.add_argument("--alpha", type=float)
    p.add_argument("--max-waves", type=int)
    p.add_argument("--window", type=float, help="observation window in seconds")
    p.add_argument("--mixture-shape", type=float)
    p.add_argument("--ctr-shape", type=float, default=2.0,
                   help="Beta shape of recipients' CTRs around the baseline; 0 = all equal")
    p.add_argument("--delay-scale", type=float, default=1.0,
                   help="true delays = model delays x this (tests a wrong delay model)")
    p.add_argument("--naive-level", type=float, default=0.95,
                   help="two-sided level of the naive policy's normal interval")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys.ramp", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sim = sub.add_parser("simulate", help="run one policy on simulated campaigns")
    sim.add_argument("--true-improvement", type=float, required=True)
    sim.add_argument("--baseline-ctr", type=float, required=True)
    sim.add_argument("--wave-size", type=int, required=True)
    sim.add_argument("--policy", choices=("anytime", "naive"), default="anytime")
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(sim)
    tab = sub.add_parser("table", help="markdown table over improvements and both policies")
    tab.add_argument("--baseline-ctr", type=float, required=True)
    tab.add_argument("--wave-size", type=int, required=True)
    tab.add_argument("--improvements", default="1.0,1.5,2.0,2.4,3.0")
    _add_common(tab)
    cov = sub.add_parser("coverage", help="how often each interval ever misses the truth over many looks")
    cov.add_argument("--true-improvement", type=float, required=True)
    cov.add_argument("--baseline-ctr", type=float, required=True)
    cov.add_argument("--wave-size", type=int, required=True)
    cov.add_argument("--looks", type=int, default=20)
    cov.add_argument("--json", action="store_true")
    _add_common(cov)
    args = parser.parse_args(argv)
    try:
        config = _config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    shape = None if args.ctr_shape == 0 else args.ctr_shape
    naive_alpha = (1 - args.naive_level) / 2
    if args.cmd == "simulate":
        res = simulate(
            args.true_improvement, args.baseline_ctr, args.wave_size, args.trials,
            policy=args.policy, seed=args.seed, config=config, ctr_shape=shape,
            delay_scale=args.delay_scale, naive_alpha=naive_alpha,
        )
        if args.json:
            print(json.dumps(res))
        else:
            print(
                f"policy={args.policy} R={args.true_improvement} ctr={args.baseline_ctr} "
                f"wave={args.wave_size} trials={args.trials}: expanded {res['expanded_share']:.2%} "
                f"(+-{res['expanded_share_se']:.2%}), stopped {res['stopped_share']:.2%}, "
                f"budget {res['budget_share']:.2%}, mean sends {res['mean_sends']:.0f}, "
                f"mean waves {res['mean_waves']:.2f}"
            )
        return 0
    if args.cmd == "coverage":
        res = coverage(
            args.true_improvement, args.baseline_ctr, args.wave_size, args.trials,
            looks=args.looks, seed=args.seed, config=config, ctr_shape=shape,
            delay_scale=args.delay_scale,
        )
        if args.json:
            print(json.dumps(res))
        else:
            print(
                f"R={args.true_improvement} ctr={args.baseline_ctr} wave={args.wave_size} "
                f"looks={args.looks} trials={args.trials}; share ever wrong (allowed {config.alpha:.0%} "
                f"per side): anytime lower {res['anytime_lower_end_ever_above_truth']:.2%}, "
                f"anytime upper {res['anytime_upper_end_ever_below_truth']:.2%}; normal lower "
                f"{res['normal_lower_end_ever_above_truth']:.2%}, normal upper "
                f"{res['normal_upper_end_ever_below_truth']:.2%}"
            )
        return 0
    rs = [float(x) for x in args.improvements.split(",")]
    print(f"baseline CTR {args.baseline_ctr}, waves of {args.wave_size}, {args.trials} trials, "
          f"seed {args.seed}, max {config.max_waves} waves\n")
    print("| true improvement | policy | expanded | stopped (futility) | budget | mean sends | mean waves |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rs:
        for pol in ("anytime", "naive"):
            res = simulate(
                r, args.baseline_ctr, args.wave_size, args.trials, policy=pol, seed=args.seed,
                config=config, ctr_shape=shape, delay_scale=args.delay_scale, naive_alpha=naive_alpha,
            )
            print(
                f"| {r:g} | {pol} | {res['expanded_share']:.1%} | {res['stopped_share']:.1%} | "
                f"{res['budget_share']:.1%} | {res['mean_sends']:.0f} | {res['mean_waves']:.2f} |"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
