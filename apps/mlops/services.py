"""Model versions and training runs.

Every model belongs to one client and is a versioned artifact ``client-<id>/<kind>/v<n>-<tag>/``
in the artifact store (``apps.mlops.artifacts``: the local ``PUSHADMIN["ARTIFACTS_DIR"]``, or a
bucket every machine reads) with a ``ModelVersion`` row. Training
(``apps.mlops.training``) reads that client's rows only and writes its progress to a
``TrainingRun`` that pages poll. A new version becomes active only if it beats the active
version on data neither trained on (or nothing is active yet) and the active one is not pinned;
an admin may activate (roll back to) any version by hand and pin it. All of it is logged as the
client's decisions.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from apps.core import clock
from apps.core.errors import ApiError
from apps.core.services import decision_record
from apps.mlops import artifacts
from apps.mlops.artifacts import artifacts_root
from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
from apps.mlops.selectors import active_version

log = logging.getLogger(__name__)
TRAINABLE = (ModelKind.MF, ModelKind.CLICK, ModelKind.CLICK_DELAY, ModelKind.PUSH_WORTHINESS)


def artifacts_dir() -> Path:
    path = artifacts_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


@transaction.atomic
def model_version_register(*, client, kind: str, build, metrics: dict, params: dict | None = None, run=None,
                           now: datetime | None = None) -> ModelVersion:
    """Save a new version of the client's ``kind``: ``build(directory)`` writes the artifact,
    which is published to the artifact store (``apps.mlops.artifacts``), then the row is created."""
    now = now or clock.now()
    number = (ModelVersion.objects.select_for_update().filter(client=client, kind=kind)
              .aggregate(m=Max("version"))["m"] or 0) + 1
    # A folder of its own, never reused: a registration rolled back (a failed training, or the
    # simulator's runs, each rolled back) gives its row id and number to the next one, and a
    # process that loaded the first must not take the second's files for it (the loaded-model
    # caches are keyed by the path).
    rel = Path(f"client-{client.pk}") / kind / f"v{number}-{uuid.uuid4().hex[:12]}"
    target = artifacts_dir() / rel
    target.mkdir(parents=True)
    if build is not None:
        build(target)
    artifacts.publish(rel.as_posix(), target)
    return ModelVersion.objects.create(client=client, kind=kind, version=number, artifact_path=str(rel), metrics=metrics,
                                       params=params or {}, created_at=now, training_run=run)


@transaction.atomic
def model_version_activate(*, version: ModelVersion, user=None, reason: str = "", pin: bool = False,
                           now: datetime | None = None) -> ModelVersion:
    """Make ``version`` its client's active one of its kind (an admin's roll back, or a
    promotion); ``pin``: training leaves it active until an admin activates another."""
    now = now or clock.now()
    before = active_version(version.client_id, version.kind)
    ModelVersion.objects.filter(client_id=version.client_id, kind=version.kind, is_active=True).update(
        is_active=False, pinned=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=now, pinned=pin)
    version.refresh_from_db()
    decision_record(client=version.client, action="model_activate", actor_user=user, actor_name="" if user else "trainer",
                    subject=f"model:{version.kind}:v{version.version}",
                    before={"active": before.version if before else None},
                    after={"active": version.version, "pinned": pin},
                    numbers={"metrics": version.metrics, "previous_metrics": before.metrics if before else None},
                    note=reason, now=now)
    return version


@transaction.atomic
def model_version_unpin(*, version: ModelVersion, user=None, now: datetime | None = None) -> ModelVersion:
    """Let training replace the active version again."""
    now = now or clock.now()
    ModelVersion.objects.filter(pk=version.pk).update(pinned=False)
    version.refresh_from_db()
    decision_record(client=version.client, action="model_unpin", actor_user=user, subject=f"model:{version.kind}:v{version.version}",
                    before={"pinned": True}, after={"pinned": False}, now=now)
    return version


def promote_if_better(version: ModelVersion, metric: str, new: float, old: float | None, now,
                      evidence: dict | None = None, *, ties: bool = False, floor: float | None = None,
                      lower_is_better: bool = False) -> bool:
    """Activate ``version`` if its ``metric`` (``new``) beats the active one's on the same
    held-out data (``old``; None: nothing to compare with; ``ties``: as good is enough, for the
    same configuration on newer data), is above ``floor`` (e.g. random) and the active one is
    not pinned; ``lower_is_better`` for an error. The decision row keeps both numbers and
    ``evidence`` (the window, how many rows)."""
    numbers = {metric: new, f"active_{metric}": old, **(evidence or {})}
    active = active_version(version.client_id, version.kind)
    if active is not None and active.pinned and active.pk != version.pk:
        keep_active(version, now, note=f"not activated: v{active.version} is pinned", numbers=numbers)
        return False
    if floor is not None and not new > floor:
        keep_active(version, now, note=f"not activated: {metric} {new:.4f} is not above {floor:.4f}", numbers=numbers)
        return False
    sign = -1.0 if lower_is_better else 1.0
    if old is None or sign * new > sign * old or (ties and sign * new >= sign * old):
        _record_promotion(version, numbers)
        model_version_activate(version=version, reason=f"{metric} {new:.4f} beats {'nothing active' if old is None else f'{old:.4f}'}", now=now)
        return True
    keep_active(version, now, note=f"not activated: {metric} {new:.4f} {'>=' if lower_is_better else '<='} {old:.4f}",
                numbers=numbers)
    return False


def _record_promotion(version: ModelVersion, numbers: dict) -> None:
    """Keep the promotion decision's numbers on the version (the Models page shows the last)."""
    version.metrics = {**version.metrics, "promotion": numbers}
    ModelVersion.objects.filter(pk=version.pk).update(metrics=version.metrics)


