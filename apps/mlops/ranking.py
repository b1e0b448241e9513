"""Who gets a wave: the audience rankers behind one small interface.

A ranker's ``rank(candidates=, content=, seed_ids=, k=, now=, rng=)`` returns the top-k eligible
candidates (``Ranked``) with each component's score and its own name. ``ranker_for(client)`` is
the one the product uses: the trained model (``ModelRanker``, an active ``mf`` version, ordered by
the click model or, before there is one, by the ranking the client's own contents chose) when
there is one; until then the clearly named ``InterimRanker``, which ranks by category affinity from
recent reads and by co-reading with the content's seed (early readers and clickers), with a
seeded random tie-break. The campaign engine takes the choice of ranker as a parameter, so an
in-process run (the simulator) can put its own in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection

from apps.contents.models import Content
from apps.contents.selectors import content_language
from apps.delivery.selectors import CandidateRows
from apps.events.models import Event
from apps.mlops.models import ModelKind
from apps.mlops.selectors import active_version, load_categories, load_click, load_mf
from recsys.ids import positions


@dataclass(frozen=True)
class Ranked:
    ids: np.ndarray
    total: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)
    ranker: str = ""
    # ids -> (ids it knows, their click-model rows, column names): what the ranker saw of the
    # people a wave finally chose, kept for training (None: the ranker computes no such rows)
    features_of: Callable | None = None
    # ``total`` is a calibrated click probability (a click model ranked): what the slot's price
    # is set against (recsys.slots)
    calibrated: bool = False


def prefer_language(candidates: CandidateRows, content, wanted: int) -> CandidateRows:
    """People whose app speaks the content's language (or whose language is unknown) first: when
    there are enough of them for the wave, the others are left out of it."""
    if candidates.language is None or not len(candidates):
        return candidates
    lang = content_language(content)
    fits = (candidates.language == lang) | (candidates.language == "")
    return candidates.in_language(lang) if fits.sum() >= min(wanted, len(candidates)) and not fits.all() else candidates


class InterimRanker:
    """Rule-based ranking used until the models are trained: category affinity + seed co-reading."""

    name = "interim:category+coreading"

    def rank(self, *, candidates: CandidateRows, content, seed_ids: np.ndarray, k: int, now, rng: np.random.Generator) -> Ranked:
        candidates = prefer_language(candidates, content, k)
        n = len(candidates)
        if n == 0 or k <= 0:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), {}, self.name)
        affinity = _category_affinity(content, candidates.ids, now)
        coread = _coreading(content, seed_ids, candidates.ids, now)
        jitter = rng.random(n) * 1e-3
        total = affinity + coread + jitter
        k = min(k, n)
        top = np.argpartition(-total, k - 1)[:k]
        top = top[np.argsort(-total[top], kind="stable")]
        return Ranked(candidates.ids[top], total[top],
                      {"category_affinity": affinity[top], "coreading": coread[top]}, self.name,
                      _features_without_model(candidates, content, now))


def _features_without_model(candidates: CandidateRows, content, now) -> Callable:
    """``Ranked.features_of`` for a wave ranked without a trained model: the click model's rows
    with what is known of the people without factors (``recsys.audience.click_features_without_model``),
    so a client's first waves, before any MF version, already teach its click model."""
    def features_of(ids: np.ndarray):
        from recsys.activity import decayed_at
        from recsys.audience import click_features_without_model
        from recsys.click import CLICK_FEATURES
        from recsys.ramp import fit_population_prior, smoothed_ctr

        ids = np.asarray(ids, dtype=np.int64)
        where = positions(candidates.ids, ids)
        known = where >= 0
        rows = candidates.take(where[known])
        a, b = fit_population_prior(candidates.push_clicks, candidates.push_sends)
        created = getattr(content, "created_at", None) or now
        activity = {name: None if getattr(rows, name) is None else decayed_at(getattr(rows, name), now.timestamp())
                    for name in ("reads_decayed", "active_days_decayed")}
        x = click_features_without_model(len(rows), baseline_ctr=smoothed_ctr(rows.push_clicks, rows.push_sends, a, b),
                                         days_inactive=rows.days_inactive, hour=now.hour,
                                         age_hours=max((now - created).total_seconds(), 0.0) / 3600,
                                         push_score=getattr(content, "push_score", None), **activity)
        return ids[known], x, CLICK_FEATURES

    return features_of


