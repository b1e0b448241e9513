"""The weekly slot's price of each subscriber, from the client's own models (``recsys.slots``).

Each person may get one content push per rolling cap window, so a push spends their slot. The
price is what their slot is expected to find in the client's stream of contents: the contents
launched in the last cap window, each valued for every pushable person by the active click model
(the calibrated probability of a click on a push of it, as at its launch), by the client's
objective (``Policy.slot_objective``: clicks, or clicks by people inactive now). Wave planning
then sends a content to a person only when it is worth at least their price
(``apps.orchestration.engine``). Refreshed after every MF or click-model training (nightly, and
when a model changes). Without a click model there are no calibrated values: every price is 0
and the slot goes first-come, as it does with the ``first_come`` objective.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min

from apps.audience.models import Subscriber
from apps.audience.selectors import Segment
from apps.campaigns.models import Campaign
from apps.core import clock
from apps.core.selectors import policy_of
from apps.core.sql import rows_update
from apps.delivery.selectors import eligible_candidates, eligible_source
from apps.events.selectors import readers_of

PRICE_BATCH = 50_000  # subscribers per UPDATE when the prices are written (PostgreSQL)


def _prices_write(ids: np.ndarray, prices: np.ndarray, now: datetime) -> None:
    """Every ``ids``' slot price at ``now``, set-based and in one transaction (a refresh is written
    whole or not at all): on PostgreSQL one UPDATE per batch joined to the arrays (``unnest``),
    elsewhere ``apps.core.sql.rows_update``. (Django's ``bulk_update`` builds a CASE branch per
    row: most of a refresh's time went there.)"""
    ids, prices = np.asarray(ids, dtype=np.int64).tolist(), np.asarray(prices, dtype=np.float64).tolist()
    with transaction.atomic():
        if connection.vendor != "postgresql":
            rows_update(Subscriber, ["slot_price", "slot_price_at"], ((p, now, i) for i, p in zip(ids, prices)))
            return
        table = connection.ops.quote_name(Subscriber._meta.db_table)
        with connection.cursor() as cur:
            for lo in range(0, len(ids), PRICE_BATCH):
                cur.execute(f"UPDATE {table} s SET slot_price = u.p, slot_price_at = %s "
                            f"FROM unnest(%s::bigint[], %s::float8[]) AS u(id, p) WHERE s.id = u.id",
                            [now, ids[lo:lo + PRICE_BATCH], prices[lo:lo + PRICE_BATCH]])


def slot_value(click_prob: np.ndarray, days_inactive: np.ndarray, *, objective: str, inactive_days: int) -> np.ndarray:
    """A push's value to the client's objective (``recsys.slots.pair_values``): the click
    probability, or for "reactivations" only that of people inactive for ``inactive_days`` (never
    active counts as inactive). Prices and wave planning value pushes by this one rule."""
    from recsys.slots import pair_values

    inactive = np.nan_to_num(np.asarray(days_inactive, dtype=float), nan=np.inf) >= inactive_days
    return pair_values(np.nan_to_num(click_prob, nan=0.0), inactive=inactive,
                       objective="reactivations" if objective == "reactivations" else "clicks")


def _pushable(client, now: datetime, policy, *, source: bool = False):
    """Everyone who may be pushed at all (their slot free or not: the price is for when it is);
    ``source``: how to read them (``CandidateRows.source``), not the rows."""
    kw = dict(content_id=None, now=now, cap_window=timedelta(0),
              segment=Segment(activity="any", inactive_days=policy.inactive_days), quiet_start=0, quiet_end=0)
    return eligible_source(client_id=client.pk, **kw) if source else eligible_candidates(client=client, **kw)


def _launched(client, now: datetime, policy) -> list:
    """The campaigns of the last cap window, oldest first: the stream a slot is priced on."""
    return list(Campaign.objects.filter(client=client, created_at__gte=now - policy.cap_window, created_at__lte=now)
                .select_related("content").order_by("created_at", "pk"))


def _seed(campaign) -> np.ndarray:
    """The content's readers by its launch: the look-alike seed its value was ranked with."""
    return np.array(sorted(readers_of(content_id=campaign.content_id, until=campaign.created_at)), dtype=np.int64)


def slot_values(*, client, now: datetime, probabilities=None) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """(the pushable subscribers' ids, their values: one column per content launched in the last
    cap window, the contents' external ids); None without a click model. ``probabilities``:
    ``(campaign, people: CandidateRows) -> click probabilities or None`` in place of the active
    click model's (the simulator's truth-fed yardstick)."""
    policy = policy_of(client.pk)
    if probabilities is None:
        from apps.mlops.ranking import ModelRanker, ranker_for

        ranker = ranker_for(client)
        if not isinstance(ranker, ModelRanker) or ranker.click_version is None:
            return None

        def probabilities(campaign, people):
            return ranker.click_probabilities(candidates=people, content=campaign.content, seed_ids=_seed(campaign),
                                              now=campaign.created_at)
    people = _pushable(client, now, policy)
    launched = _launched(client, now, policy)
    columns, names = [], []
    for campaign in launched:
        p = probabilities(campaign, people)
        if p is None:
            continue
        columns.append(slot_value(p, people.days_inactive, objective=policy.slot_objective,
                                  inactive_days=policy.inactive_days).astype(np.float32))
        names.append(campaign.content.external_id)
    values = np.column_stack(columns) if columns else np.zeros((len(people), 0), np.float32)
    return people.ids, values, names


def slot_prices_refresh(*, client, now: datetime | None = None, probabilities=None) -> dict:
    """Set every pushable subscriber's ``slot_price`` (``recsys.slots.renewal_prices`` of
    ``slot_values``, ``probabilities`` as there) at ``now``; 0 for all with the ``first_come``
    objective or no click model. Returns what it did (for the training run's log and the tests).

    A client with ``SHARDS["MIN_CANDIDATES"]`` subscribers or more is priced in shards of
    subscriber ranges (``PriceShards`` on ``apps.mlops.shards``), each writing its own rows:
    the same prices, but a refresh that fails midway leaves some ranges at their last prices."""
    from recsys.slots import renewal_prices

    now = now or clock.now()
    policy = policy_of(client.pk)
    if probabilities is None and policy.slot_objective != "first_come":
        span = Subscriber.objects.filter(client=client).aggregate(lo=Min("pk"), hi=Max("pk"), n=Count("pk"))
        if span["n"] >= settings.PUSHADMIN["SHARDS"]["MIN_CANDIDATES"]:
            got = _prices_sharded(client=client, now=now, policy=policy, span=span)
            if got is not None:
                return got
    got = None if policy.slot_objective == "first_come" else slot_values(client=client, now=now,
                                                                          probabilities=probabilities)
    if got is None:
        reset = Subscriber.objects.filter(client=client).exclude(slot_price=0).update(slot_price=0.0, slot_price_at=now)
        why = "first come" if policy.slot_objective == "first_come" else "no click model"
        return {"priced": 0, "reset": reset, "why": why}
    ids, values, names = got
    prices = renewal_prices(values)
    _prices_write(ids, prices, now)
    positive = prices[prices > 0]
    return {"priced": len(ids), "contents": len(names), "objective": policy.slot_objective,
            "median": float(np.median(positive)) if len(positive) else 0.0}


# --- Pricing every subscriber in shards of subscriber ranges ----------------------------------

PRICE_CHUNK = 100_000  # people valued at once within a shard (their values: one column per content)


def _prices_sharded(*, client, now: datetime, policy, span: dict) -> dict | None:
    """``slot_prices_refresh`` over shards (``PriceShards``) of the client's subscriber ids
    (``span``: their lowest, highest, count); None when there is nothing to price by (no click
    model): the caller resets the prices."""
    from apps.mlops import shards
    from apps.mlops.ranking import ModelRanker, ranker_for

    ranker = ranker_for(client)
    if not isinstance(ranker, ModelRanker) or ranker.click_version is None:
        return None
    contents, arrays = [], {}
    for campaign in _launched(client, now, policy):
        seed = _seed(campaign)
        item = ranker.content_item(campaign.content_id, seed)
        if item is None:  # neither factors nor a seed: not valued (as ``click_probabilities`` says)
            continue
        j = len(contents)
        arrays[f"seed.{j}"], arrays[f"item.{j}"] = seed, np.asarray(item, np.float32)
        contents.append({"content": campaign.content_id, "at": campaign.created_at.isoformat(),
                         "name": campaign.content.external_id})
    source = _pushable(client, now, policy, source=True)
    bounds = shards.shard_bounds(span["lo"], span["hi"], span["n"])
    spec = {"source": source, "mf": ranker.version.pk, "click": ranker.click_version.pk, "ranking": ranker.ranking,
            "contents": contents, "objective": policy.slot_objective, "inactive_days": int(policy.inactive_days), "now": now.isoformat()}
    merged, results = shards.run("price", spec=spec, arrays=arrays, bounds=bounds, client_id=client.pk,
                                 label=f"{span['n']:,} subscribers × {len(contents)} contents")
    prices = np.concatenate([r["prices"] for r in results]) if results else np.zeros(0)
    positive = prices[prices > 0]
    return {"priced": int(sum(int(r["priced"]) for r in results)), "contents": len(contents),
            "objective": policy.slot_objective, "median": float(np.median(positive)) if len(positive) else 0.0,
            "shards": len(bounds)}


_PER_PERSON = ("baseline_ctr", "days_inactive", "reads_decayed", "active_days_decayed", "category_affinity")


def _rows(inputs: dict, part: slice) -> dict:
    """``product_rank``'s inputs of the people at ``part`` (the content's stay whole)."""
    return {k: (v[part] if k in _PER_PERSON and v is not None else v) for k, v in inputs.items()}


class PriceShards:
    """``apps.mlops.shards`` kind "price": the slot prices of one subscriber range. Statistics: per
    content, the range's ``recsys.audience.Moments`` of the click model's inputs (as at the
    content's launch), and the range's pooled usual-CTR pairs; then each person's value of every
    content (the click model's probability, by the objective), their renewal price, written."""

    @staticmethod
    def _setup(job):
        from apps.contents.models import Content
        from apps.mlops.ranking import ModelRanker

        spec = job.spec
        ranker = ModelRanker.from_spec(spec)
        contents = Content.objects.in_bulk([c["content"] for c in spec["contents"]])
        return ranker, [(contents[c["content"]], datetime.fromisoformat(c["at"])) for c in spec["contents"]]

    def _inputs(self, job, ranker, people, rows, j, content, at, prior):
        return ranker._inputs(people, content, job.spec_arrays[f"seed.{j}"], at, prior=prior,
                              item=job.spec_arrays[f"item.{j}"], rows=rows)

    def stats(self, job, lo: int, hi: int):
        from apps.delivery.selectors import rows_of
        from recsys.audience import product_moments
        from recsys.ramp import pooled_pairs

        ranker, contents = self._setup(job)
        people = rows_of(job.spec["source"], lo, hi)
        rows = ranker.factor_rows(people)
        out = dict(zip(("prior.clicks", "prior.sends", "prior.count"), pooled_pairs(people.push_clicks, people.push_sends)))
        for j, (content, at) in enumerate(contents):
            # the prior is the whole set's, known after the merge: the usual CTR's own z-score,
            # which no click-model input uses, is left out of these moments
            model, factors, inputs = self._inputs(job, ranker, people, rows, j, content, at, (1.0, 1.0))
            inputs["baseline_ctr"] = None
            moments = product_moments(model, people.ids, factors, **inputs)
            out.update({f"{j}.{k}": v for k, v in moments.to_arrays().items()})
        return (ranker, contents, people, rows), out

    def merge(self, job, parts):
        from recsys.audience import Moments
        from recsys.ramp import fit_population_prior, merge_pooled

        pooled = merge_pooled([(p["prior.clicks"], p["prior.sends"], p["prior.count"]) for p in parts])
        out = {"prior": np.array(fit_population_prior(None, None, pooled=pooled))}
        for j in range(len(job.spec["contents"])):
            m = Moments.merge([Moments.from_arrays({k[len(f"{j}."):]: v for k, v in p.items() if k.startswith(f"{j}.")})
                               for p in parts])
            out.update({f"{j}.{k}": v for k, v in m.to_arrays().items()})
        return out

    def finish(self, job, state, merged, lo: int, hi: int):
        from apps.mlops.selectors import load_click
        from recsys.audience import Moments, product_features
        from recsys.click import CLICK_FEATURES, feature_columns
        from recsys.slots import renewal_prices

        ranker, contents, people, rows = state
        click = load_click(ranker.click_version)
        prior = tuple(float(v) for v in merged["prior"])
        moments = [Moments.from_arrays({k[len(f"{j}."):]: v for k, v in merged.items() if k.startswith(f"{j}.")})
                   for j in range(len(contents))]
        inputs = [self._inputs(job, ranker, people, rows, j, content, at, prior) for j, (content, at) in enumerate(contents)]
        spec = job.spec
        prices = np.zeros(len(people))
        for lo_ in range(0, len(people), PRICE_CHUNK):
            part = slice(lo_, min(lo_ + PRICE_CHUNK, len(people)))
            values = np.zeros((part.stop - part.start, len(contents)), np.float32)
            for j, (model, factors, given) in enumerate(inputs):
                x = product_features(model, people.ids[part], factors[part], moments=moments[j], **_rows(given, part))
                p = click.predict_proba(feature_columns(x, CLICK_FEATURES, click.feature_names))
                values[:, j] = slot_value(np.asarray(p, dtype=float), people.days_inactive[part],
                                          objective=spec["objective"], inactive_days=spec["inactive_days"])
            prices[part] = renewal_prices(values)
        _prices_write(people.ids, prices, datetime.fromisoformat(spec["now"]))
        return {"priced": np.array(len(people)), "prices": prices[prices > 0].astype(np.float32)}
