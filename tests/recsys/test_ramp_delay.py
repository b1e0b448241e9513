"""The click-delay curve learned from right-truncated clicks (Lynden-Bell), against the naive fit.

Run without Django:  python -m pytest -p no:django tests/recsys/test_ramp_delay.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.ramp import ClickDelayModel

TRUE_MEDIAN_S = 3600.0


def _truncated_sample(seed: int, n: int = 4000, span_s: float = 24 * 3600.0):
    """Sends spread over the last ``span_s`` seconds, lognormal delays (median 1 h, sd 1.5 in
    log), read at ``now``: a click is seen only if it came before now."""
    rng = np.random.default_rng(seed)
    sent = rng.uniform(0.0, span_s, n)
    delay = np.exp(rng.normal(math.log(TRUE_MEDIAN_S), 1.5, n))
    now = span_s
    seen = sent + delay <= now
    return delay[seen], now - sent[seen], seen.mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_truncation_makes_the_naive_fit_fast_and_lynden_bell_recovers_the_median(seed):
    d, c, seen_share = _truncated_sample(seed)
    assert seen_share < 0.92  # many clicks cut off by now
    naive = float(ClickDelayModel.fit(d, prior_weight=1).quantile(0.5))
    fixed = float(ClickDelayModel.fit_truncated(d, c, prior_weight=1).quantile(0.5))
    assert naive < 0.92 * TRUE_MEDIAN_S  # biased fast
    assert abs(math.log(fixed / TRUE_MEDIAN_S)) < 0.10


def test_without_truncation_it_is_the_plain_fit():
    d = ClickDelayModel.default().sample(np.random.default_rng(3), 3000)
    a = ClickDelayModel.fit(d)
    b = ClickDelayModel.fit_truncated(d, np.full(d.size, np.inf))
    c = ClickDelayModel.fit_truncated(d, np.full(d.size, 48 * 3600.0))
    assert np.allclose(a.cdf_values, b.cdf_values) and np.allclose(a.cdf_values, c.cdf_values)
    assert b.n_observed == 3000


def test_truncated_fit_is_a_valid_curve_and_round_trips():
    rng = np.random.default_rng(4)
    d = rng.exponential(600.0, 50)
    c = d + rng.exponential(300.0, 50)
    m = ClickDelayModel.fit_truncated(d, c)
    f = np.asarray(m.cdf_values)
    assert np.all(np.diff(f) > 0) and f[0] > 0 and f[-1] == 1.0
    assert ClickDelayModel.from_dict(m.to_dict()) == m
    assert ClickDelayModel.fit_truncated([], []) == ClickDelayModel.default()


def test_truncated_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        ClickDelayModel.fit_truncated([1.0, 2.0], [5.0])
    with pytest.raises(ValueError):
        ClickDelayModel.fit_truncated([-1.0], [5.0])
    with pytest.raises(ValueError):
        ClickDelayModel.fit_truncated([1.0], [float("nan")])
