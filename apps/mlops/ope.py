"""Judge another ranker on a client's own logged waves before it sends anything
(``manage.py ope``; the estimator is ``recsys.ope``).

Only waves that explored can tell: their pool of eligible people is kept (``WavePool``), each of
their sends records its probability of being chosen, and a candidate ranker re-ranks the same
pool as it would have then (reads up to the wave's time, the model version the wave recorded).
"""

from __future__ import annotations

import zlib
from datetime import datetime

import numpy as np

from apps.campaigns.models import Wave
from apps.campaigns.selectors import wave_pool
from apps.delivery.models import Send
from apps.delivery.selectors import CandidateRows
from apps.events.selectors import readers_of
from apps.mlops.models import ModelKind, ModelVersion
from apps.mlops.ranking import InterimRanker, ModelRanker, UniformRanker
from recsys.ope import LoggedWave, estimate

RANKERS = ("interim", "uniform", "model")


def ranker_named(name: str, wave: Wave):
    """The candidate ranker ``name`` as it would have ranked ``wave`` (None when it could not)."""
    if name == "interim":
        return InterimRanker()
    if name == "uniform":
        return UniformRanker()
    if name == "model":  # the MF and click model versions the wave recorded
        recorded = wave.model_versions or {}
        number, click = recorded.get(ModelKind.MF), recorded.get(ModelKind.CLICK)
        mine = ModelVersion.objects.filter(client_id=wave.campaign.client_id)
        version = mine.filter(kind=ModelKind.MF, version=number).first() if number else None
        click_version = mine.filter(kind=ModelKind.CLICK, version=click).first() if click else None
        return ModelRanker(version, click_version) if version is not None else None
    raise ValueError(f"unknown ranker {name!r}; choose one of {', '.join(RANKERS)}")


def logged_waves(*, client_id: int | None = None, since: datetime | None = None, latest: int | None = None):
    """The explored waves with their pool and delivered sends: (wave, pool, LoggedWave, size), in
    the order they were planned (``latest``: only the last so many)."""
    waves = Wave.objects.filter(pool__isnull=False).select_related("campaign__content", "campaign__client")
    if client_id is not None:
        waves = waves.filter(campaign__client_id=client_id)
    if since is not None:
        waves = waves.filter(created_at__gte=since)
    waves = sorted(waves.order_by("-pk")[:latest], key=lambda w: w.pk) if latest is not None else waves.order_by("pk")
    for wave in waves:
        rows = list(Send.objects.filter(wave=wave, state=Send.State.SENT, propensity__isnull=False)
                    .values_list("subscriber_id", "propensity", "baseline_ctr", "clicked_at"))
        if not rows:
            continue
        logged = LoggedWave(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=float),
                            np.array([r[2] for r in rows], dtype=float), np.array([r[3] is not None for r in rows]))
        yield wave, wave_pool(wave_id=wave.pk), logged, Send.objects.filter(wave=wave).count()


def pool_rows(pool: dict) -> CandidateRows:
    """A wave's kept pool (``campaigns.selectors.wave_pool``) as the candidates its ranker got."""
    return CandidateRows(ids=pool["ids"], push_sends=pool["push_sends"], push_clicks=pool["push_clicks"],
                         days_inactive=pool["days_inactive"], language=pool["language"],
                         reads_decayed=pool.get("reads_decayed"), active_days_decayed=pool.get("active_days_decayed"))


def candidate_picks(wave: Wave, pool: dict, ranker, size: int) -> np.ndarray:
    """Whom ``ranker`` would have chosen for this wave, from its pool, at its time."""
    candidates = pool_rows(pool)
    content = wave.campaign.content
    seed = np.array(sorted(readers_of(content_id=content.pk, until=wave.created_at)), dtype=np.int64)
    rng = np.random.default_rng([zlib.crc32(f"ope/{content.external_id}".encode()), wave.number])
    return np.asarray(ranker.rank(candidates=candidates, content=content, seed_ids=seed, k=size, now=wave.created_at,
                                  rng=rng).ids, dtype=np.int64)


def _fin(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def ope_compare(*, client_id: int, since: datetime, rankers: dict, level: float = 0.9, n_boot: int = 500,
                seed: int = 0, max_waves: int = 100) -> dict:
    """Several candidate rankers on the same logged waves (the latest ``max_waves`` explored ones
    since ``since``): for each name, its estimated click improvement and interval, the waves it
    could rank and the explored clicks the estimate rests on (None: no wave to judge it on).
    ``rankers``: name -> a function of a wave giving the ranker as it would have ranked it."""
    logged = list(logged_waves(client_id=client_id, since=since, latest=max_waves))
    out = {}
    for name, make in rankers.items():
        waves, picks = [], []
        for wave, pool, lw, size in logged:
            ranker = make(wave) if pool is not None else None
            if ranker is not None:
                waves.append(lw)
                picks.append(candidate_picks(wave, pool, ranker, size))
        if not waves:
            out[name] = None
            continue
        est = estimate(waves, picks, np.random.default_rng(seed), level=level, n_boot=n_boot)
        out[name] = {"estimate": _fin(est.value), "interval": [_fin(est.lo), _fin(est.hi)], "waves": est.waves,
                     "explored_clicks": est.explored_clicks, "level": level}
    return out


def ope_estimate(*, ranker: str, client_id: int | None = None, since: datetime | None = None, level: float = 0.9,
                 n_boot: int = 1000, seed: int = 0) -> dict:
    """The candidate's estimated click improvement on the logged waves, with a bootstrap
    interval, beside what the logged waves themselves achieved."""
    waves, picks, skipped = [], [], 0
    clicks = expected = 0.0
    for wave, pool, logged, size in logged_waves(client_id=client_id, since=since):
        candidate = ranker_named(ranker, wave)
        if candidate is None or pool is None:
            skipped += 1
            continue
        waves.append(logged)
        picks.append(candidate_picks(wave, pool, candidate, size))
        clicks += float(logged.clicked.sum())
        expected += float(logged.expected.sum())
    if not waves:
        return {"ranker": ranker, "waves": 0, "skipped": skipped, "estimate": None, "interval": None, "level": level,
                "logged_improvement": None}
    est = estimate(waves, picks, np.random.default_rng(seed), level=level, n_boot=n_boot)
    fin = _fin
    return {"ranker": ranker, "waves": est.waves, "skipped": skipped, "estimate": fin(est.value),
            "interval": [fin(est.lo), fin(est.hi)], "level": level,
            "estimated_clicks": round(est.clicks, 1), "estimated_expected_clicks": round(est.expected, 2),
            # how thin the evidence is: clicks of explored sends among the candidate's picks (each
            # stands for 1/q clicks), and the share of its expected clicks that rests on them
            "explored_clicks": est.explored_clicks, "explored_share": fin(est.explored_share),
            "logged_improvement": fin(clicks / expected) if expected else None}
