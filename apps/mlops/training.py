"""Training of each kind of model from the product's own rows: matrix factorization on
subscriber x content interactions, the click-delay curve on sends and their clicks, the
push-worthiness model on finished campaigns. Each registers a version and promotes it only if it
beats the active one (``apps.mlops.services``)."""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings

from apps.campaigns.models import Campaign
from apps.core import clock
from apps.mlops import readers
from apps.mlops.features import evaluation_inputs
from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
from apps.mlops.selectors import active_version
from apps.mlops.services import (
    artifacts_dir,
    keep_active,
    model_version_activate,
    model_version_register,
    promote_if_better,
    training_progress,
)
from recsys.activity import category_profiles
from recsys.metrics import spearman

EVENT_WEIGHTS = {"read": 1.0, "open": 1.0, "click": 3.0}
IPS_CLIP = 20.0  # the largest inverse-propensity weight a logged send gets


def ml_threads() -> int:
    """Threads a training run may use (``PUSHADMIN["ML_THREADS"]``)."""
    return int(settings.PUSHADMIN["ML_THREADS"])


_CHUNK = 1 << 20  # elements an elementwise step works on at a time


def _ids_and_positions(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What ``np.unique(ids, return_inverse=True)`` gives, the positions as int32: the distinct
    ids in ascending order and each id's position among them. Ids spanning no more values than
    there are ids (database keys usually do) go through a table of that span, in a pass without
    a sort or the sort's copies of every id; others through ``np.unique``."""
    ids = np.asarray(ids)
    if not len(ids):
        return np.zeros(0, ids.dtype), np.zeros(0, np.int32)
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo + 1 > len(ids) or len(ids) >= 2**31:
        distinct, inverse = np.unique(ids, return_inverse=True)
        return distinct, inverse.reshape(-1).astype(np.int32)
    seen = np.zeros(hi - lo + 1, bool)
    for start in range(0, len(ids), _CHUNK):
        seen[ids[start:start + _CHUNK] - lo] = True
    distinct = (np.flatnonzero(seen) + lo).astype(ids.dtype, copy=False)
    table = np.cumsum(seen, dtype=np.int32)
    table -= 1
    del seen
    out = np.empty(len(ids), np.int32)
    for start in range(0, len(ids), _CHUNK):
        out[start:start + _CHUNK] = table[ids[start:start + _CHUNK] - lo]
    return distinct, out


MAX_CATEGORIES = 256  # the most read categories a client's profiles keep (the others count as none)


def _item_categories(client, con_ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each content position's category column (-1: none, or beyond the ``MAX_CATEGORIES``
    most frequent) and the categories' names, in column order."""
    from apps.contents.models import Content

    if not len(con_ids):
        return np.zeros(0, np.int64), []
    got = dict(Content.objects.filter(client=client, pk__gte=int(con_ids.min()), pk__lte=int(con_ids.max()))
               .exclude(category="").values_list("pk", "category"))
    of = [got.get(int(c), "") for c in con_ids.tolist()]
    names = sorted(name for name, _ in Counter(name for name in of if name).most_common(MAX_CATEGORIES))
    column = {name: n for n, name in enumerate(names)}
    return np.array([column.get(name, -1) for name in of], dtype=np.int64), names


@dataclass(frozen=True)
class MFConfig:
    """What a matrix-factorization version is trained with: the window of events read, how fast
    an event's confidence halves with age (a read 180 days old still gives a vector to someone
    inactive since then), and the rank."""

    days: int = 180
    half_life_days: float = 30.0
    factors: int = 32
    regularization: float = 0.1

    @classmethod
    def of(cls, params: dict) -> MFConfig:
        return cls(days=int(params.get("days", 30)), half_life_days=float(params.get("half_life_days", 0.0)),
                   factors=int(params.get("factors_asked", params.get("factors", 32))),
                   regularization=float(params.get("regularization", 0.1)))

    def matrix(self, u, i, w, t, shape, now: float, *, in_place: bool = False):
        """The confidence-weighted subscriber x content matrix of the window before ``now``.
        ``in_place``: ``w`` becomes the decayed weights when the whole read is the window (no
        second array of weights; the caller's no longer holds the events' own)."""
        import scipy.sparse as sp

        keep = (t >= now - self.days * 86400.0) & (t <= now)
        if keep.all():  # no copy of every array when the whole read is the window
            weight = w if in_place or self.half_life_days <= 0 else np.empty_like(w)
        else:
            u, i, w, t = u[keep], i[keep], w[keep], t[keep]
            weight = w
        del keep
        if self.half_life_days > 0:
            # w * 2^((t - now) / half-life), a chunk at a time: no event-sized temporaries
            scale = self.half_life_days * 86400.0
            for lo in range(0, len(t), _CHUNK):
                x = t[lo:lo + _CHUNK] - now
                x /= scale
                np.exp2(x, out=x)
                np.multiply(w[lo:lo + _CHUNK], x, out=weight[lo:lo + _CHUNK])
        matrix = sp.csr_matrix((weight, (u, i)), shape=shape)
        matrix.sum_duplicates()  # one subscriber's several events on a content: one cell
        return matrix

    def fit_matrix(self, matrix, copy: bool = True):
        """ALS on ``matrix``: (model, factors used); ``copy=False`` turns ``matrix`` into the
        confidences in place."""
        from recsys.mf import ALSModel, MFParams

        # No more factors than the data can fill: with few contents a rank close to their number
        # memorizes who read what and generalizes nothing.
        factors = int(min(self.factors, max(4, min(matrix.shape) // 8)))
        params = MFParams(factors=factors, regularization=self.regularization, num_threads=ml_threads())
        return ALSModel(params).fit(matrix, copy=copy), factors

    def fit(self, u, i, w, t, shape, now: float):
        """ALS on the events of the window before ``now`` (positions ``u``, ``i`` in ``shape``)."""
        matrix = self.matrix(u, i, w, t, shape, now)
        model, factors = self.fit_matrix(matrix)
        return model, matrix, factors


def _mf_time_split(configs: dict[str, MFConfig], u, i, t, w, shape, now: float, *, k: int, delay: float,
                   horizon: float, min_cases: int = 5, rankings: bool = False,
                   categories: tuple[np.ndarray, int] | None = None) -> dict:
    """Each configuration trained on the events before a split time T and judged on the contents
    first read after T (``recsys.holdout``): what neither saw. T comes before the latest 20% of the
    contents whose decision and horizon are over by now (at least 30% of the events before it)."""
    from recsys.holdout import lift_at_k, paired_difference, split_cases

    latest = now - delay - horizon
    first_seen = np.full(shape[1], np.inf)
    np.minimum.at(first_seen, i, t)
    # T: before the latest 20% of the contents whose horizon is over (so that they were new after it)
    done = first_seen[first_seen <= latest]
    if len(done) < min_cases or not len(t):
        return {"cases": 0, "why": f"{len(done)} contents have had their horizon, need {min_cases}"}
    split = float(np.quantile(done, 0.8)) - 1.0
    if np.mean(t <= split) < 0.3:
        return {"cases": 0, "why": "too few events before the split"}
    cases = split_cases(u, i, t, n_users=shape[0], split=split, delay=delay, horizon=horizon, end=now)
    out = {"split": split, "cases": len(cases), "k": k, "horizon_h": round(horizon / 3600, 2)}
    if len(cases) < min_cases:
        out["why"] = f"{len(cases)} contents after the split, need {min_cases}"
        return out
    lifts = {}
    for name, config in configs.items():
        same = next((n for n, c in configs.items() if n in lifts and c == config), None)
        if same is not None:  # the same configuration on the same events: the same model
            lifts[name] = lifts[same]
        else:
            model, _, _ = config.fit(u, i, w, t, shape, split)
            if rankings and name == "challenger":
                inputs = _rankings_inputs(u, i, t, shape, split, delay=delay, horizon=horizon, categories=categories)
                out["rankings"], lifts[name] = _rankings_check(model, cases, inputs, split, k=k, categories=categories)
            else:
                lifts[name] = lift_at_k(model, cases, k=k)
        out[f"{name}_lift"] = round(float(lifts[name].mean()), 4)
    if "champion" in lifts:
        diff, (lo, hi) = paired_difference(lifts["challenger"], lifts["champion"], np.random.default_rng(0))
        out["diff"], out["diff_ci"] = round(diff, 4), [round(lo, 4), round(hi, 4)]
    return out


def _mf_refresh_check(active: ModelVersion, events: list, sub_ids, shape, now: float, *, k: int, delay: float,
                      horizon: float, min_cases: int = 5, rankings: bool = False,
                      categories: tuple[np.ndarray, int] | None = None) -> dict:
    """The same configuration on newer events: the active version itself judged on the contents
    that came after it was trained (none of which it saw), with no model to train for it.
    ``events``: [u, i, t], emptied once the cases are drawn from them (when the caller's was the
    last reference, they are gone before the active version is loaded)."""
    from apps.mlops.selectors import load_mf
    from recsys.holdout import lift_at_k, split_cases
    from recsys.ids import positions

    trained_until = float(active.params.get("trained_until", active.created_at.timestamp()))
    u, i, t = events
    events.clear()
    cases = split_cases(u, i, t, n_users=shape[0], split=trained_until, delay=delay, horizon=horizon, end=now)
    inputs = _rankings_inputs(u, i, t, shape, trained_until, delay=delay, horizon=horizon, categories=categories) \
        if rankings and len(cases) >= min_cases else None
    del u, i, t
    out = {"split": trained_until, "cases": len(cases), "k": k, "horizon_h": round(horizon / 3600, 2), "refresh": True}
    if len(cases) < min_cases:
        out["why"] = f"{len(cases)} contents after the split, need {min_cases}"
        return out
    old, old_subs, _ = load_mf(active)
    users = np.zeros((shape[0], old.user_factors.shape[1]), dtype=np.float32)
    where = positions(old_subs, sub_ids)
    users[where >= 0] = old.user_factors[where[where >= 0]]
    if inputs is not None:
        out["rankings"], lifts = _rankings_check(old, cases, inputs, trained_until, k=k, user_factors=users,
                                                 categories=categories)
    else:
        lifts = lift_at_k(old, cases, k=k, user_factors=users)
    lift = round(float(lifts.mean()), 4)
    return {**out, "challenger_lift": lift, "champion_lift": lift}


RANKINGS_RECHECK_DAYS = 7  # how long a client's check of the single rankings stands before it is redone


def _rankings_previous(client, active: ModelVersion | None, now: datetime) -> tuple[dict | None, bool]:
    """(The active MF version's check of the single rankings, whether to check again with this
    training): again when there is none or it is older than ``RANKINGS_RECHECK_DAYS``; never
    once the client's click model orders the waves (no check needed then)."""
    if active_version(client, ModelKind.CLICK) is not None:
        return None, False
    previous = (active.metrics or {}).get("rankings") if active is not None else None
    return previous, not previous or now.timestamp() - float(previous.get("checked_at", 0)) >= RANKINGS_RECHECK_DAYS * 86400


def _rankings_inputs(u, i, t, shape, at: float, *, delay: float, horizon: float,
                     categories: tuple[np.ndarray, int] | None = None) -> tuple:
    """Each user position's long-horizon activity (decayed distinct active days), usual rate and
    category profile (``recsys.activity.category_profiles``; None without ``categories``: each
    content position's category column and their number) as of ``at``, from the events up to
    then: what ``_rankings_check`` ranks and divides by."""
    from recsys.activity import long_horizon_activity
    from recsys.holdout import usual_rates

    before = t <= at
    _, active_days = long_horizon_activity(u[before], t[before], n_users=shape[0], now=at)
    profiles = None
    if categories is not None:
        item_category, n = categories
        # (events after ``at`` weigh nothing there: no copy of the events before it)
        profiles = category_profiles(u, i, t, now=at, n_users=shape[0], item_category=item_category, n_categories=n)
    return active_days, usual_rates(u, i, t, n_users=shape[0], until=at, delay=delay, horizon=horizon), profiles


def _rankings_check(model, cases, inputs: tuple, at: float, *, k: int, user_factors=None,
                    categories: tuple[np.ndarray, int] | None = None) -> tuple[dict, np.ndarray]:
    """Which ranking a client's waves should use until its click model is trained: the affinity
    blend and each single component (``recsys.audience.SINGLE_RANKINGS``) on the same held-out
    contents, with everything as of ``at`` (the split: the model, each person's long-horizon
    activity and usual rate). Judged by improvement@k (hits of the top over the hits its usual
    rates expect: the product's own measure). Another ranking replaces the blend only when its
    improvement is higher with a paired interval above 0. Returns (the summary, the blend's
    lift@k per case)."""
    from recsys.holdout import paired_difference, rankings_check

    active_days, rates, profiles = inputs
    got = rankings_check(model, cases, k=k, activity=active_days, rates=rates, user_factors=user_factors,
                         category_profiles=profiles, item_category=None if categories is None else categories[0])
    by = {name: {"lift": round(float(v["lift"].mean()), 4),
                 "improvement": round(float(np.nanmean(v["improvement"])), 4) if np.isfinite(v["improvement"]).any() else None}
          for name, v in got.items()}
    out = {"split": at, "cases": len(cases), "k": k, "by": by, "chosen": "affinity"}
    rng = np.random.default_rng(0)
    base = got["affinity"]["improvement"]
    best = None
    for name, v in got.items():
        ok = np.isfinite(v["improvement"]) & np.isfinite(base)
        if name == "affinity" or ok.sum() < 2:
            continue
        diff, (lo, hi) = paired_difference(v["improvement"][ok], base[ok], rng)
        by[name]["diff"], by[name]["diff_ci"] = round(diff, 4), [round(lo, 4), round(hi, 4)]
        if lo > 0 and (best is None or diff > by[best]["diff"]):
            best = name
    if best is not None:
        out["chosen"] = best
    return out, got["affinity"]["lift"]


def train_mf(*, client, run: TrainingRun | None = None, now: datetime | None = None, config: MFConfig | None = None,
             min_interactions: int = 200) -> ModelVersion | None:
    """ALS on the client's subscriber x content interactions (``MFConfig``: 180 days, confidence
    halved every 30 days), trained on everything up to ``now`` and promoted by a time split.

    Promotion: a new configuration (challenger) and the active version's (champion) are both
    trained on the events before a split time and judged on the contents that came after it,
    by lift@k of the waves' ranking (k: the client's first wave), paired by content; the
    challenger is promoted only if it ranks those contents better. The same configuration on
    newer events (the nightly refresh) is promoted if the active version, judged on the contents
    that came after it was trained, ranks them better than random: its configuration still works
    on what it never saw, and the refresh adds the newest events (no extra model is trained). The
    first version needs to beat random on a split, or, before any content after a split has had
    its horizon, goes live on nothing better than the rule-based ranker it replaces (said so)."""
    # the rows the newest version read are kept with it: the database gives only the newer ones
    # (apps.mlops.kept); this training's are kept for the next, moved into its version's folder
    staging = artifacts_dir() / "staging" / uuid.uuid4().hex
    try:
        return _train_mf(client=client, run=run, now=now or clock.now(), config=config or MFConfig(),
                         min_interactions=min_interactions, staging=staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _train_mf(*, client, run, now, config, min_interactions, staging):
    from apps.core.selectors import policy_of
    from apps.mlops import kept

    active = active_version(client, ModelKind.MF)
    champion = MFConfig.of(active.params) if active is not None else None
    days = max(config.days, champion.days if champion else 0)
    clock_s = time.perf_counter
    seconds, started = {}, clock_s()
    run and training_progress(run, 0.05, "reading interactions")
    got, read = kept.interactions(client=client, since=now - timedelta(days=days), until=now, weights=EVENT_WEIGHTS,
                                  streams=ml_threads(), previous=kept.newest(client), keep=staging)
    subs, cons, w, t = got.subscribers, got.contents, got.weights, got.times
    del got
    seconds["read"] = clock_s() - started
    if len(subs) < min_interactions:
        run and training_progress(run, 1.0, f"only {len(subs)} interactions; need {min_interactions}")
        return None
    started = clock_s()
    # positions (int32: half the memory of the ids), each array of ids gone once it has them
    sub_ids, u = _ids_and_positions(subs)
    del subs
    con_ids, i = _ids_and_positions(cons)
    del cons
    shape = (len(sub_ids), len(con_ids))
    # each subscriber's long-horizon mix of categories (before the weights are decayed in place)
    item_category, category_names = _item_categories(client, con_ids)
    profiles = category_profiles(u, i, t, now=now.timestamp(), n_users=shape[0], item_category=item_category,
                                 n_categories=len(category_names), weights=w)
    refresh = champion == config  # the events' weights serve only this matrix: decayed in place
    matrix = config.matrix(u, i, w, t, shape, now.timestamp(), in_place=refresh)
    if refresh:
        del w
    pairs, coverage = int(matrix.nnz), float(np.mean(np.diff(matrix.indptr) > 0))
    seconds["build"] = clock_s() - started
    # Judged first, on the events (the time split or the refresh check need them, not the new
    # model); then the events go and the fit has the memory to itself.
    policy = policy_of(client.pk)
    run and training_progress(run, 0.2, "comparing configurations on a time split")
    started = clock_s()
    judge = dict(k=int(policy.first_wave_size), delay=policy.evaluation_delay.total_seconds(),
                 horizon=policy.content_lifetime.total_seconds(), categories=(item_category, len(category_names)))
    n_events = len(u)
    previous, judge["rankings"] = _rankings_previous(client, active, now)
    if refresh:  # the active version is the held-out evidence for its configuration
        events = [u, i, t]
        del u, i, t
        split = _mf_refresh_check(active, events, sub_ids, shape, now.timestamp(), **judge)
    else:
        configs = {"challenger": config, **({"champion": champion} if champion is not None else {})}
        split = _mf_time_split(configs, u, i, t, w, shape, now.timestamp(), **judge)
        del u, i, t, w
    # a new check, or the last one (kept, too, when no held-out content allowed a new one)
    rankings = {**split["rankings"], "checked_at": now.timestamp()} if "rankings" in split else previous
    seconds["evaluate"] = clock_s() - started
    run and training_progress(run, 0.4, f"fitting ALS on {n_events} events ({shape[0]} subscribers x {shape[1]} contents)")
    started = clock_s()
    model, factors = config.fit_matrix(matrix, copy=False)
    del matrix
    seconds["fit"] = clock_s() - started
    started = clock_s()

    def build(directory: Path):
        model.save(directory / "model")
        np.savez(directory / "ids.npz", subscribers=sub_ids, contents=con_ids)
        np.savez(directory / "categories.npz", profiles=profiles, names=np.array(category_names, dtype=str))
        if staging.exists():
            staging.rename(directory / kept.KEPT)

    version = model_version_register(
        client=client, kind=ModelKind.MF, build=build, run=run, now=now,
        metrics={"lift_at_k": split.get("challenger_lift"), "pairs": pairs, "subscribers": int(shape[0]),
                 "read": read,
                 "contents": int(shape[1]), "subscriber_coverage": round(coverage, 4),
                 **({"rankings": rankings} if rankings else {})},
        params={"factors": factors, "factors_asked": config.factors, "days": config.days,
                "half_life_days": config.half_life_days, "regularization": config.regularization,
                "trained_until": now.timestamp()})
    seconds["save"] = clock_s() - started
    kept.forget_all_but(version)
    ModelVersion.objects.filter(pk=version.pk).update(
        metrics={**version.metrics, "seconds": {k: round(v, 3) for k, v in seconds.items()}})
    version.refresh_from_db()
    new = split.get("challenger_lift")
    evidence = {"window": {k: split[k] for k in ("split", "cases", "k", "horizon_h", "refresh") if k in split},
                **({"diff": split["diff"], "diff_ci": split["diff_ci"]} if "diff" in split else {})}
    if new is None:  # no content after a split has had its horizon yet
        why = split.get("why", "")
        if active is None:
            model_version_activate(version=version, now=now, reason=f"first version, not yet judged on held-out contents; {why}")
        else:
            keep_active(version, now, note=f"not activated: no held-out contents to judge it on; {why}",
                        numbers={**evidence, "why": why})
    else:
        # the same configuration on newer events: promoted unless it ranks worse than the champion there
        promote_if_better(version, "lift_at_k", new, split.get("champion_lift"), now, evidence=evidence,
                          ties=champion == config, floor=1.0)
    version.refresh_from_db()
    return version


# --- Click delay -------------------------------------------------------------------------------

def train_click_delay(*, client, run: TrainingRun | None = None, now: datetime | None = None,
                      min_clicks: int = 100, platform_min_clicks: int = 200, days: int = 30) -> ModelVersion | None:
    """The client's click-delay curves, per platform, from its sends of the last ``days``.

    Every delivered send counts with how long it has been observable (``now - sent_at``): a send
    of the last hours shows only its fast clicks so far, and the fit (``PlatformDelays.fit``,
    Lynden-Bell on the clicks with their follow-up) corrects for it. A platform with
    ``platform_min_clicks`` clicks gets its own curve, the others the pooled one."""
    from recsys.ramp import PlatformDelays

    now = now or clock.now()
    got = readers.sends(client=client, since=now - timedelta(days=days), until=now)
    at = now.timestamp()
    seen = np.isfinite(got.clicked) & (got.clicked <= at)
    ok = ~(seen & (got.clicked < got.sent))  # a click before its push: bad data, not a delay
    platforms = got.platforms[ok]
    follow_up = at - got.sent[ok]
    delay = np.where(seen, got.clicked - got.sent, np.nan)[ok]
    clicks = int(np.isfinite(delay).sum())
    if clicks < min_clicks:
        run and training_progress(run, 1.0, f"only {clicks} clicks; need {min_clicks}")
        return None
    model = PlatformDelays.fit(platforms, follow_up, delay, min_clicks=platform_min_clicks)
    metrics = {"clicks": clicks, "sends": len(delay), "median_s": round(float(model.pooled.quantile(0.5)), 1),
               "share_by_20min": round(float(model.pooled.cdf(1200.0)), 4), "fit": "lynden_bell",
               "observed_median_s": round(float(np.nanmedian(delay)), 1),
               "truncated_share": round(float(np.mean(follow_up < 48 * 3600.0)), 4)}
    for p in model.platforms:
        metrics[f"median_s_{p}"] = round(float(model.quantile(0.5, p)), 1)
    version = model_version_register(client=client, kind=ModelKind.CLICK_DELAY, build=None, metrics=metrics,
                                     params=model.to_dict(), run=run, now=now)
    # More clicks behind the curve is the better estimate (as many: the newer data wins).
    active = active_version(client, ModelKind.CLICK_DELAY)
    promote_if_better(version, "clicks", float(clicks), float(active.metrics.get("clicks", 0)) if active else None, now,
                      ties=True)
    version.refresh_from_db()
    return version


# --- Click model ---------------------------------------------------------------------------------

def train_click(*, client, run: TrainingRun | None = None, now: datetime | None = None, days: int = 30,
                horizon_hours: float = 24.0, min_follow_up_hours: float = 1.0, test_share: float = 0.2,
                min_clicks: int = 50, min_test_clicks: int = 20) -> ModelVersion | None:
    """LightGBM click model on the client's own sends: each row is what the ranker saw of a
    recipient when it chose them (``WaveFeatures``), the label whether they clicked within
    ``horizon_hours`` of the send.

    Late clicks: a send out for ``min_follow_up_hours`` or more counts, but one not clicked yet
    is only partly a "no": it weighs the share of a clicker's clicks that have arrived by its age
    (the client's delay curve), so young sends neither teach that clicks are rare nor wait a day.
    Selection: each row also weighs 1 / its chance of having been chosen (the exploration slice
    and the probes stand for the many the ranker passed over; clipped at ``IPS_CLIP``).

    Judged on time: the test rows are the latest waves, at least ``test_share`` of the rows that
    came after the active model's data and ``min_test_clicks`` clicks, so neither model trained
    on them; the challenger trains on everything before them and is promoted if its weighted AUC
    there beats both chance and the active model's (before any: the affinity order's)."""
    from apps.campaigns.models import Wave
    from apps.campaigns.selectors import wave_features
    from apps.mlops.selectors import click_delay_model
    from recsys.click import CLICK_FEATURES, ClickModel, ClickParams, feature_columns
    from recsys.ids import positions
    from recsys.metrics import auc as roc_auc

    now = now or clock.now()
    horizon, follow = timedelta(hours=horizon_hours), timedelta(hours=min(min_follow_up_hours, horizon_hours))
    delay = click_delay_model(client)
    run and training_progress(run, 0.05, "reading the waves' features and clicks")
    waves = list(Wave.objects.filter(campaign__client=client, features__isnull=False, sent_at__isnull=False,
                                     sent_at__gte=now - timedelta(days=days), sent_at__lte=now - follow)
                 .select_related("campaign").order_by("sent_at", "pk"))
    kept = wave_features(wave_ids=[w.pk for w in waves])
    h = horizon.total_seconds()
    got = readers.sends(waves=kept, until=now - follow)
    age = np.minimum(now.timestamp() - got.sent, h)
    clicked = got.clicked
    hit = np.isfinite(clicked) & (clicked <= now.timestamp()) & (clicked - got.sent <= h)
    seen = np.where(hit, 1.0, np.asarray(delay.cdf(age, platform=got.platforms))
                    / np.maximum(np.asarray(delay.cdf(np.full(len(age), h), platform=got.platforms)), 1e-9))
    chance = np.where(np.isfinite(got.propensity) & (got.propensity > 0), got.propensity, 1.0)
    weight = np.clip(seen, 1e-3, 1.0) * np.clip(1.0 / chance, 1.0, IPS_CLIP)
    # each wave's sends sorted by subscriber, so a wave's kept rows find their outcomes by lookup
    by = np.lexsort((got.subscribers, got.waves))
    send_wave, send_sub, send_hit, send_weight = got.waves[by], got.subscribers[by], hit[by], weight[by]
    xs, ys, groups, times, weights = [], [], [], [], []
    for wave in waves:
        if wave.pk not in kept:
            continue
        ids, x, names = kept[wave.pk]
        x = feature_columns(x, names, CLICK_FEATURES)
        if x is None:
            continue
        lo, hi = np.searchsorted(send_wave, wave.pk, "left"), np.searchsorted(send_wave, wave.pk, "right")
        at = positions(send_sub[lo:hi], np.asarray(ids, dtype=np.int64))
        keep = at >= 0
        if not keep.any():
            continue
        xs.append(x[keep])
        ys.append(send_hit[lo:hi][at[keep]].astype(bool))
        weights.append(send_weight[lo:hi][at[keep]].astype(float))
        groups.append(np.full(int(keep.sum()), wave.campaign.content_id, dtype=np.int64))
        times.append(np.full(int(keep.sum()), wave.sent_at.timestamp()))
    if not xs:
        run and training_progress(run, 1.0, "no wave with features has finished its click horizon")
        return None
    x, y, g, t, w = np.vstack(xs), np.concatenate(ys), np.concatenate(groups), np.concatenate(times), np.concatenate(weights)
    if y.sum() < min_clicks:
        run and training_progress(run, 1.0, f"only {int(y.sum())} clicks on sends with features; need {min_clicks}")
        return None
    active = active_version(client, ModelKind.CLICK)
    # The test rows are the latest of what came after every row the active model was trained or
    # judged on (its ``data_until``): neither model trained on them, and the champion was not
    # chosen on them. The challenger trains on everything before them.
    seen = float(active.params.get("data_until", -np.inf)) if active is not None else -np.inf
    new = t > seen
    if not new.any():
        run and training_progress(run, 1.0, "no send with features has matured since the active click model")
        return None
    # the test: the latest waves holding test_share of the new rows and min_test_clicks clicks
    split = float(np.min(t[new])) - 1.0
    for at in np.unique(t[new])[::-1]:
        later = new & (t >= at)
        if later.sum() >= test_share * new.sum() and y[later].sum() >= min_test_clicks:
            split = float(at) - 1.0
            break
    test = t > split
    if y[test].sum() < min_test_clicks or y[~test].sum() < min_clicks or y[~test].all():
        run and training_progress(run, 1.0, f"{int(y[~test].sum())} clicks to train on and {int(y[test].sum())} after "
                                            f"them that neither model trained on; need {min_clicks} and {min_test_clicks}")
        return None
    if len(np.unique(g[~test])) < 2:  # the fit holds whole contents out to calibrate on
        run and training_progress(run, 1.0, "the sends to train on are all of one content; need two")
        return None
    run and training_progress(run, 0.3, f"fitting on {int((~test).sum())} sends ({int(y[~test].sum())} clicks)")
    model = ClickModel(ClickParams(num_threads=ml_threads())).fit(x[~test], y[~test], g[~test], weights=w[~test])
    new_auc = roc_auc(y[test], model.predict_proba(x[test]), w[test])
    # Against the active model, or, before any, against the order waves have without one (the
    # affinity shortlist: MF plus look-alike, standardised): a click model is used only once it
    # ranks the held-out sends better than what it would replace.
    if active is not None:
        from apps.mlops.selectors import load_click

        champion = load_click(active)  # on the columns it was trained on
        old_auc = roc_auc(y[test], champion.predict_proba(feature_columns(x[test], CLICK_FEATURES, champion.feature_names)),
                          w[test])
    else:  # the order the waves take without a click model: the one the MF version's check chose
        from apps.mlops.ranking import chosen_ranking

        mf = active_version(client, ModelKind.MF)
        order = chosen_ranking(mf) if mf is not None else "affinity"
        col = {name: n for n, name in enumerate(CLICK_FEATURES)}
        # (rows of waves ranked before any MF version have no model columns: NaN, counted as 0)
        z = {name: np.nan_to_num(x[test, col[name]], nan=0.0)
             for name in ("mf_z", "lookalike_z", "active_days_decayed", "category_z")}
        score = {"mf": z["mf_z"], "lookalike": z["lookalike_z"], "activity": z["active_days_decayed"],
                 "category": z["category_z"]}.get(order, z["mf_z"] + z["lookalike_z"] + z["category_z"])
        old_auc = roc_auc(y[test], score, w[test])
    metrics = {"auc": round(float(new_auc), 4), "sends": int((~test).sum()), "clicks": int(y[~test].sum()),
               "test_sends": int(test.sum()), "test_clicks": int(y[test].sum()),
               "baseline_auc": None if old_auc is None or np.isnan(old_auc) else round(float(old_auc), 4),
               "holdout_auc": round(float(model.metrics.get("holdout_auc", float("nan"))), 4),
               "holdout_ece": round(float(model.metrics.get("holdout_ece", float("nan"))), 5)}
    version = model_version_register(client=client, kind=ModelKind.CLICK, build=lambda d: model.save(d / "model"), run=run, now=now,
                                     metrics=metrics, params={"days": days, "horizon_hours": horizon_hours,
                                                              "data_until": float(t.max())})
    # The off-policy estimate of both as whole rankers, on the explored test waves (their kept
    # pools re-ranked as then): shown beside the AUC; the AUC decides (a few explored clicks
    # make the estimate's interval wide, docs/models.md).
    run and training_progress(run, 0.8, "estimating both rankers on the logged waves")
    ope = _click_ope(client, version, active, split)
    # never promoted below chance, whatever it replaces
    promote_if_better(version, "auc", float(new_auc), None if np.isnan(old_auc) else float(old_auc), now, floor=0.5,
                      evidence={"window": {"split": split, "test_sends": int(test.sum()), "test_clicks": int(y[test].sum())},
                                "compared_with": "active" if active is not None else "affinity order",
                                **({"ope": ope} if ope else {})})
    version.refresh_from_db()
    return version


def _click_ope(client, challenger: ModelVersion, champion: ModelVersion | None, split: float) -> dict | None:
    """Off-policy estimates of the waves' ranking with the challenger click model and with the
    champion (or, before any, the order without one) on the explored waves after ``split``, each
    re-ranked with the MF version the wave recorded. None when no such wave was kept."""
    from datetime import UTC

    from apps.mlops.ope import ope_compare
    from apps.mlops.ranking import ModelRanker

    mf_versions = {v.version: v for v in ModelVersion.objects.filter(client=client, kind=ModelKind.MF)}

    def with_click(click):
        def make(wave):
            mf = mf_versions.get((wave.model_versions or {}).get(ModelKind.MF))
            return ModelRanker(mf, click) if mf is not None else None
        return make

    got = ope_compare(client_id=client.pk, since=datetime.fromtimestamp(split, tz=UTC),
                      rankers={"challenger": with_click(challenger), "champion": with_click(champion)})
    return got if any(got.values()) else None


# --- Push-worthiness ---------------------------------------------------------------------------

def train_push_worthiness(*, client, run: TrainingRun | None = None, now: datetime | None = None,
                          min_campaigns: int = 30, matured_hours: float = 24.0) -> ModelVersion | None:
    """Two challengers learnt from the client's past campaigns (decision-time features, achieved
    click improvement): LightGBM (``PushWorthinessModel``) and the interim rule at the level the
    campaigns reached (``CalibratedRule``: one number). Only matured campaigns count (ended
    ``matured_hours`` ago: their late clicks are in), each weighted by its exposure (expected
    clicks: a campaign of 10,000 pushes says more than one of 100).

    Judged on the latest fifth of the campaigns (trained on the others) by the exposure-weighted
    squared error of log(improvement): the score is compared with the client's threshold, so its
    level counts as much as its order. A label is a campaign's handful of clicks, so the better
    challenger is promoted only when its error is lower than the scorer in use with a paired
    bootstrap interval below 0 (the same kind on newer campaigns: as low is enough) and it ranks
    at all (Spearman above 0)."""
    from apps.mlops.scoring import INTERIM_NAME, active_scorer
    from recsys.holdout import paired_difference
    from recsys.selection import CalibratedRule, InterimPushWorthinessScorer, PushWorthinessModel, PushWorthinessParams

    now = now or clock.now()
    done = list(Campaign.objects.filter(client=client, state__in=["done", "stopped"], expected_clicks__gt=1.0,
                                        ended_at__lte=now - timedelta(hours=matured_hours))
                .select_related("content").order_by("created_at"))
    if len(done) < min_campaigns:
        run and training_progress(run, 1.0, f"only {len(done)} finished campaigns; need {min_campaigns}")
        return None
    run and training_progress(run, 0.2, f"features of {len(done)} campaigns")
    feats = []
    for c in done:
        evaluated = c.content.evaluated_at or c.created_at
        feats.append(evaluation_inputs(contents=[c.content], now=evaluated)[c.content.pk])
    y = np.array([max(c.clicks, 0.5) / c.expected_clicks for c in done])
    exposure = np.array([c.expected_clicks for c in done], dtype=float)
    split = int(len(done) * 0.8)
    params = PushWorthinessParams(num_threads=ml_threads())
    fitters = {"model": lambda f, t, w: PushWorthinessModel(params).fit(f, t, weights=w),
               "calibrated rule": lambda f, t, w: CalibratedRule().fit(f, t, weights=w)}
    held, held_y, held_w = feats[split:], np.log(y[split:]), exposure[split:]

    def judged(scorer) -> dict:
        pred = np.log(np.maximum(scorer.score_many(held), 1e-3))  # no per-content reasons needed here
        rho = spearman(pred, held_y) if len(held) > 2 else float("nan")
        return {"error": (pred - held_y) ** 2, "spearman": 0.0 if np.isnan(rho) else float(rho)}

    results = {name: judged(fit(feats[:split], y[:split], exposure[:split])) for name, fit in fitters.items()}
    bare = judged(InterimPushWorthinessScorer())
    scorer = active_scorer(client)  # the active version, or the bare interim rule before any
    active = bare if scorer.interim else judged(scorer.impl)

    def error(r) -> float:
        return float(np.sum(held_w * r["error"]) / held_w.sum())

    best = min(results, key=lambda name: error(results[name]))
    final = fitters[best](feats, y, exposure)
    rng = np.random.default_rng(0)
    diff, (lo, hi) = paired_difference(results[best]["error"], active["error"], rng, weights=held_w)
    version = model_version_register(client=client, kind=ModelKind.PUSH_WORTHINESS, build=lambda d: final.save(d), run=run,
                                     now=now, metrics={"challenger": best, "squared_log_error": round(error(results[best]), 4),
                                                       "spearman": round(results[best]["spearman"], 4), "campaigns": len(done)})
    window = {"train_campaigns": split, "test_campaigns": len(held),
              "split": done[split].created_at.timestamp() if split < len(done) else None}
    same_kind = not scorer.interim and type(scorer.impl) is type(final)
    evidence = {"window": window, "compared_with": INTERIM_NAME if scorer.interim else scorer.name, "challenger": best,
                "diff": round(diff, 4), "diff_ci": [round(lo, 4), round(hi, 4)],
                "spearman": round(results[best]["spearman"], 4), "active_spearman": round(active["spearman"], 4),
                "errors": {**{name: round(error(r), 4) for name, r in results.items()}, INTERIM_NAME: round(error(bare), 4)}}
    if results[best]["spearman"] <= 0.0:
        # one score for every content (or worse), which below the client's threshold would stop
        # every push and with it the labels it learns from
        keep_active(version, now, numbers={"squared_log_error": error(results[best]), "active_squared_log_error": error(active),
                                           **evidence},
                    note=f"not activated: the {best} does not rank the latest campaigns (Spearman "
                         f"{results[best]['spearman']:.4f} is not above 0)")
    elif hi < 0 or (same_kind and diff <= 0):
        promote_if_better(version, "squared_log_error", error(results[best]), error(active), now, evidence=evidence,
                          ties=True, lower_is_better=True)
    else:
        keep_active(version, now, numbers={"squared_log_error": error(results[best]), "active_squared_log_error": error(active),
                                           **evidence},
                    note=f"not activated: the {best}'s squared log error {error(results[best]):.4f} against "
                         f"{error(active):.4f} on the same {len(held)} campaigns, difference {diff:+.4f} "
                         f"[{lo:+.4f}, {hi:+.4f}]: not surely lower")
    version.refresh_from_db()
    return version


TRAINERS = {ModelKind.MF: train_mf, ModelKind.CLICK: train_click, ModelKind.CLICK_DELAY: train_click_delay,
            ModelKind.PUSH_WORTHINESS: train_push_worthiness}
