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
