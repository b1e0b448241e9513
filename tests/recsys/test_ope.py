"""Off-policy estimates on a synthetic pool whose click probabilities are known."""

import numpy as np
import pytest

from recsys.ope import LoggedWave, estimate, wave_interval, wave_terms


def logged_wave(rng, n=4000, top=270, explore=30, hold=0.05, ctr=(0.01, 0.05)):
    """A pool, the logger's top by its own score, a uniform slice of the rest, a random holdout."""
    ids = np.arange(n, dtype=np.int64)
    base = rng.uniform(*ctr, n)  # usual CTRs
    lift = np.exp(rng.normal(0, 0.6, n))
    p = np.clip(base * lift, 0, 1)  # true click probabilities
    logger_score = lift + rng.normal(0, 0.8, n)
    order = np.argsort(-logger_score)
    ranked = order[:top]
    rest = order[top:]
    explored = rng.choice(rest, size=explore, replace=False)
    chosen = np.concatenate([ranked, explored])
    prop = np.concatenate([np.ones(top), np.full(explore, explore / len(rest))])
    sent = rng.random(len(chosen)) >= hold
    clicked = rng.random(len(chosen)) < p[chosen]
    wave = LoggedWave(ids[chosen][sent], prop[sent], base[chosen][sent], clicked[sent])
    return wave, ids, base, p, lift


def test_a_candidate_that_picks_what_the_logger_sent_is_read_off_the_logs():
    rng = np.random.default_rng(0)
    wave, ids, base, p, _ = logged_wave(rng)
    certain = wave.sent_ids[wave.propensity == 1.0]
    clicks, expected = wave_terms(wave, certain)
    assert clicks == wave.clicked[wave.propensity == 1.0].sum()
    assert expected == pytest.approx(wave.expected[wave.propensity == 1.0].sum())
    assert wave_terms(wave, np.array([], dtype=np.int64)) == (0.0, 0.0)


def test_the_estimate_is_centred_on_the_candidates_true_improvement_and_its_intervals_cover_it():
    rng = np.random.default_rng(1)
    estimates, truths, covered = [], [], 0
    runs = 300
    for _ in range(runs):
        wave, ids, base, p, lift = logged_wave(rng)
        # The candidate ranks by the true lift plus a different noise: it overlaps the logger's top only in part.
        picks = np.argsort(-(lift + rng.normal(0, 0.8, len(ids))))[:300]
        truth = p[picks].sum() / base[picks].sum()
        value, lo, hi = wave_interval(wave, picks, rng, n_boot=400)
        estimates.append(value)
        truths.append(truth)
        covered += lo <= truth <= hi
    bias = np.nanmean(np.array(estimates) - np.array(truths))
    assert abs(bias) < 0.15 * np.mean(truths)
    assert covered / runs >= 0.85


def test_over_many_waves_the_interval_narrows_and_covers_the_total():
    rng = np.random.default_rng(2)
    covered, runs = 0, 60
    for _ in range(runs):
        waves, picks, num, den = [], [], 0.0, 0.0
        for _ in range(35):
            wave, ids, base, p, lift = logged_wave(rng)
            pick = np.argsort(-(lift + rng.normal(0, 0.8, len(ids))))[:300]
            waves.append(wave)
            picks.append(pick)
            num += p[pick].sum()
            den += base[pick].sum()
        est = estimate(waves, picks, rng, n_boot=300)
        covered += est.lo <= num / den <= est.hi
    assert est.waves == 35 and covered / runs >= 0.8
    one = wave_interval(waves[0], picks[0], rng, n_boot=300)
    assert est.hi - est.lo < one[2] - one[1]  # many waves say more than one


def week(rng, waves=35, **kw):
    """A week of logged waves, a candidate's picks on each (its own noisy view of the true lift)
    and its true improvement over them."""
    logged, picks, num, den = [], [], 0.0, 0.0
    for _ in range(waves):
        wave, ids, base, p, lift = logged_wave(rng, **kw)
        pick = np.argsort(-(lift + rng.normal(0, 0.8, len(ids))))[:300]
        logged.append(wave)
        picks.append(pick)
        num += p[pick].sum()
        den += base[pick].sum()
    return logged, picks, num / den


def test_with_about_one_explored_click_a_week_the_interval_still_covers_the_truth():
    # The simulator's regime: usual CTRs of 0.5-2.5%, so a week's explored slice holds one or two
    # clicks among the candidate's picks outside the logged top, each standing for ~120. The
    # interval used to redraw each wave's clicks as Poisson counts with the observed mean, so a
    # week with no explored click had no chance of any: it covered 0.74 here, every miss above.
    data, boot = np.random.default_rng(3), np.random.default_rng(103)
    runs, covered, above, errors, explored = 100, 0, 0, [], []
    for _ in range(runs):
        logged, picks, truth = week(data, ctr=(0.005, 0.025))
        est = estimate(logged, picks, boot, n_boot=300)
        covered += est.lo <= truth <= est.hi
        above += truth > est.hi
        errors.append((est.value - truth) / truth)
        explored.append(est.explored_clicks)
    assert np.mean(explored) < 3 and np.mean(np.array(explored) == 0) > 0.15  # the regime
    assert covered / runs >= 0.88 and above / runs <= 0.05
    assert abs(np.mean(errors)) < 0.15  # the point estimate is right on average


def test_no_explored_click_is_not_taken_for_certain():
    # 20 waves: 100 certain picks each clicking at their usual rate, and 2 explored picks (q = 1%,
    # each standing for 100) that never clicked: the logs cannot tell whether those click at 0 or
    # at twice the usual rate (0.8 clicks expected in all), so 1.0 must stay inside the interval.
    waves, picks = [], []
    for j in range(20):
        ids = np.arange(102, dtype=np.int64) + 1000 * j
        clicked = np.zeros(102, dtype=bool)
        clicked[:2] = True
        waves.append(LoggedWave(ids, np.r_[np.ones(100), np.full(2, 0.01)], np.full(102, 0.02), clicked))
        picks.append(ids)
    est = estimate(waves, picks, np.random.default_rng(0), n_boot=2000)
    assert est.value == pytest.approx(40 / (40 + 80))
    assert est.explored_clicks == 0 and est.explored_share == pytest.approx(80 / 120)
    assert est.lo < est.value and est.hi > 1.0


def test_bad_logs_are_refused():
    with pytest.raises(ValueError, match="propensities"):
        LoggedWave(np.array([1]), np.array([0.0]), np.array([0.02]), np.array([False]))
    with pytest.raises(ValueError, match="one row per send"):
        LoggedWave(np.array([1, 2]), np.array([1.0]), np.array([0.02]), np.array([False]))
