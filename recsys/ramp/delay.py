"""Click delays: the delay CDF model and the per-wave summary that uses it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.ramp.config import DEFAULT_CONFIG, WaveStats

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


def _checked_delays(delays_s, prior_weight: float) -> np.ndarray:
    d = np.asarray(delays_s, dtype=float).ravel()
    if np.any(~np.isfinite(d)) or np.any(d < 0):
        raise ValueError("delays must be finite and >= 0 seconds")
    if prior_weight <= 0:
        raise ValueError("prior_weight must be positive")
    return d


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
        d = _checked_delays(delays_s, prior_weight)
        if d.size == 0:
            return cls.default()
        knots = np.asarray(cls.default().knots_s)
        return cls._blended(np.searchsorted(np.sort(d), knots, side="right") / d.size, d.size, prior_weight)

    @classmethod
    def _blended(cls, emp: np.ndarray, n: int, prior_weight: float) -> "ClickDelayModel":
        """The empirical CDF ``emp`` at the default knots (n clicks) blended with the default
        curve, ``prior_weight`` clicks' worth of it."""
        base = cls.default()
        emp = np.array(emp, dtype=float)
        emp[-1] = 1.0  # delays past the horizon count as arriving at the horizon
        f = (n * emp + prior_weight * np.asarray(base.cdf_values)) / (n + prior_weight)
        return cls(tuple(float(x) for x in base.knots_s), tuple(float(x) for x in f), int(n))

    @classmethod
    def fit_truncated(cls, delays_s, truncation_s, *, prior_weight: float = 50.0) -> "ClickDelayModel":
        """Fit from click delays that are right-truncated: the Lynden-Bell estimator.

        delays_s      each observed click's delay (click time - send time), seconds
        truncation_s  for the same click, how long its send had been out when the data were read
                      (``now - sent_at``): a delay longer than that could not have been seen

        Clicks of recent sends are only seen if they came fast, so the plain empirical CDF of all
        observed delays (``fit``) is too fast. The Lynden-Bell (1971) product-limit estimator,
        the nonparametric MLE under right truncation, corrects it in reverse time::

            F(t) = prod_{u_k > t} (1 - n_k / R_k),   R_k = #{j : d_j <= u_k <= c_j}

        (u_k the distinct delays, n_k how many clicks have delay u_k). Delays and truncation times
        are capped at the 48 h horizon (a click after 48 h counts as arriving at 48 h, as in
        ``fit``), so a send older than the horizon is complete. It assumes the truncation time is
        independent of the delay (when a push was sent does not change how fast it is clicked).
        With nothing truncated it equals ``fit``. A risk set as small as its tie count (possible
        only among the first delays) would zero the whole left tail below it; past the smallest
        delay such a factor uses ``R_k + 1`` instead. The result is blended with the default curve like ``fit``.
        """
        d = _checked_delays(delays_s, prior_weight)
        c = np.asarray(truncation_s, dtype=float).ravel()
        if d.shape != c.shape:
            raise ValueError("delays_s and truncation_s must have the same length")
        if np.any(np.isnan(c)) or np.any(c < 0):
            raise ValueError("truncation times must be >= 0 seconds (inf = never truncated)")
        n = d.size
        if n == 0:
            return cls.default()
        knots = np.asarray(cls.default().knots_s)
        d = np.minimum(d, _HORIZON_S)
        c = np.maximum(np.minimum(c, _HORIZON_S), d)  # an observed delay was within its window
        u, n_k = np.unique(d, return_counts=True)
        risk = np.searchsorted(np.sort(d), u, side="right") - np.searchsorted(np.sort(c), u, side="left")
        small = risk <= n_k
        small[0] = False  # below the smallest delay F is 0, as it should be
        risk = np.where(small, risk + 1, risk).astype(float)
        with np.errstate(divide="ignore"):
            log_factor = np.log1p(-n_k / risk)  # -inf at the smallest delay: F = 0 below it
        # log F(t) = sum of log factors over u_k > t: a reversed cumulative sum.
        tail = np.concatenate([np.cumsum(log_factor[::-1])[::-1], [0.0]])
        return cls._blended(np.exp(tail[np.searchsorted(u, knots, side="right")]), n, prior_weight)

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
    band: float | None = None,
) -> WaveStats:
    """Summarize one wave from per-recipient arrays (times in seconds, any common epoch).

    ctr         baseline CTR of each recipient (see :func:`smoothed_ctr`)
    sent_at     when each push was sent
    clicked_at  when each recipient clicked, NaN if not (yet); clicks after ``now`` are ignored
    band        delay band factor (None: the product default ``RampConfig().delay_band``); build
                the waves with the ``delay_band`` of the config that will judge them
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
    if band is None:
        band = DEFAULT_CONFIG.delay_band
    if not (band >= 1 and math.isfinite(band)):
        raise ValueError(f"band must be a finite number >= 1, got {band!r}")
    sides = {}
    for name, factor in (("fast", band), ("slow", 1.0 / band)):
        fn = delay.cdf((now - s) * factor)
        fc = delay.cdf(np.where(clicked, k - s, 0.0) * factor)
        sides[name] = (
            min(max(float((p * fn).sum() / total) if total > 0 else 1.0, 0.0), 1.0),
            float(np.sum(np.where(clicked, p * np.maximum(fn - fc, 0.0), 0.0))),
        )
    return WaveStats(
        sends=int(p.size),
        expected_clicks=total,
        clicks=int(clicked.sum()),
        completion=min(max(completion, 0.0), 1.0),
        ctr_sq_sum=float(np.sum(p * p)),
        ctr_max=float(p.max()) if p.size else 0.0,
        clicked_gap=gap,
        age_seconds=float(now - s.max()) if s.size else None,  # since the wave's last send
        delay_band=float(band),
        completion_fast=sides["fast"][0],
        completion_slow=sides["slow"][0],
        clicked_gap_fast=sides["fast"][1],
        clicked_gap_slow=sides["slow"][1],
    )
