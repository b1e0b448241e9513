"""Training data as arrays: a client's events and sends read straight into numpy, in chunks.

A trainer needs integers and times, not model instances: turning millions of rows into Python
datetimes costs more than the database's query. Each reader asks for narrow columns (ids, a
weight, epoch seconds computed by the database). On PostgreSQL the interactions come as binary
``COPY`` output, fixed-width rows parsed by numpy a megabyte at a time into arrays allocated once
(their size counted first): no Python object per row, memory near the arrays' own size. Other
databases, and the sends (which carry text), go through a cursor ``chunk`` rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, F, FloatField, Func, Value, When
from django.db.models.functions import Cast

from apps.core.sql import epoch_sql
from apps.delivery.models import Send
from apps.events.models import Event

CHUNK = 100_000


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


# A binary COPY row of (bigint, bigint, double, double): a 2-byte field count, then each field
# as a 4-byte length and its big-endian value.
_ROW = np.dtype([("n", ">i2"), ("l0", ">i4"), ("sub", ">i8"), ("l1", ">i4"), ("con", ">i8"), ("l2", ">i4"),
                 ("w", ">f8"), ("l3", ">i4"), ("t", ">f8")])
_HEADER = b"PGCOPY\n\xff\r\n\x00"


def _copy_interactions(queryset) -> list[np.ndarray] | None:
    """PostgreSQL: the (subscriber, content, weight, time) rows of ``queryset`` by binary COPY
    into four arrays; None when the rows are not all fixed-width (a NULL), to read otherwise."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS rows", params)
        n = int(cursor.fetchone()[0])
        out = [np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n), np.empty(n)]
        raw = cursor.cursor  # psycopg's own cursor: COPY takes no bind parameters, the values go in quoted
        query = connection.ops.compose_sql(sql, params)
        pending, filled, header, ok = b"", 0, None, True
        blocks, size = [], 0

        def parse(data: bytes) -> tuple[bytes, bool]:
            """Fill the arrays with the whole rows at the front of ``data``; (the rest, ok)."""
            nonlocal filled, header
            if header is None:
                if len(data) < 19:
                    return data, True
                if data[:11] != _HEADER:
                    return b"", False
                data = data[19 + int.from_bytes(data[15:19], "big"):]
                header = True
            rows = len(data) // _ROW.itemsize
            if not rows:
                return data, True
            got = np.frombuffer(data, dtype=_ROW, count=rows)
            lengths = (got["l0"], got["l1"], got["l2"], got["l3"])
            if np.any(got["n"] != 4) or any(np.any(x != 8) for x in lengths) or filled + rows > n:
                return b"", False  # a NULL or another type (not fixed-width), or rows arrived since the count
            for arr, name in zip(out, ("sub", "con", "w", "t")):
                arr[filled:filled + rows] = got[name]
            filled += rows
            return data[rows * _ROW.itemsize:], True

        # psycopg hands COPY data over a message (a row) at a time: gathered into megabytes first
        with raw.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as copy:
            for block in copy:
                if not ok:
                    continue  # read to the end: the connection is usable again only then
                blocks.append(bytes(block))
                size += len(block)
                if size >= 1 << 20:
                    pending, ok = parse(pending + b"".join(blocks))
                    blocks, size = [], 0
        if ok and blocks:
            pending, ok = parse(pending + b"".join(blocks))
        if not ok or filled != n or bytes(pending) != b"\xff\xff":  # every row, then the trailer
            return None
    return out


@dataclass(frozen=True)
class Interactions:
    subscribers: np.ndarray  # int64 ids
    contents: np.ndarray  # int64 ids
    weights: np.ndarray  # float64
    times: np.ndarray  # float64 epoch seconds

    def __len__(self) -> int:
        return len(self.subscribers)


def interactions(*, client, since: datetime, until: datetime | None = None, weights: dict[str, float],
                 chunk: int = CHUNK) -> Interactions:
    """The client's events of the kinds in ``weights`` (kind -> weight) since ``since`` (and at or
    before ``until``)."""
    qs = Event.objects.filter(client=client, occurred_at__gte=since, type__in=list(weights))
    if until is not None:
        qs = qs.filter(occurred_at__lte=until)
    weight = Cast(Case(*[When(type=kind, then=Value(float(w))) for kind, w in weights.items()], output_field=FloatField()),
                  FloatField())
    qs = qs.annotate(w=weight, ts=Epoch(F("occurred_at"))).values_list("subscriber_id", "content_id", "w", "ts").order_by()
    got = _copy_interactions(qs) if connection.vendor == "postgresql" else None
    subs, cons, w, t = got if got is not None else _arrays(qs, (np.int64, np.int64, np.float64, np.float64), chunk)
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
    return Sends(w, s, p, sent, clicked, prop)
