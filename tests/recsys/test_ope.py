"""Off-policy estimates on a synthetic pool whose click probabilities are known."""

import numpy as np
import pytest

from recsys.ope import LoggedWave, estimate, wave_interval, wave_terms


def logged_wave(rng, n=4000, top=270, explore=30, hold=0.05):
    """A pool, the logger's top by its own score, a uniform slice of the rest, a random holdout."""
    ids = np.arange(n, dtype=np.int64)
    base = rng.uniform(0.01, 0.05, n)  # usual CTRs
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


def test_bad_logs_are_refused():
    with pytest.raises(ValueError, match="propensities"):
        LoggedWave(np.array([1]), np.array([0.0]), np.array([0.02]), np.array([False]))
    with pytest.raises(ValueError, match="one row per send"):
        LoggedWave(np.array([1, 2]), np.array([1.0]), np.array([0.02]), np.array([False]))