def _read_counts(sql: str, params: list, ids: np.ndarray) -> np.ndarray:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    out = np.zeros(len(ids))
    if rows:
        sub, cnt = np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=float)
        pos = positions(ids, sub)
        out[pos[pos >= 0]] = cnt[pos >= 0]
    return out


def _category_affinity(content, ids: np.ndarray, now) -> np.ndarray:
    """Share of each candidate's reads in the 30 days up to ``now`` that were in this content's
    category (nothing after ``now``: replayed at a past moment it sees what was known then)."""
    if not content.category:
        return np.zeros(len(ids))
    ev, co = Event._meta.db_table, Content._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    since, until = adapt(now - timedelta(days=30)), adapt(now)
    base = (f"FROM {ev} e JOIN {co} c ON c.id = e.content_id WHERE c.client_id = %s AND e.type = 'read' "
            f"AND e.occurred_at >= %s AND e.occurred_at <= %s")
    in_cat = _read_counts(f"SELECT e.subscriber_id, COUNT(*) {base} AND c.category = %s GROUP BY e.subscriber_id",
                          [content.client_id, since, until, content.category], ids)
    total = _read_counts(f"SELECT e.subscriber_id, COUNT(*) {base} GROUP BY e.subscriber_id", [content.client_id, since, until], ids)
    return (in_cat + 0.1) / (total + 1.0)


def _coreading(content, seed_ids: np.ndarray, ids: np.ndarray, now) -> np.ndarray:
    """How many of the seed's recently read contents each candidate also read (look-alike by
    history), from the reads of the 14 days up to ``now``."""
    if len(seed_ids) == 0:
        return np.zeros(len(ids))
    ev = Event._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    since, until = adapt(now - timedelta(days=14)), adapt(now)
    seeds = ",".join(str(int(s)) for s in seed_ids[:500])
    sql = (f"SELECT e.subscriber_id, COUNT(DISTINCT e.content_id) FROM {ev} e WHERE e.type = 'read' "
           f"AND e.occurred_at >= %s AND e.occurred_at <= %s "
           f"AND e.content_id IN (SELECT DISTINCT s.content_id FROM {ev} s WHERE s.subscriber_id IN ({seeds}) "
           f"AND s.occurred_at >= %s AND s.occurred_at <= %s AND s.content_id <> %s) GROUP BY e.subscriber_id")
    counts = _read_counts(sql, [since, until, since, until, content.pk], ids)
    return np.log1p(counts) / np.log1p(max(counts.max(), 1.0))


def _category_inputs(version, sub_ids: np.ndarray, pos: np.ndarray, content) -> dict:
    """``product_rank``'s category component for the candidates at ``pos`` in the MF version's
    subscribers (-1: unknown to it, no profile): the cosine of each one's long-horizon mix of
    categories with the content's (one column); nothing when the content has no category the
    version knows."""
    from recsys.audience import category_inputs

    profiles, names = load_categories(version)
    category = getattr(content, "category", "") or ""
    return category_inputs(profiles, pos, names.index(category) if category in names else -1)


