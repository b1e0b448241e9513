"""Model versions and training runs.

Every model is a versioned artifact under ``PUSHADMIN["ARTIFACTS_DIR"]/<kind>/v<n>/`` with a
``ModelVersion`` row. Training writes its progress to a ``TrainingRun`` that pages poll. A new
version becomes active only if its offline metric beats the active version's on the same held-out
data (or nothing is active yet); an admin may activate any version by hand. Both are logged.
"""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from apps.core import clock
from apps.core.errors import ApiError
from apps.core.services import decision_record
from apps.mlops.models import ModelKind, ModelVersion, TrainingRun

log = logging.getLogger(__name__)
TRAINABLE = (ModelKind.MF, ModelKind.CLICK_DELAY, ModelKind.PUSH_WORTHINESS)


def artifacts_dir() -> Path:
    path = Path(settings.PUSHADMIN["ARTIFACTS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def active_version(kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, is_active=True).first()


@transaction.atomic
def model_version_register(*, kind: str, build, metrics: dict, params: dict | None = None, run=None,
                           now: datetime | None = None) -> ModelVersion:
    """Save a new version: ``build(directory)`` writes the artifact, then the row is created."""
    now = now or clock.now()
    number = (ModelVersion.objects.filter(kind=kind).aggregate(m=Max("version"))["m"] or 0) + 1
    rel = Path(kind) / f"v{number}"
    target = artifacts_dir() / rel
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if build is not None:
        build(target)
    return ModelVersion.objects.create(kind=kind, version=number, artifact_path=str(rel), metrics=metrics,
                                       params=params or {}, created_at=now, training_run=run)


@transaction.atomic
def model_version_activate(*, version: ModelVersion, user=None, reason: str = "", now: datetime | None = None) -> ModelVersion:
    now = now or clock.now()
    before = active_version(version.kind)
    ModelVersion.objects.filter(kind=version.kind, is_active=True).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=now)
    version.refresh_from_db()
    decision_record(client=None, action="model_activate", actor_user=user, actor_name="" if user else "trainer",
                    subject=f"model:{version.kind}:v{version.version}",
                    before={"active": before.version if before else None}, after={"active": version.version},
                    numbers={"metrics": version.metrics, "previous_metrics": before.metrics if before else None},
                    note=reason, now=now)
    return version


def _promote_if_better(version: ModelVersion, metric: str, new: float, old: float | None, now) -> bool:
    if old is None or new > old:
        model_version_activate(version=version, reason=f"{metric} {new:.4f} beats {'nothing active' if old is None else f'{old:.4f}'}", now=now)
        return True
    decision_record(client=None, action="model_keep", actor_name="trainer", subject=f"model:{version.kind}:v{version.version}",
                    numbers={metric: new, f"active_{metric}": old}, note=f"not activated: {metric} {new:.4f} <= {old:.4f}", now=now)
    return False


# --- Training runs ----------------------------------------------------------------------------

@transaction.atomic
def training_run_request(*, kind: str, user=None, now: datetime | None = None) -> TrainingRun:
    """Queue a training run (the ``ml`` queue, one at a time); the page polls its progress."""
    if kind not in TRAINABLE:
        raise ApiError(f"Cannot train {kind!r}; trainable: {', '.join(TRAINABLE)}.", field="kind")
    run = TrainingRun.objects.create(kind=kind, requested_by=user, created_at=now or clock.now(), message="queued")
    from apps.mlops.tasks import train

    transaction.on_commit(lambda: train.delay(run.pk))
    return run


def _progress(run: TrainingRun, share: float, message: str) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(progress=min(max(share, 0.0), 1.0), message=message[:500])


def training_run_execute(*, run_id: int, now: datetime | None = None) -> TrainingRun:
    """Run one training job; safe to run twice (a finished run is left alone)."""
    now = now or clock.now()
    claimed = TrainingRun.objects.filter(pk=run_id, state__in=[TrainingRun.State.QUEUED]).update(
        state=TrainingRun.State.RUNNING, started_at=now, message="starting")
    run = TrainingRun.objects.get(pk=run_id)
    if not claimed:
        return run
    try:
        trainer = {ModelKind.MF: train_mf, ModelKind.CLICK_DELAY: train_click_delay,
                   ModelKind.PUSH_WORTHINESS: train_push_worthiness}[run.kind]
        version = trainer(run=run, now=now)
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
    return run


# --- Matrix factorization --------------------------------------------------------------------

EVENT_WEIGHTS = {"read": 1.0, "open": 1.0, "click": 3.0}
_mf_cache: dict[int, tuple] = {}
_mf_lock = threading.Lock()


def _interactions(since: datetime):
    from apps.events.models import Event

    rows = Event.objects.filter(occurred_at__gte=since, type__in=list(EVENT_WEIGHTS)).values_list(
        "subscriber_id", "content_id", "type", "occurred_at")
    subs, cons, w, t = [], [], [], []
    for s, c, kind, at in rows.iterator(chunk_size=20000):
        subs.append(s), cons.append(c), w.append(EVENT_WEIGHTS[kind]), t.append(at.timestamp())
    return np.array(subs, dtype=np.int64), np.array(cons, dtype=np.int64), np.array(w), np.array(t)


def _sampled_auc(user_f, item_f, users, items, rng, seen=None) -> float:
    """Share of held-out (user, item) pairs that score above the same user with an item they
    never interacted with in training (the usual sampled AUC)."""
    if len(users) == 0:
        return 0.5
    neg = rng.integers(0, item_f.shape[0], len(users))
    if seen is not None:  # re-draw negatives that were training positives of that user (a few tries)
        for _ in range(10):
            hit = np.asarray(seen[users, neg]).ravel() > 0
            if not hit.any():
                break
            neg[hit] = rng.integers(0, item_f.shape[0], int(hit.sum()))
    pos_s = np.einsum("ij,ij->i", user_f[users], item_f[items])
    neg_s = np.einsum("ij,ij->i", user_f[users], item_f[neg])
    return float(np.mean(pos_s > neg_s) + 0.5 * np.mean(pos_s == neg_s))


def train_mf(*, run: TrainingRun | None = None, now: datetime | None = None, days: int = 30, factors: int = 32,
             min_interactions: int = 200) -> ModelVersion | None:
    """ALS on subscriber x content interactions of the last ``days``; 10% of them held out."""
    import scipy.sparse as sp

    from recsys.mf import ALSModel, MFParams

    now = now or clock.now()
    run and _progress(run, 0.05, "reading interactions")
    subs, cons, w, t = _interactions(now - timedelta(days=days))
    if len(subs) < min_interactions:
        run and _progress(run, 1.0, f"only {len(subs)} interactions; need {min_interactions}")
        return None
    sub_ids, u = np.unique(subs, return_inverse=True)
    con_ids, i = np.unique(cons, return_inverse=True)
    test = np.random.default_rng(len(t)).random(len(t)) < 0.1  # a seeded 10% of the pairs, held out
    train = ~test
    shape = (len(sub_ids), len(con_ids))
    matrix = sp.csr_matrix((w[train], (u[train], i[train])), shape=shape)
    matrix.sum_duplicates()
    run and _progress(run, 0.2, f"fitting ALS on {matrix.nnz} pairs ({shape[0]} subscribers x {shape[1]} contents)")
    # No more factors than the data can fill: with few contents a rank close to their number
    # memorizes who read what and generalizes nothing.
    factors = int(min(factors, max(4, min(shape) // 8)))
    params = MFParams(factors=factors, regularization=0.1)
    model = ALSModel(params).fit(matrix)
    run and _progress(run, 0.8, "evaluating on the held-out 10%")
    auc = _sampled_auc(model.user_factors, model.item_factors, u[test], i[test], np.random.default_rng(0), seen=matrix)
    old_auc = None
    active = active_version(ModelKind.MF)
    if active is not None:
        old, old_subs, old_cons = load_mf(active)
        # The old model scored in the new index space: unknown subscribers or contents score 0.
        uf = np.zeros((shape[0], old.user_factors.shape[1]), dtype=np.float32)
        itf = np.zeros((shape[1], old.item_factors.shape[1]), dtype=np.float32)
        su, si = positions(old_subs, sub_ids), positions(old_cons, con_ids)
        uf[su >= 0], itf[si >= 0] = old.user_factors[su[su >= 0]], old.item_factors[si[si >= 0]]
        old_auc = _sampled_auc(uf, itf, u[test], i[test], np.random.default_rng(0), seen=matrix)

    def build(directory: Path):
        model.save(directory / "model")
        np.savez(directory / "ids.npz", subscribers=sub_ids, contents=con_ids)

    version = model_version_register(kind=ModelKind.MF, build=build, run=run, now=now,
                                     metrics={"sampled_auc": round(auc, 4), "pairs": int(matrix.nnz),
                                              "subscribers": int(shape[0]), "contents": int(shape[1])},
                                     params={"factors": factors, "days": days})
    _promote_if_better(version, "sampled_auc", auc, old_auc, now)
    version.refresh_from_db()
    return version


def positions(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id in ``sorted_ids``, -1 where absent."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def load_mf(version: ModelVersion):
    """(ALSModel, subscriber ids, content ids) of a version, cached per process."""
    from recsys.mf import ALSModel

    with _mf_lock:
        hit = _mf_cache.get(version.pk)
        if hit is None:
            base = artifacts_dir() / version.artifact_path
            ids = np.load(base / "ids.npz")
            hit = (ALSModel.load(base / "model"), ids["subscribers"], ids["contents"])
            _mf_cache.clear()
            _mf_cache[version.pk] = hit
        return hit


# --- Click delay -------------------------------------------------------------------------------

def train_click_delay(*, run: TrainingRun | None = None, now: datetime | None = None, min_clicks: int = 100) -> ModelVersion | None:
    from recsys.ramp import ClickDelayModel

    from apps.delivery.models import Send

    now = now or clock.now()
    rows = Send.objects.filter(clicked_at__isnull=False, sent_at__isnull=False, sent_at__gte=now - timedelta(days=30)
                               ).values_list("sent_at", "clicked_at")
    delays = np.array([(c - s).total_seconds() for s, c in rows.iterator(chunk_size=20000)], dtype=float)
    delays = delays[delays >= 0]
    if len(delays) < min_clicks:
        run and _progress(run, 1.0, f"only {len(delays)} clicks; need {min_clicks}")
        return None
    model = ClickDelayModel.fit(delays)
    metrics = {"clicks": int(len(delays)), "median_s": round(float(np.median(delays)), 1),
               "share_by_20min": round(float(np.mean(delays <= 1200)), 4)}
    version = model_version_register(kind=ModelKind.CLICK_DELAY, build=None, metrics=metrics, params=model.to_dict(),
                                     run=run, now=now)
    # More clicks behind the curve is the better estimate.
    active = active_version(ModelKind.CLICK_DELAY)
    _promote_if_better(version, "clicks", float(len(delays)) + 0.5, float(active.metrics.get("clicks", 0)) if active else None, now)
    version.refresh_from_db()
    return version


# --- Push-worthiness ---------------------------------------------------------------------------

def train_push_worthiness(*, run: TrainingRun | None = None, now: datetime | None = None, min_campaigns: int = 30) -> ModelVersion | None:
    """LightGBM on past campaigns' decision-time features and achieved click improvement."""
    from scipy.stats import spearmanr

    from recsys.selection import PushWorthinessModel

    from apps.campaigns.models import Campaign
    from apps.contents.selectors import evaluation_inputs

    now = now or clock.now()
    done = list(Campaign.objects.filter(state__in=["done", "stopped"], expected_clicks__gt=1.0).select_related("content")
                .order_by("created_at"))
    if len(done) < min_campaigns:
        run and _progress(run, 1.0, f"only {len(done)} finished campaigns; need {min_campaigns}")
        return None
    run and _progress(run, 0.2, f"features of {len(done)} campaigns")
    feats = []
    for c in done:
        evaluated = c.content.evaluated_at or c.created_at
        feats.append(evaluation_inputs(contents=[c.content], now=evaluated)[c.content.pk])
    y = np.array([max(c.clicks, 0.5) / c.expected_clicks for c in done])
    split = int(len(done) * 0.8)
    model = PushWorthinessModel().fit(feats[:split], y[:split])
    pred = np.array([model.score(f)[0] for f in feats[split:]])
    rho = float(spearmanr(pred, y[split:]).statistic) if len(pred) > 2 else 0.0
    rho = 0.0 if np.isnan(rho) else rho
    old = None
    active = active_version(ModelKind.PUSH_WORTHINESS)
    if active is not None:
        from apps.contents.scoring import active_scorer

        scorer = active_scorer()
        old_pred = np.array([scorer.impl.score(f)[0] for f in feats[split:]])
        old = float(spearmanr(old_pred, y[split:]).statistic) if len(old_pred) > 2 else 0.0
        old = 0.0 if np.isnan(old) else old
    final = PushWorthinessModel().fit(feats, y)
    version = model_version_register(kind=ModelKind.PUSH_WORTHINESS, build=lambda d: final.save(d), run=run, now=now,
                                     metrics={"spearman": round(rho, 4), "campaigns": len(done)})
    _promote_if_better(version, "spearman", rho, old, now)
    version.refresh_from_db()
    return version
