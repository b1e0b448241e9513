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
    out = {
        "clicks": int(sum(w.clicks for w in waves)),
        "expected": float(q1),
        "expected_sq": float(q2),
        "expected_max": float(qmax),
        "clicked_gap": float(min(sum(w.clicked_gap for w in waves), q1)),
        "expected_full": float(sum(w.expected_clicks for w in waves)),
        "sends": int(sum(w.sends for w in waves)),
    }
    # The two sides of the delay band: "fast" (expansion test), "slow" (futility test).
    for name in ("fast", "slow"):
        sides = [(w, *w.side(name)) for w in waves]
        e = sum(comp * w.expected_clicks for w, comp, _ in sides)
        out[f"expected_{name}"] = float(e)
        out[f"expected_sq_{name}"] = float(sum(comp**2 * w._sq() for w, comp, _ in sides))
        out[f"expected_max_{name}"] = float(max((comp * w._max() for w, comp, _ in sides), default=0.0))
        out[f"clicked_gap_{name}"] = float(min(sum(g for _, _, g in sides), e))
    return out


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

    bands = {w.delay_band for w in waves if w.delay_band is not None}
    if bands - {float(config.delay_band)}:
        raise ValueError(
            f"waves were summarized with delay band {sorted(bands)}, the config says "
            f"{config.delay_band}: build them with wave_stats(..., band=config.delay_band)"
        )
    p = _pool(waves)
    c, q1 = p["clicks"], p["expected"]
    # Expansion on the fast side of the delay band (more clicks expected by now: conservative),
    # futility on the slow side; the point estimate on the curve itself.
    qf, qs = p["expected_fast"], p["expected_slow"]
    log_up, _ = _e_values(c, qf, p["expected_sq_fast"], p["expected_max_fast"], p["clicked_gap_fast"], config)
    _, log_dn = _e_values(c, qs, p["expected_sq_slow"], p["expected_max_slow"], p["clicked_gap_slow"], config)
    log_up, log_dn = float(log_up), float(log_dn)
    thr = math.log(1.0 / config.alpha)
    lo, _ = improvement_interval(
        c, qf, expected_sq=p["expected_sq_fast"], expected_max=p["expected_max_fast"],
        clicked_gap=p["clicked_gap_fast"], config=config,
    )
    _, hi = improvement_interval(
        c, qs, expected_sq=p["expected_sq_slow"], expected_max=p["expected_max_slow"],
        clicked_gap=p["clicked_gap_slow"], config=config,
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
        "expected_clicks_fast": qf,
        "expected_clicks_slow": qs,
        "delay_band": max(bands) if bands else None,
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
    if log_up >= thr and c > config.floor * qf:
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