class ModelRanker:
    """The product's ranking: ``recsys.audience.product_rank`` on the active MF model's factors,
    re-ranked by the active click model when one is trained.

    The content's item factors are folded in from its seed (early readers and clickers) when it
    is not in the model; the seed's own factors drive the look-alike component. The shortlist is
    by affinity (``recsys.audience.PRODUCT_WEIGHTS``: MF, look-alike and category); the click model
    (``ModelKind.CLICK``, trained on this product's own sends and clicks) then orders it by click
    probability from the affinities, each one's usual push CTR, days inactive, the content's age
    and the hour. Every wave keeps those rows of the people it chose (``features_of``), which
    is what the click model learns from. With no seed and no factors for the content it hands
    over to the interim ranker.

    Before the client has a click model, the order is the ranking the MF version's check chose
    on the client's own held-out contents (``ranking``: the affinity blend, or MF, look-alike,
    long-horizon activity or category alone, ``recsys.audience.SINGLE_RANKINGS``); the name says
    which.
    """

    def __init__(self, version, click_version=None, ranking: str | None = None):
        from recsys.audience import SINGLE_RANKINGS

        self.version = version
        self.click_version = click_version
        # Until the client's click model is trained: the ranking its own held-out contents chose
        # (``mlops.training._rankings_check``), the affinity blend when there is no such check.
        if ranking is None:
            ranking = "affinity" if click_version is not None else chosen_ranking(version)
        if ranking not in SINGLE_RANKINGS:
            raise ValueError(f"ranking: {ranking!r} is not one of {', '.join(SINGLE_RANKINGS)}")
        self.ranking = ranking
        self.weights = SINGLE_RANKINGS[ranking]
        self.name = f"model:mf v{version.version}" + (f"+click v{click_version.version}" if click_version else "")
        if ranking != "affinity":
            self.name += f" ({ranking} alone)"

    @classmethod
    def from_spec(cls, spec: dict) -> "ModelRanker":
        """The ranker a sharded job names (``spec``: its ``mf`` and ``click`` version ids and
        ``ranking``), as the process that started it had it."""
        from apps.mlops.models import ModelVersion

        versions = ModelVersion.objects.in_bulk([pk for pk in (spec["mf"], spec.get("click")) if pk is not None])
        return cls(versions[spec["mf"]], versions.get(spec.get("click")), ranking=spec.get("ranking"))

    def content_item(self, content_id: int, seed_ids: np.ndarray) -> np.ndarray | None:
        """The content's item factors as ``product_rank`` ranks with them: its own when the MF
        version knows it, else folded in from the seed's rows (None: neither)."""
        from recsys.audience import product_item

        model, sub_ids, con_ids = load_mf(self.version)
        seed_rows = positions(sub_ids, np.asarray(seed_ids, dtype=np.int64))
        cpos = positions(con_ids, np.array([content_id], dtype=np.int64))[0]
        return product_item(model, seed_rows[seed_rows >= 0], item_factors=model.item_factors[cpos] if cpos >= 0 else None)

    def factor_rows(self, candidates: CandidateRows) -> tuple[np.ndarray, np.ndarray]:
        """(each candidate's row in the MF version, -1 for none; their factors, zeros for none)."""
        model, sub_ids, _ = load_mf(self.version)
        user_f = model.user_factors
        pos = positions(sub_ids, candidates.ids)
        factors = np.zeros((len(candidates), user_f.shape[1]), dtype=np.float32)
        factors[pos >= 0] = user_f[pos[pos >= 0]]
        return pos, factors

    def _inputs(self, candidates: CandidateRows, content, seed_ids: np.ndarray, now, prior=None, item=None, rows=None):
        """(the MF model, the candidates' factors, the other inputs of ``product_rank``).
        ``prior``, ``item``: the usual-CTR prior and the content's item factors when the
        candidates are a part of the set ranked (a shard): the whole set's. ``rows``:
        ``factor_rows(candidates)`` when known already (one set valued for many contents)."""
        from recsys.activity import decayed_at
        from recsys.ramp import fit_population_prior, smoothed_ctr

        model, sub_ids, con_ids = load_mf(self.version)
        pos, factors = rows if rows is not None else self.factor_rows(candidates)
        seed_rows = positions(sub_ids, np.asarray(seed_ids, dtype=np.int64))
        seed_rows = seed_rows[seed_rows >= 0]
        cpos = positions(con_ids, np.array([content.pk], dtype=np.int64))[0]
        a, b = prior if prior is not None else fit_population_prior(candidates.push_clicks, candidates.push_sends)
        created = getattr(content, "created_at", None) or now
        # long-horizon activity: the subscribers' running sums read at now (recsys.activity)
        activity = {name: None if getattr(candidates, name) is None else decayed_at(getattr(candidates, name), now.timestamp())
                    for name in ("reads_decayed", "active_days_decayed")}
        if item is None and cpos >= 0:
            item = model.item_factors[cpos]
        inputs = dict(seed_rows=seed_rows, item_factors=item,
                      baseline_ctr=smoothed_ctr(candidates.push_clicks, candidates.push_sends, a, b),
                      days_inactive=candidates.days_inactive, age_hours=max((now - created).total_seconds(), 0.0) / 3600,
                      hour=now.hour, push_score=getattr(content, "push_score", None), tie_salt=content.pk,
                      **activity, **_category_inputs(self.version, sub_ids, pos, content))
        return model, factors, inputs

    def click_probabilities(self, *, candidates: CandidateRows, content, seed_ids: np.ndarray, now) -> np.ndarray | None:
        """The click model's calibrated probability of a push of ``content`` at ``now`` for every
        candidate (in their order; no shortlist, no language preference): what a person's slot
        would find in this content (``apps.mlops.slots``). None without a click model, or when the
        content has neither factors nor a seed to rank by."""
        from recsys.audience import product_features

        if self.click_version is None or len(candidates) == 0:
            return None
        from recsys.click import CLICK_FEATURES, feature_columns

        model, factors, inputs = self._inputs(candidates, content, seed_ids, now)
        x = product_features(model, candidates.ids, factors, **inputs)
        if x is None:
            return None
        click = load_click(self.click_version)
        x = feature_columns(x, CLICK_FEATURES, click.feature_names)  # the columns it was trained on
        return np.asarray(click.predict_proba(x), dtype=float)

    def rank(self, *, candidates: CandidateRows, content, seed_ids: np.ndarray, k: int, now, rng: np.random.Generator) -> Ranked:
        from recsys.audience import product_features, product_rank
        from recsys.click import CLICK_FEATURES

        candidates = prefer_language(candidates, content, k)
        if len(candidates) == 0 or k <= 0:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), {}, self.name)
        if candidates.source is not None and len(candidates) >= settings.PUSHADMIN["SHARDS"]["MIN_CANDIDATES"]:
            return self._rank_sharded(candidates, content, seed_ids, k, now, rng)
        model, factors, inputs = self._inputs(candidates, content, seed_ids, now)
        click = load_click(self.click_version) if self.click_version is not None else None
        # the weights, the fold-in and the click model's rows live in recsys, where the replay's
        # ``product`` strategy calls the same functions
        aud = product_rank(model, candidates.ids, factors, k=k, exclude_ids=np.asarray(seed_ids, dtype=np.int64),
                           click_model=click, weights=self.weights, **inputs)
        if aud is None:
            return InterimRanker().rank(candidates=candidates, content=content, seed_ids=seed_ids, k=k, now=now, rng=rng)

        def features_of(ids: np.ndarray):
            ids = np.asarray(ids, dtype=np.int64)
            where = positions(candidates.ids, ids)
            known = where >= 0
            # the rows of the people asked for only (a wave's, not the millions ranked)
            x = product_features(model, candidates.ids, factors, rows=where[known], **inputs)
            return ids[known], x, CLICK_FEATURES

        return Ranked(np.asarray(aud.ids, dtype=np.int64), np.asarray(aud.total, dtype=float),
                      {name: np.asarray(v) for name, v in aud.components.items()}, self.name, features_of,
                      calibrated=click is not None)


    def _rank_sharded(self, candidates: CandidateRows, content, seed_ids: np.ndarray, k: int, now, rng) -> Ranked:
        """``rank`` of a large set over its subscriber ranges (``RankShards`` on ``apps.mlops.shards``):
        each shard reads its part of the candidates again (the planner's own shards take them
        from its rows), the parts' moments are merged, each shard gives its best by the linear
        total with the whole set's moments; the union's best (``recsys.audience.merge_best``) is
        re-scored here by the click model (``product_rescore``), as the whole set's ranking."""
        from apps.mlops import shards
        from recsys.audience import (
            Moments,
            merge_best,
            product_features,
            product_rescore,
        )
        from recsys.click import CLICK_FEATURES
        from recsys.ramp import fit_population_prior

        seed_ids = np.asarray(seed_ids, dtype=np.int64)
        item = self.content_item(content.pk, seed_ids)
        if item is None:
            return InterimRanker().rank(candidates=candidates, content=content, seed_ids=seed_ids, k=k, now=now, rng=rng)
        prior = fit_population_prior(candidates.push_clicks, candidates.push_sends)
        depth = min(len(candidates), max(k, RERANK_DEPTH if self.click_version is not None else k))
        spec = {"source": candidates.source, "mf": self.version.pk,
                "click": self.click_version.pk if self.click_version is not None else None, "ranking": self.ranking,
                "content": content.pk, "now": now.isoformat(), "prior": [float(prior[0]), float(prior[1])],
                "depth": int(depth)}
        bounds = shards.shard_bounds(int(candidates.ids[0]), int(candidates.ids[-1]), len(candidates))
        merged, results = shards.run("rank", spec=spec, arrays={"seed": seed_ids, "item": np.asarray(item, np.float32)},
                                     bounds=bounds, client_id=content.client_id,
                                     label=f"{content.external_id}: best {k:,} of {len(candidates):,}", local=candidates)
        ids, linear = merge_best([(r["ids"], r["linear"]) for r in results], depth, tie_salt=content.pk)
        # a shard's read may hold someone the planner's did not (their slot taken between the two)
        where = positions(candidates.ids, ids)
        mine = where >= 0
        rows = candidates.take(where[mine])
        moments = Moments.from_arrays(merged)
        m, factors, inputs = self._inputs(rows, content, seed_ids, now, prior=prior, item=item)
        click = load_click(self.click_version) if self.click_version is not None else None
        aud = product_rescore(m, rows.ids, factors, linear[mine], k=k, moments=moments, click_model=click, **inputs)

        def features_of(ids: np.ndarray):
            ids = np.asarray(ids, dtype=np.int64)
            where = positions(candidates.ids, ids)
            known = where >= 0
            rows = candidates.take(where[known])
            m, factors, inputs = self._inputs(rows, content, seed_ids, now, prior=prior, item=item)
            return ids[known], product_features(m, rows.ids, factors, moments=moments, **inputs), CLICK_FEATURES

        return Ranked(np.asarray(aud.ids, dtype=np.int64), np.asarray(aud.total, dtype=float),
                      {name: np.asarray(v) for name, v in aud.components.items()},
                      self.name, features_of, calibrated=self.click_version is not None)


