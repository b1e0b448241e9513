"""Tests for recsys.bandit: Thompson allocation of a wave among title variants.

Run without Django:  python -m pytest -p no:django tests/recsys/test_bandit.py -q
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.bandit import prob_best, thompson_allocate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def variants(draw, min_k=1, max_k=6):
    k = draw(st.integers(min_k, max_k))
    sends = draw(st.lists(st.integers(0, 5000), min_size=k, max_size=k))
    clicks = [draw(st.integers(0, s)) for s in sends]
    return np.array(clicks), np.array(sends)


@SETTINGS
@given(variants(), st.integers(0, 20000), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_allocations_sum_to_n_are_non_negative_and_respect_the_minimum_share(v, n, min_share, seed):
    clicks, sends = v
    counts = thompson_allocate(clicks, sends, n, np.random.default_rng(seed), min_share=min_share)
    assert counts.dtype.kind == "i"
    assert counts.shape == clicks.shape
    assert counts.sum() == n
    assert np.all(counts >= 0)
    floor = int(np.floor(min(min_share, 1 / clicks.size) * n))
    assert np.all(counts >= floor)


@SETTINGS
@given(variants(), st.integers(0, 5000), st.integers(0, 2**32 - 1))
def test_allocation_is_deterministic_given_the_seed(v, n, seed):
    clicks, sends = v
    a = thompson_allocate(clicks, sends, n, np.random.default_rng(seed))
    b = thompson_allocate(clicks, sends, n, np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)


def test_the_winners_share_grows_with_evidence():
    rng = np.random.default_rng(0)
    true = np.array([0.010, 0.015, 0.008])
    shares = []
    for sends_each in (100, 1000, 10000, 100000):
        sends = np.full(3, sends_each)
        clicks = np.round(true * sends).astype(int)
        counts = thompson_allocate(clicks, sends, 20000, rng, min_share=0.05)
        shares.append(counts[1] / counts.sum())
    assert all(b > a for a, b in zip(shares, shares[1:])), shares
    assert shares[-1] >= 0.89  # everything but the two minimum shares
    assert shares[0] < 0.6  # little evidence: still exploring


def test_no_evidence_splits_evenly():
    counts = thompson_allocate([0, 0, 0, 0], [0, 0, 0, 0], 40000, np.random.default_rng(1), min_share=0)
    np.testing.assert_allclose(counts / 40000, 0.25, atol=0.015)


@SETTINGS
@given(variants(min_k=2), st.randoms(use_true_random=False))
def test_prob_best_is_a_distribution_and_permutation_equivariant(v, rnd):
    clicks, sends = v
    p = prob_best(clicks, sends)
    assert p.shape == clicks.shape
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    perm = list(range(clicks.size))
    rnd.shuffle(perm)
    np.testing.assert_allclose(prob_best(clicks[perm], sends[perm]), p[perm], atol=2e-3)


@SETTINGS
@given(variants(min_k=2), st.data())
def test_more_clicks_raise_a_variants_probability_of_being_best(v, data):
    clicks, sends = v
    i = data.draw(st.integers(0, clicks.size - 1))
    if clicks[i] >= sends[i]:
        sends = sends.copy()
        sends[i] += 1
    more = clicks.copy()
    more[i] += 1
    assert prob_best(more, sends)[i] >= prob_best(clicks, sends)[i] - 1e-6


def test_prob_best_matches_monte_carlo():
    clicks, sends = np.array([12, 20, 15]), np.array([1000, 1100, 900])
    rng = np.random.default_rng(2)
    draws = rng.beta(1 + clicks, 1 + sends - clicks, size=(400000, 3))
    mc = np.bincount(draws.argmax(1), minlength=3) / draws.shape[0]
    np.testing.assert_allclose(prob_best(clicks, sends), mc, atol=5e-3)
    # a sharp posterior next to a flat one is still resolved
    p = prob_best([1000, 0], [1_000_000, 0])
    assert p[0] == pytest.approx(0.001, abs=1e-4)  # P(uniform < 0.001)


def test_bad_input_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        thompson_allocate([5], [3], 10, rng)
    with pytest.raises(ValueError):
        thompson_allocate([1, 2], [3], 10, rng)
    with pytest.raises(ValueError):
        thompson_allocate([1], [3], -1, rng)
    with pytest.raises(ValueError):
        thompson_allocate([1], [3], 10, rng, prior=(0, 1))
    with pytest.raises(ValueError):
        prob_best([], [])
