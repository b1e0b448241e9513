"""The MF training path's memory-saving steps give exactly what the plain ones gave: positions as
np.unique's, the decayed matrix whether made in place or not, fold-ins with F'F computed once,
and time-split cases that share one array instead of holding their candidates."""

import tracemalloc

import numpy as np
import scipy.sparse as sp

from apps.mlops.training import MFConfig, _ids_and_positions
from recsys.holdout import lift_at_k, split_cases
from recsys.mf import ALSModel, FixedUsers, MFParams


def test_ids_and_positions_are_np_unique():
    rng = np.random.default_rng(0)
    dense = rng.integers(1_000, 3_000, 50_000)  # database keys: a span smaller than their number (the table)
    sparse = rng.integers(0, 10**12, 5_000)  # a span far wider (np.unique)
    for ids in (dense, sparse, np.array([7]), np.zeros(0, np.int64), np.array([5, 5, 5])):
        distinct, pos = _ids_and_positions(ids)
        want, inverse = np.unique(ids, return_inverse=True)
        np.testing.assert_array_equal(distinct, want)
        np.testing.assert_array_equal(pos, inverse)
        assert distinct.dtype == want.dtype and pos.dtype == np.int32


def test_the_decayed_matrix_is_the_same_made_in_place_or_not():
    rng = np.random.default_rng(1)
    n, now = 30_000, 1.8e9
    u, i = rng.integers(0, 500, n).astype(np.int32), rng.integers(0, 80, n).astype(np.int32)
    w = np.where(rng.random(n) < 0.1, 3.0, 1.0)
    config = MFConfig(days=30, half_life_days=7.0)
    for t in (now - rng.uniform(0, 30 * 86400.0, n), now - rng.uniform(0, 60 * 86400.0, n)):  # all in the window, or not
        keep = (t >= now - 30 * 86400.0) & (t <= now)
        want = sp.csr_matrix((w[keep] * np.exp2((t[keep] - now) / (7.0 * 86400.0)), (u[keep], i[keep])), shape=(500, 80))
        want.sum_duplicates()
        before = w.copy()
        plain = config.matrix(u, i, w, t, (500, 80), now)
        np.testing.assert_array_equal(w, before)  # not in place: the caller's weights untouched
        mine = config.matrix(u, i, w.copy(), t, (500, 80), now, in_place=True)
        for got in (plain, mine):
            np.testing.assert_array_equal(got.indptr, want.indptr)
            np.testing.assert_array_equal(got.indices, want.indices)
            np.testing.assert_array_equal(got.data, want.data)  # bit for bit
    flat = MFConfig(days=30, half_life_days=0.0).matrix(u, i, w, now - np.zeros(n), (500, 80), now, in_place=True)
    np.testing.assert_array_equal(flat.toarray(), sp.csr_matrix((w, (u, i)), shape=(500, 80)).toarray())


def _model(n_users, n_items, rng):
    m = sp.random(n_users, n_items, density=0.05, format="csr", random_state=rng, dtype=np.float64)
    return ALSModel(MFParams(factors=8, iterations=2)).fit(m)


def test_fold_ins_against_fixed_users_are_the_models():
    rng = np.random.default_rng(2)
    model = _model(2_000, 50, rng)
    users = model.user_factors.copy()
    users[::7] = 0.0  # users with no row in the model
    fixed = FixedUsers(model, users)
    assert fixed.user_factors is users and fixed.item_factors is model.item_factors
    for seeds in ([3], [5, 17, 900], list(range(0, 2_000, 13))):
        row = sp.csr_matrix((np.ones(len(seeds), np.float32), (np.zeros(len(seeds), int), seeds)), shape=(1, 2_000))
        np.testing.assert_array_equal(fixed.fold_in_items(row), model.fold_in_items(row, user_factors=users))
        prior = rng.normal(size=(1, 8))
        np.testing.assert_array_equal(fixed.fold_in_items(row, prior=prior, prior_weight=2.0),
                                      model.fold_in_items(row, prior=prior, prior_weight=2.0, user_factors=users))
        np.testing.assert_array_equal(fixed.fold_in_items(row, user_factors=model.user_factors), model.fold_in_items(row))


def test_split_cases_hold_no_candidates_and_judging_them_stays_small():
    """Every user read the first content, so each later content's candidates are nearly all of
    them: 150 cases holding their own would be 150 arrays of 40,000 positions (about 50 MB)."""
    rng = np.random.default_rng(3)
    n_users, hour = 40_000, 3600.0
    u, i, t = [np.arange(n_users)], [np.zeros(n_users, int)], [rng.uniform(0, hour, n_users)]
    for item in range(1, 151):
        readers = rng.choice(n_users, 60, replace=False)
        u.append(readers)
        i.append(np.full(60, item))
        t.append(item * hour + rng.uniform(0, 6 * hour, 60))
    u, i, t = np.concatenate(u).astype(np.int32), np.concatenate(i).astype(np.int32), np.concatenate(t)
    model = ALSModel(MFParams(factors=8, iterations=2)).fit(sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_users, 151)))
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        cases = split_cases(u, i, t, n_users=n_users, split=0.5 * hour, delay=1800.0, horizon=4 * hour, end=200 * hour)
        held = tracemalloc.get_traced_memory()[0] - start
        tracemalloc.reset_peak()
        lifts = lift_at_k(model, cases, k=50)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert len(cases) == 150 and len(lifts) == 150
    assert all(c.first_activity is cases[0].first_activity for c in cases)
    assert min(len(c.candidates) for c in cases) > 39_000
    assert held < 2_000_000  # the shared activity times (320 kB) and the small seeds and hits
    assert peak < 8_000_000  # one case's candidates at a time, and F'F's float64 users once (2.6 MB)
