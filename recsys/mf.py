"""Matrix factorization: implicit's ALS on subscriber x content interactions.

Confidence weighting follows Hu, Koren and Volinsky: an observed interaction of weight ``w``
gets confidence ``1 + alpha * log1p(w / eps)`` (or ``1 + alpha * w`` when
``confidence="linear"``); unobserved cells have confidence 1 and preference 0.

Cold start, for a content that is minutes old:

* ``fold_in_items`` solves the item's factor from its first readers with the user factors held
  fixed (one ALS half-step), optionally shrunk towards a prior vector instead of towards zero;
* ``project_text`` maps a text embedding into the item-factor space with a ridge regression
  learned on the trained items (``fit_text_projection``): that is the prior, and the whole
  answer for a content nobody has read yet.

New or changed subscribers get factors without a retrain through ``fold_in_users`` (returns
them) or ``partial_fit_users`` (stores them in the model).

Public API::

    MFParams(factors=64, ...)
    m = ALSModel(params).fit(user_items_csr)
    m.user_factors, m.item_factors
    m.fold_in_items(item_users_csr, prior=None) / m.fold_in_users(user_items_csr, prior=None)
    FixedUsers(m, user_factors)   # many fold-ins of items against the same user factors
    m.partial_fit_users(userids, user_items_csr)
    m.fit_text_projection(text_vectors, item_index=None, l2=1.0); m.project_text(text_vectors)
    m.save(directory); ALSModel.load(directory)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .artifacts import read_meta, write_meta

__all__ = ["MFParams", "ALSModel", "FixedUsers", "confidence_matrix"]

KIND = "als"


@dataclass(frozen=True)
class MFParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 4.0
    confidence: str = "log"  # "log" or "linear"
    eps: float = 1.0
    iterations: int = 15
    seed: int = 0
    num_threads: int = 1

    def __post_init__(self):
        if self.confidence not in ("log", "linear"):
            raise ValueError("confidence must be 'log' or 'linear'")


def confidence_matrix(weights: sp.spmatrix, params: MFParams, copy: bool = True) -> sp.csr_matrix:
    """Observed weights -> ALS confidences (same sparsity pattern, float32). ``copy=False``: a
    CSR ``weights`` gives its index arrays to the result and its values are replaced (no second
    copy of a matrix of millions of pairs)."""
    if copy or not sp.isspmatrix_csr(weights):
        m = sp.csr_matrix(weights, dtype=np.float32, copy=True)
    else:
        m = weights
    m.sum_duplicates()
    if m.nnz and m.data.min() < 0:
        raise ValueError("interaction weights must be non-negative")
    data = m.data.astype(np.float32, copy=False)
    if params.confidence == "log":
        m.data = (1.0 + params.alpha * np.log1p(data / params.eps)).astype(np.float32, copy=False)
    else:
        m.data = (1.0 + params.alpha * data).astype(np.float32, copy=False)
    return m


class ALSModel:
    """implicit's ``AlternatingLeastSquares`` plus cold-start fold-in and a text projection."""

    def __init__(self, params: MFParams | None = None):
        self.params = params or MFParams()
        self._als = None
        self.projection: np.ndarray | None = None  # (text_dim + 1, factors), last row = bias

    # ------------------------------------------------------------------ training and factors
    def _new_als(self):
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(
            factors=p.factors,
            regularization=p.regularization,
            alpha=1.0,  # confidences are computed here, see confidence_matrix
            iterations=p.iterations,
            random_state=p.seed,
            num_threads=p.num_threads,
            calculate_training_loss=False,
        )

    def fit(self, user_items: sp.spmatrix, copy: bool = True) -> ALSModel:
        """Factorize a (users x items) matrix of non-negative interaction weights. ``copy=False``:
        a CSR ``user_items`` becomes the confidence matrix in place (the caller's no longer holds
        its weights), saving a copy of the largest array."""
        from threadpoolctl import threadpool_limits

        # implicit parallelises itself; BLAS threads on top of it only fight for the cores
        with threadpool_limits(1, "blas"):
            self._als = self._new_als()
            self._als.fit(confidence_matrix(user_items, self.params, copy=copy), show_progress=False)
        return self

    @property
    def fitted(self) -> bool:
        return self._als is not None

    def _require(self):
        if self._als is None:
            raise RuntimeError("model is not fitted")
        return self._als

    @property
    def user_factors(self) -> np.ndarray:
        return self._require().user_factors

    @property
    def item_factors(self) -> np.ndarray:
        return self._require().item_factors

    # ------------------------------------------------------------------------- fold-in
    def fold_in_items(
        self,
        item_users: sp.spmatrix,
        prior: np.ndarray | None = None,
        prior_weight: float = 1.0,
        user_factors: np.ndarray | None = None,
    ) -> np.ndarray:
        """Factors for items from their (items x users) interaction rows, user factors fixed.

        With ``prior`` (one row per item, e.g. ``project_text`` of its text) the solution is
        shrunk towards the prior instead of towards zero, so a content with one or two readers
        keeps most of what its text says; ``prior_weight`` is the strength of that pull.
        ``user_factors`` (default: the model's) replace the fixed side, e.g. with some users
        re-solved since training.
        """
        conf = confidence_matrix(item_users, self.params)
        fixed = self.user_factors if user_factors is None else user_factors
        return _solve(fixed, conf, self.params.regularization, prior, prior_weight)

    def fold_in_users(
        self, user_items: sp.spmatrix, prior: np.ndarray | None = None, prior_weight: float = 1.0
    ) -> np.ndarray:
        """Factors for (new or changed) users from their (users x items) rows, items fixed."""
        conf = confidence_matrix(user_items, self.params)
        return _solve(self.item_factors, conf, self.params.regularization, prior, prior_weight)

    def partial_fit_users(self, userids: np.ndarray, user_items: sp.spmatrix) -> None:
        """Store fresh factors for ``userids`` (new ids extend the matrix) without a retrain."""
        self._require().partial_fit_users(np.asarray(userids), confidence_matrix(user_items, self.params))

    def partial_fit_items(self, itemids: np.ndarray, item_users: sp.spmatrix) -> None:
        """Store fresh factors for ``itemids`` (new ids extend the matrix) without a retrain."""
        self._require().partial_fit_items(np.asarray(itemids), confidence_matrix(item_users, self.params))

    # ------------------------------------------------------------------ text projection
    def fit_text_projection(
        self, text_vectors: np.ndarray, item_index: np.ndarray | None = None, l2: float = 1.0
    ) -> ALSModel:
        """Ridge regression from text vectors to the factors of ``item_index`` (default: all)."""
        x = np.asarray(text_vectors, dtype=np.float64)
        idx = np.arange(len(x)) if item_index is None else np.asarray(item_index)
        y = np.asarray(self.item_factors[idx], dtype=np.float64)
        if len(x) != len(y):
            raise ValueError("one text vector per projected item")
        xb = np.hstack([x, np.ones((len(x), 1))])
        reg = l2 * np.eye(xb.shape[1])
        reg[-1, -1] = 0.0  # the bias is not shrunk
        self.projection = np.linalg.solve(xb.T @ xb + reg, xb.T @ y).astype(np.float32)
        return self

    def project_text(self, text_vectors: np.ndarray) -> np.ndarray:
        """Item-factor estimates for contents known only by their text vectors."""
        if self.projection is None:
            raise RuntimeError("no text projection: call fit_text_projection first")
        x = np.asarray(text_vectors, dtype=np.float32)
        return x @ self.projection[:-1] + self.projection[-1]

    # --------------------------------------------------------------------- artifacts
    def save(self, directory: str | os.PathLike) -> Path:
        als = self._require()
        path = write_meta(
            directory,
            KIND,
            self.params,
            n_users=int(als.user_factors.shape[0]),
            n_items=int(als.item_factors.shape[0]),
            has_projection=self.projection is not None,
        )
        als.save(str(path / "als.npz"))
        if self.projection is not None:
            np.savez(path / "projection.npz", projection=self.projection)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ALSModel:
        from implicit.cpu.als import AlternatingLeastSquares

        meta = read_meta(directory, KIND)
        path = Path(directory)
        model = cls(MFParams(**meta["params"]))
        model._als = AlternatingLeastSquares.load(str(path / "als.npz"))
        model._als.num_threads = model.params.num_threads
        if meta.get("has_projection"):
            with np.load(path / "projection.npz") as data:
                model.projection = data["projection"]
        return model


