"""Tests for recsys.ramp: properties of the decision, validity of the confidence sequence under
repeated looks, baseline CTR smoothing, the click-delay model and the simulator.

Run without Django:  python -m pytest -p no:django tests/recsys/test_ramp.py -q
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import logsumexp

from recsys import ramp
from recsys.ramp import (
    ClickDelayModel,
    RampConfig,
    WaveStats,
    decide,
    fit_population_prior,
    improvement_interval,
    normal_interval,
    simulate,
    smoothed_ctr,
    wave_stats,
)

ROOT = Path(__file__).resolve().parents[2]
RANK = {"stop": 0, "resend": 1, "expand": 2}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------
# strategies
# ----------------------------------------------------------------------------------------------

configs = st.tuples(
    st.floats(1.0, 3.0),  # floor
    st.floats(0.0, 2.0),  # target - floor
    st.sampled_from([0.01, 0.05, 0.1]),
    st.integers(1, 20),
    st.floats(1.0, 30.0),
).map(lambda t: RampConfig(floor=t[0], target=t[0] + t[1], alpha=t[2], max_waves=t[3],
                           mixture_shape=t[4]))


@st.composite
def wave_lists(draw, max_waves=6):
    n = draw(st.integers(1, max_waves))
    waves = []
    for _ in range(n):
        sends = draw(st.integers(1, 5000))
        ctr = draw(st.floats(1e-4, 0.3))
        expected = sends * ctr
        spread = draw(st.floats(1.0, 3.0))  # >= 1: ctr_sq_sum >= expected^2 / sends
        cmax = min(1.0, ctr * draw(st.floats(1.0, 4.0)))
        sq = min(expected, expected**2 / sends * spread, expected * cmax)
        clicks = draw(st.integers(0, min(sends, int(4 * expected + 10))))
        waves.append(
            WaveStats(
                sends=sends,
                expected_clicks=expected,
                clicks=clicks,
                completion=draw(st.floats(0.05, 1.0)),
                ctr_sq_sum=sq,
                ctr_max=cmax,
                clicked_gap=draw(st.floats(0.0, 1.0)) * clicks * ctr * 0.5,
            )
        )
    return waves


def observed(waves):
    q1 = sum(w.completion * w.expected_clicks for w in waves)
    return sum(w.clicks for w in waves) / q1


# ----------------------------------------------------------------------------------------------
# the e-values
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clicks,expo", [(0, 3.0), (5, 3.0), (12, 4.5), (40, 20.0), (3, 0.5)])
def test_e_value_closed_forms_match_numerical_integration(clicks, expo):
    k, rate = 6.0, 6.0 / 1.6
    prior = stats.gamma(k, scale=1 / rate)
    up, _ = integrate.quad(
        lambda t: t**clicks * math.exp(-(t - 1) * expo) * prior.pdf(t), 1, np.inf, limit=200
    )
    up /= prior.sf(1)
    assert math.log(up) == pytest.approx(float(ramp._log_e_up(clicks, expo, k, rate)), rel=1e-6, abs=1e-8)
    rate_d = 6.0 / 0.625
    prior_d = stats.gamma(k, scale=1 / rate_d)
    dn, _ = integrate.quad(
        lambda t: t**clicks * math.exp((1 - t) * expo) * prior_d.pdf(t), 0, 1, limit=200
    )
    dn /= prior_d.cdf(1)
    assert math.log(dn) == pytest.approx(float(ramp._log_e_down(clicks, expo, k, rate_d)), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("mean", [0.3, 3.0, 25.0])
def test_e_values_have_expectation_one_under_poisson_null(mean):
    # For Poisson(U) clicks, E[theta^C exp(-(theta-1)U)] = 1 for every theta: so the mixture too.
    cfg = RampConfig()
    c = np.arange(0, int(mean * 6 + 60))
    pmf = stats.poisson.pmf(c, mean)
    k, rate = cfg._mix_up
    assert np.sum(pmf * np.exp(ramp._log_e_up(c, mean, k, rate))) == pytest.approx(1.0, abs=1e-6)
    k, rate = cfg._mix_down
    assert np.sum(pmf * np.exp(ramp._log_e_down(c, mean, k, rate))) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("n,p", [(300, 0.015), (100, 0.075), (50, 0.3), (20, 0.6)])
def test_expand_e_value_is_at_most_one_in_expectation_for_bernoulli_clicks_at_the_floor(n, p):
    # Binomial clicks at exactly the floor: the Poisson-exposure e-value is still an e-value.
    cfg = RampConfig()
    c = np.arange(0, n + 1)
    k, rate = cfg._mix_up
    log_mean_e = logsumexp(stats.binom.logpmf(c, n, p) + ramp._log_e_up(c, n * p, k, rate))
    assert log_mean_e <= 1e-9
    # ... and strictly below one: Bernoulli clicks are less variable than Poisson ones.
    assert log_mean_e < 0


# ----------------------------------------------------------------------------------------------
# decision properties
# ----------------------------------------------------------------------------------------------


@SETTINGS
@given(wave_lists(), configs, st.data())
def test_never_expands_when_observed_improvement_is_at_most_the_floor(waves, cfg, data):
    # Scale the clicks down so that the observed improvement is <= floor, then decide.
    q1 = sum(w.completion * w.expected_clicks for w in waves)
    budget = math.floor(cfg.floor * q1)
    share = data.draw(st.floats(0.0, 1.0))
    capped = []
    left = int(budget * share)
    for w in waves:
        c = min(w.clicks, left, w.sends)
        left -= c
        capped.append(WaveStats(w.sends, w.expected_clicks, c, w.completion, w.ctr_sq_sum,
                                w.ctr_max, min(w.clicked_gap, c * 1.0)))
    assert observed(capped) <= cfg.floor + 1e-12
    d = decide(capped, cfg)
    assert d.action != "expand"
    assert d.numbers["anytime_interval"]["lo"] <= cfg.floor + 1e-12


@SETTINGS
@given(wave_lists(), configs, st.data())
def test_more_clicks_never_make_the_decision_less_favourable(waves, cfg, data):
    i = data.draw(st.integers(0, len(waves) - 1))
    extra = data.draw(st.integers(1, 20))
    w = waves[i]
    assume(w.clicks + extra <= w.sends)
    more = list(waves)
    more[i] = WaveStats(w.sends, w.expected_clicks, w.clicks + extra, w.completion, w.ctr_sq_sum,
                        w.ctr_max, w.clicked_gap)
    a, b = decide(waves, cfg), decide(more, cfg)
    assert RANK[b.action] >= RANK[a.action]
    assert b.numbers["e_value_above_floor"] >= a.numbers["e_value_above_floor"] * (1 - 1e-9)
    assert b.numbers["e_value_below_target"] <= a.numbers["e_value_below_target"] * (1 + 1e-9)
    lo_a, hi_a = a.numbers["anytime_interval"]["lo"], a.numbers["anytime_interval"]["hi"]
    lo_b, hi_b = b.numbers["anytime_interval"]["lo"], b.numbers["anytime_interval"]["hi"]
    assert lo_b >= lo_a - 1e-6 * (1 + lo_a)
    if hi_a is not None and hi_b is not None:
        assert hi_b >= hi_a - 1e-6 * (1 + hi_a)


@SETTINGS
@given(wave_lists(), configs)
def test_decision_agrees_with_its_interval_and_numbers(waves, cfg):
    d = decide(waves, cfg)
    n = d.numbers
    json.dumps(n, allow_nan=False)  # snapshot must be storable as-is
    lo, hi = n["anytime_interval"]["lo"], n["anytime_interval"]["hi"]
    assert lo <= n["improvement"] + 1e-9
    if hi is not None:
        assert hi >= n["improvement"] - 1e-9
    tol = 1e-6
    if d.action == "expand":
        assert lo >= cfg.floor * (1 - tol)
        assert d.next_size == round(cfg.growth * waves[-1].sends)
    elif d.action == "resend":
        assert lo <= cfg.floor * (1 + tol)
        assert hi is None or hi >= cfg.target * (1 - tol)
        assert d.next_size == waves[-1].sends
        assert len(waves) < cfg.max_waves
    else:
        assert d.next_size == 0
        assert d.code in {"futility", "budget"}
        if d.code == "futility":
            assert hi <= cfg.target * (1 + tol)
        else:
            assert len(waves) >= cfg.max_waves
    assert str(n["clicks"]) in d.reason


def test_clear_cases_expand_stop_and_resend():
    cfg = RampConfig()
    hot = [WaveStats(300, 3.0, 20, 0.9), WaveStats(300, 3.0, 15, 0.85)]
    cold = [WaveStats(300, 3.0, 1, 1.0), WaveStats(300, 3.0, 2, 0.95), WaveStats(300, 3.0, 1, 0.85)]
    warm = [WaveStats(300, 3.0, 6, 0.85)]
    assert decide(hot, cfg).action == "expand"
    assert decide(hot, cfg).next_size == 1200
    assert decide(cold, cfg).action == "stop" and decide(cold, cfg).code == "futility"
    assert decide(warm, cfg).action == "resend" and decide(warm, cfg).next_size == 300


def test_cap_and_budget():
    cfg = RampConfig(max_waves=2)
    hot = [WaveStats(300, 3.0, 20, 0.9), WaveStats(300, 3.0, 15, 0.85)]
    assert decide(hot, cfg, remaining_cap=500).next_size == 500
    capped = decide(hot, cfg, remaining_cap=0)
    assert (capped.action, capped.code, capped.next_size) == ("stop", "cap", 0)
    middling = [WaveStats(300, 3.0, 6, 0.9), WaveStats(300, 3.0, 6, 0.85)]
    d = decide(middling, cfg)
    assert (d.action, d.code) == ("stop", "budget")
    assert "budget" in d.reason
    assert decide(middling[:1], cfg).action == "resend"
    assert decide(middling[:1], cfg, remaining_cap=120).next_size == 120


def test_decide_refuses_before_the_observation_window_and_bad_input():
    cfg = RampConfig(observation_window_s=1200)
    early = [WaveStats(300, 3.0, 5, 0.7, age_seconds=600)]
    assert not ramp.decision_due(early, cfg)
    with pytest.raises(ValueError, match="observation window"):
        decide(early, cfg)
    assert ramp.decision_due([WaveStats(300, 3.0, 5, 0.85, age_seconds=1200)], cfg)
    with pytest.raises(ValueError):
        decide([], cfg)
    with pytest.raises(ValueError, match="clicks"):
        WaveStats(10, 1.0, 11)
    with pytest.raises(ValueError, match="completion"):
        WaveStats(10, 1.0, 1, completion=1.5)
    with pytest.raises(ValueError, match="target"):
        RampConfig(floor=2.0, target=1.0)


def test_delay_correction_counts_late_clicks_fairly():
    # The same 6 clicks mean more when only half of the clicks can have arrived yet.
    early = decide([WaveStats(300, 3.0, 6, 0.5)])
    late = decide([WaveStats(300, 3.0, 6, 1.0)])
    assert early.numbers["improvement"] == pytest.approx(2 * late.numbers["improvement"])
    assert early.numbers["e_value_above_floor"] > late.numbers["e_value_above_floor"]


# ----------------------------------------------------------------------------------------------
# validity under repeated looks
# ----------------------------------------------------------------------------------------------


def _repeated_looks(rng, true_r, n_seq, looks, wave, ctr):
    """Cumulative clicks and expected clicks at each look for Bernoulli recipients with
    heterogeneous CTRs (instant clicks). Returns arrays (n_seq, looks)."""
    b = 2.0 * (1 - ctr) / ctr
    c = np.zeros((n_seq, looks))
    q1 = np.zeros((n_seq, looks))
    q2 = np.zeros((n_seq, looks))
    qm = np.zeros((n_seq, looks))
    for j in range(looks):
        p = rng.beta(2.0, b, size=(n_seq, wave))
        hits = rng.random(p.shape) < np.minimum(true_r * p, 1)
        c[:, j] = hits.sum(1)
        q1[:, j] = p.sum(1)
        q2[:, j] = (p * p).sum(1)
        qm[:, j] = p.max(1)
    return c.cumsum(1), q1.cumsum(1), q2.cumsum(1), np.maximum.accumulate(qm, axis=1)


@pytest.mark.parametrize("true_r,ctr,wave", [(1.5, 0.01, 300), (2.4, 0.01, 300), (1.0, 0.05, 60), (3.0, 0.002, 1000)])
def test_confidence_sequence_covers_the_truth_at_every_look(true_r, ctr, wave):
    rng = np.random.default_rng(12345)
    n_seq, looks, alpha = 1500, 20, 0.05
    c, q1, q2, qm = _repeated_looks(rng, true_r, n_seq, looks, wave, ctr)
    lo, hi = improvement_interval(c, q1, expected_sq=q2, expected_max=qm, alpha=alpha)
    miss_low = np.mean(np.any(lo > true_r, axis=1))  # lower end ever above the truth
    miss_high = np.mean(np.any(hi < true_r, axis=1))
    se = math.sqrt(alpha * (1 - alpha) / n_seq)
    assert miss_low <= alpha + 2 * se, miss_low
    assert miss_high <= alpha + 2 * se, miss_high
    # The check has teeth: the normal interval at the same nominal level, looked at every wave,
    # errs much more often on at least one side.
    nlo, nhi = normal_interval(c, q1, alpha=alpha)
    naive_miss = max(np.mean(np.any(nlo > true_r, axis=1)), np.mean(np.any(nhi < true_r, axis=1)))
    assert naive_miss > alpha + 3 * se
    assert naive_miss > max(miss_low, miss_high)


def test_interval_narrows_around_the_truth_with_more_data():
    rng = np.random.default_rng(7)
    c, q1, q2, qm = _repeated_looks(rng, 2.0, 300, 40, 500, 0.01)
    lo, hi = improvement_interval(c, q1, expected_sq=q2, expected_max=qm)
    width = np.median(hi - lo, axis=0)
    assert width[-1] < 0.5 * width[4]
    assert np.median(lo[:, -1]) < 2.0 < np.median(hi[:, -1])


# ----------------------------------------------------------------------------------------------
# simulator (delays included)
# ----------------------------------------------------------------------------------------------


def test_simulated_policy_meets_the_acceptance_targets_with_fewer_trials():
    t = 1500
    floor = simulate(1.5, 0.01, 300, t, seed=11)
    target = simulate(2.4, 0.01, 300, t, seed=12)
    naive_target = simulate(2.4, 0.01, 300, t, policy="naive", seed=12)
    se = math.sqrt(0.05 * 0.95 / t)
    assert floor["expanded_share"] <= 0.05 + 2 * se
    assert target["expanded_share"] >= 0.90 - 2 * math.sqrt(0.09 / t)
    assert naive_target["expanded_share"] < target["expanded_share"] - 0.03
    for r in (floor, target):
        assert r["expanded_share"] + r["stopped_share"] + r["budget_share"] == pytest.approx(1.0)
        assert 300 <= r["mean_sends"] <= 300 * RampConfig().max_waves


@pytest.mark.parametrize("ctr,wave", [(0.002, 1000), (0.05, 100), (0.2, 30)])
def test_simulated_expansions_at_the_floor_stay_below_alpha_elsewhere(ctr, wave):
    t = 1000
    res = simulate(1.5, ctr, wave, t, seed=5, config=RampConfig(max_waves=30))
    assert res["expanded_share"] <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / t)


@pytest.mark.parametrize("true_r,delay_scale", [(1.5, 1.0), (2.4, 1.0), (1.5, 0.5)])
def test_confidence_sequence_with_late_clicks_covers_the_truth_at_every_look(true_r, delay_scale):
    # Waves every 20 minutes, clicks arriving with the default delay curve (or twice as fast as
    # the model believes), intervals checked after every wave.
    t = 1500
    res = ramp.coverage(true_r, 0.01, 300, t, looks=15, seed=21, delay_scale=delay_scale)
    se = math.sqrt(0.05 * 0.95 / t)
    assert res["anytime_lower_end_ever_above_truth"] <= 0.05 + 2 * se
    assert res["anytime_upper_end_ever_below_truth"] <= 0.05 + 2 * se
    assert max(res["normal_lower_end_ever_above_truth"], res["normal_upper_end_ever_below_truth"]) > 0.05 + 3 * se


def test_simulation_is_reproducible_and_cli_prints_json(capsys):
    a = simulate(2.0, 0.01, 300, 200, seed=3)
    b = simulate(2.0, 0.01, 300, 200, seed=3)
    assert a == b
    rc = ramp.main(["simulate", "--true-improvement", "2.4", "--baseline-ctr", "0.01",
                    "--wave-size", "300", "--trials", "200", "--policy", "naive", "--seed", "1", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("expanded_share", "mean_sends", "stopped_share", "budget_share", "mean_waves", "settings"):
        assert key in out
    assert out["settings"]["policy"] == "naive"
    assert 0 <= out["expanded_share"] <= 1


# ----------------------------------------------------------------------------------------------
# baseline CTR
# ----------------------------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=50),
    st.floats(0.01, 50), st.floats(0.01, 500),
)
def test_smoothed_ctr_lies_between_prior_mean_and_raw_rate(pairs, a, b):
    clicks = np.array([min(c, s) for c, s in pairs])
    sends = np.array([s for _, s in pairs])
    sm = smoothed_ctr(clicks, sends, a, b)
    prior_mean = a / (a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(sends > 0, clicks / np.maximum(sends, 1), prior_mean)
    lo, hi = np.minimum(prior_mean, raw), np.maximum(prior_mean, raw)
    assert np.all(sm >= lo - 1e-12) and np.all(sm <= hi + 1e-12)
    # more own history moves the estimate toward the raw rate
    sm2 = smoothed_ctr(clicks * 10, sends * 10, a, b)
    assert np.all(np.abs(sm2 - raw) <= np.abs(sm - raw) + 1e-12)


def test_population_prior_recovers_a_known_beta():
    rng = np.random.default_rng(0)
    a, b = 1.5, 120.0
    p = rng.beta(a, b, 20000)
    sends = rng.integers(5, 300, 20000)
    clicks = rng.binomial(sends, p)
    fa, fb = fit_population_prior(clicks, sends)
    assert fa / (fa + fb) == pytest.approx(a / (a + b), rel=0.05)
    assert fa + fb == pytest.approx(a + b, rel=0.3)


@pytest.mark.parametrize("parts", [1, 2, 5])
def test_population_prior_of_parts_pooled_apart_is_the_whole_populations(parts):
    """A population split in parts (shards of subscribers, apps.mlops.shards): each part's pooled
    pairs, merged, fit the very prior the whole population fits."""
    from recsys.ramp import merge_pooled, pooled_pairs

    rng = np.random.default_rng(parts)
    sends = rng.integers(0, 60, 30000)
    clicks = rng.binomial(sends, rng.beta(1.2, 60, len(sends)))
    edges = np.linspace(0, len(sends), parts + 1).astype(int)
    pooled = merge_pooled([pooled_pairs(clicks[a:b], sends[a:b]) for a, b in zip(edges[:-1], edges[1:])])
    whole = pooled_pairs(clicks, sends)
    for got, want in zip(pooled, whole):
        np.testing.assert_array_equal(got, want)
    assert fit_population_prior(None, None, pooled=pooled) == fit_population_prior(clicks, sends)
    # parts with nobody sent to add nothing
    assert [len(x) for x in merge_pooled([pooled_pairs([0], [0]), whole])] == [len(x) for x in whole]


def test_population_prior_is_sane_with_tiny_or_no_data():
    default = (0.5, 49.5)
    assert fit_population_prior([], [], default=default) == default
    for clicks, sends in [([0], [3]), ([0, 0, 0], [1, 2, 5]), ([2], [2]), ([0, 1], [100, 100])]:
        a, b = fit_population_prior(clicks, sends, default=default)
        assert a > 0 and b > 0 and math.isfinite(a + b)
        mean = a / (a + b)
        assert 0.001 < mean < 0.5  # shrunk toward the default mean, not 0 or 1
    with pytest.raises(ValueError):
        fit_population_prior([3], [2])
    with pytest.raises(ValueError):
        smoothed_ctr([1], [2], 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# click delays
# ----------------------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.floats(0, 1e6), min_size=0, max_size=200))
def test_delay_cdf_is_a_cdf_and_round_trips_through_json(delays):
    m = ClickDelayModel.fit(delays)
    t = np.concatenate([[0.0, 0.5, 1.0], np.geomspace(1, 4e5, 200)])
    f = m.cdf(t)
    assert f[0] == 0 and np.all(np.diff(f) >= 0) and np.all((f >= 0) & (f <= 1))
    assert m.cdf(1e9) == 1.0
    back = ClickDelayModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == m
    np.testing.assert_allclose(back.cdf(t), f)


def test_delay_model_fit_recovers_a_known_distribution_and_default_is_sensible():
    rng = np.random.default_rng(1)
    true = stats.lognorm(s=1.2, scale=300.0)
    m = ClickDelayModel.fit(true.rvs(20000, random_state=rng))
    for t in (60, 300, 1200, 7200):
        assert float(m.cdf(t)) == pytest.approx(true.cdf(t), abs=0.02)
    assert float(m.quantile(0.5)) == pytest.approx(300.0, rel=0.1)
    d = ClickDelayModel.default()
    assert 0.6 < float(d.cdf(1200)) < 0.95  # most clicks within 20 minutes ...
    assert float(d.cdf(4 * 3600)) < 0.999  # ... with a long tail
    q = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(d.cdf(d.quantile(q)), q, atol=1e-9)
    with pytest.raises(ValueError):
        ClickDelayModel.fit([-5.0])
    with pytest.raises(ValueError):
        ClickDelayModel.from_dict({"kind": "other"})


def test_wave_stats_from_recipient_arrays():
    d = ClickDelayModel.default()
    ctr = np.array([0.01, 0.02, 0.03, 0.04])
    sent = np.array([0.0, 0.0, 10.0, 10.0])
    clicked = np.array([np.nan, 100.0, 5000.0, 300.0])  # third click is after `now`
    now = 1210.0
    w = wave_stats(ctr, sent, clicked, now, d)
    assert w.sends == 4 and w.clicks == 2
    assert w.expected_clicks == pytest.approx(0.10)
    f = d.cdf(now - sent)
    assert w.completion == pytest.approx(float((ctr * f).sum() / ctr.sum()))
    assert w.ctr_sq_sum == pytest.approx(float((ctr**2).sum()))
    assert w.ctr_max == pytest.approx(0.04)
    gap = 0.02 * (f[1] - d.cdf(100.0)) + 0.04 * (f[3] - d.cdf(290.0))
    assert w.clicked_gap == pytest.approx(float(gap))
    assert w.age_seconds == pytest.approx(1200.0)  # since the wave's last send
    with pytest.raises(ValueError):
        wave_stats(ctr, sent, clicked, now=5.0)


# ----------------------------------------------------------------------------------------------
# house rule: recsys is a library
# ----------------------------------------------------------------------------------------------


def test_ramp_and_bandit_import_no_framework():
    code = (
        "import sys, recsys.ramp, recsys.bandit; "
        "bad = {'django', 'rest_framework', 'celery', 'apps', 'pushadmin'}; "
        "hit = sorted(m for m in sys.modules if m.split('.')[0] in bad); "
        "print(hit); sys.exit(1 if hit else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 60)), min_size=1, max_size=200),
       st.booleans())
@settings(max_examples=60, deadline=None)
def test_the_prior_pools_recipients_exactly_as_a_row_wise_unique_does(pairs, fractional):
    """The integer-key pooling gives the same distinct pairs, order and counts as ``np.unique``
    over rows (and fractional counts still go that way), so the fit is the same to the bit."""
    from recsys.ramp.prior import _pooled

    s = np.array([b for _, b in pairs], dtype=float)
    c = np.array([min(a, b) for a, b in pairs], dtype=float)
    if fractional:
        c = c * 0.5
    got = _pooled(c, s)
    rows, counts = np.unique(np.stack([c, s], axis=1), axis=0, return_counts=True)
    assert np.array_equal(got[0], rows[:, 0]) and np.array_equal(got[1], rows[:, 1])
    assert np.array_equal(got[2], counts)
