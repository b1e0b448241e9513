"""Writes of subscribers: the bulk upsert the apps call."""

from __future__ import annotations

from django.db import OperationalError, connection, transaction
from django.db.models import F

from apps.audience.models import Subscriber
from apps.core import clock
from apps.core.batch import Field, ItemError, validate_item
from apps.core.errors import BatchInvalid
from apps.core.models import Client
from apps.core.sql import rows_update

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
    Concurrent batches naming the same new subscribers never fail: new rows are inserted with
    ``ON CONFLICT DO NOTHING``, and a row another batch created meanwhile is updated instead.
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
    for attempt in range(_RETRIES):
        try:
            return _upsert(client, clean, now, received=len(items))
        except OperationalError as exc:
            # Two batches updating the same rows can still deadlock on PostgreSQL (rows are taken
            # in id order, so it is rare); the whole transaction was rolled back: run it again.
            if attempt == _RETRIES - 1 or "deadlock" not in str(exc).lower():
                raise
    raise AssertionError("unreachable")


_RETRIES = 5


def _upsert(client: Client, clean: dict[str, dict], now, *, received: int) -> dict:
    with transaction.atomic():
        existing = _existing(client, list(clean))
        new = sorted(ext for ext in clean if ext not in existing)  # one order for every batch
        created = _insert_new(client, [(ext, clean[ext]) for ext in new])
        raced = [ext for ext in new if ext not in created]
        if raced:  # created by a concurrent batch since we looked (it has committed): update them
            existing.update(_existing(client, raced))
        to_update, changed_fields = [], set()
        for ext, sub in existing.items():
            row = clean[ext]
            dirty = False
            for name in _UPDATABLE:
                if name in row and getattr(sub, name) != row[name]:
                    setattr(sub, name, row[name])
                    changed_fields.add(name)
                    dirty = True
            if dirty:
                sub.updated_at = now
                to_update.append(sub)
        if to_update:
            to_update.sort(key=lambda sub: sub.pk)  # one order for every batch
            names = [*sorted(changed_fields), "updated_at"]
            rows_update(Subscriber, names, ([getattr(sub, name) for name in names] + [sub.pk] for sub in to_update))
    return {"created": len(created), "updated": len(to_update), "unchanged": len(clean) - len(created) - len(to_update),
            "received": received}


def _existing(client: Client, external_ids: list[str]) -> dict[str, Subscriber]:
    qs = Subscriber.objects.filter(client=client, external_id__in=external_ids).only("id", "external_id", *_UPDATABLE)
    return {s.external_id: s for s in qs}


def _insert_new(client: Client, rows: list[tuple[str, dict]]) -> set[str]:
    """Insert the subscribers that did not exist, skipping any another transaction has created
    meanwhile (``ON CONFLICT DO NOTHING``: it waits for that transaction instead of failing);
    return the external_ids this call inserted."""
    if not rows:
        return set()
    objs = [Subscriber(client=client, external_id=ext, **{k: v for k, v in row.items() if k != "external_id"})
            for ext, row in rows]
    fields = [f for f in Subscriber._meta.concrete_fields if not f.primary_key]
    table, ops = Subscriber._meta.db_table, connection.ops
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    size = max(1, min(1000, ops.bulk_batch_size(fields, objs)))
    inserted: set[str] = set()
    with connection.cursor() as cur:
        for start in range(0, len(objs), size):
            chunk = objs[start:start + size]
            params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in chunk for f in fields]
            values = ", ".join([f"({', '.join(['%s'] * len(fields))})"] * len(chunk))
            cur.execute(f"INSERT INTO {table} ({columns}) VALUES {values} "
                        "ON CONFLICT (client_id, external_id) DO NOTHING RETURNING external_id", params)
            inserted.update(r[0] for r in cur.fetchall())
    return inserted


def subscribers_count_clicks(*, counts) -> None:
    """Add clicks on pushes to each subscriber's push history (subscriber id -> clicks), the
    numerator of their usual push CTR."""
    for pk, n in sorted(counts.items()):
        Subscriber.objects.filter(pk=pk).update(push_clicks=F("push_clicks") + n)
