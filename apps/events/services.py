"""Event ingestion: up to 10,000 events a request, each acknowledged once.

One transaction per batch: validate every event (``apps.core.batch``, by the API's rules in
``apps.core.validation``: any fault of an item, down to a string or date the database could not
store, is that item's verdict ``rejected`` with the field and reason, and the other items go on),
resolve subscribers, contents and sends with one query each, insert with ``ON CONFLICT (client_id, event_id) DO NOTHING RETURNING`` so the
database says which events are new, then apply what the new ones mean for pushes (attribution,
through the outbox). A repeated ``event_id`` is answered ``duplicate`` and changes nothing. An
event that occurred before the retention window (``PUSHADMIN["EVENT_RETENTION_DAYS"]`` before
now) is rejected on ``occurred_at``.
Subscribers' activity is rolled up from the stored events by the sweep
(``subscribers_activity_rollup``), off the request path.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Max

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign
from apps.contents.models import Content
from apps.core import clock
from apps.core.batch import Field, ItemError, validate_item
from apps.core.models import Client, Watermark
from apps.core.sql import epoch_sql
from apps.core.validation import is_clean_text
from apps.delivery.models import Send
from apps.delivery.services import NEVER_PUSHED, sends_attribute
from apps.events.models import Event

EVENT_SPEC: tuple[Field, ...] = (
    Field("event_id", "str", required=True, max_length=64, help="The client's id of the event; a repeat is a duplicate."),
    Field("type", "choice", required=True, choices=tuple(Event.Type.values)),
    Field("subscriber", "str", max_length=128, help="The subscriber's external_id (not needed with send_id)."),
    Field("content", "str", max_length=128, help="The content's external_id (not needed with send_id)."),
    Field("send_id", "int", help="The send_id that came with the push, when the event follows a push."),
    Field("occurred_at", "datetime", help="When it happened (default: when received)."),
)
_SKEW = timedelta(minutes=5)  # clock skew allowed for occurred_at
_CHUNK = 1000
_RETRIES = 3


def retention() -> timedelta:
    """How long events are kept (``PUSHADMIN["EVENT_RETENTION_DAYS"]``)."""
    return timedelta(days=settings.PUSHADMIN["EVENT_RETENTION_DAYS"])


def events_ingest(*, client: Client, items: list, now: datetime | None = None) -> dict:
    now = now or clock.now()
    results: list[dict] = [None] * len(items)  # type: ignore[list-item]
    valid: list[tuple[int, dict]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            ev = validate_item(item, EVENT_SPEC, path=f"events[{i}]")
        except ItemError as e:
            # Echo the event_id only if the answer can carry it (valid UTF-8).
            eid = item.get("event_id") if isinstance(item, dict) and is_clean_text(item.get("event_id")) else None
            results[i] = {"event_id": eid, "status": "rejected", "field": e.field, "reason": e.message}
            continue
        if ev["event_id"] in seen:
            results[i] = {"event_id": ev["event_id"], "status": "duplicate"}
            continue
        seen.add(ev["event_id"])
        if "send_id" not in ev and ("subscriber" not in ev or "content" not in ev):
            missing = "subscriber" if "subscriber" not in ev else "content"
            results[i] = _reject(ev, f"events[{i}].{missing}", "Required unless send_id is given.")
            continue
        valid.append((i, ev))

    cutoff = now - retention()
    for attempt in range(_RETRIES):
        try:
            with transaction.atomic():
                rows = _resolve(client, valid, results, now, cutoff)
                inserted = _insert(client, rows, now)
                new_rows = [row for row in rows.values() if row["event_id"] in inserted]
                _apply(new_rows)
            break
        except OperationalError as exc:
            # Concurrent batches wait on each other's unique-index entries and rows; rows are
            # taken in sorted order so this is rare, and a retry is safe because the insert is
            # idempotent.
            if attempt == _RETRIES - 1 or "deadlock" not in str(exc).lower():
                raise
    for i, row in rows.items():
        results[i] = {"event_id": row["event_id"], "status": "accepted" if row["event_id"] in inserted else "duplicate"}

    counts = defaultdict(int)
    for r in results:
        counts[r["status"]] += 1
    return {"received": len(items), "accepted": counts["accepted"], "duplicates": counts["duplicate"],
            "rejected": counts["rejected"], "results": results}


def _reject(ev: dict, field: str, reason: str) -> dict:
    return {"event_id": ev["event_id"], "status": "rejected", "field": field, "reason": reason}


def _resolve(client: Client, valid: list[tuple[int, dict]], results: list, now: datetime,
             cutoff: datetime) -> dict[int, dict]:
    """Map external ids and send ids to rows of this client; unknown ones reject their event, as
    does a time in the future or before ``cutoff`` (the retention's)."""
    sub_ext = {ev["subscriber"] for _, ev in valid if "subscriber" in ev}
    con_ext = {ev["content"] for _, ev in valid if "content" in ev}
    send_ids = {ev["send_id"] for _, ev in valid if "send_id" in ev}
    subs = _ids_by_external_id(Subscriber, client.pk, sub_ext)
    cons = _ids_by_external_id(Content, client.pk, con_ext)
    sends = {
        pk: (sub_id, con_id)
        for pk, sub_id, con_id in Send.objects.filter(pk__in=send_ids, campaign__client=client)
        .values_list("pk", "subscriber_id", "campaign__content_id")
    } if send_ids else {}

    rows: dict[int, dict] = {}
    unlinked: list[int] = []
    for i, ev in valid:
        sub_id = subs.get(ev["subscriber"]) if "subscriber" in ev else None
        con_id = cons.get(ev["content"]) if "content" in ev else None
        if "subscriber" in ev and sub_id is None:
            results[i] = _reject(ev, f"events[{i}].subscriber", "Unknown subscriber for this client.")
            continue
        if "content" in ev and con_id is None:
            results[i] = _reject(ev, f"events[{i}].content", "Unknown content for this client.")
            continue
        send_id = ev.get("send_id")
        if send_id is not None:
            link = sends.get(send_id)
            if link is None:
                results[i] = _reject(ev, f"events[{i}].send_id", "Unknown send for this client.")
                continue
            if (sub_id is not None and sub_id != link[0]) or (con_id is not None and con_id != link[1]):
                results[i] = _reject(ev, f"events[{i}].send_id", "The send belongs to another subscriber or content.")
                continue
            sub_id, con_id = link
        occurred = ev.get("occurred_at") or now
        if occurred > now + _SKEW:
            results[i] = _reject(ev, f"events[{i}].occurred_at", "Lies in the future.")
            continue
        if occurred < cutoff:
            results[i] = _reject(ev, f"events[{i}].occurred_at",
                                 f"Older than the retention: events that occurred before {cutoff:%Y-%m-%dT%H:%M:%SZ} "
                                 f"({retention().days} days ago) are not kept.")
            continue
        rows[i] = {"event_id": ev["event_id"], "type": ev["type"], "subscriber_id": sub_id, "content_id": con_id,
                   "send_id": send_id, "occurred_at": occurred}
        if send_id is None and ev["type"] != Event.Type.READ:
            unlinked.append(i)
    if unlinked:
        _link_sends(rows, unlinked)
    return rows


def _ids_by_external_id(model, client_id: int, external_ids: set[str]) -> dict[str, int]:
    """external_id -> id of the client's rows. On PostgreSQL one array parameter instead of a
    placeholder per id (a batch may name thousands)."""
    if not external_ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"SELECT external_id, id FROM {model._meta.db_table} WHERE client_id = %s AND external_id = ANY(%s)",
                        [client_id, list(external_ids)])
            return dict(cur.fetchall())
    return dict(model.objects.filter(client_id=client_id, external_id__in=external_ids).values_list("external_id", "id"))


