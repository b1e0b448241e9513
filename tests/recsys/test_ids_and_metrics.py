"""The id lookup and the sampled AUC the product's services use."""

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ids import positions
from recsys.metrics import sampled_auc, spearman


def test_positions_finds_present_ids_and_marks_absent_ones():
    sorted_ids = np.array([3, 7, 10, 42], dtype=np.int64)
    assert positions(sorted_ids, np.array([42, 3, 8, 100, 1, 10])).tolist() == [3, 0, -1, -1, -1, 2]
    assert positions(np.array([], dtype=np.int64), np.array([1, 2])).tolist() == [-1, -1]


def test_sampled_auc_separates_a_perfect_model_from_a_reversed_one():
    rng = np.random.default_rng(0)
    n = 200
    items = np.eye(n, dtype=np.float32)
    users = np.eye(n, dtype=np.float32)  # user u likes item u only
    u = np.arange(n)
    assert sampled_auc(users, items, u, u, rng) > 0.99
    assert sampled_auc(-users, items, u, u, np.random.default_rng(0)) < 0.01
    assert sampled_auc(users, items, np.zeros(0, dtype=int), np.zeros(0, dtype=int), rng) == 0.5


def test_sampled_auc_redraws_negatives_that_were_training_positives():
    # Item 0 was everyone's training positive and scores above the held-out item 1; items 2 and 3
    # score nothing. Drawn at random, a quarter of the negatives are item 0 (a loss) and a quarter
    # item 1 itself (a tie); told what was seen, the negatives come from items 2 and 3.
    n_users = 2000
    users = np.ones((n_users, 1), dtype=np.float32)
    items = np.array([[2.0], [1.0], [0.0], [0.0]], dtype=np.float32)
    held_out = np.ones(n_users, dtype=int)
    plain = sampled_auc(users, items, np.arange(n_users), held_out, np.random.default_rng(1))
    seen = sp.csr_matrix((np.ones(2 * n_users), (np.repeat(np.arange(n_users), 2), np.tile([0, 1], n_users))),
                         shape=(n_users, 4))
    told = sampled_auc(users, items, np.arange(n_users), held_out, np.random.default_rng(1), seen=seen)
    assert 0.58 < plain < 0.67
    assert told > 0.99


def test_spearman_agrees_with_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=40), rng.normal(size=40)
    b[:10] = a[:10]
    assert abs(spearman(a, b) - spearmanr(a, b).statistic) < 1e-12


def test_the_difference_of_two_proportions_matches_newcombes_worked_example():
    from recsys.metrics import proportion_difference_interval, wilson_interval

    # Newcombe (1998), Statistics in Medicine 17:873, table II: 56/70 against 48/80.
    lo, hi = proportion_difference_interval(56, 70, 48, 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    # A holdout of nine with nobody back is no proof: the interval reaches well below zero.
    lo, hi = proportion_difference_interval(5, 291, 0, 9)
    assert lo < -0.2 < 0 < hi
    assert wilson_interval(0, 10)[0] == 0.0 and 0.27 < wilson_interval(0, 10)[1] < 0.28


def test_weighted_auc_counts_each_pair_by_its_weights():
    from recsys.metrics import auc

    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    score = np.round(rng.normal(size=300) + y, 1)  # ties on purpose
    assert auc(y, score, np.ones(300)) == pytest.approx(auc(y, score))
    reps = rng.integers(1, 4, size=300)  # an integer weight is that many copies of the row
    assert auc(y, score, reps.astype(float)) == pytest.approx(auc(np.repeat(y, reps), np.repeat(score, reps)))


def test_calibration_of_a_model_that_predicts_one_probability_for_everyone():
    """A click model too small to split gives every row the same probability: one reliability
    bin holding every row, and its calibration error is that bin's gap (it used to divide by 0)."""
    from recsys.metrics import expected_calibration_error, reliability_table

    y, p = np.array([0.0, 1.0, 1.0, 0.0]), np.full(4, 0.25)
    (only,) = reliability_table(y, p)
    assert (only.count, only.mean_predicted, only.observed_rate) == (4, 0.25, 0.5)
    assert expected_calibration_error(y, p) == pytest.approx(0.25)
    assert reliability_table(np.array([]), np.array([])) == [] and np.isnan(expected_calibration_error(np.array([]), np.array([])))
