"""Simulated campaigns: the ramp policy (or the naive one) run on many trials at once."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from recsys.ramp.config import DEFAULT_CONFIG, RampConfig
from recsys.ramp.delay import ClickDelayModel
from recsys.ramp.evidence import _e_values, improvement_interval, normal_interval


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
    band: float = 1.0,
):
    """Yield, after each wave's window, every trial's cumulative evidence.

    A new wave of ``wave_size`` goes to each trial still ``active`` (the caller may clear
    entries between looks) at times 0, window, 2 window, ...; the look after wave k is at
    (k + 1) window. Yields ``(k, clicks, q1, q2, qmax, gap, sides)`` arrays over all trials (the
    quantities of :func:`improvement_interval` on the delay curve itself; ``sides["fast"]`` and
    ``sides["slow"]`` hold ``(q1, q2, qmax, gap)`` on the two sides of the delay band ``band``);
    entries of inactive trials are stale.
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
        tr = np.concatenate(ck_trial)
        wv = np.concatenate(ck_wave)
        cp = np.concatenate(ck_p)
        dl = np.concatenate(ck_delay)
        arrived = dl <= ages[wv]
        clicks = np.bincount(tr[arrived], minlength=T).astype(float)
        out = {}
        for name, factor in (("curve", 1.0), ("fast", band), ("slow", 1.0 / band)):
            if name != "curve" and band == 1.0:
                out[name] = out["curve"]
                continue
            comp = delay.cdf(ages * factor)
            q1 = s1[:, : k + 1] @ comp
            q2 = s2[:, : k + 1] @ (comp**2)
            qmax = (mx[:, : k + 1] * comp).max(axis=1)
            gap = np.bincount(
                tr[arrived],
                weights=cp[arrived] * np.maximum(comp[wv[arrived]] - delay.cdf(dl[arrived] * factor), 0.0),
                minlength=T,
            )
            out[name] = (q1, q2, qmax, np.minimum(gap, q1))
        q1, q2, qmax, gap = out["curve"]
        yield k, clicks, q1, q2, qmax, gap, {"fast": out["fast"], "slow": out["slow"]}


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
    for k, clicks, q1, q2, qmax, gap, sides in _simulated_looks(
        rng, true_improvement, baseline_ctr, N, T, config.max_waves, active,
        window=config.observation_window_s, ctr_shape=ctr_shape,
        delay=delay or ClickDelayModel.default(), delay_scale=delay_scale, band=config.delay_band,
    ):
        waves_used[active] += 1
        if policy == "anytime":
            # decide()'s rule: expansion on the fast side of the delay band, futility on the slow.
            qf, q2f, qmf, gf = sides["fast"]
            qs, q2s, qms, gs = sides["slow"]
            log_up, _ = _e_values(clicks, qf, q2f, qmf, gf, config)
            _, log_dn = _e_values(clicks, qs, q2s, qms, gs, config)
            up = (log_up >= thr) & (clicks > config.floor * qf)
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
        # the decision after wave k comes k observation windows after the first send
        "minutes_to_decision": float(waves_used.mean() * config.observation_window_s / 60.0),
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
    for _, clicks, q1, q2, qmax, gap, sides in _simulated_looks(
        rng, r, baseline_ctr, wave_size, T, looks, active,
        window=config.observation_window_s, ctr_shape=ctr_shape,
        delay=ClickDelayModel.default(), delay_scale=delay_scale, band=config.delay_band,
    ):
        # decide()'s interval: lower end on the fast side of the delay band, upper on the slow.
        qf, q2f, qmf, gf = sides["fast"]
        qs, q2s, qms, gs = sides["slow"]
        lo, _ = improvement_interval(clicks, qf, expected_sq=q2f, expected_max=qmf, clicked_gap=gf, config=config)
        _, hi = improvement_interval(clicks, qs, expected_sq=q2s, expected_max=qms, clicked_gap=gs, config=config)
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