def _link_sends(rows: dict[int, dict], unlinked: list[int]) -> None:
    """Attach a push-related event given by (subscriber, content) to its send, if there was one."""
    pushed = set(Campaign.objects.filter(content_id__in={rows[i]["content_id"] for i in unlinked}).values_list("content_id", flat=True))
    unlinked = [i for i in unlinked if rows[i]["content_id"] in pushed]
    if not unlinked:
        return
    subscriber_ids = list({rows[i]["subscriber_id"] for i in unlinked})
    sends = Send.objects.filter(campaign__content_id__in=pushed).exclude(state__in=NEVER_PUSHED)
    if connection.vendor == "postgresql":
        sends = sends.extra(where=["subscriber_id = ANY(%s)"], params=[subscriber_ids])
    else:
        sends = sends.filter(subscriber_id__in=subscriber_ids)
    found = {(sub, con): pk for pk, sub, con in sends.values_list("pk", "subscriber_id", "campaign__content_id")}
    for i in unlinked:
        rows[i]["send_id"] = found.get((rows[i]["subscriber_id"], rows[i]["content_id"]))


def _insert(client: Client, rows: dict[int, dict], now: datetime) -> set[str]:
    """Insert new events; return the event_ids the database did not have yet."""
    if not rows:
        return set()
    # Sorted by event_id: concurrent batches with shared ids take the index entries in the same order.
    values = sorted(rows.values(), key=lambda r: r["event_id"])
    cols = "client_id, event_id, type, subscriber_id, content_id, send_id, occurred_at, received_at"
    conflict = "ON CONFLICT (client_id, event_id) DO NOTHING RETURNING event_id"
    inserted: set[str] = set()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # Eight array parameters instead of eight per row, bound on the server in binary
            # (%b): nothing to quote or escape, little to parse.
            import psycopg

            raw = psycopg.Cursor(connection.connection)
            with connection.wrap_database_errors:  # psycopg's errors as Django's, as the retries expect
                raw.execute(
                    f"INSERT INTO {Event._meta.db_table} ({cols}) "
                    "SELECT %b, u.e, u.t, u.s, u.c, u.d, u.o, %b FROM unnest("
                    "%b::varchar[], %b::varchar[], %b::bigint[], %b::bigint[], %b::bigint[], %b::timestamptz[]"
                    f") AS u(e, t, s, c, d, o) {conflict}",
                    [client.pk, now, [r["event_id"] for r in values], [r["type"] for r in values],
                     [r["subscriber_id"] for r in values], [r["content_id"] for r in values],
                     [r["send_id"] for r in values], [r["occurred_at"] for r in values]],
                )
            cur = raw
            return {r[0] for r in cur.fetchall()}
        adapt = connection.ops.adapt_datetimefield_value
        received = adapt(now)
        for start in range(0, len(values), _CHUNK):
            chunk = values[start:start + _CHUNK]
            params: list = []
            for r in chunk:
                params += [client.pk, r["event_id"], r["type"], r["subscriber_id"], r["content_id"], r["send_id"],
                           adapt(r["occurred_at"]), received]
            placeholders = ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s)"] * len(chunk))
            cur.execute(f"INSERT INTO {Event._meta.db_table} ({cols}) VALUES {placeholders} {conflict}", params)
            inserted.update(r[0] for r in cur.fetchall())
    return inserted


