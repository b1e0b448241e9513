"""The models page: one client's versions by kind with their offline metrics, the active one,
its age and the last promotion decision; the client's training runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

STALE_AFTER = timedelta(days=2)  # a kind not trained for this long is flagged


def models_page(*, client, now: datetime, runs: int = 20) -> dict:
    """The client's model versions by kind, each with its active version and age, the last
    promotion decision (the challenger's and the champion's numbers on the same held-out data,
    and the window) and a warning when it has not trained for ``STALE_AFTER``; recent training
    runs with their progress. 2 queries."""
    from apps.mlops.models import ModelKind, ModelVersion
    from apps.mlops.services import TRAINABLE

    versions = list(ModelVersion.objects.filter(client=client).select_related("training_run").order_by("kind", "-version"))
    kinds = []
    for kind, label in ModelKind.choices:
        vs = [v for v in versions if v.kind == kind]
        active = next((v for v in vs if v.is_active), None)
        latest = vs[0] if vs else None
        promotion = (latest.metrics or {}).get("promotion") if latest else None
        metric_names = sorted({k for v in vs for k, val in (v.metrics or {}).items()
                               if isinstance(val, (int, float)) and not isinstance(val, bool)})
        kinds.append({
            "kind": kind, "label": label, "versions": vs, "active": active, "metric_names": metric_names,
            "trainable": kind in TRAINABLE, "latest": latest,
            "active_since": (active.activated_at or active.created_at) if active else None,
            "stale": kind in TRAINABLE and latest is not None and now - latest.created_at > STALE_AFTER,
            "promotion": _promotion(promotion) if promotion else None,
        })
    active = {k["kind"]: k["active"] for k in kinds if k["active"] is not None}
    ranking = {"mf": active.get(ModelKind.MF), "click": active.get(ModelKind.CLICK),
               "scorer": active.get(ModelKind.PUSH_WORTHINESS)}
    if ranking["mf"] is not None and ranking["click"] is None:
        ranking.update(_rankings(ranking["mf"]))
    return {"now": now, "client": client, "kinds": kinds, "ranking": ranking, **training_runs(client=client, runs=runs)}


def _promotion(numbers: dict) -> dict:
    """The decision's numbers in the page's terms: the metric, challenger vs champion, the window."""
    metric = next((k for k in numbers if f"active_{k}" in numbers), None)
    window = numbers.get("window") or {}
    split = window.get("split")
    return {"metric": metric, "challenger": numbers.get(metric) if metric else None,
            "champion": numbers.get(f"active_{metric}") if metric else None,
            "diff": numbers.get("diff"), "diff_ci": numbers.get("diff_ci"),
            "split_at": datetime.fromtimestamp(split, tz=UTC) if isinstance(split, (int, float)) else None,
            "cases": window.get("cases", window.get("test_sends", window.get("test_campaigns"))),
            "why": numbers.get("why", ""), "ope": _ope(numbers.get("ope"))}


def _ope(ope: dict | None) -> dict | None:
    """The off-policy estimates of challenger and champion on the same logged waves, if any."""
    if not ope or not ope.get("challenger"):
        return None
    return {"challenger": ope["challenger"], "champion": ope.get("champion"), "waves": ope["challenger"]["waves"],
            "level": round(100 * float(ope["challenger"].get("level", 0.9)))}


def _rankings(version) -> dict:
    """Which ranking orders the waves before there is a click model (``order``), and the check
    that chose it on the client's held-out contents (``check``: one row per ranking)."""
    from apps.mlops.ranking import chosen_ranking

    check = (version.metrics or {}).get("rankings") or {}
    rows = [{"name": name, **numbers} for name, numbers in (check.get("by") or {}).items()]
    split = check.get("split")
    return {"order": chosen_ranking(version), "check": rows, "cases": check.get("cases"),
            "split_at": datetime.fromtimestamp(split, tz=UTC) if isinstance(split, (int, float)) else None}


def training_runs(*, client, runs: int = 20) -> dict:
    from apps.mlops.models import TrainingRun

    recent = list(TrainingRun.objects.filter(client=client).select_related("requested_by").order_by("-created_at", "-id")[:runs])
    return {"runs": recent, "live": any(r.state in (TrainingRun.State.QUEUED, TrainingRun.State.RUNNING) for r in recent)}
