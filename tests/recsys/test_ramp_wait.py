"""Waiting for late clicks: the "wait" outcome of the ramp, its maturity measure, and the power it
gives back when clicks come much later than the delay curve says, without losing validity.

Run without Django:  python -m pytest -p no:django tests/recsys/test_ramp_wait.py -q
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.ramp import (
    ClickDelayModel,
    RampConfig,
    decide,
    maturity,
    simulate,
    wave_stats,
)
from recsys.ramp.decision import BUDGET, EXPAND, FUTILITY, RESEND, WAIT, _pool, _rule
from recsys.ramp.evidence import _e_values


def _se(t: int, p: float = 0.05) -> float:
    return math.sqrt(p * (1 - p) / t)


def _wave(age_s: float, clicks: int = 12, n: int = 300, seed: int = 0):
    """A wave of n recipients at CTR ~2% sent ``age_s`` seconds ago with ``clicks`` early clicks."""
    rng = np.random.default_rng(seed)
    ctr = rng.beta(2, 98, n)
    sent = np.zeros(n)
    clicked = np.full(n, np.nan)
    clicked[:clicks] = rng.uniform(1, 60, clicks)
    return ctr, sent, clicked, float(age_s)


def test_maturity_is_a_share_that_grows_with_age_and_is_one_without_a_band():
    ages = [1200, 2400, 3600, 4 * 3600, 12 * 3600]
    values = [wave_stats(*_wave(a)) for a in ages]
    m = [maturity(w.completion_fast * w.expected_clicks, w.completion_slow * w.expected_clicks) for w in values]
    assert all(0 < x <= 1 for x in m) and all(a < b for a, b in itertools.pairwise(m))
    assert m[0] == pytest.approx(0.376, abs=0.02)  # the default curve at 20 minutes, band 8
    one = wave_stats(*_wave(1200), band=1.0)
    assert maturity(one.completion * one.expected_clicks, one.completion * one.expected_clicks) == 1.0
    assert maturity(0.0, 0.0) == 1.0 and maturity(np.array([2.0, 0.0]), np.array([1.0, 0.0])).tolist() == [0.5, 1.0]


def test_out_of_budget_and_immature_it_waits_then_stops_once_mature_or_too_old():
    cfg = RampConfig(max_waves=1)  # the budget is used by wave 1
    young = decide([wave_stats(*_wave(1200))], cfg)
    assert (young.action, young.code, young.next_size) == ("wait", "immature", 0)
    assert young.numbers["maturity"] < cfg.final_maturity and "late clicks" in young.reason
    # Nine hours on, the evidence is mature enough (or the wait is over): stop on the budget.
    old = decide([wave_stats(*_wave(9 * 3600))], cfg)
    assert (old.action, old.code) == ("stop", "budget")
    # A short maximum wait ends the wait whatever the maturity.
    capped = decide([wave_stats(*_wave(3600))], RampConfig(max_waves=1, max_wait_s=1800))
    assert (capped.action, capped.code) == ("stop", "budget")
    # Without a band the evidence is always mature: the old rule, no wait.
    assert decide([wave_stats(*_wave(1200), band=1.0)], RampConfig(max_waves=1, delay_band=1.0)).code == "budget"


def test_mid_course_wait_only_when_asked_and_never_when_decided_or_capped():
    w = [wave_stats(*_wave(1200))]
    assert decide(w, RampConfig()).action == "resend"  # the default re-sends (resend_maturity 0)
    cfg = RampConfig(resend_maturity=0.5)
    assert decide(w, cfg).action == "wait"
    assert decide([wave_stats(*_wave(2400))], cfg).action == "resend"  # 60% mature at 40 minutes
    assert decide(w, cfg, remaining_cap=0).code == "cap"  # nothing more can be sent: no point waiting
    # Overwhelming early clicks expand at once, mature or not; no click at all stops for futility.
    assert decide([wave_stats(*_wave(1200, clicks=80))], cfg).action == "expand"
    assert decide([wave_stats(*_wave(8 * 3600, clicks=0, n=3000))], cfg).code == "futility"


def test_no_time_left_before_expiry_means_no_resend():
    w = [wave_stats(*_wave(1200))]
    assert decide(w, RampConfig(), remaining_s=3600).action == "resend"
    late = decide(w, RampConfig(), remaining_s=600)
    assert late.action == "wait"
    assert decide([wave_stats(*_wave(9 * 3600))], RampConfig(), remaining_s=600).code == "budget"
    assert "expires" in decide([wave_stats(*_wave(9 * 3600))], RampConfig(), remaining_s=600).reason


@settings(max_examples=60, deadline=None)
@given(n_waves=st.integers(1, 4), clicks=st.integers(0, 60), age=st.floats(1200, 30000),
       resend=st.sampled_from([0.0, 0.5, 0.9]), budget=st.integers(1, 5))
def test_the_vectorized_rule_is_decides_rule(n_waves, clicks, age, resend, budget):
    """The simulation applies ``_rule`` to arrays; ``decide`` must come to the same outcome."""
    cfg = RampConfig(resend_maturity=resend, max_waves=budget)
    waves = [wave_stats(*_wave(age + 1200 * (n_waves - 1 - k), clicks=clicks // n_waves, seed=k)) for k in range(n_waves)]
    d = decide(waves, cfg)
    p = _pool(waves)
    up, _ = _e_values(p["clicks"], p["expected_fast"], p["expected_sq_fast"], p["expected_max_fast"], p["clicked_gap_fast"], cfg)
    _, dn = _e_values(p["clicks"], p["expected_slow"], p["expected_sq_slow"], p["expected_max_slow"], p["clicked_gap_slow"], cfg)
    code = _rule(np.array([up]), np.array([dn]), np.array([p["clicks"]]), np.array([p["expected_fast"]]),
                 np.array([maturity(p["expected_fast"], p["expected_slow"])]), np.array([n_waves]),
                 np.array([waves[-1].age_seconds]), cfg)[0]
    expected = {EXPAND: ("expand", "above_floor"), FUTILITY: ("stop", "futility"), BUDGET: ("stop", "budget"),
                WAIT: ("wait", "immature"), RESEND: ("resend", "undecided")}[int(code)]
    assert (d.action, d.code) == expected


def test_waiting_gives_back_the_power_lost_to_delays_8x_slower():
    # Before waiting, 60.6% (CTR 5%) and 49.8% (CTR 2%) expanded here (2,000 trials).
    t = 300
    res = simulate(2.4, 0.05, 300, t, seed=31, delay_scale=8.0)
    assert res["expanded_share"] >= 0.85
    assert res["minutes_to_decision"] > res["mean_waves"] * 20 or res["waited_share"] == 0


def test_waiting_keeps_the_expansion_error_with_delays_4x_faster():
    t = 600
    res = simulate(1.5, 0.02, 300, t, seed=32, delay_scale=0.25)
    assert res["expanded_share"] <= 0.05 + 2 * _se(t)
    assert res["waited_share"] > 0  # floor contents run to the budget and wait there


def test_refit_in_order_learns_the_slow_curve():
    res = simulate(2.4, 0.05, 300, 240, seed=33, delay_scale=8.0, refit_every=80)
    assert res["delay_refits"]["count"] == 2
    truth = float(ClickDelayModel.default().quantile(0.5)) * 8
    assert all(abs(m / truth - 1) < 0.3 for m in res["delay_refits"]["median_s"])
    assert simulate(2.4, 0.05, 300, 50, seed=33)["delay_refits"] is None


@pytest.mark.parametrize("delay_scale", [0.25, 8.0])
def test_the_interval_holds_while_a_campaign_only_watches_late_clicks(delay_scale):
    # Six waves, then 18 looks (six hours) that only watch: waiting is looking, nothing more.
    from recsys.ramp import coverage

    t = 500
    res = coverage(1.5, 0.05, 300, t, looks=24, waves=6, seed=34, delay_scale=delay_scale)
    assert res["settings"]["waves"] == 6
    assert res["anytime_lower_end_ever_above_truth"] <= 0.05 + 2 * _se(t)
    assert res["anytime_upper_end_ever_below_truth"] <= 0.05 + 2 * _se(t)
