"""The decision: expand, re-send or stop, from all waves so far."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

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


# Outcomes of the rule, as small integers so that the simulation can apply it to arrays.
EXPAND, FUTILITY, BUDGET, WAIT, RESEND = 0, 1, 2, 3, 4


def maturity(q_fast, q_slow):
    """Share of the exposure counted by the expansion test (fast side of the delay band) that the
    futility test (slow side) counts too, in [0, 1]; 1 without a band or without exposure. Whatever
    the true delays within the band, the expansion test sees at least ``maturity`` x the true
    improvement: it is how far waiting could still move it."""
    qf = np.asarray(q_fast, dtype=float)
    qs = np.asarray(q_slow, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(qf > 0, np.minimum(qs / np.where(qf > 0, qf, 1.0), 1.0), 1.0)
    return float(m) if m.ndim == 0 else m


def _rule(log_up, log_dn, clicks, q_fast, mature, n_waves, last_age, config: RampConfig, out_of_time=False):
    """The decision rule on (arrays of) evidence: EXPAND, FUTILITY, BUDGET, WAIT or RESEND.

    Expand on the fast side's e-value (and a point estimate above the floor), stop for futility
    on the slow side's; otherwise wait while the evidence is immature (below ``resend_maturity``,
    or below ``final_maturity`` once no further wave may be sent: the wave budget is used or
    ``out_of_time``) and the last wave is younger than ``max_wait_s`` (``last_age`` NaN =
    unknown: never wait); else re-send, or stop on the budget.
    """
    thr = math.log(1.0 / config.alpha)
    up = (np.asarray(log_up) >= thr) & (np.asarray(clicks) > config.floor * np.asarray(q_fast))
    down = np.asarray(log_dn) >= thr
    budget = (np.asarray(n_waves) >= config.max_waves) | np.asarray(out_of_time, dtype=bool)
    age = np.asarray(last_age, dtype=float)
    with np.errstate(invalid="ignore"):
        can_wait = age < config.max_wait_s  # NaN: False
    immature = np.where(budget, np.asarray(mature) < config.final_maturity, np.asarray(mature) < config.resend_maturity)
    wait = can_wait & immature
    out = np.where(up, EXPAND, np.where(down, FUTILITY, np.where(wait, WAIT, np.where(budget, BUDGET, RESEND))))
    return int(out) if out.ndim == 0 else out


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _fmt(x: float) -> str:
    return "inf" if not math.isfinite(x) else f"{x:.2f}"


def decide(
    waves: Sequence[WaveStats],
    config: RampConfig = DEFAULT_CONFIG,
    remaining_cap: int | None = None,
    *,
    expand_size: int | None = None,
    remaining_s: float | None = None,
) -> RampDecision:
    """Expand, re-send, wait or stop, from all waves so far (cumulative).

    waves          the evidence about the audience an expansion would reach (the campaign's
                   probes of its current window: ``docs/ramp.md``, "Marginal decisions")
    remaining_cap  how many more recipients this content may still reach (None = no cap).
    expand_size    how many people an expansion would reach (None: ``growth`` x the last wave)
    remaining_s    how long the content may still be pushed (None = no limit). With less than one
                   observation window left, a re-sent wave could not be judged before the content
                   expires: the campaign sends nothing more unless it expands (it waits for the
                   clicks still to come while the evidence is immature, else stops, code "budget")

    "wait" (code "immature"): nothing is sent, the same waves are judged again later (their late
    clicks keep counting). Raises ValueError if there is no wave or the last wave's observation
    window has not passed.
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
    if expand_size is not None and expand_size < 0:
        raise ValueError(f"expand_size must be >= 0, got {expand_size!r}")

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
    mature = maturity(qf, qs)
    last_age = waves[-1].age_seconds
    out_of_time = remaining_s is not None and remaining_s < config.observation_window_s
    code = _rule(log_up, log_dn, c, qf, mature, len(waves), float("nan") if last_age is None else last_age, config,
                 out_of_time)
    no_more = len(waves) >= config.max_waves or out_of_time
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
        "maturity": mature,
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

    if code == EXPAND:
        planned = max(int(round(config.growth * last)), last) if expand_size is None else int(expand_size)
        nxt = sized(planned)
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
    if code == FUTILITY:
        return RampDecision(
            "stop",
            0,
            f"stop: confident improvement < target {config.target} "
            f"(e-value {e_dn:.1f} >= {1 / config.alpha:.0f}); {seen}",
            "futility",
            numbers,
        )
    if cap is not None and cap <= 0 and code != BUDGET:  # nothing more can be sent: waiting cannot help
        code = BUDGET if no_more else RESEND
    why = (f"budget of {config.max_waves} waves used" if len(waves) >= config.max_waves
           else "no time left to judge another wave before the content expires")
    if code == WAIT:
        after = "before stopping" if no_more else "before sending more"
        return RampDecision(
            "wait",
            0,
            f"wait: late clicks still to come (evidence {mature:.0%} mature, need "
            f"{config.final_maturity if no_more else config.resend_maturity:.0%} "
            f"{after}; e-values {e_up:.1f} and {e_dn:.1f}, need {1 / config.alpha:.0f}); {seen}",
            "immature",
            numbers,
        )
    if code == BUDGET:
        return RampDecision(
            "stop",
            0,
            f"stop: {why} without a confident answer; {seen}",
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
