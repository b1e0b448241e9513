"""The linear denoising autoencoder: the closed form it claims, and a new item's column from its
first readers that ranks the readers' kind of people first."""

import numpy as np
import scipy.sparse as sp

from recsys.dae import LinearDAE


def two_tastes(seed=0, n_users=400, n_items=60):
    """Half the people read mostly the first half of the items, half the second."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_users) % 2
    item_group = np.arange(n_items) * 2 // n_items
    p = np.where(group[:, None] == item_group[None, :], 0.25, 0.02)
    return sp.csr_matrix((rng.random((n_users, n_items)) < p).astype(np.float64)), group


def test_the_weights_are_the_closed_form():
    x, _ = two_tastes()
    dae = LinearDAE(l2=50.0, dropout=0.5).fit(x)
    g = (x.T @ x).toarray()
    expected = np.linalg.inv(g + np.diag(50.0 + 1.0 * np.diag(g)))  # dropout 0.5: p / (1 - p) = 1
    assert np.allclose(dae.P, expected)
    # EASE's item-item weights from P: B = I - P / diag(P) reconstructs each column from the others
    b = np.eye(len(g)) - dae.P / np.diag(dae.P)
    assert np.allclose(np.diag(b), 0.0)


def test_a_new_items_first_readers_rank_their_kind_first():
    x, group = two_tastes(seed=1)
    dae = LinearDAE(l2=20.0, dropout=0.25).fit(x)
    seeds = np.flatnonzero(group == 0)[:3]  # three readers of the first taste read the new item
    beta = dae.item_weights(x[seeds])
    rest = np.setdiff1d(np.arange(x.shape[0]), seeds)
    scores = dae.scores(x[rest], beta)
    top = rest[np.argsort(-scores)[:100]]
    assert (group[top] == 0).mean() > 0.75  # half the people are of that kind


def test_the_items_own_column_is_left_out():
    x, group = two_tastes(seed=2)
    dae = LinearDAE().fit(x)
    seeds = np.flatnonzero(group == 1)[:5]
    beta = dae.item_weights(x[seeds], exclude=7)
    assert beta[7] == 0.0 and np.isfinite(beta).all()
