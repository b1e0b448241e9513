"""Writes of subscribers: the bulk upsert the apps call."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.audience.models import Subscriber
from apps.core import clock
from apps.core.batch import Field, ItemError, validate_item
from apps.core.errors import BatchInvalid
from apps.core.models import Client

SUBSCRIBER_SPEC: tuple[Field, ...] = (
    Field("external_id", "str", required=True, max_length=128, help="The subscriber's id in the client's app."),
    Field("push_opt_in", "bool", help="Whether the person accepts pushes (default true for new subscribers)."),
    Field("timezone", "timezone", help="IANA time zone, e.g. Asia/Seoul; used for quiet hours (default UTC)."),
    Field("platform", "choice", choices=tuple(Subscriber.Platform.values), help="Decides the push title's length limit."),
    Field("push_token", "str", max_length=512, help="The device token for the fcm provider."),
    Field("locale", "str", max_length=16),
    Field("last_activity_at", "datetime", nullable=True, help="Last time the person used the app (reads move it too)."),
)
_UPDATABLE = tuple(f.name for f in SUBSCRIBER_SPEC if f.name != "external_id")


def subscribers_bulk_upsert(*, client: Client, items: list, now=None) -> dict:
    """Insert or update up to 10,000 subscribers, all or nothing.

    Fields absent from an item keep their stored value (or the default for a new subscriber).
    Any invalid item rejects the whole batch with a 400 naming it, so nothing is half-written.
    """
    now = now or clock.now()
    clean: dict[str, dict] = {}
    errors = []
    for i, item in enumerate(items):
        try:
            row = validate_item(item, SUBSCRIBER_SPEC, path=f"subscribers[{i}]")
        except ItemError as e:
            errors.append({"field": e.field, "code": e.code, "message": e.message})
            if len(errors) >= 100:
                break
            continue
        clean.setdefault(row["external_id"], {}).update(row)  # a repeated id: the later item wins
    if errors:
        raise BatchInvalid(errors)
    for attempt in range(2):
        try:
            return _upsert(client, clean, now, received=len(items))
        except IntegrityError:  # a concurrent batch created some of the same subscribers
            if attempt:
                raise
    raise AssertionError("unreachable")


def _upsert(client: Client, clean: dict[str, dict], now, *, received: int) -> dict:
    with transaction.atomic():
        existing = {
            s.external_id: s
            for s in Subscriber.objects.filter(client=client, external_id__in=list(clean)).only("id", "external_id", *_UPDATABLE)
        }
        to_create, to_update, changed_fields = [], [], set()
        for ext, row in clean.items():
            sub = existing.get(ext)
            if sub is None:
                to_create.append(Subscriber(client=client, external_id=ext, **{k: v for k, v in row.items() if k != "external_id"}))
                continue
            dirty = False
            for name in _UPDATABLE:
                if name in row and getattr(sub, name) != row[name]:
                    setattr(sub, name, row[name])
                    changed_fields.add(name)
                    dirty = True
            if dirty:
                sub.updated_at = now
                to_update.append(sub)
        Subscriber.objects.bulk_create(to_create, batch_size=1000)
        if to_update:
            Subscriber.objects.bulk_update(to_update, [*sorted(changed_fields), "updated_at"], batch_size=1000)
    return {"created": len(to_create), "updated": len(to_update), "unchanged": len(clean) - len(to_create) - len(to_update),
            "received": received}


def subscribers_count_clicks(*, counts) -> None:
    """Add clicks on pushes to each subscriber's push history (subscriber id -> clicks), the
    numerator of their usual push CTR."""
    for pk, n in sorted(counts.items()):
        Subscriber.objects.filter(pk=pk).update(push_clicks=F("push_clicks") + n)