def _apply(new_rows: list[dict]) -> None:
    """What new events mean for pushes: first opens and clicks of sends. (Activity is rolled up
    into ``Subscriber.last_activity_at`` by the minute sweep, off the request path, so that
    concurrent batches never wait on each other's subscriber rows.)"""
    if not new_rows:
        return
    sends_attribute(events=[r for r in new_rows if r["send_id"] is not None])


# --- What events mean for subscribers' activity ----------------------------------------------

ACTIVITY_EVENT_TYPES = ("open", "click", "read")


def subscribers_reading_rollup(*, after: int, upto: int) -> int:
    """Add the reads among events ``after < id <= upto`` to their subscribers' running sums of
    long-horizon activity (``recsys.activity``): each read its ``decay_increment``, each new day
    (later than the subscriber's last read's) its first read's. A read arriving late for a day
    before the last read's adds to the reads, not to the days. Returns the subscribers updated."""
    from recsys.activity import DAY, decay_increment

    events, subs = Event._meta.db_table, Subscriber._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT subscriber_id, {epoch_sql('occurred_at')} FROM {events} WHERE id > %s AND id <= %s "
                    f"AND type = 'read'", [after, upto])
        rows = cur.fetchall()
    if not rows:
        return 0
    sub = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    ts = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    ids = np.unique(sub)
    last = np.full(len(ids), -np.inf)  # each one's last read before these, in seconds
    for k in range(0, len(ids), 5000):
        for pk, at in Subscriber.objects.filter(pk__in=ids[k:k + 5000].tolist(), last_read_at__isnull=False).values_list(
                "pk", "last_read_at"):
            last[np.searchsorted(ids, pk)] = at.timestamp()
    order = np.lexsort((ts, sub))
    sub, ts = sub[order], ts[order]
    inc = decay_increment(ts)
    pos = np.searchsorted(ids, sub)
    reads = np.bincount(pos, weights=inc, minlength=len(ids))
    day = np.floor(ts / DAY)
    first_of_day = np.r_[True, (sub[1:] != sub[:-1]) | (day[1:] != day[:-1])]
    new_day = first_of_day & (day > np.floor(last / DAY)[pos])
    days = np.bincount(pos, weights=np.where(new_day, inc, 0.0), minlength=len(ids))
    newest = np.maximum(last, np.maximum.reduceat(ts, np.r_[0, np.flatnonzero(sub[1:] != sub[:-1]) + 1]))
    stamps = [datetime.fromtimestamp(float(t), tz=UTC) for t in newest]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"UPDATE {subs} s SET reads_decayed = s.reads_decayed + u.r, "
                        f"active_days_decayed = s.active_days_decayed + u.d, last_read_at = u.at "
                        f"FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::timestamptz[]) AS u(id, r, d, at) "
                        f"WHERE s.id = u.id", [ids.tolist(), reads.tolist(), days.tolist(), stamps])
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cur.executemany(f"UPDATE {subs} SET reads_decayed = reads_decayed + %s, "
                            f"active_days_decayed = active_days_decayed + %s, last_read_at = %s WHERE id = %s",
                            [(float(r), float(d), adapt(at), int(i)) for r, d, at, i in zip(reads, days, stamps, ids)])
    return len(ids)


