"""Per-platform click-delay curves fitted from sends, against the simulated world's own delays.

The truth is the world's: click delays drawn as ``World.push`` draws them for an awake
recipient (recsys/simulate/world.py: a fast or a slow lognormal, the fast share per platform from
``Resolved.delay_fast``), the true median solved from ``calibration.delay_cdf``. Nothing expected
is written down here; change the calibration and the targets move with it.

Run without Django:
    python -m pytest -p no:django --confcutdir=tests/recsys tests/recsys/test_ramp_delay_platform.py -q
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize

from recsys.ramp import ClickDelayModel, PlatformDelays, wave_stats
from recsys.simulate.calibration import Calibration, delay_cdf, resolve

HOUR = 3600.0
HORIZON_S = 48 * HOUR
TOLERANCE = 0.15  # the acceptance: fitted median within 15% of the truth
PLATFORMS = ("ios", "android")
PARAMS = resolve(Calibration(), "default")  # what World(...).params holds at the default difficulty
SEEDS = (0, 1, 2)
SIZES = (200_000, 800_000)  # sends per platform (about 4% of them clicked)


def world_delays(rng: np.random.Generator, platform: str, n: int) -> np.ndarray:
    """Click delays (seconds) drawn like ``World.push``: fast with the platform's fast share."""
    cal = PARAMS.cal
    fast = rng.random(n) < PARAMS.delay_fast[platform]
    median = np.where(fast, cal.delay_fast_median_s, cal.delay_slow_median_s)
    sigma = np.where(fast, cal.delay_fast_sigma, cal.delay_slow_sigma)
    return median * np.exp(sigma * rng.standard_normal(n))


def true_median(platform: str) -> float:
    """Median delay among clicks, delays capped at 48 h (the cap is far above the median)."""

    def gap(t):
        return float(delay_cdf(t, platform, PARAMS.cal)) - 0.5

    assert gap(HORIZON_S) > 0
    return optimize.brentq(gap, 1.0, HORIZON_S, xtol=1e-6)


def censored_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Send ages at ``now`` over the last 3 days, the volume growing towards now (truncated
    exponential, mean scale 10 h): about 45% of the sends are under 6 hours old."""
    span, scale = 72 * HOUR, 10 * HOUR
    return -scale * np.log1p(-rng.random(n) * (1.0 - math.exp(-span / scale)))


def complete_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Every send older than the horizon (2 to 30 days)."""
    return rng.uniform(2 * 24 * HOUR, 30 * 24 * HOUR, n)


def simulated_sends(seed: int, n: int, censored: bool):
    """``n`` sends per platform read at ``now``: (platforms, follow_up_s, delay_s), delay NaN
    when not clicked or clicked after now, clicking with the world's mean push CTR per platform."""
    rng = np.random.default_rng(seed)
    cal = PARAMS.cal
    platforms, follow_up, delay = [], [], []
    for platform in PLATFORMS:
        age = (censored_ages if censored else complete_ages)(rng, n)
        clicked = rng.random(n) < cal.get("push_ctr", platform) * cal.ctr_multiplier
        d = np.full(n, np.nan)
        d[clicked] = world_delays(rng, platform, int(clicked.sum()))
        platforms.append(np.full(n, platform))
        follow_up.append(np.minimum(age, HORIZON_S))
        delay.append(np.where(d <= age, d, np.nan))  # a click after now is not seen
    return np.concatenate(platforms), np.concatenate(follow_up), np.concatenate(delay)


def relative_error(model: ClickDelayModel, platform: str) -> float:
    return float(model.quantile(0.5)) / true_median(platform) - 1.0


# ---- the world's truth --------------------------------------------------------------------


def test_the_sampler_draws_the_worlds_delays_and_the_platforms_differ():
    rng = np.random.default_rng(7)
    for platform in PLATFORMS:
        mc = float(np.median(np.minimum(world_delays(rng, platform, 400_000), HORIZON_S)))
        assert abs(mc / true_median(platform) - 1.0) < 0.02
    assert true_median("android") > 2 * true_median("ios")  # one pooled curve would not do


