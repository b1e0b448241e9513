"""The weekly slot's price (recsys.slots) and the priced allocation fed the truth on the
simulated world (recsys.simulate.reference.run_priced)."""

from __future__ import annotations


import numpy as np
import pytest

from recsys.simulate import DAY, World, WorldConfig, run_hindsight, run_reference
from recsys.simulate.calibration import INACTIVE
from recsys.simulate.reference import run_priced
from recsys.slots import pair_values, renewal_prices


def _price_by_hand(row):
    vals = sorted((v for v in row if np.isfinite(v) and v > 0), reverse=True)
    best = 0.0
    for j in range(1, len(vals) + 1):
        best = max(best, j / (j + 1) * sum(vals[:j]) / j)
    return best


def test_renewal_prices_match_the_rule_written_out():
    rng = np.random.default_rng(0)
    values = rng.lognormal(-3, 1, size=(300, 40))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[rng.random(values.shape) < 0.1] = -0.01
    values[7] = np.nan  # a person the last period found nothing for
    got = renewal_prices(values, chunk=64)  # several chunks
    np.testing.assert_allclose(got, [_price_by_hand(r) for r in values], rtol=1e-12)
    assert got[7] == 0.0
    # one great content a week sets a price of half of it (waiting a week for it costs a week of
    # the slot); many good ones, near them
    assert renewal_prices(np.array([[1.0, 0, 0, 0]]))[0] == pytest.approx(0.5)
    assert renewal_prices(np.full((1, 50), 0.1))[0] == pytest.approx(0.1 * 50 / 51, rel=1e-9)
    assert renewal_prices(np.zeros((3, 0))).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="values"):
        renewal_prices(np.zeros(5))


def test_pair_values_by_objective():
    p, ctr = np.array([0.1, 0.2, 0.05]), np.array([0.05, 0.05, 0.05])
    inactive = np.array([True, False, True])
    np.testing.assert_allclose(pair_values(p), p)
    np.testing.assert_allclose(pair_values(p, ctr), [0.05, 0.15, 0.0])
    np.testing.assert_allclose(pair_values(p, inactive=inactive, objective="reactivations"), [0.1, 0.0, 0.05])
    np.testing.assert_allclose(pair_values(p, inactive=inactive, inactive_weight=2.0), [0.2, 0.2, 0.1])
    with pytest.raises(ValueError, match="objective"):
        pair_values(p, objective="opens")
    with pytest.raises(ValueError, match="inactive"):
        pair_values(p, objective="reactivations")


def test_the_priced_allocation_keeps_the_rules_and_spends_slots_where_they_are_worth_most():
    config, days = WorldConfig(n_subscribers=4_000, seed=6), 21
    world = World(config)
    log, info = run_priced(world, until=days * DAY)
    s = world.subscribers
    assert (s.push_opt_in & ~s.holdout)[log.subscriber].all()
    order = np.lexsort((log.sent_at, log.subscriber))
    subs, sent = log.subscriber[order], log.sent_at[order]
    same = subs[1:] == subs[:-1]
    assert np.all(sent[1:][same] - sent[:-1][same] >= 7 * DAY)  # the rolling cap
    assert info["held_back"] > 0  # the prices made contents wait
    first_come = run_reference(World(config), "oracle", until=days * DAY, audience_size=10**9, push_delay_s=1800.0)
    hindsight = run_hindsight(World(config), until=days * DAY)
    steady = lambda lg: lg.p[lg.delivered & (lg.sent_at >= 14 * DAY)].sum()  # noqa: E731
    # in the steady state (the prices have a week of history) far above first-come, near hindsight
    assert steady(log) > 2 * steady(first_come)
    assert steady(log) > 0.6 * steady(hindsight)
    react, _ = run_priced(World(config), until=days * DAY, objective="reactivations")
    assert np.all(react.state == INACTIVE)
    # decided on estimates with a large error instead of the truth: the prices lose most of the gain
    noisy, _ = run_priced(World(config), until=days * DAY, value_noise_sd=1.5, seed=2)
    assert steady(noisy) < 0.8 * steady(log)


