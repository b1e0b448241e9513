"""Push-worthiness: is this content worth a push at all?

A LightGBM regression per content, from its text vector, category, time, and the engagement it
got in its first minutes, trained on past campaigns' achieved click improvement (clicks
observed / clicks expected from the recipients' usual CTRs). It predicts log-improvement; the
score is the predicted improvement (1.0 = no better than usual). The reasons are the features
that moved this prediction most (LightGBM's per-prediction SHAP contributions, the text vector's
dimensions summed into one ``text`` reason).

Until a model has been trained, ``InterimPushWorthinessScorer`` gives a deterministic,
clearly rule-based score from early engagement: the content's share of the site's reads against a
typical content's.

Public API::

    PushWorthinessFeatures(text_vector=None, categories=(), created_hour=12, weekday=0,
                           age_minutes=0.0, early_reads=0, early_clicks=0,
                           early_readers_inactive_share=0.0, early_readers_mean_ctr=0.0,
                           early_read_share=None, early_read_share_typical=None)
    Reason(feature, contribution)
    m = PushWorthinessModel(params).fit(features_list, improvements)
    m.score(features) -> (score, reasons); m.score_many(features_list) -> ndarray
    m.save(directory); PushWorthinessModel.load(directory)
    InterimPushWorthinessScorer().score(features) -> (score, reasons)
    CalibratedRule().fit(features_list, improvements, weights)   # the rule at the campaigns' level
    load_push_worthiness(directory)   # either kind of artifact
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .artifacts import read_meta, write_meta
from .metrics import spearman

__all__ = [
    "PushWorthinessFeatures",
    "Reason",
    "PushWorthinessParams",
    "PushWorthinessModel",
    "InterimPushWorthinessScorer",
    "CalibratedRule",
    "load_push_worthiness",
]

KIND = "push-worthiness"
_SCALARS = (
    "created_hour",
    "weekday",
    "age_minutes",
    "early_reads",
    "early_reads_per_hour",
    "early_clicks",
    "early_readers_inactive_share",
    "early_readers_mean_ctr",
    "early_read_share_relative",
)
# the scalars of models saved before the read share existed (their artifacts say nothing)
_SCALARS_BEFORE_SHARE = _SCALARS[:-1]
# more organic pull never makes a content less worth a push: the model may not learn otherwise
# from a few noisy campaigns (LightGBM's monotone constraints)
_INCREASING = ("early_reads", "early_reads_per_hour", "early_read_share_relative")


@dataclass(frozen=True)
class PushWorthinessFeatures:
    """One content at decision time. ``text_vector`` comes from ``TextEmbedding.content_vectors``."""

    text_vector: np.ndarray | None = None
    categories: tuple[str, ...] = ()
    created_hour: int = 12
    weekday: int = 0
    age_minutes: float = 0.0
    early_reads: int = 0  # organic reads since creation
    early_clicks: int = 0  # clicks of a first wave, if one was sent
    early_readers_inactive_share: float = 0.0  # share of early readers inactive for 7+ days
    early_readers_mean_ctr: float = 0.0  # the early readers' usual push CTR
    # the content's share of the site's reads of fresh contents over the same window (its early
    # reads over everyone's: the hour's traffic and the competition divided out), and the median
    # share of the client's recently evaluated contents; None when unknown
    early_read_share: float | None = None
    early_read_share_typical: float | None = None

    @property
    def early_reads_per_hour(self) -> float:
        return self.early_reads * 60.0 / max(self.age_minutes, 1.0)

    @property
    def early_read_share_relative(self) -> float | None:
        """The read share against a typical content's (1.0 = typical), None when either is unknown."""
        if self.early_read_share is None or not self.early_read_share_typical:
            return None
        return float(self.early_read_share) / float(self.early_read_share_typical)

    def scalars(self, names: Sequence[str] = _SCALARS) -> list[float]:
        """The named scalar inputs (``_SCALARS``), NaN for an unknown one."""
        out = []
        for name in names:
            v = getattr(self, name)
            out.append(float("nan") if v is None else float(v))
        return out


@dataclass(frozen=True)
class Reason:
    feature: str
    contribution: float  # in log-improvement units; positive pushes the score up


@dataclass(frozen=True)
class PushWorthinessParams:
    n_estimators: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 20
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    seed: int = 0
    num_threads: int = 1
    n_reasons: int = 3


