"""The delay band: ramp decisions whose error rates hold while the click-delay curve is wrong by a
factor (true delays from 1/delay_band to delay_band times the curve's).

Run without Django:  python -m pytest -p no:django tests/recsys/test_ramp_band.py -q
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from recsys import ramp
from recsys.ramp import ClickDelayModel, RampConfig, WaveStats, decide, simulate, wave_stats


def _se(t: int, alpha: float = 0.05) -> float:
    return math.sqrt(alpha * (1 - alpha) / t)


@pytest.mark.parametrize("delay_scale", [0.25, 8.0])
def test_interval_ends_hold_at_every_look_with_a_curve_wrong_by_a_factor(delay_scale):
    # Waves never stop, 12 looks; true delays 4x faster or 8x slower than the curve the test uses.
    t = 600
    res = ramp.coverage(1.5, 0.05, 300, t, looks=12, seed=11, delay_scale=delay_scale)
    assert res["anytime_lower_end_ever_above_truth"] <= 0.05 + 2 * _se(t)
    assert res["anytime_upper_end_ever_below_truth"] <= 0.05 + 2 * _se(t)


def test_expansion_error_at_the_floor_with_delays_4x_faster():
    t = 800
    res = simulate(1.5, 0.05, 300, t, seed=12, delay_scale=0.25)
    assert res["expanded_share"] <= 0.05 + 2 * _se(t)


def test_futility_error_at_the_target_with_delays_8x_slower():
    t = 800
    res = simulate(2.4, 0.02, 300, t, seed=13, delay_scale=8.0)
    assert res["stopped_share"] <= 0.05 + 2 * _se(t)


def test_power_at_the_target_with_the_right_curve():
    t = 400
    res = simulate(2.4, 0.02, 300, t, seed=14)
    assert res["expanded_share"] >= 0.85


def test_wave_stats_band_sides_bracket_the_curve():
    rng = np.random.default_rng(0)
    n = 500
    ctr = rng.beta(2, 60, n)
    sent = rng.uniform(0, 600, n)
    now = 1800.0
    clicked = np.where(rng.random(n) < 0.1, sent + rng.uniform(0, 1000, n), np.nan)
    w = wave_stats(ctr, sent, clicked, now)
    assert w.delay_band == RampConfig().delay_band
    assert w.completion_slow <= w.completion <= w.completion_fast
    one = wave_stats(ctr, sent, clicked, now, band=1.0)
    assert one.completion_fast == pytest.approx(one.completion) == pytest.approx(one.completion_slow)
    assert one.clicked_gap_fast == pytest.approx(one.clicked_gap) == pytest.approx(one.clicked_gap_slow)
    with pytest.raises(ValueError):
        wave_stats(ctr, sent, clicked, now, band=0.5)


def test_band_one_reproduces_the_curve_only_rule():
    rng = np.random.default_rng(1)
    ctr = rng.beta(2, 98, 300)
    sent = np.zeros(300)
    clicked = np.where(rng.random(300) < 0.05, rng.uniform(0, 1200, 300), np.nan)
    w = wave_stats(ctr, sent, clicked, 1200.0, band=1.0)
    plain = WaveStats(w.sends, w.expected_clicks, w.clicks, w.completion, w.ctr_sq_sum, w.ctr_max,
                      w.clicked_gap, w.age_seconds)
    cfg = RampConfig(delay_band=1.0)
    a, b = decide([w], cfg), decide([plain], cfg)
    assert (a.action, a.code) == (b.action, b.code)
    assert a.numbers["e_value_above_floor"] == pytest.approx(b.numbers["e_value_above_floor"])
    assert a.numbers["e_value_below_target"] == pytest.approx(b.numbers["e_value_below_target"])


def test_decide_refuses_waves_built_with_another_band():
    ctr = np.full(300, 0.02)
    w = wave_stats(ctr, np.zeros(300), np.full(300, np.nan), 1200.0, band=2.0)
    with pytest.raises(ValueError, match="delay band"):
        decide([w], RampConfig(delay_band=8.0))
    d = decide([w], RampConfig(delay_band=2.0))
    assert d.numbers["delay_band"] == 2.0
    assert d.numbers["expected_clicks_slow"] <= d.numbers["expected_clicks"] <= d.numbers["expected_clicks_fast"]
    json.dumps(d.numbers)


def test_wider_band_never_expands_more_easily():
    # Same clicks: the expansion e-value only falls and the futility e-value only falls as the
    # band widens (more expected clicks on the fast side, fewer on the slow side).
    rng = np.random.default_rng(2)
    ctr = rng.beta(2, 48, 300)
    sent = rng.uniform(0, 60, 300)
    clicked = np.where(rng.random(300) < 0.15, sent + ClickDelayModel.default().sample(rng, 300), np.nan)
    ups, downs = [], []
    for band in (1.0, 2.0, 4.0, 8.0):
        d = decide([wave_stats(ctr, sent, clicked, 1500.0, band=band)], RampConfig(delay_band=band))
        ups.append(d.numbers["e_value_above_floor"])
        downs.append(d.numbers["e_value_below_target"])
    assert all(x >= y for x, y in zip(ups, ups[1:]))
    assert all(x >= y for x, y in zip(downs, downs[1:]))


def test_simulate_reports_minutes_to_decision(capsys):
    rc = ramp.main(["simulate", "--true-improvement", "2.4", "--baseline-ctr", "0.05", "--wave-size", "300",
                    "--trials", "50", "--delay-scale", "4", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    # one look per wave, and one more per wait
    assert out["minutes_to_decision"] == pytest.approx((out["mean_waves"] + out["mean_waits"]) * 20.0)
    assert out["settings"]["config"]["delay_band"] == 8.0 and out["settings"]["delay_scale"] == 4.0
    for key in ("expanded_share", "mean_sends"):
        assert key in out