class FixedUsers:
    """``model`` folding items in against ``user_factors`` (default: its own) that stay the same
    over many fold-ins, e.g. judging it on hundreds of held-out contents: F'F over every user,
    the costly part of one fold-in, is computed once instead of at each. Stands in for the model
    where only ``user_factors``, ``item_factors``, ``params`` and ``fold_in_items`` are used;
    ``user_factors`` must not change while it is in use."""

    def __init__(self, model: ALSModel, user_factors: np.ndarray | None = None):
        self.model, self.params = model, model.params
        self.user_factors = model.user_factors if user_factors is None else user_factors
        self._gram = _gram(self.user_factors)

    @property
    def item_factors(self) -> np.ndarray:
        return self.model.item_factors

    def fold_in_items(self, item_users: sp.spmatrix, prior: np.ndarray | None = None, prior_weight: float = 1.0,
                      user_factors: np.ndarray | None = None) -> np.ndarray:
        if user_factors is not None and user_factors is not self.user_factors:
            return self.model.fold_in_items(item_users, prior, prior_weight, user_factors=user_factors)
        conf = confidence_matrix(item_users, self.params)
        return _solve(self.user_factors, conf, self.params.regularization, prior, prior_weight, gram=self._gram)


def _gram(fixed: np.ndarray) -> np.ndarray:
    """F'F in float64."""
    fixed = np.asarray(fixed, dtype=np.float64)
    return fixed.T @ fixed