class PushWorthinessModel:
    def __init__(self, params: PushWorthinessParams | None = None):
        self.params = params or PushWorthinessParams()
        self.booster = None
        self.categories: list[str] = []
        self.text_dim = 0
        self.scalar_names: tuple[str, ...] = _SCALARS
        self.metrics: dict = {}

    @property
    def feature_names(self) -> list[str]:
        return ["category", *self.scalar_names] + [f"text_{i}" for i in range(self.text_dim)]

    def _matrix(self, feats: Sequence[PushWorthinessFeatures]) -> np.ndarray:
        code = {c: i for i, c in enumerate(self.categories)}
        n = len(self.scalar_names)
        x = np.full((len(feats), 1 + n + self.text_dim), np.nan, dtype=np.float64)
        for r, f in enumerate(feats):
            first = f.categories[0] if f.categories else None
            x[r, 0] = code.get(first, np.nan)
            x[r, 1 : 1 + n] = f.scalars(self.scalar_names)
            if self.text_dim and f.text_vector is not None:
                v = np.asarray(f.text_vector, dtype=np.float64).reshape(-1)
                if len(v) != self.text_dim:
                    raise ValueError(f"text_vector has {len(v)} dims, the model expects {self.text_dim}")
                x[r, 1 + n :] = v
        return x

    def fit(self, feats: Sequence[PushWorthinessFeatures], improvements: np.ndarray,
            weights: np.ndarray | None = None) -> PushWorthinessModel:
        """Learn log(improvement) of past campaigns from their decision-time features; ``weights``
        (e.g. each campaign's exposure) make a campaign count in proportion."""
        import lightgbm as lgb

        y = np.log(np.maximum(np.asarray(improvements, dtype=np.float64), 1e-3))
        if len(y) != len(feats) or len(y) < 10:
            raise ValueError("one improvement per campaign, at least 10 campaigns")
        self.categories = sorted({f.categories[0] for f in feats if f.categories})
        dims = {len(np.reshape(f.text_vector, -1)) for f in feats if f.text_vector is not None}
        if len(dims) > 1:
            raise ValueError(f"text vectors of different sizes: {sorted(dims)}")
        self.text_dim = dims.pop() if dims else 0
        self.scalar_names = _SCALARS
        p = self.params
        # A client's first models learn from a few dozen campaigns: leaves (and a category's
        # rows) of 20 would allow no split at all there, and the model would predict one number
        # for every content. Leaves scale with the data, down to 3 campaigns.
        leaf = min(p.min_child_samples, max(3, len(y) // 10))
        params = {
            "objective": "regression",
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "min_data_in_leaf": leaf,
            "min_data_per_group": min(100, 5 * leaf),  # LightGBM's 100 from 400 campaigns on
            "feature_fraction": p.feature_fraction,
            "lambda_l2": p.lambda_l2,
            "monotone_constraints": [1 if name in _INCREASING else 0 for name in self.feature_names],
            "seed": p.seed,
            "num_threads": p.num_threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != y.shape or not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError("weights: one finite, non-negative weight per campaign")
        ds = lgb.Dataset(self._matrix(feats), y, weight=weights, feature_name=self.feature_names,
                         categorical_feature=["category"])
        self.booster = lgb.train(params, ds, num_boost_round=p.n_estimators)
        self.metrics = {"train_campaigns": len(y), "train_spearman": spearman(self.booster.predict(self._matrix(feats)), y)}
        return self

    def _require(self):
        if self.booster is None:
            raise RuntimeError("model is not fitted")
        return self.booster

    def score_many(self, feats: Sequence[PushWorthinessFeatures]) -> np.ndarray:
        """Predicted click improvement per content."""
        return np.exp(self._require().predict(self._matrix(feats), num_threads=self.params.num_threads))

    def score(self, features: PushWorthinessFeatures) -> tuple[float, tuple[Reason, ...]]:
        """(predicted click improvement, the features that drove it, strongest first)."""
        b = self._require()
        x = self._matrix([features])
        contrib = b.predict(x, pred_contrib=True, num_threads=self.params.num_threads)[0]
        pred = float(contrib.sum())  # contributions + expected value = the prediction
        named = dict(zip(self.feature_names, contrib[:-1]))
        grouped = {k: v for k, v in named.items() if not k.startswith("text_")}
        if self.text_dim:
            grouped["text"] = float(sum(v for k, v in named.items() if k.startswith("text_")))
        top = sorted(grouped.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[: self.params.n_reasons]
        return float(np.exp(pred)), tuple(Reason(k, float(v)) for k, v in top)

    def evaluate(self, feats: Sequence[PushWorthinessFeatures], improvements: np.ndarray) -> dict:
        """Rank correlation of predicted with achieved improvement on held-out campaigns."""
        pred = self.score_many(feats)
        return {"campaigns": len(pred), "spearman": spearman(pred, improvements)}

    def save(self, directory: str | os.PathLike) -> Path:
        b = self._require()
        path = write_meta(
            directory, KIND, self.params, categories=self.categories, text_dim=self.text_dim, metrics=self.metrics,
            scalars=list(self.scalar_names),
        )
        b.save_model(str(path / "model.txt"))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> PushWorthinessModel:
        import lightgbm as lgb

        meta = read_meta(directory, KIND)
        m = cls(PushWorthinessParams(**meta["params"]))
        m.categories = list(meta["categories"])
        m.text_dim = int(meta["text_dim"])
        m.scalar_names = tuple(meta.get("scalars", _SCALARS_BEFORE_SHARE))
        m.metrics = meta.get("metrics", {})
        m.booster = lgb.Booster(model_file=str(Path(directory) / "model.txt"))
        return m


@dataclass(frozen=True)
class InterimPushWorthinessScorer:
    """Rule-based stand-in used while no trained model exists. Deterministic and explainable.

    score = (the content's early share of the site's reads / a typical content's) ** 0.5, times
    (1 + ``inactive_bonus`` * share of inactive early readers), clipped to [0.1, 10]. The share
    divides out the hour's traffic and how many contents compete for it, which the raw count of
    early reads carries. Until the client has a typical share (a handful of evaluated contents
    in the last week), the early reads per hour against ``reference_reads_per_hour`` stand in.
    """

    reference_reads_per_hour: float = 20.0
    inactive_bonus: float = 0.5

    def score(self, features: PushWorthinessFeatures) -> tuple[float, tuple[Reason, ...]]:
        relative = features.early_read_share_relative
        if relative is not None:
            name, reads = "early_read_share_relative", 0.5 * np.log(max(relative, 1e-3))
        else:
            name = "early_reads_per_hour"
            reads = 0.5 * np.log(max(features.early_reads_per_hour, 1e-3) / self.reference_reads_per_hour)
        inactive = np.log1p(self.inactive_bonus * features.early_readers_inactive_share)
        total = float(np.clip(np.exp(reads + inactive), 0.1, 10.0))
        reasons = sorted([(name, reads), ("early_readers_inactive_share", inactive)], key=lambda kv: (-abs(kv[1]), kv[0]))
        return total, tuple(Reason(k, float(v)) for k, v in reasons)

    def score_many(self, feats: Sequence[PushWorthinessFeatures]) -> np.ndarray:
        return np.array([self.score(f)[0] for f in feats])


RULE_KIND = "push-worthiness-rule"


class CalibratedRule:
    """The interim rule's ranking at the level the client's own campaigns reached: score = the
    rule's score x exp(``level``), where exp(``level``) = sum(exposure x achieved improvement) /
    sum(exposure x the rule's score) over past campaigns: with exposure = expected clicks, the
    campaigns' clicks over what the rule's scores promised, the Poisson maximum likelihood of one
    factor (a mean of log ratios would read a handful of clicks low). One number learnt: it keeps the rule's
    order of contents (which early reads know better than a model learnt from a few hundred
    noisy campaigns) and makes the score an estimate of improvement that the client's threshold
    can be compared with (the bare rule's 1.0 is only "a typical content")."""

    text_dim = 0

    def __init__(self, level: float = 0.0):
        self.level = float(level)
        self.rule = InterimPushWorthinessScorer()
        self.metrics: dict = {}

    def fit(self, feats: Sequence[PushWorthinessFeatures], improvements: np.ndarray,
            weights: np.ndarray | None = None) -> CalibratedRule:
        y = np.asarray(improvements, dtype=np.float64)
        if len(y) != len(feats) or len(y) == 0 or not np.all(np.isfinite(y)) or np.any(y < 0):
            raise ValueError("one finite, non-negative improvement per campaign, at least one campaign")
        w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != y.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights: one finite, non-negative weight per campaign, not all 0")
        r = self.rule.score_many(feats)
        self.level = float(np.log(max(np.sum(w * y), 1e-9) / np.sum(w * r)))
        self.metrics = {"train_campaigns": len(y), "level": self.level}
        return self

    def score_many(self, feats: Sequence[PushWorthinessFeatures]) -> np.ndarray:
        return self.rule.score_many(feats) * np.exp(self.level)

    def score(self, features: PushWorthinessFeatures) -> tuple[float, tuple[Reason, ...]]:
        value, reasons = self.rule.score(features)
        named = sorted([*((r.feature, r.contribution) for r in reasons), ("campaign_level", self.level)],
                       key=lambda kv: (-abs(kv[1]), kv[0]))
        return float(value * np.exp(self.level)), tuple(Reason(k, float(v)) for k, v in named)

    def save(self, directory: str | os.PathLike) -> Path:
        return write_meta(directory, RULE_KIND, None, level=self.level, rule=asdict(self.rule), metrics=self.metrics)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> CalibratedRule:
        meta = read_meta(directory, RULE_KIND)
        m = cls(meta["level"])
        m.rule = InterimPushWorthinessScorer(**meta.get("rule", {}))
        m.metrics = meta.get("metrics", {})
        return m


def load_push_worthiness(directory: str | os.PathLike) -> PushWorthinessModel | CalibratedRule:
    """Either kind of push-worthiness artifact, by its ``meta.json``."""
    import json

    kind = json.loads((Path(directory) / "meta.json").read_text()).get("kind")
    return CalibratedRule.load(directory) if kind == RULE_KIND else PushWorthinessModel.load(directory)
