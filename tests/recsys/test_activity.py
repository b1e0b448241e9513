"""Long-horizon activity (``recsys.activity``) and how the product's ranker takes it: optional
inputs that reach the click model, and click models trained on an older feature list still
served."""

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.activity import decay_increment, decay_weights, decayed_at, long_horizon_activity
from recsys.audience import Candidates, Content, click_features, component_scores, product_features, product_rank
from recsys.click import CLICK_FEATURES, ClickModel, ClickParams
from recsys.mf import ALSModel, MFParams

DAY = 86400.0


def test_reads_and_active_days_decay_with_age():
    now = 400 * DAY
    # user 0: three reads on one day 60 days ago (one half-life): 3 * 1/2 reads, 1/2 day
    # user 1: one read a day on the two last days, one 200 days ago (weighing 0.5 ** (200/60)), one tomorrow
    u = np.array([0, 0, 0, 1, 1, 1, 1])
    ts = np.array([now - 60 * DAY, now - 60 * DAY + 60, now - 60 * DAY + 120, now - 1, now - DAY - 1,
                   now - 200 * DAY, now + DAY])
    reads, days = long_horizon_activity(u, ts, n_users=3, now=now)
    assert reads[0] == pytest.approx(1.5, rel=1e-3) and days[0] == pytest.approx(0.5, rel=1e-3)
    assert reads[1] == pytest.approx(1 + 0.5 ** (1 / 60) + 0.5 ** (200 / 60), rel=1e-3)
    assert days[1] == pytest.approx(reads[1], rel=1e-6)
    assert reads[2] == 0 and days[2] == 0  # no read: zero, not missing
    # a burst of reads raises the count, not the days
    assert reads[0] > days[0]
    w = decay_weights(ts, now=now, window_days=180, half_life_days=60)
    assert w[5] == 0 and w[6] == 0 and w[3] == pytest.approx(1.0, rel=1e-4)


