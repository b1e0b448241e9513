"""Event ingestion: up to 10,000 events a request, each acknowledged once.

One transaction per batch: validate every event (``apps.core.batch``, by the API's rules in
``apps.core.validation``: any fault of an item, down to a string or date the database could not
store, is that item's verdict ``rejected`` with the field and reason, and the other items go on),
resolve subscribers, contents and sends with one query each, look up which of the batch's
``event_id``s are stored already (with an ``occurred_at`` up to ``REPEAT_WINDOW`` from the
batch's), insert the others with
``ON CONFLICT (client_id, event_id, occurred_at) DO NOTHING RETURNING`` so the database says which
events are new, then apply what the new ones mean for pushes (attribution, through the outbox).
A repeated ``event_id`` is answered ``duplicate`` and changes nothing (what exactly is guaranteed:
``apps.events.models.Event``). An event that occurred before the retention window
(``PUSHADMIN["EVENT_RETENTION_DAYS"]`` before now) is rejected on ``occurred_at``: it would not
be kept.

Subscribers' activity is rolled up from the stored events by the sweep
(``subscribers_activity_rollup``), off the request path; the sweep also keeps the events'
monthly partitions and drops the months past the retention once rolled up
(``events_partitions_maintain``, ``apps.events.partitions``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign
from apps.contents.models import Content
from apps.core import clock
from apps.core.batch import Field, ItemError, validate_item
from apps.core.models import Client, Watermark
from apps.core.services import decision_record
from apps.core.sql import epoch_sql
from apps.core.validation import is_clean_text
from apps.delivery.models import Send
from apps.delivery.services import NEVER_PUSHED, sends_attribute
from apps.events import partitions
from apps.events.models import Event

log = logging.getLogger(__name__)

EVENT_SPEC: tuple[Field, ...] = (
    Field("event_id", "str", required=True, max_length=64, help="The client's id of the event; a repeat is a duplicate."),
    Field("type", "choice", required=True, choices=tuple(Event.Type.values)),
    Field("subscriber", "str", max_length=128, help="The subscriber's external_id (not needed with send_id)."),
    Field("content", "str", max_length=128, help="The content's external_id (not needed with send_id)."),
    Field("send_id", "int", help="The send_id that came with the push, when the event follows a push."),
    Field("occurred_at", "datetime", help="When it happened (default: when received)."),
)
_SKEW = timedelta(minutes=5)  # clock skew allowed for occurred_at
# A repeat of a stored event_id with another occurred_at is looked for this far either side of
# the batch's times (each month probed costs the look-up an index probe per event_id).
REPEAT_WINDOW = timedelta(days=30)
_CHUNK = 1000
_RETRIES = 3
ACTIVITY_WATERMARK = "subscriber_activity"  # the roll-ups' (``subscribers_activity_rollup``)
RETENTION_WATERMARK = "event_retention"  # SQLite's retention: its position is the cutoff applied


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
    if connection.vendor == "postgresql":
        # the months this batch will store in have their partitions before its transaction
        # starts (nothing to do when this process has seen them: the usual case)
        kept = [at for _, ev in valid if cutoff <= (at := ev.get("occurred_at") or now) <= now + _SKEW]
        if kept:
            partitions.months_ensure(partitions.months_between(min(kept), max(kept)))
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
        except IntegrityError as exc:
            # A month this process believed it had was dropped meanwhile (only a clock far
            # apart from the sweep's does that): look at the catalog again and retry.
            if attempt == _RETRIES - 1 or not partitions.is_missing_partition(exc) or not rows:
                raise
            partitions.forget()
            times = [row["occurred_at"] for row in rows.values()]
            partitions.months_ensure(partitions.months_between(min(times), max(times)))
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


def _stored(client: Client, event_ids: list[str], first: datetime, last: datetime) -> set[str]:
    """Which of ``event_ids`` the client has stored already with an ``occurred_at`` from ``first``
    to ``last`` give or take ``REPEAT_WINDOW``: on PostgreSQL one probe per id of the
    (client_id, event_id, occurred_at) index of each month in that range. (The planner sees the
    ids, so it takes that index even when a month's statistics are stale; hidden behind a
    sub-select they let it prefer the client_id index and read the client's whole month. Seeing
    them costs planning time per month probed, another reason to probe only a few.)"""
    table, lo, hi = Event._meta.db_table, first - REPEAT_WINDOW, last + REPEAT_WINDOW
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            import psycopg

            raw = psycopg.Cursor(connection.connection)  # one array bound in binary, as ``_insert`` does
            with connection.wrap_database_errors:
                raw.execute(f"SELECT event_id FROM {table} WHERE client_id = %b AND occurred_at >= %b AND occurred_at <= %b "
                            f"AND event_id = ANY(%b::varchar[])", [client.pk, lo, hi, event_ids])
            return {r[0] for r in raw.fetchall()}
        got: set[str] = set()
        adapt = connection.ops.adapt_datetimefield_value
        for start in range(0, len(event_ids), _CHUNK):
            chunk = event_ids[start:start + _CHUNK]
            cur.execute(f"SELECT event_id FROM {table} WHERE client_id = %s AND occurred_at >= %s AND occurred_at <= %s "
                        f"AND event_id IN ({','.join(['%s'] * len(chunk))})", [client.pk, adapt(lo), adapt(hi), *chunk])
            got.update(r[0] for r in cur.fetchall())
        return got


def _insert(client: Client, rows: dict[int, dict], now: datetime) -> set[str]:
    """Insert new events; return the event_ids the database did not have yet. An event_id stored
    before with another ``occurred_at`` (which the unique index does not see: it holds
    ``occurred_at``) within ``REPEAT_WINDOW`` is left out by ``_stored``; one stored with the same
    ``occurred_at``, even by a batch committed after that look, by the unique index
    (``ON CONFLICT``)."""
    if not rows:
        return set()
    times = [r["occurred_at"] for r in rows.values()]
    stored = _stored(client, [r["event_id"] for r in rows.values()], min(times), max(times))
    # Sorted by event_id: concurrent batches with shared ids take the index entries in the same order.
    values = sorted((r for r in rows.values() if r["event_id"] not in stored), key=lambda r: r["event_id"])
    if not values:
        return set()
    cols = "client_id, event_id, type, subscriber_id, content_id, send_id, occurred_at, received_at"
    conflict = "ON CONFLICT (client_id, event_id, occurred_at) DO NOTHING RETURNING event_id"
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
        mark, _ = Watermark.objects.select_for_update().get_or_create(name=ACTIVITY_WATERMARK)
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


# --- Retention: the events' months ----------------------------------------------------------

_SQLITE_DELETE_CHUNKS = 20  # at most this many chunks of _CHUNK rows deleted a sweep on SQLite
_COUNTS = ("partitions_created", "partitions_dropped", "partitions_held", "rows_deleted", "rows_held")


def _rolled_up_through() -> int:
    """The highest event id the roll-ups have processed: every event up to it is in the
    subscribers' activity and reading sums (0: none yet)."""
    return Watermark.objects.filter(name=ACTIVITY_WATERMARK).values_list("position", flat=True).first() or 0


