"""Word embeddings trained on the content corpus, content vectors and subscriber profiles.

A gensim FastText model learns word vectors from the tokenized contents (``recsys.text``).
FastText composes a word from its character n-grams, so a word never seen in training still
gets a vector: that matters for news, where new names appear every hour, and for Korean,
whose n-grams are syllables. A content vector is the smooth-inverse-frequency weighted mean of
its word vectors, minus the corpus' common direction, L2-normalised. A subscriber's profile is
the recency-weighted mean of the vectors of the contents they read or clicked.

Public API::

    EmbeddingParams(dim=64, ...)
    TextEmbedding.train(texts, params) -> TextEmbedding
    emb.content_vectors(texts) -> ndarray (n, dim) float32
    emb.save(directory); TextEmbedding.load(directory)
    profile_vectors(user_index, vectors, timestamps, weights=None, *, n_users, now, half_life)
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .artifacts import read_meta, write_meta
from .text import tokenize

__all__ = ["EmbeddingParams", "TextEmbedding", "profile_vectors", "normalize_rows"]

KIND = "text-embedding"


def _stable_hash(text: str) -> int:
    """Process-independent hash for gensim's vector seeding (Python's ``hash`` is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def normalize_rows(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero); returns a new float32 array."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    return x / np.maximum(norms, eps)[:, None]


@dataclass(frozen=True)
class EmbeddingParams:
    dim: int = 64
    window: int = 5
    min_count: int = 2
    epochs: int = 20
    min_n: int = 2  # Korean words are short: two-syllable n-grams still carry meaning
    max_n: int = 5
    bucket: int = 100_000  # n-gram hash buckets; gensim's default (2M) costs 0.5 GB at 64 dims
    sif_a: float = 1e-3
    seed: int = 0


class TextEmbedding:
    """FastText word vectors plus the statistics needed to turn texts into content vectors."""

    def __init__(self, model, common: np.ndarray, params: EmbeddingParams, language: str | None):
        self.model = model
        self.common = np.asarray(common, dtype=np.float32)
        self.params = params
        self.language = language
        wv = model.wv
        counts = np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key], dtype=np.float64)
        self._total = float(counts.sum()) or 1.0
        self._count = dict(zip(wv.index_to_key, counts))

    @property
    def dim(self) -> int:
        return self.params.dim

    @classmethod
    def train(
        cls,
        texts: Iterable[str | Sequence[str]],
        params: EmbeddingParams | None = None,
        language: str | None = None,
    ) -> TextEmbedding:
        """Train on ``texts`` (raw strings, tokenized with ``recsys.text.tokenize``, or token lists)."""
        from gensim.models import FastText

        params = params or EmbeddingParams()
        docs = [d for d in (_tokens(t, language) for t in texts) if d]
        if not docs:
            raise ValueError("no tokens in the training texts")
        model = FastText(
            vector_size=params.dim,
            window=params.window,
            min_count=params.min_count,
            min_n=params.min_n,
            max_n=params.max_n,
            bucket=params.bucket,
            epochs=params.epochs,
            seed=params.seed,
            workers=1,  # a single worker is what makes training reproducible
            hashfxn=_stable_hash,
            sg=1,
        )
        model.build_vocab(corpus_iterable=docs)
        if len(model.wv) == 0:
            raise ValueError(f"no word occurs min_count={params.min_count} times")
        model.train(corpus_iterable=docs, total_examples=len(docs), epochs=params.epochs)
        emb = cls(model, np.zeros(params.dim, np.float32), params, language)
        raw = emb._mean_vectors(docs)
        emb.common = raw.mean(axis=0).astype(np.float32)
        return emb

    def _weight(self, word: str) -> float:
        p = self._count.get(word, 0.0) / self._total
        return self.params.sif_a / (self.params.sif_a + p)

    def _mean_vectors(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        out = np.zeros((len(docs), self.params.dim), dtype=np.float32)
        wv = self.model.wv
        for i, words in enumerate(docs):
            if not words:
                continue
            w = np.array([self._weight(t) for t in words], dtype=np.float32)
            vecs = np.stack([wv[t] for t in words])  # FastText: unseen words come from n-grams
            out[i] = w @ vecs / w.sum()
        return out

    def content_vectors(self, texts: Sequence[str | Sequence[str]]) -> np.ndarray:
        """One unit vector per text (a zero row for a text without tokens), float32 (n, dim)."""
        docs = [_tokens(t, self.language) for t in texts]
        raw = self._mean_vectors(docs)
        empty = np.array([not d for d in docs])
        raw -= self.common
        raw[empty] = 0.0
        return normalize_rows(raw)

    def word_vector(self, word: str) -> np.ndarray:
        return np.asarray(self.model.wv[word], dtype=np.float32)

    def save(self, directory: str | os.PathLike) -> Path:
        path = write_meta(directory, KIND, self.params, language=self.language)
        self.model.save(str(path / "fasttext.model"))
        np.save(path / "common.npy", self.common)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TextEmbedding:
        from gensim.models import FastText

        meta = read_meta(directory, KIND)
        path = Path(directory)
        model = FastText.load(str(path / "fasttext.model"))
        return cls(model, np.load(path / "common.npy"), EmbeddingParams(**meta["params"]), meta["language"])


def _tokens(text: str | Sequence[str], language: str | None) -> list[str]:
    if isinstance(text, str):
        return tokenize(text, language)
    return [str(t) for t in text]


def profile_vectors(
    user_index: np.ndarray,
    vectors: np.ndarray,
    timestamps: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    n_users: int,
    now: float,
    half_life: float,
) -> np.ndarray:
    """Recency-weighted profile per user, unit norm (zero for users without events).

    Event ``e`` (user ``user_index[e]`` read a content with vector ``vectors[e]`` at
    ``timestamps[e]``) weighs ``weights[e] * 0.5 ** ((now - timestamps[e]) / half_life)``;
    ``half_life`` is in the unit of the timestamps. Events after ``now`` count as fresh.
    """
    user_index = np.asarray(user_index, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    n = len(user_index)
    if vectors.shape[0] != n or timestamps.shape[0] != n:
        raise ValueError("user_index, vectors and timestamps must have one row per event")
    if half_life <= 0:
        raise ValueError("half_life must be positive")
    if n and (user_index.min() < 0 or user_index.max() >= n_users):
        raise ValueError("user_index out of range [0, n_users)")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    age = np.maximum(now - timestamps, 0.0)
    w = w * np.exp2(-age / half_life)
    m = sp.csr_matrix((w, (user_index, np.arange(n))), shape=(n_users, n))
    return normalize_rows(np.asarray(m @ vectors))
