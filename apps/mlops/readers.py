"""Training data as arrays: a client's events and sends read straight into numpy, in chunks.

A trainer needs integers and times, not model instances: turning millions of rows into Python
datetimes costs more than the database's query. Each reader asks for narrow columns (ids, a
weight, epoch seconds computed by the database). On PostgreSQL the interactions come as binary
``COPY`` output read from libpq directly, fixed-width rows parsed by numpy a megabyte at a time
into arrays that grow in place: no Python object per row, memory near the arrays' own size; the
times come as the database stores them and become epoch seconds in numpy. Other databases, and
the sends (which carry text), go through a cursor ``chunk`` rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import BooleanField, Case, F, FloatField, Func, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from apps.core.pgcopy import PG_EPOCH_US as _PG_EPOCH_US
from apps.core.pgcopy import copy_out as _copy_out
from apps.core.pgcopy import copy_split as _copy_split
from apps.core.pgcopy import estimate_rows as _estimate_rows
from apps.core.pgcopy import row_parser as _row_parser
from apps.core.pgcopy import split_worth as _split_worth
from apps.core.sql import epoch_sql
from apps.delivery.models import Send
from apps.events.models import Event

CHUNK = 100_000
MAX_CAPACITY = 1 << 26  # rows a COPY's arrays are first allocated for at most, however high the estimate


class Epoch(Func):
    """A datetime column as seconds since 1970 (float), computed by the database."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return epoch_sql(sql, connection.vendor), params


def _arrays(queryset, dtypes: tuple, chunk: int = CHUNK) -> list[np.ndarray]:
    """The queryset's values_list columns as arrays of ``dtypes`` (one per column)."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. an empty ``__in``: nothing to read
        return [np.zeros(0, dtype=d) for d in dtypes]
    parts: list[list[np.ndarray]] = [[] for _ in dtypes]
    with transaction.atomic():  # a PostgreSQL server-side cursor lives in a transaction
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while True:
                rows = cursor.fetchmany(chunk)
                if not rows:
                    break
                columns = list(zip(*rows))
                for n, dtype in enumerate(dtypes):
                    parts[n].append(np.array(columns[n], dtype=dtype))
    return [np.concatenate(p) if p else np.zeros(0, dtype=d) for p, d in zip(parts, dtypes)]


def _copy_rows(queryset, dtypes: tuple, *, capacity: int | None = None, flush: int = 1 << 20,
               streams: int = 1) -> list[np.ndarray] | None:
    """PostgreSQL: the rows of ``queryset`` (a values_list of 8-byte columns: bigint, double
    precision or timestamptz, as the numpy big-endian ``dtypes`` ">i8" or ">f8") by binary COPY
    into one native array per column, parsed by numpy ``flush`` bytes at a time. None when a row
    is not what was asked for (a NULL, another width): the caller reads otherwise.

    One snapshot of the rows, and no count first: the arrays are allocated for the planner's
    estimate with a margin (``capacity`` rows when given), which costs no memory until filled;
    more rows make them grow by half, fewer leave them shrunk to the rows read, in place
    (``ndarray.resize``: a large array is remapped by the C library, not copied, though the
    added part is zeroed).

    ``streams`` > 1 (and an estimate of ``STREAM_MIN_ROWS`` or more, outside a transaction):
    the table's pages are split into that many ranges, each read by its own connection (so by
    its own server process) in the same exported snapshot, side by side (``_copy_rows_streams``)."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return [np.zeros(0, np.dtype(d).newbyteorder("=")) for d in dtypes]
    if capacity is None:
        estimate = _estimate_rows(sql, params)
        capacity = min(int(estimate * 1.25) + 4096, MAX_CAPACITY)
    else:
        estimate = capacity
    if _split_worth(estimate, streams):  # (outside a transaction: the parts share one snapshot)
        return _copy_rows_streams(queryset, dtypes, streams, capacity, flush)
    query = connection.ops.compose_sql(sql, params)  # COPY takes no bind parameters: the values go in quoted
    parse, result = _row_parser(dtypes, capacity)
    _copy_out([(None, f"COPY ({query}) TO STDOUT (FORMAT BINARY)", parse)], flush)
    return result()


