"""The push-worthiness model's features of contents, as they were at decision time: the reads and
clicks that arrived before ``now`` and what is known of the readers then. One function serves
evaluation (``apps.orchestration.evaluation``) and training (``apps.mlops.training``), so the model
learns from exactly what it is later given."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from apps.audience.models import Subscriber
from apps.core.models import Policy
from apps.events.models import Event
from recsys.selection import PushWorthinessFeatures

CTR_PRIOR_CLICKS, CTR_PRIOR_SENDS = 1.0, 50.0  # Beta prior: a newcomer's usual push CTR is 2%


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
    out = {}
    for c in contents:
        window_start = c.created_at - inactive_after[c.client_id]
        rs = readers[c.pk]
        inactive = sum(1 for s in rs if not any(window_start <= at < c.created_at for at in active_before.get(s, ())))
        local = c.created_at
        out[c.pk] = PushWorthinessFeatures(
            categories=(c.category,) if c.category else (),
            created_hour=local.hour,
            weekday=local.weekday(),
            age_minutes=max((now - c.created_at).total_seconds() / 60.0, 0.0),
            early_reads=reads[c.pk],
            early_clicks=clicks[c.pk],
            early_readers_inactive_share=inactive / len(rs) if rs else 0.0,
            early_readers_mean_ctr=(sum(ctr.get(s, 0.02) for s in rs) / len(rs)) if rs else 0.0,
        )
    return _with_text_vectors(contents, out, scorer)


def _with_text_vectors(contents, features, scorer):
    if scorer is None or not scorer.needs_text:
        return features
    vectors = scorer.text_embedding.content_vectors([f"{c.title}\n{c.body[:5000]}" for c in contents])
    return {c.pk: replace(features[c.pk], text_vector=vectors[i]) for i, c in enumerate(contents)}
