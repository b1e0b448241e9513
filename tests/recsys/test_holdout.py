"""The time split that judges MF configurations: its cases follow the definition, and lift means
what it says."""

import numpy as np
import scipy.sparse as sp

from recsys.holdout import lift_at_k, paired_difference, split_cases
from recsys.mf import ALSModel, MFParams


def _world(seed=0, n_users=300, n_items=60):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n_users)
    u, i, t = [], [], []
    for item in range(n_items):
        born = item * 3600.0
        readers = rng.choice(np.flatnonzero(group == item % 2), 40, replace=False)
        u += readers.tolist()
        i += [item] * 40
        t += (born + rng.uniform(0, 6 * 3600, 40)).tolist()
    return np.array(u), np.array(i), np.array(t), group


def test_cases_follow_the_definition():
    u, i, t, _ = _world()
    split, delay, horizon, end = 40 * 3600.0, 1800.0, 4 * 3600.0, 60 * 3600.0
    cases = split_cases(u, i, t, n_users=300, split=split, delay=delay, horizon=horizon, end=end)
    assert cases and [c.t for c in cases] == sorted(c.t for c in cases)
    for c in cases:
        mine = i == c.item
        first = t[mine].min()
        assert first > split and first + delay + horizon <= end and c.t == first + delay
        np.testing.assert_array_equal(c.seed, np.unique(u[mine & (t <= c.t)]))
        first_activity = np.array([t[u == x].min() if (u == x).any() else np.inf for x in range(300)])
        expect = np.setdiff1d(np.flatnonzero(first_activity <= c.t), c.seed)
        np.testing.assert_array_equal(c.candidates, expect)
        later = np.unique(u[mine & (t > c.t) & (t <= c.t + horizon)])
        np.testing.assert_array_equal(c.hits, np.isin(expect, later))


def test_a_model_of_the_groups_lifts_and_a_shuffled_one_does_not():
    u, i, t, group = _world(1)
    split = 40 * 3600.0
    before = t <= split
    m = sp.csr_matrix((np.ones(before.sum()), (u[before], i[before])), shape=(300, 60))
    model = ALSModel(MFParams(factors=4, regularization=0.1, iterations=10)).fit(m)
    cases = split_cases(u, i, t, n_users=300, split=split, delay=1800.0, horizon=4 * 3600.0, end=70 * 3600.0)
    good = lift_at_k(model, cases, k=30)
    noise = np.random.default_rng(5).normal(size=model.user_factors.shape).astype(np.float32)
    bad = lift_at_k(model, cases, k=30, user_factors=noise)
    assert good.mean() > 1.6 and abs(bad.mean() - 1.0) < 0.4, (good.mean(), bad.mean())
    diff, (lo, hi) = paired_difference(good, bad, np.random.default_rng(0))
    assert lo > 0 and lo <= diff <= hi