def test_running_sums_kept_as_reads_arrive_equal_the_replay_numbers():
    """Production adds ``decay_increment`` per read, and per day at the day's first read, as reads
    arrive; read at any ``now`` the sums are the replay's ``long_horizon_activity``."""
    rng = np.random.default_rng(4)
    t0 = 1.79e9
    u = rng.integers(0, 5, 400)
    ts = np.sort(t0 + rng.uniform(0, 300 * DAY, 400))
    reads_sum, days_sum, last_day = np.zeros(5), np.zeros(5), np.full(5, -1)
    for who, at in zip(u, ts):  # in arrival order, one at a time
        inc = decay_increment([at])[0]
        reads_sum[who] += inc
        if int(at // DAY) > last_day[who]:
            days_sum[who] += inc
            last_day[who] = int(at // DAY)
    now = ts[-1] + 3 * DAY
    reads, days = long_horizon_activity(u, ts, n_users=5, now=now)
    np.testing.assert_allclose(decayed_at(reads_sum, now), reads, rtol=1e-9)
    np.testing.assert_allclose(decayed_at(days_sum, now), days, rtol=1e-9)
    assert (days < reads).all()


def test_activity_rejects_bad_inputs():
    with pytest.raises(ValueError):
        long_horizon_activity(np.array([0, 3]), np.array([0.0, 1.0]), n_users=2, now=1.0)
    with pytest.raises(ValueError):
        decay_weights(np.array([0.0]), now=1.0, half_life_days=0)


@pytest.fixture(scope="module")
def world():
    """People of two kinds reading two kinds of items; the heavy, habitual readers click."""
    rng = np.random.default_rng(0)
    n_users, n_items = 300, 40
    kind = np.arange(n_users) % 2
    x = (rng.random((n_users, n_items)) < np.where(kind[:, None] == (np.arange(n_items) % 2), 0.3, 0.03)).astype(float)
    model = ALSModel(MFParams(factors=4, iterations=5)).fit(sp.csr_matrix(x))
    days = rng.uniform(1, 60, n_users)
    habit = rng.gamma(1.0, 5.0, n_users)
    return model, kind, days, habit


def _rows(world, n_contents=60, seed=1):
    model, kind, days, habit = world
    rng = np.random.default_rng(seed)
    ids = np.arange(len(kind))
    xs, ys, gs = [], [], []
    for c in range(n_contents):
        seed_rows = rng.choice(np.flatnonzero(kind == c % 2), 3, replace=False)
        x = product_features(model, ids, model.user_factors, seed_rows=seed_rows, days_inactive=days,
                             reads_decayed=habit * 2, active_days_decayed=habit)
        p = 1 / (1 + np.exp(-(-4 + 0.4 * habit + 0.5 * (kind == c % 2))))
        xs.append(x)
        ys.append(rng.random(len(ids)) < p)
        gs.append(np.full(len(ids), c))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(gs)


def test_the_activity_inputs_reach_the_click_model_and_default_to_missing(world):
    model, kind, days, habit = world
    ids = np.arange(len(kind))
    col = {n: j for j, n in enumerate(CLICK_FEATURES)}
    x = product_features(model, ids, model.user_factors, seed_rows=np.array([0, 2]), days_inactive=days,
                         reads_decayed=habit * 2, active_days_decayed=habit)
    np.testing.assert_allclose(x[:, col["active_days_decayed"]], habit, rtol=1e-6)
    np.testing.assert_allclose(x[:, col["reads_decayed"]], habit * 2, rtol=1e-6)
    # the rows of some people only (what a wave keeps of whom it chose) are those same rows
    some = np.array([5, 1, len(ids) - 1, 5])
    np.testing.assert_array_equal(
        product_features(model, ids, model.user_factors, seed_rows=np.array([0, 2]), days_inactive=days,
                         reads_decayed=habit * 2, active_days_decayed=habit, rows=some), x[some])
    bare = product_features(model, ids, model.user_factors, seed_rows=np.array([0, 2]), days_inactive=days)
    assert np.isnan(bare[:, col["active_days_decayed"]]).all() and np.isnan(bare[:, col["reads_decayed"]]).all()
    # the rest of the row does not depend on them
    others = [j for n, j in col.items() if n not in ("reads_decayed", "active_days_decayed")]
    np.testing.assert_array_equal(x[:, others], bare[:, others])
    # and a click model trained on them ranks the habitual readers first
    xs, ys, gs = _rows(world)
    cm = ClickModel(ClickParams(n_estimators=60, min_child_samples=20)).fit(xs, ys, gs)
    aud = product_rank(model, ids, model.user_factors, seed_rows=np.array([0, 2]), k=30, click_model=cm,
                       days_inactive=days, reads_decayed=habit * 2, active_days_decayed=habit)
    assert habit[aud.ids].mean() > 2 * habit.mean()


def test_a_click_model_trained_on_an_older_feature_list_still_ranks(world, tmp_path):
    """A saved model knows the columns it was trained on; the ranker gives it those, so adding a
    feature to CLICK_FEATURES does not break the active model until the next retrain."""
    model, kind, days, habit = world
    old = tuple(n for n in CLICK_FEATURES if n not in ("reads_decayed", "active_days_decayed"))
    xs, ys, gs = _rows(world)
    keep = [CLICK_FEATURES.index(n) for n in old]
    cm = ClickModel(ClickParams(n_estimators=40, min_child_samples=20), feature_names=old).fit(xs[:, keep], ys, gs)
    loaded = ClickModel.load(cm.save(tmp_path / "old"))
    ids = np.arange(len(kind))
    aud = product_rank(model, ids, model.user_factors, seed_rows=np.array([0, 2]), k=30, click_model=loaded,
                       days_inactive=days, reads_decayed=habit * 2, active_days_decayed=habit)
    assert len(aud.ids) == 30
    # the columns it was given are its own, in its order
    cands = Candidates(ids=ids, factors=model.user_factors, days_inactive=days, reads_decayed=habit)
    content = Content(factors=model.item_factors[0], seed_factors=model.user_factors[[0, 2]])
    raw, z = component_scores(cands, content)
    full = click_features(cands, content, raw, z)
    np.testing.assert_array_equal(click_features(cands, content, raw, z, names=old), full[:, keep])


def test_category_profiles_are_each_ones_decayed_mix_as_a_unit_row():
    from recsys.activity import DAY, category_profiles

    now = 1_700_000_000.0
    # user 0: two reads in category 0 today, one in category 1 sixty days ago (half the weight);
    # user 1: one read of an item without a category; user 2: a read after now and one too old
    u = np.array([0, 0, 0, 1, 2, 2])
    i = np.array([0, 0, 1, 2, 0, 1])
    t = np.array([now, now - 3600, now - 60 * DAY, now, now + 10, now - 200 * DAY])
    got = category_profiles(u, i, t, now=now, n_users=4, item_category=[0, 1, -1], n_categories=2)
    assert got.dtype == np.float32 and got.shape == (4, 2)
    mix = np.array([2.0, 0.5])
    np.testing.assert_allclose(got[0], mix / np.linalg.norm(mix), rtol=1e-3)
    np.testing.assert_array_equal(got[1:], np.zeros((3, 2)))
    # weights scale the events; a person's scale divides out
    doubled = category_profiles(u, i, t, now=now, n_users=4, item_category=[0, 1, -1], n_categories=2,
                                weights=np.full(6, 2.0))
    np.testing.assert_allclose(doubled, got, rtol=1e-6)
    with pytest.raises(ValueError, match="item_category"):
        category_profiles(u, i, t, now=now, n_users=4, item_category=[0, 2, -1], n_categories=2)
    with pytest.raises(ValueError, match="user_index"):
        category_profiles(u, i, t, now=now, n_users=2, item_category=[0, 1, -1], n_categories=2)
