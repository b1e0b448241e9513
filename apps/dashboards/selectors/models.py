"""The models page: versions by kind with their offline metrics, and the training runs."""

from __future__ import annotations

from datetime import datetime


def models_page(*, now: datetime, runs: int = 20) -> dict:
    """Model versions by kind with their offline metrics and the active one; recent training
    runs with their progress. 2 queries."""
    from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
    from apps.mlops.services import TRAINABLE

    versions = list(ModelVersion.objects.select_related("training_run").order_by("kind", "-version"))
    kinds = []
    for kind, label in ModelKind.choices:
        vs = [v for v in versions if v.kind == kind]
        active = next((v for v in vs if v.is_active), None)
        metric_names = sorted({k for v in vs for k, val in (v.metrics or {}).items() if isinstance(val, (int, float))})
        kinds.append({"kind": kind, "label": label, "versions": vs, "active": active, "metric_names": metric_names,
                      "trainable": kind in TRAINABLE})
    recent = list(TrainingRun.objects.select_related("requested_by").order_by("-created_at", "-id")[:runs])
    return {"now": now, "kinds": kinds, "runs": recent,
            "live": any(r.state in (TrainingRun.State.QUEUED, TrainingRun.State.RUNNING) for r in recent)}


def training_runs(*, runs: int = 20) -> dict:
    from apps.mlops.models import TrainingRun

    recent = list(TrainingRun.objects.select_related("requested_by").order_by("-created_at", "-id")[:runs])
    return {"runs": recent, "live": any(r.state in (TrainingRun.State.QUEUED, TrainingRun.State.RUNNING) for r in recent)}
