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

**Representations compared by cosine, with a category head.** The same denoising regression
gives each person two vectors, both read off their history ``x_u`` through ``P``:

- the item head, ``r_u = x_u P X^T X = x_u (I - P diag(lambda))``: the autoencoder's
  reconstruction of what they read (every item, not only the ones they touched);
- the category head, ``h_u = x_u P X^T Y``, ``Y`` each person's shares of reads per category:
  a second output of the same denoising autoencoder, trained in the same closed form, which
  predicts the mix of categories a history stands for.

A new content is the normalised sum of its seed readers' unit item-head vectors and the unit
indicator of its own categories (known before anyone reads it), and a candidate scores
``cos(r_u, r_content) + cos(h_u, h_content)``. Cosines leave out how much a person reads: the
score is taste alone (``recsys.activity`` measures the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["LinearDAE", "head_cosines"]


@dataclass
class LinearDAE:
    l2: float = 1000.0
    dropout: float = 0.5
    P: np.ndarray | None = None  # (n_items, n_items)
    lam: np.ndarray | None = None  # (n_items,) the per-item ridge
    W_cat: np.ndarray | None = None  # (n_items, n_categories) the category head, when fitted with categories

    def fit(self, binary: sp.spmatrix, item_categories: sp.spmatrix | None = None) -> LinearDAE:
        """``binary``: users x items, 1 where a person read an item (any weight is clipped to 1).
        ``item_categories`` (items x categories, 1 where an item is in a category): also fit the
        category head."""
        x = sp.csr_matrix(binary, dtype=np.float64, copy=True)
        x.data[:] = 1.0
        g = (x.T @ x).toarray()
        diag = np.diag(g).copy()
        lam = self.l2 + (self.dropout / (1.0 - self.dropout)) * diag if self.dropout > 0 else np.full_like(diag, self.l2)
        g[np.diag_indices_from(g)] += lam
        self.P = np.linalg.inv(g)
        self.lam = lam
        if item_categories is not None:
            counts = sp.csr_matrix(x @ sp.csr_matrix(item_categories, dtype=np.float64))
            totals = np.asarray(counts.sum(axis=1)).ravel()
            shares = sp.diags(1.0 / np.maximum(totals, 1e-12)) @ counts
            self.W_cat = self.P @ np.asarray((x.T @ shares).todense())
        return self

    def item_head(self, histories: sp.spmatrix, exclude: int | None = None) -> np.ndarray:
        """``r = x (I - P diag(lambda))`` per row of ``histories``: the reconstruction, (n, items)
        (``exclude``: an item left out of the input and the output)."""
        x = _binary(histories, exclude)
        r = np.asarray(x.todense()) - np.asarray(x @ self.P) * self.lam[None, :]
        if exclude is not None:
            r[:, exclude] = 0.0
        return r

    def category_head(self, histories: sp.spmatrix, exclude: int | None = None) -> np.ndarray:
        """``h = x P X^T Y`` per row: the predicted mix of categories, (n, categories)."""
        if self.W_cat is None:
            raise RuntimeError("fitted without item categories: no category head")
        return np.asarray(_binary(histories, exclude) @ self.W_cat)

    def cosine_scores(self, candidate_histories: sp.spmatrix, seed_histories: sp.spmatrix | None,
                      categories: np.ndarray | None = None, exclude: int | None = None) -> np.ndarray:
        """``cos(r_u, r_content) + cos(h_u, h_content)`` per candidate: the content's item head is
        the normalised sum of its seed readers' unit reconstructions, its category head the unit
        indicator of ``categories`` (column indices); a head the content lacks (no seed, no
        category, or no category head fitted) adds 0."""
        seeds = None
        if seed_histories is not None and seed_histories.shape[0]:
            seeds = self.item_head(seed_histories, exclude)
        heads = self.category_head(candidate_histories, exclude) if self.W_cat is not None else None
        return head_cosines(self.item_head(candidate_histories, exclude), heads, seeds, categories)

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


def head_cosines(items: np.ndarray, cats: np.ndarray | None, seed_items: np.ndarray | None,
                 categories: np.ndarray | None) -> np.ndarray:
    """``cos(r_u, r_content) + cos(h_u, h_content)`` from the heads already computed: ``items``
    (n, n_items) and ``cats`` (n, n_categories) the candidates', ``seed_items`` the seed readers'
    item heads, ``categories`` the content's category columns (see ``LinearDAE.cosine_scores``)."""
    out = np.zeros(items.shape[0])
    if seed_items is not None and len(seed_items):
        centre = _unit(seed_items).sum(axis=0)
        if np.any(centre):
            out += _unit(items) @ _unit(centre[None, :])[0]
    if cats is not None and categories is not None and len(categories):
        c = np.zeros(cats.shape[1])
        c[np.asarray(categories, np.int64)] = 1.0
        out += _unit(cats) @ (c / np.linalg.norm(c))
    return out


def _binary(histories: sp.spmatrix, exclude: int | None) -> sp.csr_matrix:
    x = sp.csr_matrix(histories, dtype=np.float64, copy=True)
    x.data[:] = 1.0
    if exclude is not None:
        keep = np.ones(x.shape[1])
        keep[exclude] = 0.0
        x = sp.csr_matrix(x @ sp.diags(keep))
        x.eliminate_zeros()
    return x


def _unit(a: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    return a / np.maximum(norms, 1e-12)[:, None]
