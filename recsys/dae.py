"""A closed-form linear denoising autoencoder over read histories (the EASE / DLAE family).

Reading lists play the part playlists play in a music service: a person's reads reconstruct the
reads they would make, through an item-item weight matrix learned in closed form,

    P = (G + diag(lambda))^-1,  G = X^T X,  lambda_j = l2 + dropout / (1 - dropout) * G_jj

(``dropout = 0``: EASE's ridge; above 0: the denoising autoencoder's input dropout, which in
expectation is a per-item ridge, Steck 2020). A **new** content has no column in ``X``; given
its first readers (the seed) it gets one by the same regression the autoencoder solves for a
known item: the seed readers' indicator regressed on everyone's histories,
``beta = P X^T y = P (sum of the seed readers' history rows)``, and a candidate scores
``x_u . beta``. For people with old, sparse histories (the inactive) this compares them with the
seed through every item the autoencoder links, not only the items they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["LinearDAE"]


@dataclass
class LinearDAE:
    l2: float = 1000.0
    dropout: float = 0.5
    P: np.ndarray | None = None  # (n_items, n_items)

    def fit(self, binary: sp.spmatrix) -> LinearDAE:
        """``binary``: users x items, 1 where a person read an item (any weight is clipped to 1)."""
        x = sp.csr_matrix(binary, dtype=np.float64, copy=True)
        x.data[:] = 1.0
        g = (x.T @ x).toarray()
        diag = np.diag(g).copy()
        lam = self.l2 + (self.dropout / (1.0 - self.dropout)) * diag if self.dropout > 0 else np.full_like(diag, self.l2)
        g[np.diag_indices_from(g)] += lam
        self.P = np.linalg.inv(g)
        return self

    def item_weights(self, seed_histories: sp.spmatrix, exclude: int | None = None) -> np.ndarray:
        """The new content's column: ``P X_seed^T 1`` (``exclude``: the content's own item, if it
        has a column, left out of the regression)."""
        v = np.asarray(sp.csr_matrix(seed_histories).sum(axis=0), dtype=np.float64).ravel()
        if exclude is not None:
            v[exclude] = 0.0
        beta = self.P @ v
        if exclude is not None:
            beta[exclude] = 0.0
        return beta

    def scores(self, candidate_histories: sp.spmatrix, beta: np.ndarray) -> np.ndarray:
        x = sp.csr_matrix(candidate_histories, dtype=np.float64, copy=True)
        x.data[:] = 1.0
        return np.asarray(x @ beta).ravel()
