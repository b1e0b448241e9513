"""Look-alike audiences: candidates near a seed group in the MF user-factor space.

The seed is the content's first readers or first-wave clickers: people who surely like it. A
candidate scores the cosine between its factor row and the seed's centroid (the mean of the
seed's unit factor rows, optionally weighted, e.g. clickers over mere openers). Seed members
themselves are excluded from the result (score ``-inf``).

Public API::

    seed_centroid(seed_factors, weights=None) -> unit vector (f,)
    lookalike_scores(candidate_factors, seed_factors, *, seed_weights=None,
                     candidate_norms=None, exclude=None) -> ndarray (n,)
"""

from __future__ import annotations

import numpy as np

__all__ = ["seed_centroid", "lookalike_scores", "row_norms"]


def row_norms(x: np.ndarray) -> np.ndarray:
    """L2 norm of every row without materialising a normalised copy (float32)."""
    x = np.asarray(x)
    return np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))


def seed_centroid(seed_factors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Unit-norm (weighted) mean of the seed's unit factor rows; zeros for an empty seed."""
    s = np.asarray(seed_factors, dtype=np.float32).reshape(-1, np.shape(seed_factors)[-1])
    if len(s) == 0:
        return np.zeros(s.shape[1], np.float32)
    s = s / np.maximum(row_norms(s), 1e-12)[:, None]
    w = np.ones(len(s), np.float32) if weights is None else np.asarray(weights, np.float32)
    c = w @ s
    n = float(np.linalg.norm(c))
    return (c / n if n > 0 else c).astype(np.float32)


def lookalike_scores(
    candidate_factors: np.ndarray,
    seed_factors: np.ndarray,
    *,
    seed_weights: np.ndarray | None = None,
    candidate_norms: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Cosine of each candidate's factor row to the seed centroid, in [-1, 1].

    ``candidate_norms`` (from ``row_norms``) can be cached across contents; ``exclude`` is a
    boolean mask or an index array of candidates to drop (the seed itself), scored ``-inf``.
    """
    u = np.asarray(candidate_factors)
    norms = row_norms(u) if candidate_norms is None else np.asarray(candidate_norms, np.float32)
    scores = (u @ seed_centroid(seed_factors, seed_weights)) / np.maximum(norms, 1e-12)
    scores = scores.astype(np.float32, copy=False)
    if exclude is not None:
        scores[exclude] = -np.inf
    return scores