def keep_active(version: ModelVersion, now, *, note: str, numbers: dict) -> None:
    """Record that a trained version stays inactive, and why (its numbers kept on it too)."""
    _record_promotion(version, numbers)
    decision_record(client=version.client, action="model_keep", actor_name="trainer",
                    subject=f"model:{version.kind}:v{version.version}", numbers=numbers, note=note, now=now)


# --- Training runs ----------------------------------------------------------------------------

@transaction.atomic
def training_run_request(*, client, kind: str, user=None, reason: str = "requested",
                         now: datetime | None = None) -> TrainingRun:
    """Queue a training run of the client's ``kind`` (the ``ml`` queue, one at a time); the page
    polls its progress."""
    if kind not in TRAINABLE:
        raise ApiError(f"Cannot train {kind!r}; trainable: {', '.join(TRAINABLE)}.", field="kind")
    run = TrainingRun.objects.create(client=client, kind=kind, requested_by=user, reason=reason[:40],
                                     created_at=now or clock.now(), message="queued")
    from apps.mlops.tasks import train

    transaction.on_commit(lambda: train.delay(run.pk))
    return run


def training_progress(run: TrainingRun, share: float, message: str) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(progress=min(max(share, 0.0), 1.0), message=message[:500])


SLOT_PRICED_BY = ("mf", "click")  # the kinds whose new versions change the slots' prices (apps.mlops.slots)


def training_run_execute(*, run_id: int, now: datetime | None = None) -> TrainingRun:
    """Run one training job; safe to run twice (a finished run is left alone)."""
    now = now or clock.now()
    claimed = TrainingRun.objects.filter(pk=run_id, state__in=[TrainingRun.State.QUEUED]).update(
        state=TrainingRun.State.RUNNING, started_at=now, message="starting")
    run = TrainingRun.objects.get(pk=run_id)
    if not claimed:
        return run
    try:
        from apps.mlops.training import TRAINERS

        version = TRAINERS[run.kind](client=run.client, run=run, now=now)
        if version is None:  # the trainer said why in the message (not enough data yet)
            message = TrainingRun.objects.values_list("message", flat=True).get(pk=run.pk)
        else:
            message = f"trained v{version.version}{' (active)' if version.is_active else ' (kept the active version)'}"
        TrainingRun.objects.filter(pk=run.pk).update(state=TrainingRun.State.SUCCEEDED, progress=1.0,
                                                     finished_at=clock.now(), message=message)
    except Exception as exc:  # noqa: BLE001 - the run records why it failed
        log.exception("training run %s failed", run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(state=TrainingRun.State.FAILED, finished_at=clock.now(),
                                                     error=f"{type(exc).__name__}: {exc}"[:5000], message="failed")
    run.refresh_from_db()
    if run.state == TrainingRun.State.SUCCEEDED and run.kind in SLOT_PRICED_BY:  # the values the prices rest on
        from apps.mlops.slots import slot_prices_refresh

        try:
            slot_prices_refresh(client=run.client, now=now)
        except Exception:  # noqa: BLE001 - the model is trained; the old prices stand until the next refresh
            log.exception("slot prices of client %s after training run %s", run.client_id, run.pk)
    return run