# ---- acceptance: the fitted median per platform within 15% of the truth -------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_complete_follow_up_recovers_each_platforms_median(seed, n):
    platforms, follow_up, delay = simulated_sends(seed, n, censored=False)
    fitted = PlatformDelays.fit(platforms, follow_up, delay)
    assert fitted.platforms == tuple(sorted(PLATFORMS))
    for platform in PLATFORMS:
        assert abs(relative_error(fitted.model(platform), platform)) < TOLERANCE
        # nothing censored: the fit from sends is the plain empirical fit of the clicks
        mine = platforms == platform
        plain = ClickDelayModel.fit(delay[mine][~np.isnan(delay[mine])])
        assert np.allclose(fitted.model(platform).cdf_values, plain.cdf_values)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_censored_sends_recover_each_platforms_median_where_the_naive_fit_does_not(seed, n):
    platforms, follow_up, delay = simulated_sends(seed, n, censored=True)
    assert np.mean(follow_up < 6 * HOUR) > 0.35  # many sends observed only a few hours
    fitted = PlatformDelays.fit(platforms, follow_up, delay)
    for platform in PLATFORMS:
        mine = platforms == platform
        assert abs(relative_error(fitted.model(platform), platform)) < TOLERANCE
        naive = ClickDelayModel.fit(delay[mine][~np.isnan(delay[mine])])
        assert relative_error(naive, platform) < -TOLERANCE  # too fast: the late clicks are missing


def rising_ctr_sends(rng: np.random.Generator, platform: str, n: int, n_waves: int = 48):
    """``n`` sends of one platform in ``n_waves`` waves over the last 3 days (each sent within
    10 minutes): (follow_up_s, delay_s). A wave's CTR is the platform's times a content quality
    (lognormal, the world's ``quality_sd``) times a trend rising to e^1.5 for the latest waves."""
    cal = PARAMS.cal
    span = 72 * HOUR
    wave_age = rng.uniform(0.0, span, n_waves)
    quality = np.exp(cal.quality_sd * rng.standard_normal(n_waves) + 1.5 * (1.0 - wave_age / span))
    wave = rng.integers(0, n_waves, n)
    age = np.maximum(wave_age[wave] - rng.uniform(0.0, 600.0, n), 0.0)
    ctr = np.minimum(cal.p_max, cal.get("push_ctr", platform) * quality[wave] / quality.mean())
    clicked = rng.random(n) < ctr
    d = np.full(n, np.nan)
    d[clicked] = world_delays(rng, platform, int(clicked.sum()))
    return np.minimum(age, HORIZON_S), np.where(d <= age, d, np.nan)


@pytest.mark.parametrize("seed", SEEDS)
def test_click_probability_rising_with_send_time_does_not_bias_the_fit(seed):
    """The click probability tied to the follow-up (recent waves better), which a one-p
    mixture-cure fit (Kaplan-Meier on the sends) reads as fast delays; Lynden-Bell does not."""
    rng = np.random.default_rng(seed)
    for platform in PLATFORMS:
        follow_up, delay = rising_ctr_sends(rng, platform, 200_000)
        assert abs(relative_error(ClickDelayModel.fit_sends(follow_up, delay), platform)) < TOLERANCE


# ---- behaviour -------------------------------------------------------------------------------


def test_fit_sends_ignores_how_many_sends_were_never_clicked():
    """Lynden-Bell reads the clicks and their follow-up; unclicked sends only bound the data."""
    rng = np.random.default_rng(11)
    age = rng.uniform(0.0, 60 * HOUR, 20_000)
    d = world_delays(rng, "android", age.size)
    d = np.where((d <= age) & (rng.random(age.size) < 0.3), d, np.nan)
    c = np.minimum(age, HORIZON_S)
    base = ClickDelayModel.fit_sends(c, d)
    more_unclicked = ClickDelayModel.fit_sends(np.concatenate([c, c[:5000]]), np.concatenate([d, np.full(5000, np.nan)]))
    assert base == more_unclicked
    assert base == ClickDelayModel.fit_truncated(d[~np.isnan(d)], c[~np.isnan(d)])  # data reach the horizon


