"""Which push-worthiness scorer judges contents now, behind one interface.

The active ``ModelVersion`` of kind ``push_worthiness`` (its artifact from
``apps.mlops.artifacts``) when there is one; otherwise the rule-based
``InterimPushWorthinessScorer`` of ``recsys.selection``, recorded as such: no model version, and
a first reason saying "interim scorer". Loaded models are cached per artifact path.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from apps.mlops.artifacts import local
from apps.mlops.models import ModelKind, ModelVersion
from apps.mlops.selectors import client_id_of
from recsys.selection import InterimPushWorthinessScorer, PushWorthinessFeatures, load_push_worthiness

log = logging.getLogger(__name__)

INTERIM_NAME = "interim scorer"

# Human labels for the reasons the scorers give.
REASON_LABELS = {
    "early_reads": "early reads",
    "early_reads_per_hour": "early reads per hour",
    "early_read_share_relative": "share of the site's reads, against a typical content's",
    "campaign_level": "what the client's campaigns reached against the rule",
    "early_clicks": "early clicks",
    "early_readers_inactive_share": "inactive early readers",
    "early_readers_mean_ctr": "early readers' usual push CTR",
    "created_hour": "hour of day",
    "weekday": "day of week",
    "age_minutes": "age",
    "category": "category",
    "text": "text",
}


@dataclass(frozen=True)
class Scorer:
    name: str  # "push_worthiness v3" or "interim scorer"
    model_version: ModelVersion | None  # None for the interim scorer
    impl: object  # .score(features) -> (score, reasons)
    text_embedding: object | None = None  # recsys.embedding.TextEmbedding when the model uses text

    @property
    def interim(self) -> bool:
        return self.model_version is None

    @property
    def needs_text(self) -> bool:
        return bool(getattr(self.impl, "text_dim", 0)) and self.text_embedding is not None

    def score(self, features: PushWorthinessFeatures, content=None) -> tuple[float, list[dict]]:
        """(score, reasons) of a content from its decision-time ``features``; ``content``, the
        content itself, is there for scorers that look it up (the simulator's truth): the
        product's read only the features."""
        value, reasons = self.impl.score(features)
        out = [{"feature": r.feature, "label": REASON_LABELS.get(r.feature, r.feature.replace("_", " ")),
                "contribution": round(float(r.contribution), 4)} for r in reasons]
        if self.interim:
            out.insert(0, {"feature": "scorer", "label": "interim scorer: rule-based, no trained model is active",
                           "contribution": 0.0})
        return float(value), out


_cache: dict[tuple, object] = {}
_lock = threading.Lock()


def _load(kind_loader, path: Path):
    # Keyed by the artifact's meta.json stamp too: a path written again holds another model.
    try:
        stat = (path / "meta.json").stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    key = (kind_loader.__qualname__, str(path), stamp)
    with _lock:
        if key not in _cache:
            _cache[key] = kind_loader(path)
        return _cache[key]


def active_scorer(client) -> Scorer:
    """The scorer to use now for the client's contents: its active trained model, else the
    interim scorer."""
    active = {mv.kind: mv for mv in ModelVersion.objects.filter(
        client_id=client_id_of(client), is_active=True, kind__in=[ModelKind.PUSH_WORTHINESS, ModelKind.EMBEDDINGS])}
    mv = active.get(ModelKind.PUSH_WORTHINESS)
    if mv is None:
        return Scorer(INTERIM_NAME, None, InterimPushWorthinessScorer())
    try:
        model = _load(load_push_worthiness, local(mv.artifact_path))
    except Exception:  # a broken artifact must not stop evaluation: fall back, loudly
        log.exception("push-worthiness artifact %s cannot be loaded; using the interim scorer", mv.artifact_path)
        return Scorer(INTERIM_NAME, None, InterimPushWorthinessScorer())
    embedding = None
    emb = active.get(ModelKind.EMBEDDINGS)
    if getattr(model, "text_dim", 0) and emb is not None:
        from recsys.embedding import TextEmbedding

        try:
            embedding = _load(TextEmbedding.load, local(emb.artifact_path))
            if embedding.dim != model.text_dim:
                embedding = None
        except Exception:
            log.exception("embedding artifact %s cannot be loaded; scoring without the text", emb.artifact_path)
    return Scorer(f"{mv.kind} v{mv.version}", mv, model, embedding)