RERANK_DEPTH = 5000  # product_rank's: the linear shortlist a click model re-ranks, at least


class RankShards:
    """``apps.mlops.shards`` kind "rank": one shard of ``ModelRanker._rank_sharded``."""

    @staticmethod
    def _setup(job):
        from datetime import datetime

        spec = job.spec
        return ModelRanker.from_spec(spec), Content.objects.get(pk=spec["content"]), datetime.fromisoformat(spec["now"])

    def stats(self, job, lo: int, hi: int):
        from apps.delivery.selectors import rows_of
        from recsys.audience import product_moments

        ranker, content, now = self._setup(job)
        if job.local is not None:  # the planner's own rows: this range of them, not read again
            ids = job.local.ids
            rows = job.local.take(slice(int(np.searchsorted(ids, lo)), int(np.searchsorted(ids, hi))))
        else:
            rows = rows_of(job.spec["source"], lo, hi)
        seed = job.spec_arrays["seed"]
        model, factors, inputs = ranker._inputs(rows, content, seed, now, prior=tuple(job.spec["prior"]),
                                                item=job.spec_arrays["item"])
        moments = product_moments(model, rows.ids, factors, exclude_ids=seed, **inputs)
        return (ranker, rows, model, factors, inputs), moments.to_arrays()

    def merge(self, job, parts):
        from recsys.audience import Moments

        return Moments.merge([Moments.from_arrays(p) for p in parts]).to_arrays()

    def finish(self, job, state, merged, lo: int, hi: int):
        from recsys.audience import Moments, product_best

        ranker, rows, model, factors, inputs = state
        ids, linear = product_best(model, rows.ids, factors, moments=Moments.from_arrays(merged), depth=job.spec["depth"],
                                   weights=ranker.weights, exclude_ids=job.spec_arrays["seed"], **inputs)
        return {"ids": ids, "linear": linear}