def events_partitions_maintain(*, now: datetime | None = None) -> dict[str, int]:
    """Keep the events within the retention (``retention()``), once rolled up. Called by every
    sweep; idempotent, and safe when sweeps overlap.

    PostgreSQL: every month from the cutoff's (``now`` - retention) to the next one has its
    partition (the next one a month ahead of the first event it will hold); a month that ended
    before the cutoff is dropped whole, but only once the roll-ups have processed every event in
    it (its largest id at most ``_rolled_up_through``: else it is ``held`` and looked at again at
    the next sweep), and only if the lock it needs is had within ``partitions.DROP_LOCK_TIMEOUT``
    (else it waits for the next sweep; a sweep that finds a transaction holding the events for
    longer does not try). One sweep at a time does this (an advisory lock; another one skips it).
    Each dropped month is a decision row (``events_drop``, by ``retention``) with what it held.

    SQLite (one table): the events that occurred before the cutoff's day (UTC) and are rolled
    up are deleted, ``_CHUNK`` rows a statement and at most ``_SQLITE_DELETE_CHUNKS`` chunks a
    sweep; the cutoff applied is kept (``RETENTION_WATERMARK``), so a sweep looks at the table
    once a day, not every minute.

    Returns counts: ``partitions_created``, ``partitions_dropped``, ``partitions_held`` (past the
    cutoff, not rolled up yet); on SQLite ``rows_deleted`` and ``rows_held``."""
    now = now or clock.now()
    cutoff = now - retention()
    if connection.vendor == "postgresql":
        return _partitions_maintain(now, cutoff)
    return _rows_expire(now, cutoff)


def _partitions_maintain(now: datetime, cutoff: datetime) -> dict[str, int]:
    done = dict.fromkeys(_COUNTS, 0)
    window = partitions.months_between(cutoff, partitions.month_after(partitions.month_of(now)))
    with transaction.atomic():
        if not partitions.lock(wait=False):
            return done  # another sweep is at it
        have = partitions.partitions()
        for month in window:
            if month not in have:
                log.info("events: partition %s created", partitions.partition_create(month))
                done["partitions_created"] += 1
        through = _rolled_up_through()
        old = {month: name for month, name in sorted(have.items()) if partitions.month_after(month) <= cutoff}
        droppable = {m: n for m, n in old.items() if (_max_id(n) or 0) <= through}
        done["partitions_held"] = len(old) - len(droppable)
        if done["partitions_held"]:
            log.info("events: %d month(s) past the retention wait for the roll-ups (through id %d)",
                     done["partitions_held"], through)
        if droppable and _events_held_long():
            log.info("events: %d month(s) past the retention wait: a transaction has held the events table longer "
                     "than %s", len(droppable), partitions.DROP_LOCK_TIMEOUT)
        elif droppable:
            dropped = _partitions_drop(droppable, through=through, cutoff=cutoff, now=now)
            done["partitions_dropped"] = len(dropped)
            transaction.on_commit(lambda: partitions.forget(dropped))
    return done


