"""Click model: LightGBM on (subscriber, content) features, with calibrated probabilities.

Trained on past sends (one row per recipient of a content, label = clicked). A share of the
contents is held out: LightGBM stops early on it, and an isotonic map fitted on it turns raw
scores into probabilities that match observed click rates (the reliability table says how well).
The feature columns are ``CLICK_FEATURES``; ``recsys.audience.click_features`` builds them.

Public API::

    CLICK_FEATURES
    ClickParams(...)
    m = ClickModel(params).fit(X, y, groups)
    m.predict_proba(X) -> ndarray; m.predict_raw(X)
    m.metrics  # held-out auc, log loss, ece, reliability table
    m.save(directory); ClickModel.load(directory)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .artifacts import read_meta, write_meta
from .metrics import (
    auc,
    expected_calibration_error,
    isotonic_apply,
    isotonic_fit,
    log_loss,
    reliability_table,
)

__all__ = ["CLICK_FEATURES", "feature_columns", "ClickParams", "ClickModel"]

KIND = "click-model"

CLICK_FEATURES = (
    "content",  # cosine(profile vector, content vector)
    "mf",  # user factors . content factors (fold-in / projection)
    "lookalike",  # cosine(user factors, seed centroid)
    "neighbors",  # cosine(user history, seed history centroid)
    "category",  # the subscriber's share of reads in the content's categories
    "content_z",  # the same five, standardised over this content's candidates
    "mf_z",
    "lookalike_z",
    "neighbors_z",
    "category_z",
    "baseline_ctr",  # the subscriber's usual push CTR (Beta-smoothed)
    "days_inactive",  # days since the subscriber's last activity (nan: never active)
    "content_age_h",  # hours since the content was created
    "hour",  # hour of day of the send
    "reads_decayed",  # the subscriber's reads of the last 180 days, decayed (recsys.activity; nan: not given)
    "active_days_decayed",  # the distinct days with a read among them, decayed: the habit of returning
    "push_score",  # the content's predicted click improvement when it was evaluated (nan: none): how good it
    # is for anyone, the one input that tells one content from another for the same person
)


def feature_columns(x: np.ndarray, names, wanted) -> np.ndarray | None:
    """Rows made under the feature list ``names`` as columns ``wanted`` (e.g. a wave's logged rows
    for today's ``CLICK_FEATURES``, or today's rows for a model trained on an older list): a
    column ``x`` lacks (an input added since, e.g. ``push_score``) is missing (NaN, as LightGBM
    reads it), one it has that is not wanted is dropped. None when they share no column."""
    names, wanted = list(names), list(wanted)
    if names == wanted:
        return x
    at = {name: n for n, name in enumerate(names)}
    if not any(name in at for name in wanted):
        return None
    out = np.full((len(x), len(wanted)), np.nan, dtype=np.float32)
    for n, name in enumerate(wanted):
        if name in at:
            out[:, n] = x[:, at[name]]
    return out


@dataclass(frozen=True)
class ClickParams:
    n_estimators: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_child_samples: int = 100
    feature_fraction: float = 0.9
    lambda_l2: float = 1.0
    early_stopping_rounds: int = 40
    holdout_share: float = 0.2
    seed: int = 0
    num_threads: int = 1
    # feature name -> +1 (the click probability never falls as it grows, others fixed) or -1;
    # absent: free. What is known of pushes: people who usually click more click more, people
    # idle for longer less. Measured on the temporal replay (docs/recsys.md): lift@100 higher in
    # all four settings, most for inactive candidates.
    monotone: tuple[tuple[str, int], ...] = (("baseline_ctr", 1), ("days_inactive", -1), ("push_score", 1))


class ClickModel:
    def __init__(self, params: ClickParams | None = None, feature_names: tuple[str, ...] = CLICK_FEATURES):
        self.params = params or ClickParams()
        self.feature_names = tuple(feature_names)
        self.booster = None
        self.calibration: tuple[np.ndarray, np.ndarray] | None = None
        self.metrics: dict = {}

    def _lgb_params(self) -> dict:
        p = self.params
        return {
            "objective": "binary",
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "min_data_in_leaf": p.min_child_samples,
            "feature_fraction": p.feature_fraction,
            "lambda_l2": p.lambda_l2,
            "seed": p.seed,
            "num_threads": p.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **({"monotone_constraints": [dict(p.monotone).get(f, 0) for f in self.feature_names],
                "monotone_constraints_method": "advanced"} if p.monotone else {}),
        }

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
            weights: np.ndarray | None = None) -> ClickModel:
        """Fit on rows ``x`` (columns ``feature_names``) with 0/1 labels ``y``.

        ``groups`` (content id per row) keeps each content wholly in training or in the
        held-out share used for early stopping, calibration and the reported metrics.
        ``weights`` (default 1) weigh the rows in training and calibration, e.g. inverse
        propensities, so that rows a ranker rarely picks count for the many like them.
        """
        import lightgbm as lgb

        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names) or len(y) != len(x):
            raise ValueError(f"x must be (n, {len(self.feature_names)}) with one label per row")
        rng = np.random.default_rng(self.params.seed)
        groups = np.arange(len(x)) if groups is None else np.asarray(groups)
        uniq = np.unique(groups)
        if len(uniq) < 2:
            raise ValueError("groups: rows of at least two contents are needed (whole contents are held out "
                             "to stop, calibrate and measure on)")
        held = rng.choice(uniq, size=min(len(uniq) - 1, max(1, int(round(len(uniq) * self.params.holdout_share)))),
                          replace=False)
        hold = np.isin(groups, held)
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != y.shape or not np.all(np.isfinite(weights)) or np.any(weights <= 0):
                raise ValueError("weights: one finite, positive weight per row")
        w_train = None if weights is None else weights[~hold]
        w_hold = None if weights is None else weights[hold]
        train = lgb.Dataset(x[~hold], y[~hold], weight=w_train, feature_name=list(self.feature_names), free_raw_data=True)
        valid = lgb.Dataset(x[hold], y[hold], weight=w_hold, reference=train)
        self.booster = lgb.train(
            self._lgb_params(),
            train,
            num_boost_round=self.params.n_estimators,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(self.params.early_stopping_rounds, verbose=False)],
        )
        raw = self.predict_raw(x[hold])
        self.calibration = isotonic_fit(raw, y[hold], weights=w_hold)
        p = self.predict_proba(x[hold])
        self.metrics = {
            "holdout_rows": int(hold.sum()),
            "holdout_auc": auc(y[hold], p),
            "holdout_log_loss": log_loss(y[hold], p),
            "holdout_ece": expected_calibration_error(y[hold], p),
            "best_iteration": int(self.booster.best_iteration or self.booster.current_iteration()),
        }
        return self

    def _require(self):
        if self.booster is None:
            raise RuntimeError("model is not fitted")
        return self.booster

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """LightGBM's own probability, before calibration."""
        b = self._require()
        return b.predict(np.asarray(x, dtype=np.float32), num_iteration=b.best_iteration or None, num_threads=self.params.num_threads)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated click probability per row."""
        raw = self.predict_raw(x)
        return raw if self.calibration is None else isotonic_apply(self.calibration, raw)

    def reliability(self, x: np.ndarray, y: np.ndarray, bins: int = 10):
        return reliability_table(y, self.predict_proba(x), bins)

    def save(self, directory: str | os.PathLike) -> Path:
        b = self._require()
        path = write_meta(directory, KIND, self.params, feature_names=list(self.feature_names), metrics=self.metrics)
        b.save_model(str(path / "model.txt"), num_iteration=b.best_iteration or None)
        kx, ky = self.calibration if self.calibration is not None else (np.array([]), np.array([]))
        (path / "calibration.json").write_text(json.dumps({"x": kx.tolist(), "y": ky.tolist()}))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ClickModel:
        import lightgbm as lgb

        meta = read_meta(directory, KIND)
        path = Path(directory)
        m = cls(ClickParams(**meta["params"]), tuple(meta["feature_names"]))
        m.booster = lgb.Booster(model_file=str(path / "model.txt"))
        cal = json.loads((path / "calibration.json").read_text())
        m.calibration = (np.array(cal["x"]), np.array(cal["y"])) if cal["x"] else None
        m.metrics = meta.get("metrics", {})
        return m

    def __repr__(self) -> str:
        return f"ClickModel({asdict(self.params)}, fitted={self.booster is not None})"