class UniformRanker:
    """Everyone eligible equally likely: the baseline a ranker has to beat (the simulator's
    random audience, ``manage.py ope --ranker uniform``)."""

    name = "uniform"

    def rank(self, *, candidates, content, seed_ids, k, now, rng) -> Ranked:
        pick = rng.permutation(len(candidates))[:min(k, len(candidates))]
        return Ranked(candidates.ids[pick], np.zeros(len(pick)), {}, self.name)


def _client_reads(client_id: int, now, days: int):
    """The client's reads and clicks of the last ``days``: (subscriber ids, content ids, user
    positions, content positions, epoch seconds)."""
    from apps.mlops import readers

    got = readers.interactions(client=client_id, since=now - timedelta(days=days), until=now,
                               weights={"read": 1.0, "click": 1.0})
    sub_ids, u = np.unique(got.subscribers, return_inverse=True)
    con_ids, i = np.unique(got.contents, return_inverse=True)
    return sub_ids, con_ids, u, i, got.times


def _top(candidates: CandidateRows, score: np.ndarray, k: int, name: str) -> Ranked:
    """The ``k`` best-scored candidates, best first (ties by position: deterministic)."""
    k = min(k, len(candidates))
    top = np.argpartition(-score, k - 1)[:k]
    top = top[np.lexsort((top, -score[top]))]
    return Ranked(candidates.ids[top], score[top], {name: score[top]}, name)