def test_beyond_the_longest_follow_up_the_curve_keeps_the_default_shape():
    """A client whose oldest send is 6 hours old: the curve up to 6 h comes from the data, the
    default curve's share by 6 h caps it, and beyond 6 h it is the default's (where the
    truncated fit would say that every click has arrived by 6 h)."""
    rng = np.random.default_rng(5)
    default = ClickDelayModel.default()
    age = rng.uniform(0.0, 6 * HOUR, 40_000)
    d = default.sample(rng, age.size)
    d = np.where(d <= age, d, np.nan)
    fitted = ClickDelayModel.fit_sends(age, d)
    knots = np.asarray(fitted.knots_s)
    beyond = knots > 6 * HOUR
    assert np.allclose(np.asarray(fitted.cdf_values)[beyond], np.asarray(default.cdf_values)[beyond])
    t = np.array([60.0, 600.0, 3600.0, 5 * HOUR])
    assert np.max(np.abs(fitted.cdf(t) - default.cdf(t))) < 0.02
    truncated = ClickDelayModel.fit_truncated(d[~np.isnan(d)], age[~np.isnan(d)])
    assert float(truncated.cdf(6 * HOUR)) > float(fitted.cdf(6 * HOUR))


def test_nothing_clicked_is_the_default_curve():
    assert ClickDelayModel.fit_sends([], []) == ClickDelayModel.default()
    assert ClickDelayModel.fit_sends([10.0, 20.0], [np.nan, np.nan]) == ClickDelayModel.default()
    assert PlatformDelays.fit([], [], []) == PlatformDelays()


def test_platforms_with_few_clicks_use_the_pooled_curve_and_few_overall_the_default():
    rng = np.random.default_rng(3)
    n_android, n_web = 5000, 40
    platforms = np.array(["android"] * n_android + ["web"] * n_web)
    follow_up = np.full(platforms.size, HORIZON_S)
    delay = np.concatenate([world_delays(rng, "android", n_android), world_delays(rng, "ios", n_web)])
    fitted = PlatformDelays.fit(platforms, follow_up, delay, min_clicks=200)
    assert fitted.platforms == ("android",)
    assert fitted.model("web") == fitted.pooled == ClickDelayModel.fit_sends(follow_up, delay)
    assert fitted.model("ios") == fitted.pooled and fitted.model(None) == fitted.pooled
    few = PlatformDelays.fit(platforms[-60:], follow_up[-60:], delay[-60:], min_clicks=200)
    assert few == PlatformDelays(ClickDelayModel.default())


def test_cdf_per_platform_per_element_and_in_wave_stats():
    rng = np.random.default_rng(9)
    ios = ClickDelayModel.fit(world_delays(rng, "ios", 3000))
    android = ClickDelayModel.fit(world_delays(rng, "android", 3000))
    delays = PlatformDelays(ClickDelayModel.default(), (("ios", ios), ("android", android)))
    t = np.array([60.0, 600.0, 3600.0, 7200.0])
    labels = np.array(["ios", "android", "web", "ios"])
    expected = np.array([ios.cdf(60.0), android.cdf(600.0), ClickDelayModel.default().cdf(3600.0), ios.cdf(7200.0)])
    assert np.allclose(delays.cdf(t, labels), expected)
    assert np.allclose(delays.cdf(t, "android"), android.cdf(t))
    assert np.allclose(delays.cdf(t), ClickDelayModel.default().cdf(t))
    assert np.allclose(delays.cdf(600.0, labels), [ios.cdf(600.0), android.cdf(600.0), delays.pooled.cdf(600.0), ios.cdf(600.0)])
    assert float(delays.quantile(0.5, "android")) == float(android.quantile(0.5))

    ctr = np.full(4, 0.05)
    sent_at = np.array([0.0, 0.0, 0.0, 600.0])
    clicked_at = np.array([30.0, np.nan, np.nan, np.nan])
    now = 1200.0
    ws = wave_stats(ctr, sent_at, clicked_at, now, delays, platform=labels)
    f_now = delays.cdf(now - sent_at, labels)
    assert ws.completion == pytest.approx(float(np.mean(f_now)))
    assert ws.clicked_gap == pytest.approx(0.05 * (f_now[0] - float(ios.cdf(30.0))))
    one = wave_stats(ctr, sent_at, clicked_at, now, android)
    assert wave_stats(ctr, sent_at, clicked_at, now, delays, platform="android") == one
    assert wave_stats(ctr, sent_at, clicked_at, now, android, platform=labels) == one  # one curve: labels unused
    with pytest.raises(ValueError, match="platform"):
        wave_stats(ctr, sent_at, clicked_at, now, delays, platform=labels[:3])


