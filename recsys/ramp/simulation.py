"""Simulated campaigns: the ramp policy (or the naive one) run on many trials at once, with
ranked audiences, windows of probes, waits for late clicks and the delay curve refit in order."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from recsys.ramp.config import DEFAULT_CONFIG, RampConfig
from recsys.ramp.decision import BUDGET, EXPAND, FUTILITY, RESEND, WAIT, _rule, maturity
from recsys.ramp.delay import ClickDelayModel
from recsys.ramp.evidence import _e_values, improvement_interval, normal_interval
from recsys.ramp.window import block_counts, probe_counts, window_size


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
    waves: int | None = None,
):
    """Yield, after each wave's window, every trial's cumulative evidence.

    A new wave of ``wave_size`` goes to each trial still ``active`` (the caller may clear
    entries between looks) at times 0, window, 2 window, ..., for the first ``waves`` looks
    (default: all); the look after wave k is at (k + 1) window; later looks only observe. Yields ``(k, clicks, q1, q2, qmax, gap, sides)`` arrays over all trials (the
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
        if waves is not None and k >= waves:
            idx = idx[:0]
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


def _profile_values(profile: tuple[float, ...], positions: np.ndarray, n: int, growth: float) -> np.ndarray:
    """True improvement of the audience each rank position belongs to: audience 1 = the first
    ``n`` ranks (wave 1's size), audience 2 = the next ``growth x n`` (the expansion's), audience
    3 = the next ``growth^2 x n``, ...; the last value holds for every rank below."""
    edges, size, total = [], float(n), 0.0
    for _ in range(len(profile) - 1):
        total += size
        edges.append(total)
        size *= growth
    which = np.searchsorted(np.asarray(edges), positions, side="right")
    return np.asarray(profile, dtype=float)[which]


class _Audience:
    """The ranked people of a batch of trials, drawn lazily: a person's usual CTR and true
    improvement are drawn when they are first sent or first counted in an expansion's audience
    (they are independent of everything seen before, so when is irrelevant)."""

    def __init__(self, rng, profile, baseline_ctr, ctr_shape, person_sd, n, growth):
        self.rng, self.profile, self.ctr, self.shape = rng, profile, baseline_ctr, ctr_shape
        self.sd, self.n, self.growth = person_sd, n, growth

    def draw(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(usual CTR, true improvement) for people at these rank positions (any shape)."""
        if self.shape is None:
            p = np.full(positions.shape, self.ctr)
        else:
            p = self.rng.beta(self.shape, self.shape * (1 - self.ctr) / self.ctr, size=positions.shape)
        r = _profile_values(self.profile, positions, self.n, self.growth)
        if self.sd > 0:  # people vary around their audience's value; the ranker cannot tell them apart
            r = r * np.exp(self.sd * self.rng.standard_normal(positions.shape) - self.sd**2 / 2)
        return p, r


def _pick_in_blocks(rng, candidates: np.ndarray, count: int, strata: int) -> np.ndarray:
    """Stratified draw of ``count`` columns of each row of ``candidates`` (positions in rank
    order, same length per row): ``window.block_counts`` per block, uniform within a block."""
    rows, m = candidates.shape
    starts, draws = block_counts(m, count, strata)
    ends = np.concatenate([starts[1:], [m]])
    out = []
    for a, b, d in zip(starts.tolist(), ends.tolist(), draws.tolist()):
        if d:
            keys = rng.random((rows, b - a))
            pick = np.argpartition(keys, d - 1, axis=1)[:, :d] if d < b - a else np.tile(np.arange(b - a), (rows, 1))
            out.append(np.take_along_axis(candidates[:, a:b], pick, axis=1))
    return np.concatenate(out, axis=1) if out else np.zeros((rows, 0), dtype=np.int64)


def _run_batch(
    rng: np.random.Generator,
    trials: int,
    *,
    audience: _Audience,
    wave_size: int,
    policy: str,
    design: str,
    config: RampConfig,
    decision_delay: ClickDelayModel,
    true_delay: ClickDelayModel,
    delay_scale: float,
    naive_alpha: float,
    strata: int,
) -> dict[str, np.ndarray]:
    """One batch of trials run side by side, each until its first decision that is not a
    re-send or a wait. Returns per-trial outcomes and every click drawn (send time, delay)."""
    T, n, g = int(trials), int(wave_size), config.growth
    window = config.observation_window_s
    max_looks = config.max_waves * (1 + int(math.ceil(config.max_wait_s / window))) + 2
    w1 = window_size(n, g)
    wmax = w1 + (config.max_waves - 1) * n
    probed = np.zeros((T, wmax), dtype=bool) if design == "window" else None
    s1 = np.zeros((T, max_looks))
    s2 = np.zeros((T, max_looks))
    mx = np.zeros((T, max_looks))
    ck: dict[str, list[np.ndarray]] = {"trial": [], "slot": [], "p": [], "delay": []}
    active = np.ones(T, dtype=bool)
    send_now = np.ones(T, dtype=bool)
    waves = np.zeros(T, dtype=np.int64)
    last_slot = np.zeros(T, dtype=np.int64)
    outcome = np.full(T, -1, dtype=np.int64)
    looks = np.zeros(T, dtype=np.int64)
    waited = np.zeros(T, dtype=np.int64)
    truth = np.full(T, np.nan)  # true improvement of the audience an expansion reached
    thr = math.log(1.0 / config.alpha)
    for k in range(max_looks):
        # ---- waves sent at slot k (time k x window) ----
        going = active & send_now
        for j in np.unique(waves[going] + 1).tolist():
            idx = np.nonzero(going & (waves + 1 == j))[0]
            if design == "window":
                before = w1 + (j - 2) * n if j > 1 else 0
                after = w1 + (j - 1) * n
                old = np.nonzero(~probed[idx, :before])[1].reshape(idx.size, -1) if before else np.zeros((idx.size, 0), np.int64)
                c_old, c_new = probe_counts(probed=(j - 1) * n, old_unsent=old.shape[1], new=after - before, n=n)
                new = np.tile(np.arange(before, after), (idx.size, 1))
                pos = np.concatenate([_pick_in_blocks(rng, old, c_old, strata), _pick_in_blocks(rng, new, c_new, strata)], axis=1)
                probed[idx[:, None], pos] = True
            else:  # "ranked": each wave the next ranks, as the ramp did before windows
                pos = np.tile(np.arange((j - 1) * n, j * n), (idx.size, 1))
            p, r = audience.draw(pos)
            s1[idx, k] = p.sum(axis=1)
            s2[idx, k] = np.einsum("ij,ij->i", p, p)
            mx[idx, k] = p.max(axis=1)
            hit = rng.random(p.shape) < np.minimum(r * p, 1.0)
            rows, cols = np.nonzero(hit)
            ck["trial"].append(idx[rows])
            ck["slot"].append(np.full(rows.size, k))
            ck["p"].append(p[rows, cols])
            ck["delay"].append(true_delay.sample(rng, rows.size) * delay_scale)
        waves[going] += 1
        last_slot[going] = k
        # ---- the look at time (k + 1) x window ----
        ages = (k + 1 - np.arange(k + 1)) * window
        tr, sl = np.concatenate(ck["trial"]), np.concatenate(ck["slot"])
        cp, dl = np.concatenate(ck["p"]), np.concatenate(ck["delay"])
        arrived = dl <= ages[sl]
        clicks = np.bincount(tr[arrived], minlength=T).astype(float)
        sides = {}
        for name, factor in (("curve", 1.0), ("fast", config.delay_band), ("slow", 1.0 / config.delay_band)):
            comp = decision_delay.cdf(ages * factor)
            q1 = s1[:, : k + 1] @ comp
            gap = np.bincount(tr[arrived], minlength=T, weights=cp[arrived] * np.maximum(
                comp[sl[arrived]] - decision_delay.cdf(dl[arrived] * factor), 0.0))
            sides[name] = (q1, s2[:, : k + 1] @ (comp**2), (mx[:, : k + 1] * comp).max(axis=1), np.minimum(gap, q1))
        looks[active] = k + 1
        if policy == "anytime":
            qf, q2f, qmf, gf = sides["fast"]
            qs, q2s, qms, gs = sides["slow"]
            log_up, _ = _e_values(clicks, qf, q2f, qmf, gf, config)
            _, log_dn = _e_values(clicks, qs, q2s, qms, gs, config)
            code = _rule(log_up, log_dn, clicks, qf, maturity(qf, qs), waves, (k + 1 - last_slot) * window, config)
        else:
            lo, hi = normal_interval(clicks, sides["curve"][0], alpha=naive_alpha)
            up = np.nan_to_num(lo, nan=-np.inf) > config.floor
            down = np.nan_to_num(hi, nan=np.inf) < config.target
            code = np.where(up, EXPAND, np.where(down, FUTILITY, np.where(waves >= config.max_waves, BUDGET, RESEND)))
        done = active & np.isin(code, (EXPAND, FUTILITY, BUDGET))
        outcome[done] = code[done]
        expanded = np.nonzero(done & (code == EXPAND))[0]
        if expanded.size:  # who the expansion reaches: the window's unsent rest, or the next ranks
            if design == "window":
                for j in np.unique(waves[expanded]).tolist():
                    idx = expanded[waves[expanded] == j]
                    w = w1 + (j - 1) * n
                    rest = np.nonzero(~probed[idx, :w])[1].reshape(idx.size, -1)
                    p, r = audience.draw(rest)
                    truth[idx] = (p * r).sum(axis=1) / p.sum(axis=1)
            else:
                rest = waves[expanded][:, None] * n + np.arange(int(round(g * n)))[None, :]
                p, r = audience.draw(rest)
                truth[expanded] = (p * r).sum(axis=1) / p.sum(axis=1)
        waited[active & (code == WAIT)] += 1
        send_now = code == RESEND
        active &= ~done
        if not active.any():
            break
    outcome[outcome < 0] = BUDGET  # out of looks (cannot happen with a finite max_wait_s)
    return {"outcome": outcome, "waves": waves, "looks": looks, "waited": waited, "truth": truth,
            "click_sent": np.concatenate(ck["slot"]) * window, "click_delay": np.concatenate(ck["delay"]),
            "duration": float(looks.max() * window)}


def simulate(
    true_improvement: float | None,
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
    rank_profile: tuple[float, ...] | None = None,
    person_sd: float | None = None,
    design: str = "window",
    refit_every: int = 0,
    strata: int = 5,
) -> dict[str, Any]:
    """Run the ramp on simulated campaigns, as the product runs it.

    Each trial is one campaign: waves of ``wave_size`` probes every observation window (or a
    wait, when the rule says so) until the policy expands, stops, or the wave budget runs out.

    Audiences: ``rank_profile`` = (A, B, ...) gives the true improvement of the successive ranked
    audiences (the first ``wave_size`` ranks at A, the next ``growth x wave_size`` at B, ...);
    each person's improvement is their audience's times a lognormal factor (sd ``person_sd``,
    default 0.3 with a profile, 0 without), which the ranker cannot see. Without a profile
    everyone is at ``true_improvement``. ``design`` "window": waves are stratified samples of
    the window an expansion would reach (``recsys.ramp.window``, what the product does);
    "ranked": each wave goes to the next ranks (the product before windows), for comparison.

    Clicks: recipients' CTRs are Beta(ctr_shape, ...) around ``baseline_ctr`` (``None``: all
    equal); each clicks with probability ``min(1, improvement x ctr)`` after a delay drawn from
    ``delay`` (default curve) stretched by ``delay_scale``. The decision first uses ``delay``
    itself; with ``refit_every`` = N > 0 the trials run in batches of N, one after the other,
    and before each batch the curve is refit (``ClickDelayModel.fit_truncated``) on every click
    of the earlier batches seen by then, as the product refits it on its finished campaigns.

    policy "anytime": :func:`decide`'s rule. "naive": the repeated normal-interval rule (expand if
    the two-sided (1 - 2 naive_alpha) Wald interval is above the floor, stop if below the target).
    """
    if policy not in ("anytime", "naive"):
        raise ValueError(f"policy must be 'anytime' or 'naive', got {policy!r}")
    if design not in ("window", "ranked"):
        raise ValueError(f"design must be 'window' or 'ranked', got {design!r}")
    if rank_profile is None:
        if true_improvement is None:
            raise ValueError("give true_improvement or rank_profile")
        profile = (float(true_improvement),)
    else:
        profile = tuple(float(x) for x in rank_profile)
        if not profile or any(not (x >= 0 and math.isfinite(x)) for x in profile):
            raise ValueError(f"rank_profile must be non-negative numbers, got {rank_profile!r}")
    _check_sim_args(profile[0], baseline_ctr, wave_size, trials)
    if refit_every < 0 or strata < 1:
        raise ValueError("need refit_every >= 0 and strata >= 1")
    sd = (0.3 if rank_profile is not None else 0.0) if person_sd is None else float(person_sd)
    rng = np.random.default_rng(seed)
    T, N = int(trials), int(wave_size)
    prior = delay or ClickDelayModel.default()
    model = prior
    batch = refit_every if refit_every else T
    # keep a batch's per-position mask within about 20 million cells
    batch = max(1, min(batch, 20_000_000 // max(window_size(N, config.growth) + config.max_waves * N, 1)))
    parts: list[dict[str, np.ndarray]] = []
    sent_abs: list[np.ndarray] = []
    delays: list[np.ndarray] = []
    clock, refits = 0.0, []
    audience = _Audience(rng, profile, baseline_ctr, ctr_shape, sd, N, config.growth)
    for start in range(0, T, batch):
        if refit_every and parts:
            s, d = np.concatenate(sent_abs), np.concatenate(delays)
            seen = s + d <= clock
            model = ClickDelayModel.fit_truncated(d[seen], clock - s[seen])
            refits.append(float(model.quantile(0.5)))
        res = _run_batch(rng, min(batch, T - start), audience=audience, wave_size=N, policy=policy, design=design,
                         config=config, decision_delay=model, true_delay=prior, delay_scale=delay_scale,
                         naive_alpha=naive_alpha, strata=strata)
        parts.append(res)
        sent_abs.append(clock + res["click_sent"])
        delays.append(res["click_delay"])
        clock += res["duration"]
    outcome = np.concatenate([p["outcome"] for p in parts])
    waves_used = np.concatenate([p["waves"] for p in parts])
    looks = np.concatenate([p["looks"] for p in parts])
    waited = np.concatenate([p["waited"] for p in parts])
    truth = np.concatenate([p["truth"] for p in parts])
    sends = waves_used * N
    expanded = outcome == EXPAND
    share = float(expanded.mean())
    below = expanded & (truth < config.floor)
    return {
        "expanded_share": share,
        "stopped_share": float((outcome == FUTILITY).mean()),
        "budget_share": float((outcome == BUDGET).mean()),
        "mean_sends": float(sends.mean()),
        "mean_waves": float(waves_used.mean()),
        "mean_sends_when_expanded": float(sends[expanded].mean()) if expanded.any() else None,
        # the decision after the look at (k + 1) observation windows from the first send
        "minutes_to_decision": float(looks.mean() * config.observation_window_s / 60.0),
        "median_minutes_to_decision": float(np.median(looks) * config.observation_window_s / 60.0),
        "waited_share": float((waited > 0).mean()),
        "mean_waits": float(waited.mean()),
        # share of all trials whose expansion reached an audience truly below the floor
        "expanded_below_floor_share": float(below.mean()),
        "expansion_true_improvement_mean": float(np.nanmean(truth)) if expanded.any() else None,
        "expanded_share_se": math.sqrt(share * (1 - share) / T),
        "delay_refits": {"count": len(refits), "median_s": refits[-3:]} if refit_every else None,
        "settings": {
            "policy": policy,
            "true_improvement": true_improvement,
            "rank_profile": list(profile) if rank_profile is not None else None,
            "person_sd": sd,
            "design": design,
            "baseline_ctr": baseline_ctr,
            "wave_size": N,
            "trials": T,
            "seed": seed,
            "ctr_shape": ctr_shape,
            "delay_scale": delay_scale,
            "refit_every": refit_every,
            "strata": strata,
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
    waves: int | None = None,
) -> dict[str, Any]:
    """Share of simulated campaigns whose interval EVER misses the true improvement, per side,
    over ``looks`` looks (one per observation window; a wave before each of the first ``waves``,
    default all: later looks only watch late clicks arrive, as a waiting campaign does), for the
    anytime-valid interval and the normal interval at the same nominal level (each side
    ``config.alpha``)."""
    _check_sim_args(true_improvement, baseline_ctr, wave_size, trials)
    rng = np.random.default_rng(seed)
    T = int(trials)
    active = np.ones(T, dtype=bool)
    miss = {key: np.zeros(T, dtype=bool) for key in ("any_lo", "any_hi", "nrm_lo", "nrm_hi")}
    r = true_improvement
    for _, clicks, q1, q2, qmax, gap, sides in _simulated_looks(
        rng, r, baseline_ctr, wave_size, T, looks, active,
        window=config.observation_window_s, ctr_shape=ctr_shape,
        delay=ClickDelayModel.default(), delay_scale=delay_scale, band=config.delay_band, waves=waves,
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
            "trials": T, "looks": looks, "waves": waves, "seed": seed, "ctr_shape": ctr_shape,
            "delay_scale": delay_scale,
        },
    }
    return out
