"""The decision: expand, re-send or stop, from all waves so far."""

from __future__ import annotations

import math
from typing import Sequence

from recsys.ramp.config import DEFAULT_CONFIG, RampConfig, RampDecision, WaveStats
from recsys.ramp.evidence import _e_values, improvement_interval, normal_interval


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
