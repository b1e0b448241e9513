"""The mixture e-values and the anytime-valid confidence sequence (vectorized core)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from recsys.ramp.config import DEFAULT_CONFIG, RampConfig

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


def _log_e_mixture(clicks, exposure, shape: float, rate: float, log_tail, at_inf: float) -> np.ndarray:
    """log of  int theta^C exp((1 - theta) U) over one side of theta = 1 of a Gamma(shape,
    rate) prior, normalised by that side's prior mass: ``log_tail`` is ``_log_gammaincc`` (the
    side theta >= 1) or ``_log_gammainc`` (theta <= 1); an infinite exposure gives ``at_inf``."""
    c = np.asarray(clicks, dtype=float)
    u = np.asarray(exposure, dtype=float)
    s = c + shape
    with np.errstate(invalid="ignore", over="ignore"):
        out = (
            u
            + shape * math.log(rate)
            + special.gammaln(s)
            - special.gammaln(shape)
            - float(log_tail(shape, rate))
            - s * np.log(u + rate)
            + log_tail(s, u + rate)
        )
    return np.where(np.isinf(u), at_inf, out)


def _log_e_up(clicks, exposure, shape: float, rate: float) -> np.ndarray:
    """log of  int_{theta>=1} theta^C exp(-(theta-1) U) dGamma(shape, rate)(theta) / P(theta>=1)."""
    return _log_e_mixture(clicks, exposure, shape, rate, _log_gammaincc, -np.inf)


def _log_e_down(clicks, exposure, shape: float, rate: float) -> np.ndarray:
    """log of  int_{0<theta<=1} theta^C exp((1-theta) L) dGamma(shape, rate)(theta) / P(theta<=1)."""
    return _log_e_mixture(clicks, exposure, shape, rate, _log_gammainc, np.inf)


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