def test_the_rolling_cap_price_beats_one_that_prices_a_calendar_slot(monkeypatch):
    """Waiting for a better content also delays the next slot (the cap is rolling): the price that
    counts it (``j / (j + 1)``) spends more slots and gets more of the truth than the rule that
    treats the slot as one per calendar week (``1 - exp(-j)``), on the same world."""
    import recsys.slots as slots

    config, days = WorldConfig(n_subscribers=4_000, seed=3), 28

    def steady(log):
        return log.p[log.delivered & (log.sent_at >= 14 * DAY)].sum()

    rolling, _ = run_priced(World(config), until=days * DAY)

    def calendar(values, *, chunk=0):
        top = -np.sort(-np.where(np.isfinite(values) & (values > 0), values, 0.0), axis=1)
        j = np.arange(1, top.shape[1] + 1)
        return ((1 - np.exp(-j)) * np.cumsum(top, axis=1) / j).max(axis=1) if top.shape[1] else np.zeros(len(top))

    monkeypatch.setattr(slots, "renewal_prices", calendar)
    periodic, _ = run_priced(World(config), until=days * DAY)
    assert len(rolling) > len(periodic)
    assert steady(rolling) > 1.03 * steady(periodic)


def _truth(rng, people=2000, contents=60):
    """A person level x a person-and-content taste x a content quality, as the simulated world's."""
    level = rng.lognormal(-3.0, 0.5, (people, 1))
    taste = rng.lognormal(0.0, 0.6, (people, contents))
    quality = rng.lognormal(0.0, 0.5, (1, contents))
    return np.minimum(level * taste * quality, 0.9), level, taste, quality


def test_values_against_truth_tells_which_part_of_the_values_is_right():
    from recsys.simulate.reference import values_against_truth

    rng = np.random.default_rng(4)
    truth, level, taste, quality = _truth(rng)
    exact = values_against_truth(truth, truth, rng=np.random.default_rng(0))
    assert exact["within_person_spearman"] == pytest.approx(1.0)
    assert exact["content_part_corr"] == pytest.approx(1.0) and exact["person_part_corr"] == pytest.approx(1.0)
    assert exact["first_over_price_share"] == exact["first_over_price_share_truth"] > 0.8
    assert exact["value_over_truth"] == pytest.approx(1.0)
    # priced on the older half of the contents, the newer half allocated: the truth still beats chance
    ahead = exact["next_half"]
    assert ahead["first_over_price_share"] == ahead["first_over_price_share_truth"] > ahead["random_content_share"] + 0.2
    # every person's level off by a factor: nothing a person's comparison of contents sees
    scaled = values_against_truth(truth * rng.lognormal(0.0, 1.0, (len(truth), 1)), truth, rng=np.random.default_rng(0))
    assert scaled["within_person_spearman"] == pytest.approx(1.0) and scaled["first_over_price_share"] == exact["first_over_price_share"]
    # the contents' quality right, the tastes drawn anew: the content part alone
    quality_only = values_against_truth(level * rng.lognormal(0.0, 0.6, taste.shape) * quality, truth,
                                        rng=np.random.default_rng(0))
    assert quality_only["content_part_corr"] > 0.95 and abs(quality_only["person_part_corr"]) < 0.1
    # the tastes right, the quality drawn anew: the person part alone
    taste_only = values_against_truth(level * taste * rng.lognormal(0.0, 0.5, quality.shape), truth,
                                      rng=np.random.default_rng(0))
    assert taste_only["person_part_corr"] > 0.95 and taste_only["content_part_corr"] < 0.6
    # neither: about what a random content finds
    noise = values_against_truth(rng.lognormal(0.0, 1.0, truth.shape), truth, rng=np.random.default_rng(0))
    assert abs(noise["within_person_spearman"]) < 0.1
    assert noise["first_over_price_share"] < noise["random_content_share"] + 0.1 < exact["first_over_price_share"]
    for got in (quality_only, taste_only):
        assert noise["first_over_price_share"] < got["first_over_price_share"] < exact["first_over_price_share"]
        assert (noise["next_half"]["first_over_price_share"] < got["next_half"]["first_over_price_share"]
                < ahead["first_over_price_share"])


def test_values_against_truth_refuses_matrices_that_do_not_match():
    from recsys.simulate.reference import values_against_truth

    with pytest.raises(ValueError, match="shape"):
        values_against_truth(np.ones((3, 4)), np.ones((3, 5)), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 2 contents"):
        values_against_truth(np.ones((3, 1)), np.ones((3, 1)), rng=np.random.default_rng(0))