class _DailyFit:
    """A ranker whose model is fitted on the client's reads at most once a day (one day's kept)."""

    days = 180

    def __init__(self):
        self._fits: dict = {}

    def fitted(self, client_id: int, now):
        key = (client_id, now.date())
        if key not in self._fits:
            self._fits = {key: self.fit(*_client_reads(client_id, now, self.days), now=now)}
        return self._fits[key]

    def fit(self, sub_ids, con_ids, u, i, t, *, now):
        raise NotImplementedError

    @staticmethod
    def rows(sub_ids: np.ndarray, matrix, ids) -> "object":
        """``matrix``'s rows of ``ids`` (zero rows for people it does not know)."""
        import scipy.sparse as sp

        where = positions(sub_ids, np.asarray(ids, dtype=np.int64))
        return sp.csr_matrix(sp.diags((where >= 0).astype(float)) @ matrix[np.maximum(where, 0)])

    def eligible(self, candidates: CandidateRows, content, seed_ids, k: int) -> CandidateRows:
        candidates = prefer_language(candidates, content, k)
        if len(seed_ids):  # the early readers have it already
            candidates = candidates.take(~np.isin(candidates.ids, np.asarray(seed_ids, dtype=np.int64)))
        return candidates


class DAERanker(_DailyFit):
    """Candidates by a closed-form denoising autoencoder over the client's read histories
    (``recsys.dae.LinearDAE``, reading lists in place of playlists): each person's item head (the
    reconstruction of their reads) against the seed readers', plus the category head against the
    content's category, compared by cosine (``LinearDAE.cosine_scores``). Fitted on the reads of
    the last 180 days at most once a day per client, on the ``max_items`` most read contents.

    A strategy of the simulator (``manage.py simulate --strategies dae``) and of the replay, not
    the product's ranker: its fit inverts a contents x contents matrix, which suits a few
    thousand contents, not a newsroom's year."""

    name = "dae"

    def __init__(self, *, l2: float = 200.0, dropout: float = 0.25, max_items: int = 3000):
        super().__init__()
        self.l2, self.dropout, self.max_items = l2, dropout, max_items

    def fit(self, sub_ids, con_ids, u, i, t, *, now):
        import scipy.sparse as sp

        from recsys.dae import LinearDAE

        x = sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(len(sub_ids), len(con_ids)))
        x.data[:] = 1.0
        if x.shape[1] > self.max_items:
            keep = np.sort(np.argsort(-np.asarray(x.sum(axis=0)).ravel(), kind="stable")[:self.max_items])
            x, con_ids = sp.csr_matrix(x[:, keep]), con_ids[keep]
        category = dict(Content.objects.filter(pk__in=con_ids.tolist()).values_list("pk", "category"))
        of = [category.get(int(c)) or "" for c in con_ids]
        names = sorted(set(of))
        column = {name: n for n, name in enumerate(names)}
        cats = sp.csr_matrix((np.ones(len(con_ids)), (np.arange(len(con_ids)), [column[c] for c in of])),
                             shape=(len(con_ids), len(names)))
        model = LinearDAE(l2=self.l2, dropout=self.dropout).fit(x, cats) if x.shape[1] else None
        return model, sub_ids, x, names

    def rank(self, *, candidates: CandidateRows, content, seed_ids: np.ndarray, k: int, now, rng: np.random.Generator) -> Ranked:
        candidates = self.eligible(candidates, content, seed_ids, k)
        model, sub_ids, x, names = self.fitted(content.client_id, now)
        if len(candidates) == 0 or k <= 0 or model is None:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), {}, self.name)
        seed = self.rows(sub_ids, x, seed_ids) if len(seed_ids) else None
        cat = np.array([names.index(content.category)]) if content.category in names else None
        return _top(candidates, model.cosine_scores(self.rows(sub_ids, x, candidates.ids), seed, cat), k, self.name)


