"""Training data as arrays: a client's events and sends read straight into numpy, in chunks.

A trainer needs integers and times, not model instances: turning millions of rows into Python
datetimes costs more than the database's query. Each reader asks for narrow columns (ids, a
weight, epoch seconds computed by the database), streams them through a server-side cursor on
PostgreSQL (a plain cursor on SQLite) ``chunk`` rows at a time, and fills typed arrays, so
memory stays near the arrays' own size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, F, FloatField, Func, Value, When

from apps.delivery.models import Send
from apps.events.models import Event

CHUNK = 100_000


class Epoch(Func):
    """A datetime column as seconds since 1970 (float), computed by the database."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"EXTRACT(EPOCH FROM {sql})::double precision", params
        if connection.vendor == "sqlite":
            return f"((julianday({sql}) - 2440587.5) * 86400.0)", params
        raise NotImplementedError(f"Epoch on {connection.vendor}")


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
    weight = Case(*[When(type=kind, then=Value(float(w))) for kind, w in weights.items()], output_field=FloatField())
    qs = qs.annotate(w=weight, ts=Epoch(F("occurred_at"))).values_list("subscriber_id", "content_id", "w", "ts")
    subs, cons, w, t = _arrays(qs.order_by(), (np.int64, np.int64, np.float64, np.float64), chunk)
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
