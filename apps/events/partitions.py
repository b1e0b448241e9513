"""The events table's monthly partitions on PostgreSQL: their names, the catalog, and the DDL.

``events_event`` is partitioned by range of ``occurred_at``, one partition per calendar month in
UTC, named ``events_event_y2026m11`` (from 2026-11-01 00:00 UTC, inclusive, to 2026-12-01, exclusive).
There is no default partition: an event whose month has no partition cannot be stored, so
the ingestion makes sure the months of a batch exist before inserting it (``months_ensure``),
and the sweep keeps every month of the retention window and the next one in place
(``apps.events.services.events_partitions_maintain``). Only tables named this way are ever
created or dropped here.

Locks. A month is added as a table of its own, then attached (``ATTACH PARTITION`` takes a
``SHARE UPDATE EXCLUSIVE`` lock on the parent, which neither readers nor writers of events
conflict with; ``CREATE TABLE ... PARTITION OF`` would take an ``ACCESS EXCLUSIVE`` one and wait
behind every read). Dropping a month needs ``ACCESS EXCLUSIVE`` on the parent whatever the form:
it is taken with a short ``lock_timeout`` so that readers and writers queued behind it wait at
most that long, and tried again at the next sweep when it could not be had. Creating and
dropping are serialized between processes by one advisory lock (``LOCK_KEY``).

SQLite keeps one table: nothing here applies to it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db import connection, transaction

TABLE = "events_event"
LOCK_KEY = 0x6576656E745F70  # pg_advisory_xact_lock key of this module's DDL ("event_p")
DROP_LOCK_TIMEOUT = "1s"
_NAME = re.compile(r"^events_event_y(\d{4})m(\d{2})$")

# Months whose partition this process has seen committed: a batch whose months are all here
# needs no look at the catalog. A month dropped since (by another process) is found out by the
# insert failing, which empties this (``forget``).
_known: set[datetime] = set()


def month_of(at: datetime) -> datetime:
    """The first instant (UTC) of the calendar month ``at`` falls in (in UTC)."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def month_after(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def months_between(first: datetime, last: datetime) -> list[datetime]:
    """The months from ``first``'s to ``last``'s, both included."""
    out, m, end = [], month_of(first), month_of(last)
    while m <= end:
        out.append(m)
        m = month_after(m)
    return out


def name_of(month: datetime) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def month_named(name: str) -> datetime | None:
    """The month of a partition named by ``name_of``; None for any other name."""
    got = _NAME.match(name)
    if not got or not 1 <= int(got[2]) <= 12:
        return None
    return datetime(int(got[1]), int(got[2]), 1, tzinfo=UTC)


def _bound(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S+00")


def partitions() -> dict[datetime, str]:
    """The monthly partitions attached now: month -> table name (other partitions left out)."""
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = %s::regclass", [TABLE])
        names = [r[0] for r in cur.fetchall()]
    return {month: name for name in names if (month := month_named(name)) is not None}


def partition_create(month: datetime) -> str:
    """Add ``month``'s partition (the caller holds ``LOCK_KEY`` and knows it is missing): a new
    table like the parent, checked to hold only the month (so that attaching it scans nothing),
    attached, the check then dropped. Attaching gives it the parent's indexes, unique and
    primary keys and foreign keys."""
    name, lo, hi = name_of(month), _bound(month), _bound(month_after(month))
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(f"CREATE TABLE {q(name)} (LIKE {q(TABLE)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cur.execute(f"ALTER TABLE {q(name)} ADD CONSTRAINT {q(name + '_month')} "
                    f"CHECK (occurred_at >= '{lo}' AND occurred_at < '{hi}')")
        cur.execute(f"ALTER TABLE {q(TABLE)} ATTACH PARTITION {q(name)} FOR VALUES FROM ('{lo}') TO ('{hi}')")
        cur.execute(f"ALTER TABLE {q(name)} DROP CONSTRAINT {q(name + '_month')}")
    return name


def lock(*, wait: bool) -> bool:
    """Take ``LOCK_KEY`` for the current transaction (``wait=False``: only if free)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT {'pg_advisory_xact_lock' if wait else 'pg_try_advisory_xact_lock'}(%s)", [LOCK_KEY])
        got = cur.fetchone()[0]
    return True if wait else bool(got)


def months_ensure(months: list[datetime]) -> list[str]:
    """Make sure each of ``months`` has its partition; returns the tables created. Cheap when
    this process has seen them all (no query); else one look at the catalog, and the missing
    ones created under ``LOCK_KEY``, in a transaction of their own unless the caller is in one."""
    wanted = {month_of(m) for m in months}
    if wanted <= _known:
        return []
    created: list[str] = []
    with transaction.atomic():
        have = partitions()
        if not wanted <= have.keys():
            lock(wait=True)
            have = partitions()  # another process may have added them meanwhile
            for month in sorted(wanted - have.keys()):
                created.append(partition_create(month))
        # remembered once committed: a rolled-back creation must not be taken for a partition
        transaction.on_commit(lambda: _known.update(wanted))
    return created


def forget(months=None) -> None:
    """Drop ``months`` (default: all) from what this process believes exists."""
    if months is None:
        _known.clear()
    else:
        _known.difference_update(months)


def is_missing_partition(exc: BaseException) -> bool:
    """Whether a database error is PostgreSQL's "no partition of relation ... found for row"."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) == "23514" and "no partition" in str(cause)