# ---- persistence ---------------------------------------------------------------------------


def test_round_trip_through_json_and_old_single_curve_dicts():
    platforms, follow_up, delay = simulated_sends(0, 20_000, censored=True)
    fitted = PlatformDelays.fit(platforms, follow_up, delay)
    assert fitted.platforms == tuple(sorted(PLATFORMS))
    stored = json.loads(json.dumps(fitted.to_dict()))
    assert PlatformDelays.from_dict(stored) == fitted
    # readers of a single curve get the pooled one
    assert ClickDelayModel.from_dict(stored) == fitted.pooled
    # a dict stored before per-platform curves: the pooled curve, no platform curves
    old = ClickDelayModel.fit_truncated([60.0, 300.0, 4000.0], [9000.0, 9000.0, 9000.0])
    assert ClickDelayModel.from_dict(old.to_dict()) == old
    assert PlatformDelays.from_dict(old.to_dict()) == PlatformDelays(old)
    with pytest.raises(ValueError, match="kind"):
        PlatformDelays.from_dict({"kind": "something_else", "version": 1})
    with pytest.raises(ValueError, match="kind"):
        PlatformDelays.from_dict({**stored, "version": 2})


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("follow_up", "delay", "match"),
    [
        ([10.0, 20.0], [5.0], "follow_up_s and delay_s"),
        ([[10.0, 20.0]], [[5.0, np.nan]], "follow_up_s and delay_s"),
        ([10.0, np.nan], [5.0, np.nan], "follow_up_s must not be NaN"),
        ([10.0, -1.0], [5.0, np.nan], "follow_up_s must be >= 0"),
        ([10.0, 20.0], [-5.0, np.nan], "delay_s must be >= 0"),
        ([10.0, 20.0], [np.inf, np.nan], "delay_s must be >= 0"),
        ([10.0, 20.0], [15.0, np.nan], "delay_s longer than its follow_up_s"),
    ],
)
def test_fit_sends_rejects_bad_input(follow_up, delay, match):
    with pytest.raises(ValueError, match=match):
        ClickDelayModel.fit_sends(follow_up, delay)
    if np.ndim(follow_up) == 1 and np.ndim(delay) == 1:
        with pytest.raises(ValueError, match=match):
            PlatformDelays.fit(["ios"] * len(follow_up), follow_up, delay)


def test_bad_prior_platforms_and_min_clicks_are_named():
    with pytest.raises(ValueError, match="prior_weight"):
        ClickDelayModel.fit_sends([10.0], [5.0], prior_weight=0.0)
    with pytest.raises(ValueError, match="platforms"):
        PlatformDelays.fit(["ios"], [10.0, 20.0], [5.0, np.nan])
    with pytest.raises(ValueError, match="platforms"):
        PlatformDelays.fit(["ios", None], [10.0, 20.0], [5.0, np.nan])
    with pytest.raises(ValueError, match="min_clicks"):
        PlatformDelays.fit(["ios", "ios"], [10.0, 20.0], [5.0, np.nan], min_clicks=0)
    # a click after 48 h on a send followed up to the horizon is fine (counted at 48 h)
    late = ClickDelayModel.fit_sends([np.inf, HORIZON_S], [50 * HOUR, 60.0])
    assert late.n_observed == 2
    with pytest.raises(ValueError, match="curves"):
        PlatformDelays(ClickDelayModel.default(), (("ios", ClickDelayModel.default()), ("ios", ClickDelayModel.default())))
