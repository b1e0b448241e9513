"""Shared fixtures: one synthetic data set with known structure, and models fitted on it once."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from recsys.embedding import EmbeddingParams, TextEmbedding  # noqa: E402
from recsys.mf import ALSModel, MFParams  # noqa: E402
from recsys.synthetic import make_synthetic  # noqa: E402

threadpool_limits(1)

SMALL_EMBEDDING = EmbeddingParams(dim=24, epochs=15, min_count=1, bucket=5000)
SMALL_MF = MFParams(factors=12, iterations=10, regularization=0.1, alpha=4.0)


@pytest.fixture(scope="session")
def data():
    return make_synthetic(n_users=400, n_items=200, n_topics=4, seed=0)


@pytest.fixture(scope="session")
def embedding(data):
    return TextEmbedding.train(data.texts, SMALL_EMBEDDING)


@pytest.fixture(scope="session")
def mf(data, embedding):
    model = ALSModel(SMALL_MF).fit(data.user_items())
    return model.fit_text_projection(embedding.content_vectors(list(data.texts)))


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(0)