def _solve(
    fixed: np.ndarray, conf: sp.csr_matrix, regularization: float, prior: np.ndarray | None, prior_weight: float,
    gram: np.ndarray | None = None,
) -> np.ndarray:
    """One exact ALS half-step for each row of ``conf`` against the ``fixed`` factors (``gram``:
    their F'F when already known).

    Row r: (F'F + F_r'(C_r - I)F_r + (lambda + mu) I) x = F_r' C_r 1 + mu * prior_r, with
    mu = prior_weight when a prior is given, else 0. The loop runs over the rows being folded
    in (new contents or subscribers), never over the fixed side.
    """
    fixed = np.asarray(fixed)
    k = fixed.shape[1]
    if conf.shape[1] != fixed.shape[0]:
        raise ValueError(f"rows have {conf.shape[1]} columns, the model has {fixed.shape[0]}")
    mu = prior_weight if prior is not None else 0.0
    gram = (_gram(fixed) if gram is None else gram) + (regularization + mu) * np.eye(k)
    if prior is not None:
        prior = np.asarray(prior, dtype=np.float64).reshape(conf.shape[0], k)
    out = np.zeros((conf.shape[0], k), dtype=np.float32)
    for r in range(conf.shape[0]):
        lo, hi = conf.indptr[r], conf.indptr[r + 1]
        idx, c = conf.indices[lo:hi], conf.data[lo:hi].astype(np.float64)
        f = fixed[idx].astype(np.float64, copy=False)  # only the rows this one touches, in float64
        a = gram + (f.T * (c - 1.0)) @ f
        b = f.T @ c
        if prior is not None:
            b = b + mu * prior[r]
        out[r] = np.linalg.solve(a, b)
    return out