def subscribers_activity_rollup(*, settle: bool = False) -> int:
    """Move ``last_activity_at`` forward from the events stored since the last roll-up.

    Called by the minute sweep. It processes events up to the highest id seen at the previous
    call (one sweep of lag, so no event of a still-open transaction is skipped); ``settle=True``
    processes everything stored now (for in-process runs such as the simulator and tests, where
    nothing writes concurrently). Never moves activity back. Returns the subscribers updated.
    """
    with transaction.atomic():
        mark, _ = Watermark.objects.select_for_update().get_or_create(name="subscriber_activity")
        newest = Event.objects.aggregate(m=Max("id"))["m"] or 0
        upto = newest if settle else mark.pending
        updated = 0
        if upto > mark.position:
            events, subs = Event._meta.db_table, Subscriber._meta.db_table
            types = ", ".join(f"'{t}'" for t in ACTIVITY_EVENT_TYPES)
            with connection.cursor() as cur:
                if connection.vendor == "postgresql":
                    # Two steps, each bound to an index whatever the planner believes: inside a
                    # long transaction (the simulator, a big import) the tables' statistics can
                    # say "empty", and one UPDATE ... FROM (aggregate) was then planned as a loop
                    # rescanning every event for every subscriber.
                    cur.execute(f"SELECT subscriber_id, MAX(occurred_at) FROM {events} WHERE id > %s AND id <= %s "
                                f"AND type IN ({types}) GROUP BY subscriber_id", [mark.position, upto])
                    rows = cur.fetchall()
                    if rows:
                        cur.execute(
                            f"UPDATE {subs} s SET last_activity_at = u.ts FROM unnest(%s::bigint[], %s::timestamptz[]) "
                            f"AS u(id, ts) WHERE s.id = u.id AND (s.last_activity_at IS NULL OR s.last_activity_at < u.ts)",
                            [[r[0] for r in rows], [r[1] for r in rows]])
                        updated = cur.rowcount
                else:
                    cur.execute(
                        f"UPDATE {subs} SET last_activity_at = a.ts FROM ("
                        f"  SELECT subscriber_id, MAX(occurred_at) AS ts FROM {events}"
                        f"  WHERE id > %s AND id <= %s AND type IN ({types}) GROUP BY subscriber_id"
                        f") AS a WHERE {subs}.id = a.subscriber_id"
                        f" AND ({subs}.last_activity_at IS NULL OR {subs}.last_activity_at < a.ts)",
                        [mark.position, upto],
                    )
                    updated = cur.rowcount
            subscribers_reading_rollup(after=mark.position, upto=upto)
            mark.position = upto
        mark.pending = newest
        mark.save(update_fields=["position", "pending", "updated_at"])
    return updated
