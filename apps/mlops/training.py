"""Training of each kind of model from the product's own rows: matrix factorization on
subscriber x content interactions, the click-delay curve on sends and their clicks, the
push-worthiness model on finished campaigns. Each registers a version and promotes it only if it
beats the active one (``apps.mlops.services``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from apps.campaigns.models import Campaign
from apps.core import clock
from apps.delivery.models import Send
from apps.events.models import Event
from apps.mlops.features import evaluation_inputs
from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
from apps.mlops.selectors import active_version, load_mf
from apps.mlops.services import model_version_register, promote_if_better, training_progress
from recsys.ids import positions
from recsys.metrics import sampled_auc, spearman

EVENT_WEIGHTS = {"read": 1.0, "open": 1.0, "click": 3.0}


def _interactions(since: datetime):
    rows = Event.objects.filter(occurred_at__gte=since, type__in=list(EVENT_WEIGHTS)).values_list(
        "subscriber_id", "content_id", "type", "occurred_at")
    subs, cons, w, t = [], [], [], []
    for s, c, kind, at in rows.iterator(chunk_size=20000):
        subs.append(s), cons.append(c), w.append(EVENT_WEIGHTS[kind]), t.append(at.timestamp())
    return np.array(subs, dtype=np.int64), np.array(cons, dtype=np.int64), np.array(w), np.array(t)


def train_mf(*, run: TrainingRun | None = None, now: datetime | None = None, days: int = 30, factors: int = 32,
             min_interactions: int = 200) -> ModelVersion | None:
    """ALS on subscriber x content interactions of the last ``days``; 10% of them held out."""
    import scipy.sparse as sp

    from recsys.mf import ALSModel, MFParams

    now = now or clock.now()
    run and training_progress(run, 0.05, "reading interactions")
    subs, cons, w, t = _interactions(now - timedelta(days=days))
    if len(subs) < min_interactions:
        run and training_progress(run, 1.0, f"only {len(subs)} interactions; need {min_interactions}")
        return None
    sub_ids, u = np.unique(subs, return_inverse=True)
    con_ids, i = np.unique(cons, return_inverse=True)
    test = np.random.default_rng(len(t)).random(len(t)) < 0.1  # a seeded 10% of the pairs, held out
    train = ~test
    shape = (len(sub_ids), len(con_ids))
    matrix = sp.csr_matrix((w[train], (u[train], i[train])), shape=shape)
    matrix.sum_duplicates()
    run and training_progress(run, 0.2, f"fitting ALS on {matrix.nnz} pairs ({shape[0]} subscribers x {shape[1]} contents)")
    # No more factors than the data can fill: with few contents a rank close to their number
    # memorizes who read what and generalizes nothing.
    factors = int(min(factors, max(4, min(shape) // 8)))
    params = MFParams(factors=factors, regularization=0.1)
    model = ALSModel(params).fit(matrix)
    run and training_progress(run, 0.8, "evaluating on the held-out 10%")
    auc = sampled_auc(model.user_factors, model.item_factors, u[test], i[test], np.random.default_rng(0), seen=matrix)
    old_auc = None
    active = active_version(ModelKind.MF)
    if active is not None:
        old, old_subs, old_cons = load_mf(active)
        # The old model scored in the new index space: unknown subscribers or contents score 0.
        uf = np.zeros((shape[0], old.user_factors.shape[1]), dtype=np.float32)
        itf = np.zeros((shape[1], old.item_factors.shape[1]), dtype=np.float32)
        su, si = positions(old_subs, sub_ids), positions(old_cons, con_ids)
        uf[su >= 0], itf[si >= 0] = old.user_factors[su[su >= 0]], old.item_factors[si[si >= 0]]
        old_auc = sampled_auc(uf, itf, u[test], i[test], np.random.default_rng(0), seen=matrix)

    def build(directory: Path):
        model.save(directory / "model")
        np.savez(directory / "ids.npz", subscribers=sub_ids, contents=con_ids)

    version = model_version_register(kind=ModelKind.MF, build=build, run=run, now=now,
                                     metrics={"sampled_auc": round(auc, 4), "pairs": int(matrix.nnz),
                                              "subscribers": int(shape[0]), "contents": int(shape[1])},
                                     params={"factors": factors, "days": days})
    promote_if_better(version, "sampled_auc", auc, old_auc, now)
    version.refresh_from_db()
    return version


# --- Click delay -------------------------------------------------------------------------------

def train_click_delay(*, run: TrainingRun | None = None, now: datetime | None = None, min_clicks: int = 100) -> ModelVersion | None:
    from recsys.ramp import ClickDelayModel

    now = now or clock.now()
    # A send of the last hours shows only its fast clicks so far (right truncation): each click
    # comes with how long its send had been out, and the Lynden-Bell fit corrects for it.
    rows = Send.objects.filter(clicked_at__isnull=False, clicked_at__lte=now, sent_at__isnull=False,
                               sent_at__gte=now - timedelta(days=30)).values_list("sent_at", "clicked_at")
    pairs = np.array([((c - s).total_seconds(), (now - s).total_seconds()) for s, c in rows.iterator(chunk_size=20000)],
                     dtype=float).reshape(-1, 2)
    pairs = pairs[pairs[:, 0] >= 0]
    delays, truncation = pairs[:, 0], pairs[:, 1]
    if len(delays) < min_clicks:
        run and training_progress(run, 1.0, f"only {len(delays)} clicks; need {min_clicks}")
        return None
    model = ClickDelayModel.fit_truncated(delays, truncation)
    metrics = {"clicks": int(len(delays)), "median_s": round(float(model.quantile(0.5)), 1),
               "share_by_20min": round(float(model.cdf(1200.0)), 4), "fit": "lynden_bell",
               "observed_median_s": round(float(np.median(delays)), 1),
               "truncated_share": round(float(np.mean(truncation < 48 * 3600.0)), 4)}
    version = model_version_register(kind=ModelKind.CLICK_DELAY, build=None, metrics=metrics, params=model.to_dict(),
                                     run=run, now=now)
    # More clicks behind the curve is the better estimate.
    active = active_version(ModelKind.CLICK_DELAY)
    promote_if_better(version, "clicks", float(len(delays)) + 0.5, float(active.metrics.get("clicks", 0)) if active else None, now)
    version.refresh_from_db()
    return version


# --- Click model ---------------------------------------------------------------------------------

def train_click(*, run: TrainingRun | None = None, now: datetime | None = None, days: int = 30, horizon_hours: float = 24.0,
                test_share: float = 0.2, min_clicks: int = 50, min_test_clicks: int = 20) -> ModelVersion | None:
    """LightGBM click model on the product's own sends: each row is what the ranker saw of a
    recipient when it chose them (``WaveFeatures``), the label whether they clicked within
    ``horizon_hours`` of the send. Only sends whose horizon is over by ``now`` count (a send of
    the last hours has not had its chance to be clicked yet). Judged on time: the test rows are
    the latest ``test_share`` of those that came after the active model's data, so neither model
    trained on them; the challenger trains on everything before them and is promoted if its AUC
    there beats both chance and the active model's (before any: the affinity order's)."""
    from apps.campaigns.models import Wave
    from apps.campaigns.selectors import wave_features
    from recsys.click import CLICK_FEATURES, ClickModel, ClickParams
    from recsys.metrics import auc as roc_auc

    now = now or clock.now()
    horizon = timedelta(hours=horizon_hours)
    run and training_progress(run, 0.05, "reading the waves' features and clicks")
    waves = list(Wave.objects.filter(features__isnull=False, sent_at__isnull=False, sent_at__gte=now - timedelta(days=days),
                                     sent_at__lte=now - horizon).select_related("campaign").order_by("sent_at", "pk"))
    kept = wave_features(wave_ids=[w.pk for w in waves])
    outcome: dict[tuple[int, int], bool] = {}  # (wave, subscriber) -> clicked within the horizon
    for wave_id, sub, at, clicked in Send.objects.filter(
            wave_id__in=list(kept), state=Send.State.SENT, sent_at__lte=now - horizon).values_list(
            "wave_id", "subscriber_id", "sent_at", "clicked_at").iterator(chunk_size=20000):
        outcome[wave_id, sub] = clicked is not None and clicked - at <= horizon
    xs, ys, groups, times = [], [], [], []
    for wave in waves:
        if wave.pk not in kept or kept[wave.pk][2] != list(CLICK_FEATURES):
            continue
        ids, x, _ = kept[wave.pk]
        keep = np.array([(wave.pk, int(i)) in outcome for i in ids], dtype=bool)
        if not keep.any():
            continue
        xs.append(x[keep])
        ys.append(np.array([outcome[wave.pk, int(i)] for i in ids[keep]], dtype=bool))
        groups.append(np.full(int(keep.sum()), wave.campaign.content_id, dtype=np.int64))
        times.append(np.full(int(keep.sum()), wave.sent_at.timestamp()))
    if not xs:
        run and training_progress(run, 1.0, "no wave with features has finished its click horizon")
        return None
    x, y, g, t = np.vstack(xs), np.concatenate(ys), np.concatenate(groups), np.concatenate(times)
    if y.sum() < min_clicks:
        run and training_progress(run, 1.0, f"only {int(y.sum())} clicks on sends with features; need {min_clicks}")
        return None
    active = active_version(ModelKind.CLICK)
    # The test rows are the latest share of what came after the active model's data: neither
    # model trained on them, and the challenger trains on everything before them.
    seen = float(active.params.get("data_until", -np.inf)) if active is not None else -np.inf
    new = t > seen
    if not new.any():
        run and training_progress(run, 1.0, "no send with features has matured since the active click model")
        return None
    split = float(np.quantile(t[new], 1 - test_share))
    test = t > split
    if y[test].sum() < min_test_clicks or y[~test].sum() < min_clicks or y[~test].all():
        run and training_progress(run, 1.0, f"{int(y[test].sum())} clicks after the split: need {min_test_clicks} "
                                            f"that neither model trained on")
        return None
    run and training_progress(run, 0.3, f"fitting on {int((~test).sum())} sends ({int(y[~test].sum())} clicks)")
    model = ClickModel(ClickParams(num_threads=1)).fit(x[~test], y[~test], g[~test])
    new_auc = roc_auc(y[test], model.predict_proba(x[test]))
    # Against the active model, or, before any, against the order waves have without one (the
    # affinity shortlist: MF plus look-alike, standardised): a click model is used only once it
    # ranks the held-out sends better than what it would replace.
    if active is not None:
        from apps.mlops.selectors import load_click

        old_auc = roc_auc(y[test], load_click(active).predict_proba(x[test]))
    else:
        col = {name: n for n, name in enumerate(CLICK_FEATURES)}
        old_auc = roc_auc(y[test], x[test, col["mf_z"]] + x[test, col["lookalike_z"]])
    metrics = {"auc": round(float(new_auc), 4), "sends": int((~test).sum()), "clicks": int(y[~test].sum()),
               "test_sends": int(test.sum()), "test_clicks": int(y[test].sum()),
               "baseline_auc": None if old_auc is None or np.isnan(old_auc) else round(float(old_auc), 4),
               "holdout_auc": round(float(model.metrics.get("holdout_auc", float("nan"))), 4),
               "holdout_ece": round(float(model.metrics.get("holdout_ece", float("nan"))), 5)}
    version = model_version_register(kind=ModelKind.CLICK, build=lambda d: model.save(d / "model"), run=run, now=now,
                                     metrics=metrics, params={"days": days, "horizon_hours": horizon_hours,
                                                              "data_until": split})
    # never promoted below chance, whatever it replaces
    bar = max(0.5, 0.0 if np.isnan(old_auc) else float(old_auc))
    promote_if_better(version, "auc", float(new_auc), bar, now)
    version.refresh_from_db()
    return version


# --- Push-worthiness ---------------------------------------------------------------------------

def train_push_worthiness(*, run: TrainingRun | None = None, now: datetime | None = None, min_campaigns: int = 30) -> ModelVersion | None:
    """LightGBM on past campaigns' decision-time features and achieved click improvement."""
    from recsys.selection import PushWorthinessModel

    now = now or clock.now()
    done = list(Campaign.objects.filter(state__in=["done", "stopped"], expected_clicks__gt=1.0).select_related("content")
                .order_by("created_at"))
    if len(done) < min_campaigns:
        run and training_progress(run, 1.0, f"only {len(done)} finished campaigns; need {min_campaigns}")
        return None
    run and training_progress(run, 0.2, f"features of {len(done)} campaigns")
    feats = []
    for c in done:
        evaluated = c.content.evaluated_at or c.created_at
        feats.append(evaluation_inputs(contents=[c.content], now=evaluated)[c.content.pk])
    y = np.array([max(c.clicks, 0.5) / c.expected_clicks for c in done])
    split = int(len(done) * 0.8)
    model = PushWorthinessModel().fit(feats[:split], y[:split])
    pred = np.array([model.score(f)[0] for f in feats[split:]])
    rho = spearman(pred, y[split:]) if len(pred) > 2 else 0.0
    rho = 0.0 if np.isnan(rho) else rho
    old = None
    active = active_version(ModelKind.PUSH_WORTHINESS)
    if active is not None:
        from apps.mlops.scoring import active_scorer

        scorer = active_scorer()
        old_pred = np.array([scorer.impl.score(f)[0] for f in feats[split:]])
        old = spearman(old_pred, y[split:]) if len(old_pred) > 2 else 0.0
        old = 0.0 if np.isnan(old) else old
    final = PushWorthinessModel().fit(feats, y)
    version = model_version_register(kind=ModelKind.PUSH_WORTHINESS, build=lambda d: final.save(d), run=run, now=now,
                                     metrics={"spearman": round(rho, 4), "campaigns": len(done)})
    promote_if_better(version, "spearman", rho, old, now)
    version.refresh_from_db()
    return version


TRAINERS = {ModelKind.MF: train_mf, ModelKind.CLICK: train_click, ModelKind.CLICK_DELAY: train_click_delay,
            ModelKind.PUSH_WORTHINESS: train_push_worthiness}
