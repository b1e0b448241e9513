"""The push-worthiness model on the few campaigns a client has at first."""

import numpy as np
import pytest

from recsys.metrics import spearman
from recsys.selection import PushWorthinessFeatures, PushWorthinessModel


def _campaigns(n: int, seed: int):
    """Improvement decided by the section and the early reads, with noise."""
    rng = np.random.default_rng(seed)
    section = rng.choice(["sports", "economy", "culture"], size=n)
    reads = rng.integers(0, 60, size=n)
    base = {"sports": 2.5, "economy": 0.8, "culture": 1.4}
    y = np.array([base[s] for s in section]) * np.exp(0.01 * reads + 0.1 * rng.standard_normal(n))
    feats = [PushWorthinessFeatures(categories=(s,), early_reads=int(r), age_minutes=30.0) for s, r in zip(section, reads)]
    return feats, y


@pytest.mark.parametrize("n", [25, 40])
def test_a_few_dozen_campaigns_are_enough_to_learn_from(n):
    """With a first client's few dozen campaigns the model still splits (leaves scale with the
    data): it ranks held-out campaigns, it does not answer one number for every content."""
    feats, y = _campaigns(n, seed=n)
    model = PushWorthinessModel().fit(feats, y)
    test_feats, test_y = _campaigns(200, seed=1000 + n)
    pred = model.score_many(test_feats)
    assert np.ptp(pred) > 0.1
    assert spearman(pred, test_y) > 0.6


def test_more_organic_pull_never_lowers_the_prediction():
    """Noisy campaigns where reads happen to go with lower improvement for some sections: the
    model may still not score a content lower for more early reads or a larger read share."""
    rng = np.random.default_rng(3)
    n = 120
    section = rng.choice(["sports", "economy"], size=n)
    reads = rng.integers(0, 60, size=n)
    share = rng.uniform(0.01, 0.5, size=n)
    # the law runs against the reads in one section: the constraint must hold anyway
    y = np.exp(np.where(section == "sports", -0.02 * reads, 0.02 * reads) + 0.3 * rng.standard_normal(n))
    feats = [PushWorthinessFeatures(categories=(s,), early_reads=int(r), age_minutes=30.0, early_read_share=float(f),
                                    early_read_share_typical=0.1) for s, r, f in zip(section, reads, share)]
    model = PushWorthinessModel().fit(feats, y)
    for s in ("sports", "economy"):
        by_reads = model.score_many([PushWorthinessFeatures(categories=(s,), early_reads=r, age_minutes=30.0,
                                                            early_read_share=0.2, early_read_share_typical=0.1)
                                     for r in range(0, 61, 5)])
        by_share = model.score_many([PushWorthinessFeatures(categories=(s,), early_reads=30, age_minutes=30.0,
                                                            early_read_share=f, early_read_share_typical=0.1)
                                     for f in np.linspace(0.01, 0.5, 12)])
        assert np.all(np.diff(by_reads) >= -1e-12) and np.all(np.diff(by_share) >= -1e-12)
    assert np.ptp(model.score_many(feats)) > 0.1  # it did learn something


def test_a_model_saved_before_the_read_share_still_loads_and_scores(tmp_path):
    """An artifact of the input list before the read share (no ``scalars`` in its meta) is read
    with that list: the same predictions after loading as before saving."""
    import json

    import lightgbm as lgb

    from recsys.selection import _SCALARS_BEFORE_SHARE

    feats, y = _campaigns(60, seed=5)
    old = PushWorthinessModel()
    old.categories = sorted({f.categories[0] for f in feats})
    old.scalar_names = _SCALARS_BEFORE_SHARE
    x = old._matrix(feats)
    assert x.shape[1] == 1 + len(_SCALARS_BEFORE_SHARE)
    old.booster = lgb.train({"objective": "regression", "verbosity": -1, "min_data_in_leaf": 5, "seed": 0},
                            lgb.Dataset(x, np.log(y), categorical_feature=[0]), num_boost_round=30)
    before = old.score_many(feats)
    path = old.save(tmp_path / "pw")
    meta = json.loads((path / "meta.json").read_text())
    del meta["scalars"]
    (path / "meta.json").write_text(json.dumps(meta))
    loaded = PushWorthinessModel.load(path)
    assert loaded.scalar_names == _SCALARS_BEFORE_SHARE
    np.testing.assert_allclose(loaded.score_many(feats), before)
    assert spearman(before, y) > 0.5


def test_the_paired_weighted_difference_needs_a_clear_gap():
    from recsys.holdout import paired_difference

    rng = np.random.default_rng(0)
    w = rng.uniform(1, 20, size=200)
    low, high = rng.exponential(0.5, size=200), rng.exponential(1.0, size=200)
    diff, (lo, hi) = paired_difference(low, high, np.random.default_rng(1), weights=w)
    assert diff == pytest.approx(np.sum(w * (low - high)) / w.sum())
    assert lo < diff < hi < 0
    # the same errors: no difference, whatever the resampling
    assert paired_difference(low, low, np.random.default_rng(1), weights=w) == (0.0, (0.0, 0.0))
    # alike but for noise on a dozen rows: the interval straddles 0
    a, b = rng.exponential(1.0, size=12), rng.exponential(1.0, size=12)
    _, (lo, hi) = paired_difference(a, b, np.random.default_rng(1), weights=np.ones(12))
    assert lo < 0 < hi
    # a row of weight 0 does not count
    assert paired_difference([1.0, 100.0], [0.0, 0.0], np.random.default_rng(1), weights=[1.0, 0.0])[0] == 1.0


def test_the_calibrated_rule_keeps_the_rules_order_at_the_campaigns_level(tmp_path):
    """Campaigns reached a third of what the bare rule says (weighted by exposure): the
    calibrated rule scores every content a third of the rule, in the same order, and survives
    saving and loading."""
    from recsys.selection import (
        CalibratedRule,
        InterimPushWorthinessScorer,
        load_push_worthiness,
    )

    rng = np.random.default_rng(2)
    feats = [PushWorthinessFeatures(early_reads=int(r), age_minutes=30.0, early_read_share=float(f),
                                    early_read_share_typical=0.1)
             for r, f in zip(rng.integers(0, 80, size=60), rng.uniform(0.01, 0.6, size=60))]
    bare = np.array([InterimPushWorthinessScorer().score(f)[0] for f in feats])
    noise = np.exp(0.2 * rng.standard_normal(60))
    exposure = rng.uniform(1, 30, size=60)
    rule = CalibratedRule().fit(feats, bare / 3 * noise, weights=exposure)
    # the campaigns' clicks (exposure x improvement) over what the rule promised them
    assert rule.level == pytest.approx(np.log(np.sum(exposure * bare / 3 * noise) / np.sum(exposure * bare)))
    assert rule.level == pytest.approx(np.log(1 / 3), abs=0.05)
    np.testing.assert_allclose(rule.score_many(feats), bare * np.exp(rule.level))
    value, reasons = rule.score(feats[0])
    assert value == pytest.approx(bare[0] * np.exp(rule.level))
    assert "campaign_level" in {r.feature for r in reasons}
    loaded = load_push_worthiness(rule.save(tmp_path / "rule"))
    assert isinstance(loaded, CalibratedRule)
    np.testing.assert_allclose(loaded.score_many(feats), rule.score_many(feats))
    with pytest.raises(ValueError, match="weights"):
        CalibratedRule().fit(feats, bare, weights=np.zeros(60))