class ContentRanker(_DailyFit):
    """Candidates by what they read, in text: the content's text similarity to each content a
    person read in the last 180 days, summed over those reads, each weighing
    ``0.5 ** (age / 60 days)`` (``content_knn`` of the temporal replay; word vectors
    (``recsys.embedding``, FastText) trained on the client's contents of the window, at most
    once a day). A strategy of the simulator (``--strategies content``), not the product's
    ranker: on the temporal replay it is above random but below MF and activity."""

    name = "content"

    def fit(self, sub_ids, con_ids, u, i, t, *, now):
        import scipy.sparse as sp

        from recsys.activity import decay_weights
        from recsys.embedding import TextEmbedding

        text = {pk: f"{title} {body}" for pk, title, body in
                Content.objects.filter(pk__in=con_ids.tolist()).values_list("pk", "title", "body")}
        texts = [text.get(int(c), "") for c in con_ids]
        try:
            embedding = TextEmbedding.train(texts)
        except ValueError:  # no reads, or no words in what was read
            return None
        weights = sp.csr_matrix((decay_weights(t, now=now.timestamp(), window_days=self.days), (u, i)),
                                shape=(len(sub_ids), len(con_ids)))
        return embedding, embedding.content_vectors(texts), weights, sub_ids

    def rank(self, *, candidates: CandidateRows, content, seed_ids: np.ndarray, k: int, now, rng: np.random.Generator) -> Ranked:
        candidates = self.eligible(candidates, content, seed_ids, k)
        fitted = self.fitted(content.client_id, now)
        if len(candidates) == 0 or k <= 0 or fitted is None:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), {}, self.name)
        embedding, vectors, weights, sub_ids = fitted
        me = embedding.content_vectors([f"{content.title} {content.body}"])[0]
        similarity = np.maximum(vectors @ me, 0.0).astype(np.float64)
        return _top(candidates, np.asarray(self.rows(sub_ids, weights, candidates.ids) @ similarity).ravel(), k, self.name)


def chosen_ranking(version) -> str:
    """The ranking an MF version's check chose for waves without a click model ("affinity":
    the MF + look-alike blend, when it has no check)."""
    from recsys.audience import SINGLE_RANKINGS

    chosen = ((version.metrics or {}).get("rankings") or {}).get("chosen", "affinity")
    return chosen if chosen in SINGLE_RANKINGS else "affinity"


def ranker_for(client):
    """The product's ranker for a client: the client's own trained models when there are, else
    the interim one. Another client's models are never used."""
    version = active_version(client, ModelKind.MF)
    return ModelRanker(version, active_version(client, ModelKind.CLICK)) if version is not None else InterimRanker()
