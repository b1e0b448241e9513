"""Contract tests: every model over the same synthetic data set with known structure.

Like implicit's own test suite, each model goes through the same checks: it learns the known
structure, survives a save/load round-trip unchanged, and gives identical results for the same
seed.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from recsys.artifacts import ArtifactError
from recsys.click import ClickModel, ClickParams
from recsys.embedding import TextEmbedding
from recsys.metrics import auc, spearman
from recsys.mf import ALSModel
from recsys.selection import PushWorthinessModel
from recsys.synthetic import simulate_campaigns, simulate_sends

from .conftest import SMALL_EMBEDDING, SMALL_MF


@dataclass
class Case:
    fit: Callable  # (data, embedding, mf) -> model
    output: Callable  # (model, data, embedding, mf) -> ndarray compared across save/load and refits
    quality: Callable  # (model, data, embedding, mf) -> None, asserts the known structure is learned
    cls: type


def _topic_precision(scores, topic_mask, k=50):
    return topic_mask[np.argsort(-scores)[:k]].mean()


def _emb_output(m, data, emb, mf):
    return m.content_vectors(list(data.texts[:20]) + ["unseen wordzz football"])


def _emb_quality(m, data, emb, mf):
    v = m.content_vectors(list(data.texts))
    same = data.item_topic[:, None] == data.item_topic[None, :]
    sim = v @ v.T
    assert sim[same].mean() > sim[~same].mean() + 0.3


def _mf_output(m, data, emb, mf):
    return np.vstack([m.user_factors[:20], m.item_factors[:20]])


def _mf_quality(m, data, emb, mf):
    # an item's top users by MF score are mostly of its topic
    prec = [_topic_precision(m.user_factors @ m.item_factors[i], data.user_topic == data.item_topic[i]) for i in range(20)]
    assert np.mean(prec) > 0.8


def _sends(data, emb, mf, seed):
    return simulate_sends(data, mf, emb, n_contents=60, recipients=300, seed=seed)


def _click_fit(data, emb, mf):
    x, y, g = _sends(data, emb, mf, seed=1)
    return ClickModel(ClickParams(n_estimators=150, min_child_samples=50)).fit(x, y, g)


def _click_output(m, data, emb, mf):
    x, _, _ = _sends(data, emb, mf, seed=2)
    return m.predict_proba(x[:500])


def _click_quality(m, data, emb, mf):
    x, y, _ = _sends(data, emb, mf, seed=3)
    p = m.predict_proba(x)
    assert auc(y, p) > 0.7
    assert abs(p.mean() - y.mean()) < 0.02  # calibrated on average


def _pw_fit(data, emb, mf):
    f, imp = simulate_campaigns(data, emb, 400, seed=1)
    return PushWorthinessModel().fit(f, imp)


def _pw_output(m, data, emb, mf):
    f, _ = simulate_campaigns(data, emb, 30, seed=2)
    return m.score_many(f)


def _pw_quality(m, data, emb, mf):
    f, imp = simulate_campaigns(data, emb, 300, seed=3)
    assert spearman(m.score_many(f), imp) > 0.6


CASES = {
    "embedding": Case(lambda d, e, m: TextEmbedding.train(d.texts, SMALL_EMBEDDING), _emb_output, _emb_quality, TextEmbedding),
    "als": Case(lambda d, e, m: ALSModel(SMALL_MF).fit(d.user_items()).fit_text_projection(e.content_vectors(list(d.texts))), _mf_output, _mf_quality, ALSModel),
    "click": Case(_click_fit, _click_output, _click_quality, ClickModel),
    "push_worthiness": Case(_pw_fit, _pw_output, _pw_quality, PushWorthinessModel),
}


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request, data, embedding, mf):
    case = CASES[request.param]
    return case, case.fit(data, embedding, mf)


def test_learns_the_known_structure(fitted, data, embedding, mf):
    case, model = fitted
    case.quality(model, data, embedding, mf)


def test_save_load_round_trip(fitted, data, embedding, mf, tmp_path):
    case, model = fitted
    path = model.save(tmp_path / "v1")
    assert (path / "meta.json").is_file()
    loaded = case.cls.load(path)
    np.testing.assert_allclose(case.output(loaded, data, embedding, mf), case.output(model, data, embedding, mf), rtol=1e-6, atol=1e-7)


def test_same_seed_same_model(fitted, data, embedding, mf):
    case, model = fitted
    again = case.fit(data, embedding, mf)
    np.testing.assert_array_equal(case.output(again, data, embedding, mf), case.output(model, data, embedding, mf))


def test_load_refuses_another_kind(fitted, tmp_path):
    case, model = fitted
    path = model.save(tmp_path / "x")
    other = next(c.cls for c in CASES.values() if c.cls is not case.cls)
    with pytest.raises(ArtifactError):
        other.load(path)