def _copy_rows_streams(queryset, dtypes: tuple, streams: int, capacity: int, flush: int) -> list[np.ndarray] | None:
    """``_copy_rows`` over ``streams`` connections in one snapshot (``apps.core.pgcopy.copy_split``),
    the parts in the table's page order."""
    def query_of(condition: str) -> str:
        sql, params = queryset.filter(RawSQL(condition, (), output_field=BooleanField())).query.sql_with_params()
        return f"COPY ({connection.ops.compose_sql(sql, params)}) TO STDOUT (FORMAT BINARY)"

    return _copy_split(query_of, queryset.model._meta.db_table, dtypes, streams, capacity, flush)


@dataclass(frozen=True)
class Interactions:
    subscribers: np.ndarray  # int64 ids
    contents: np.ndarray  # int64 ids
    weights: np.ndarray  # float64
    times: np.ndarray  # float64 epoch seconds

    def __len__(self) -> int:
        return len(self.subscribers)


def interactions(*, client, since: datetime, until: datetime | None = None, weights: dict[str, float],
                 chunk: int = CHUNK, streams: int = 1, after_id: int | None = None,
                 through_id: int | None = None) -> Interactions:
    """The client's events of the kinds in ``weights`` (kind -> weight) since ``since`` (and at or
    before ``until``; with an event id above ``after_id`` and at most ``through_id``).
    ``streams``: on PostgreSQL, read a large table over that many connections at once
    (``_copy_rows``); the rows are the same."""
    qs = Event.objects.filter(client=client, occurred_at__gte=since, type__in=list(weights))
    if until is not None:
        qs = qs.filter(occurred_at__lte=until)
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    if through_id is not None:
        qs = qs.filter(pk__lte=through_id)
    # double precision constants: the database gives each row a float8 without a cast of its own
    weight = Case(*[When(type=kind, then=Cast(Value(float(w)), FloatField())) for kind, w in weights.items()],
                  output_field=FloatField())
    qs = qs.annotate(w=weight).order_by()
    if connection.vendor == "postgresql":
        # the time as the database keeps it (8 bytes), made epoch seconds here exactly as
        # EXTRACT(EPOCH ...)::float8 makes them: the whole microseconds since 1970 over 10^6
        got = _copy_rows(qs.values_list("subscriber_id", "content_id", "w", "occurred_at"), (">i8", ">i8", ">f8", ">i8"),
                         streams=streams)
        if got is not None:
            subs, cons, w, t = got
            t += _PG_EPOCH_US
            seconds = t.view(np.float64)  # in place, a chunk at a time: no second array of times
            for lo in range(0, len(t), chunk):
                seconds[lo:lo + chunk] = t[lo:lo + chunk] / 1e6
            return Interactions(subs, cons, w, seconds)
    qs = qs.annotate(ts=Epoch(F("occurred_at"))).values_list("subscriber_id", "content_id", "w", "ts")
    subs, cons, w, t = _arrays(qs, (np.int64, np.int64, np.float64, np.float64), chunk)
    return Interactions(subs, cons, w, t)


@dataclass(frozen=True)
class Sends:
    waves: np.ndarray  # int64 wave ids
    subscribers: np.ndarray  # int64 ids
    platforms: np.ndarray  # object (str) per send
    sent: np.ndarray  # float64 epoch seconds
    clicked: np.ndarray  # float64 epoch seconds, nan: not clicked
    propensity: np.ndarray  # float64, nan: not recorded

    def __len__(self) -> int:
        return len(self.sent)


def sends(*, client=None, waves=None, since: datetime | None = None, until: datetime, chunk: int = CHUNK) -> Sends:
    """Delivered sends of the client (or of the waves ``waves``) sent in [``since``, ``until``],
    with their recipient's platform, times, click (if any) and propensity."""
    qs = Send.objects.filter(state=Send.State.SENT, sent_at__isnull=False, sent_at__lte=until)
    if client is not None:
        qs = qs.filter(campaign__client=client)
    if waves is not None:
        qs = qs.filter(wave_id__in=list(waves))
    if since is not None:
        qs = qs.filter(sent_at__gte=since)
    qs = qs.annotate(sent_s=Epoch(F("sent_at")), clicked_s=Epoch(F("clicked_at"))).values_list(
        "wave_id", "subscriber_id", "subscriber__platform", "sent_s", "clicked_s", "propensity")
    w, s, p, sent, clicked, prop = _arrays(qs.order_by(), (np.int64, np.int64, object, np.float64, np.float64, np.float64), chunk)
    # SQLite's epoch (Julian days) can put a send made at ``until`` a few microseconds after it:
    # held to ``until``, as the filter did
    np.minimum(sent, until.timestamp(), out=sent)
    return Sends(w, s, p, sent, clicked, prop)
