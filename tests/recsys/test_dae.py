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


def test_the_category_head_is_the_same_regression_onto_category_shares():
    x, group = two_tastes(seed=3)
    cats = sp.csr_matrix((np.ones(60), (np.arange(60), np.arange(60) * 2 // 60)), shape=(60, 3))  # 3rd unused
    dae = LinearDAE(l2=50.0, dropout=0.25).fit(x, cats)
    counts = (x @ cats).toarray()
    y = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(dae.W_cat, dae.P @ (x.T @ y), rtol=1e-8, atol=1e-10)
    # the item head is the autoencoder's reconstruction x P X^T X
    np.testing.assert_allclose(dae.item_head(x[:5]), x[:5].toarray() @ dae.P @ (x.T @ x).toarray(), atol=1e-8)
    # each person's predicted mix leans to their own kind's category
    h = dae.category_head(x)
    assert (np.argmax(h[:, :2], axis=1) == group).mean() > 0.9


def test_cosine_scores_rank_the_seeds_kind_first_and_the_category_alone_works():
    x, group = two_tastes(seed=4)
    cats = sp.csr_matrix((np.ones(60), (np.arange(60), np.arange(60) * 2 // 60)), shape=(60, 2))
    dae = LinearDAE(l2=20.0, dropout=0.25).fit(x, cats)
    rest = np.arange(10, x.shape[0])
    seeds = np.flatnonzero(group == 1)[:1]  # one early reader
    for score in (dae.cosine_scores(x[rest], x[seeds]),  # item head
                  dae.cosine_scores(x[rest], None, categories=np.array([1])),  # category head, no seed
                  dae.cosine_scores(x[rest], x[seeds], categories=np.array([1]))):
        top = rest[np.argsort(-score)[:100]]
        assert (group[top] == 1).mean() > 0.75
    # cosines: at most 1 per head, whatever the number of reads
    both = dae.cosine_scores(x[rest], x[seeds], categories=np.array([1]))
    assert np.all(np.abs(both) <= 2 + 1e-9)
