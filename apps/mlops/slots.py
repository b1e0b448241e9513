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
from django.db import connection, transaction

from apps.audience.models import Subscriber
from apps.audience.selectors import Segment
from apps.campaigns.models import Campaign
from apps.core import clock
from apps.core.selectors import policy_of
from apps.core.sql import rows_update
from apps.delivery.selectors import eligible_candidates
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
            at = campaign.created_at
            seed = np.array(sorted(readers_of(content_id=campaign.content_id, until=at)), dtype=np.int64)
            return ranker.click_probabilities(candidates=people, content=campaign.content, seed_ids=seed, now=at)
    # everyone who may be pushed at all (their slot free or not: the price is for when it is)
    people = eligible_candidates(client=client, content_id=None, now=now, cap_window=timedelta(0),
                                 segment=Segment(activity="any", inactive_days=policy.inactive_days),
                                 quiet_start=0, quiet_end=0)
    launched = list(Campaign.objects.filter(client=client, created_at__gte=now - policy.cap_window, created_at__lte=now)
                    .select_related("content").order_by("created_at", "pk"))
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
    objective or no click model. Returns what it did (for the training run's log and the tests)."""
    from recsys.slots import renewal_prices

    now = now or clock.now()
    policy = policy_of(client.pk)
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
