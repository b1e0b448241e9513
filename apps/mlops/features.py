"""The push-worthiness model's features of contents, as they were at decision time: the reads and
clicks that arrived before ``now`` and what is known of the readers then. One function serves
evaluation (``apps.orchestration.evaluation``) and training (``apps.mlops.training``), so the model
learns from exactly what it is later given."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from apps.audience.models import Subscriber
from apps.core.models import Policy
from apps.events.models import Event
from recsys.selection import PushWorthinessFeatures

CTR_PRIOR_CLICKS, CTR_PRIOR_SENDS = 1.0, 50.0  # Beta prior: a newcomer's usual push CTR is 2%
# The site's reads a content's early reads are a share of: those of the client's contents
# published up to this long before it (news is read in its first days; an archive's steady
# trickle says nothing about the hour's traffic).
FRESH = timedelta(hours=72)
# A typical share: the median of the client's contents evaluated in the last week, once there are
# this many of them.
TYPICAL_WINDOW, TYPICAL_MIN = timedelta(days=7), 5


def evaluation_inputs(*, contents, now, scorer=None):
    """Decision-time features of each content (``recsys.selection.PushWorthinessFeatures``), from
    the reads and clicks that arrived before ``now``: a handful of queries for the whole batch."""
    ids = [c.pk for c in contents]
    readers: dict[int, set[int]] = {pk: set() for pk in ids}
    reads: dict[int, int] = dict.fromkeys(ids, 0)
    clicks: dict[int, int] = dict.fromkeys(ids, 0)
    for content_id, subscriber_id, kind in Event.objects.filter(
        content_id__in=ids, type__in=[Event.Type.READ, Event.Type.CLICK], occurred_at__lte=now
    ).values_list("content_id", "subscriber_id", "type"):
        if kind == Event.Type.READ:
            reads[content_id] += 1
            readers[content_id].add(subscriber_id)
        else:
            clicks[content_id] += 1
    everyone = set().union(*readers.values())
    ctr = {pk: (c + CTR_PRIOR_CLICKS) / (s + CTR_PRIOR_SENDS)
           for pk, s, c in Subscriber.objects.filter(pk__in=everyone).values_list("pk", "push_sends", "push_clicks")}
    # Was each early reader active in the client's inactive days before the content appeared?
    # (Events, not last_activity_at, which the reads of this very content have already moved.)
    inactive_after = {cid: timedelta(days=days) for cid, days in
                      Policy.objects.filter(client_id__in={c.client_id for c in contents}).values_list("client_id", "inactive_days")}
    active_before: dict[int, list] = {}
    if everyone:
        start = min(c.created_at - inactive_after[c.client_id] for c in contents)
        end = max(c.created_at for c in contents)
        for sid, at in Event.objects.filter(subscriber_id__in=everyone, occurred_at__gte=start, occurred_at__lt=end,
                                            type__in=[Event.Type.READ, Event.Type.CLICK, Event.Type.OPEN]
                                            ).values_list("subscriber_id", "occurred_at"):
            active_before.setdefault(sid, []).append(at)
    read_shares = _read_shares(contents, reads, now)
    out = {}
    for c in contents:
        window_start = c.created_at - inactive_after[c.client_id]
        rs = readers[c.pk]
        inactive = sum(1 for s in rs if not any(window_start <= at < c.created_at for at in active_before.get(s, ())))
        local = c.created_at
        share, typical = read_shares[c.pk]
        out[c.pk] = PushWorthinessFeatures(
            categories=(c.category,) if c.category else (),
            created_hour=local.hour,
            weekday=local.weekday(),
            age_minutes=max((now - c.created_at).total_seconds() / 60.0, 0.0),
            early_reads=reads[c.pk],
            early_clicks=clicks[c.pk],
            early_readers_inactive_share=inactive / len(rs) if rs else 0.0,
            early_readers_mean_ctr=(sum(ctr.get(s, 0.02) for s in rs) / len(rs)) if rs else 0.0,
            early_read_share=share,
            early_read_share_typical=typical,
        )
    return _with_text_vectors(contents, out, scorer)


def _read_shares(contents, reads: dict[int, int], now) -> dict[int, tuple[float | None, float | None]]:
    """Per content: its early reads' share of the site's reads of fresh contents (its client's,
    published up to ``FRESH`` before it) from its creation to ``now``, and the median share of
    the client's other contents evaluated in the ``TYPICAL_WINDOW`` before ``now`` (None below
    ``TYPICAL_MIN`` of them). Two queries per client, and one count per content on the events'
    (content, type, time) index."""
    from apps.contents.models import Content

    out = {}
    for client_id in {c.client_id for c in contents}:
        mine = [c for c in contents if c.client_id == client_id]
        fresh = list(Content.objects.filter(client_id=client_id, created_at__gte=min(c.created_at for c in mine) - FRESH,
                                            created_at__lte=now).values_list("pk", "created_at"))
        typical = list(Content.objects.filter(
            client_id=client_id, created_at__gte=now - 2 * TYPICAL_WINDOW, evaluated_at__gte=now - TYPICAL_WINDOW,
            evaluated_at__lt=now, early_read_share__isnull=False).exclude(pk__in=[c.pk for c in mine])
            .values_list("early_read_share", flat=True))
        median = float(np.median(typical)) if len(typical) >= TYPICAL_MIN else None
        for c in mine:
            ids = [pk for pk, at in fresh if c.created_at - FRESH <= at]
            site = Event.objects.filter(content_id__in=ids, type=Event.Type.READ, occurred_at__gte=c.created_at,
                                        occurred_at__lte=now).count()
            share = min(reads[c.pk] / site, 1.0) if site else None
            out[c.pk] = (share, median)
    return out


def _with_text_vectors(contents, features, scorer):
    if scorer is None or not scorer.needs_text:
        return features
    vectors = scorer.text_embedding.content_vectors([f"{c.title}\n{c.body[:5000]}" for c in contents])
    return {c.pk: replace(features[c.pk], text_vector=vectors[i]) for i, c in enumerate(contents)}