def _max_id(table: str) -> int | None:
    with connection.cursor() as cur:
        cur.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")
        return cur.fetchone()[0]


def _events_held_long() -> bool:
    """Whether another session has held a lock on the events table for longer than a drop would
    wait (a long read, such as a training's): then no drop is tried, as it could only time out
    after keeping every reader and writer of events waiting."""
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'relation' AND l.relation = %s::regclass AND l.granted "
                    "AND l.pid <> pg_backend_pid() AND a.xact_start < clock_timestamp() - %s::interval)",
                    [partitions.TABLE, partitions.DROP_LOCK_TIMEOUT])
        return bool(cur.fetchone()[0])


def _partitions_drop(droppable: dict[datetime, str], *, through: int, cutoff: datetime, now: datetime) -> list[datetime]:
    """Drop the months ``droppable`` under an exclusive lock of the events table had within
    ``partitions.DROP_LOCK_TIMEOUT`` (none dropped when it was not); returns those dropped."""
    q = connection.ops.quote_name
    dropped: list[datetime] = []
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('lock_timeout')")
        previous = cur.fetchone()[0]
        cur.execute("SELECT set_config('lock_timeout', %s, true)", [partitions.DROP_LOCK_TIMEOUT])
        try:
            with transaction.atomic():  # a savepoint: a lock not had undoes only this
                cur.execute(f"LOCK TABLE ONLY {q(partitions.TABLE)} IN ACCESS EXCLUSIVE MODE")
                for month, name in droppable.items():
                    max_id = _max_id(name)  # again, under the lock
                    if (max_id or 0) > through:
                        continue
                    cur.execute("SELECT c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c "
                                "WHERE c.oid = %s::regclass", [name])
                    rows, size = cur.fetchone()
                    cur.execute(f"DROP TABLE {q(name)}")
                    end = partitions.month_after(month)
                    decision_record(
                        client=None, action="events_drop", actor_name="retention", subject=name, now=now,
                        numbers={"rows_estimated": max(int(rows), 0), "bytes": int(size), "max_id": max_id,
                                 "rolled_up_through": through, "retention_days": retention().days},
                        note=f"events that occurred from {month:%Y-%m-%d} to {end:%Y-%m-%d} (UTC), all before the "
                             f"retention's cutoff {cutoff:%Y-%m-%dT%H:%M:%SZ} and rolled up")
                    log.info("events: partition %s dropped (about %d rows, max id %s)", name, rows, max_id)
                    dropped.append(month)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            log.info("events: no drop this sweep, the events table stayed busy for %s", partitions.DROP_LOCK_TIMEOUT)
            dropped = []
        finally:
            cur.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return dropped


def _rows_expire(now: datetime, cutoff: datetime) -> dict[str, int]:
    done = dict.fromkeys(_COUNTS, 0)
    day = int(cutoff.timestamp()) // 86400 * 86400
    mark, _ = Watermark.objects.get_or_create(name=RETENTION_WATERMARK)
    if mark.position >= day:
        return done
    before = datetime.fromtimestamp(day, UTC)
    through = _rolled_up_through()
    table, adapt = Event._meta.db_table, connection.ops.adapt_datetimefield_value
    finished = False
    for _ in range(_SQLITE_DELETE_CHUNKS):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE occurred_at < %s AND id <= %s "
                        f"LIMIT %s)", [adapt(before), through, _CHUNK])
            n = cur.rowcount
        done["rows_deleted"] += n
        if n < _CHUNK:
            finished = True
            break
    if finished:
        done["rows_held"] = Event.objects.filter(occurred_at__lt=before, pk__gt=through).count()
        if not done["rows_held"]:
            mark.position = day
            mark.save(update_fields=["position", "updated_at"])
    if done["rows_deleted"]:
        decision_record(client=None, action="events_drop", actor_name="retention", subject=f"events before {before:%Y-%m-%d}",
                        now=now, numbers={"rows": done["rows_deleted"], "rolled_up_through": through,
                                          "retention_days": retention().days},
                        note=f"events that occurred before {before:%Y-%m-%d} (UTC, the day of the retention's cutoff "
                             f"{cutoff:%Y-%m-%dT%H:%M:%SZ}) and rolled up")
        log.info("events: %d rows before %s deleted", done["rows_deleted"], before.date())
    return done
