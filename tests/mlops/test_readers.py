"""The training readers give the same rows as the ORM, as arrays, whatever the chunk size."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.events.models import Event
from apps.core import pgcopy
from apps.mlops import readers


@pytest.mark.django_db
def test_interactions_as_arrays_match_the_rows(client_a, client_b, content_factory, now):
    subs = Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"r{i}") for i in range(30)])
    other = Subscriber.objects.create(client=client_b, external_id="x")
    contents = [content_factory(client_a, f"k{j}") for j in range(4)]
    theirs = content_factory(client_b, "theirs")
    rng = np.random.default_rng(0)
    rows = []
    for n in range(500):
        kind = ["read", "open", "click", "dismiss"][n % 4]
        at = now - timedelta(days=float(rng.uniform(0, 40)), microseconds=int(rng.integers(0, 10**6)))
        rows.append(Event(client=client_a, event_id=f"e{n}", type=kind, subscriber=subs[n % 30], content=contents[n % 4],
                          occurred_at=at, received_at=now))
    rows.append(Event(client=client_b, event_id="b", type="read", subscriber=other, content=theirs, occurred_at=now,
                      received_at=now))
    Event.objects.bulk_create(rows)
    weights = {"read": 1.0, "open": 1.0, "click": 3.0}
    since = now - timedelta(days=30)
    for chunk in (7, 100_000):
        got = readers.interactions(client=client_a, since=since, until=now, weights=weights, chunk=chunk)
        want = sorted((e.subscriber_id, e.content_id, weights[e.type], e.occurred_at.timestamp()) for e in Event.objects.filter(
            client=client_a, occurred_at__gte=since, type__in=list(weights)))
        order = np.lexsort((got.times, got.contents, got.subscribers))
        assert len(got) == len(want) > 250
        np.testing.assert_array_equal(got.subscribers[order], [w[0] for w in want])
        np.testing.assert_array_equal(got.contents[order], [w[1] for w in want])
        np.testing.assert_array_equal(got.weights[order], [w[2] for w in want])
        np.testing.assert_allclose(got.times[order], [w[3] for w in want], atol=1e-3, rtol=0)
        assert got.subscribers.dtype == np.int64 and got.times.dtype == np.float64
    from django.db import connection

    if connection.vendor == "postgresql":  # the binary COPY path, not the cursor fallback
        from apps.events.models import Event as E

        qs = E.objects.filter(client=client_a).values_list("subscriber_id", "content_id", "send_id", "send_id").order_by()
        assert readers._copy_rows(qs, (">i8",) * 4) is None  # NULLs are not fixed-width: refused, the connection still usable
        assert len(readers.interactions(client=client_a, since=since, weights=weights)) == len(want)


def _world(client_a, content_factory, now, n=500):
    subs = Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"r{i}") for i in range(30)])
    contents = [content_factory(client_a, f"k{j}") for j in range(4)]
    rng = np.random.default_rng(1)
    Event.objects.bulk_create([
        Event(client=client_a, event_id=f"e{k}", type=["read", "click"][k % 2], subscriber=subs[k % 30], content=contents[k % 4],
              occurred_at=now - timedelta(days=float(rng.uniform(0, 20)), microseconds=int(rng.integers(0, 10**6))),
              received_at=now) for k in range(n)])
    return Event.objects.filter(client=client_a).order_by()


def _postgresql_only():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the binary COPY reader is PostgreSQL's")


@pytest.mark.django_db
def test_copy_times_are_the_databases_epoch_seconds_exactly(client_a, content_factory, now):
    """The COPY path reads the stored timestamps and makes seconds in numpy; the result is the
    same float, bit for bit, as EXTRACT(EPOCH ...)::float8 computed by the database."""
    _postgresql_only()
    _world(client_a, content_factory, now)
    weights = {"read": 1.0, "click": 3.0}
    got = readers.interactions(client=client_a, since=now - timedelta(days=30), weights=weights)
    qs = Event.objects.filter(client=client_a).annotate(ts=readers.Epoch(readers.F("occurred_at"))).values_list(
        "subscriber_id", "content_id", "ts").order_by()
    subs, cons, ts = readers._arrays(qs, (np.int64, np.int64, np.float64))
    mine, theirs = np.lexsort((got.times, got.contents, got.subscribers)), np.lexsort((ts, cons, subs))
    assert len(got) == 500
    np.testing.assert_array_equal(got.subscribers[mine], subs[theirs])
    np.testing.assert_array_equal(got.times[mine], ts[theirs])  # exactly, not close
    assert sorted(set(got.weights.tolist())) == [1.0, 3.0]


@pytest.mark.django_db
def test_copy_arrays_grow_and_shrink_whatever_the_first_guess(client_a, content_factory, now):
    """From the planner's estimate, or from one row (grown by half again and again), and parsed
    in pieces smaller than a row or spanning many: the same rows, in arrays of their size."""
    _postgresql_only()
    qs = _world(client_a, content_factory, now).values_list("subscriber_id", "content_id", "occurred_at", "id")
    dtypes = (">i8", ">i8", ">i8", ">i8")
    want = readers._copy_rows(qs, dtypes)
    assert want is not None and len(want[3]) == 500 and want[0].dtype == np.int64
    np.testing.assert_array_equal(np.sort(want[3]), np.sort(list(Event.objects.filter(client=client_a).values_list("id", flat=True))))
    for capacity, flush in [(1, 1), (1, 100), (7, 1000), (10_000, 1 << 20)]:
        got = readers._copy_rows(qs, dtypes, capacity=capacity, flush=flush)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
            assert a.shape == (500,) and a.flags.owndata and a.dtype.isnative
    empty = readers._copy_rows(qs.filter(occurred_at__gt=now), dtypes)  # no rows: empty arrays, not a refusal
    assert empty is not None and [len(a) for a in empty] == [0, 0, 0, 0]


@pytest.mark.django_db(transaction=True)
def test_several_connections_read_the_same_rows_as_one(client_a, client_b, content_factory, now, monkeypatch, spy):
    """Over 2 or 3 connections in one exported snapshot, each reading a range of the table's
    pages: the rows one COPY gives (another client's rows, updated and deleted rows included in
    the table's pages, none twice), in page order; an error on any connection is the database's
    and leaves Django's connection usable."""
    from django.db import DataError, connection
    from django.db.models import ExpressionWrapper, F, IntegerField, Value

    _postgresql_only()
    events = _world(client_a, content_factory, now, n=3000)
    theirs = Subscriber.objects.create(client=client_b, external_id="x")
    other = content_factory(client_b, "theirs")
    Event.objects.bulk_create([Event(client=client_b, event_id=f"b{k}", type="read", subscriber=theirs, content=other,
                                     occurred_at=now, received_at=now) for k in range(500)])
    ids = sorted(events.values_list("id", flat=True))
    Event.objects.filter(id__in=ids[::7]).update(type="read")  # new row versions at the table's end
    Event.objects.filter(id__in=ids[3::11]).delete()
    with connection.cursor() as cursor:
        # (the events' pages are their monthly partitions': the ranges are cut by the largest one)
        cursor.execute("SELECT MAX(pg_relation_size(relid)) / current_setting('block_size')::int "
                       "FROM pg_partition_tree('events_event') WHERE isleaf")
        assert cursor.fetchone()[0] >= 6  # pages enough for every range to hold rows
    qs = events.values_list("subscriber_id", "content_id", "occurred_at", "id")
    dtypes = (">i8",) * 4
    want = readers._copy_rows(qs, dtypes)
    used = spy(readers, "_copy_rows_streams", 2)  # the streams of each split read
    monkeypatch.setattr(pgcopy, "STREAM_MIN_ROWS", 0)
    for streams, flush in [(2, 1 << 20), (3, 100)]:
        got = readers._copy_rows(qs, dtypes, streams=streams, flush=flush)
        assert used[-1] == streams
        assert len(got[3]) == len(want[3]) == events.count() and len(np.unique(got[3])) == len(got[3])
        by_id = np.argsort(got[3])
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a[by_id], b[np.argsort(want[3])])
            assert a.flags.owndata and a.dtype.isnative
    weights = {"read": 1.0, "click": 3.0}
    one = readers.interactions(client=client_a, since=now - timedelta(days=30), weights=weights)
    two = readers.interactions(client=client_a, since=now - timedelta(days=30), weights=weights, streams=2)
    assert used[-1] == 2 and len(two) == len(one) and sorted(two.times.tolist()) == sorted(one.times.tolist())
    assert not connection.in_atomic_block
    middle = ids[-10]
    late = events.annotate(x=ExpressionWrapper(Value(1) / (F("id") - Value(middle)), output_field=IntegerField()))
    with pytest.raises(DataError, match="division by zero"):
        readers._copy_rows(late.values_list("subscriber_id", "content_id", "x", "id"), dtypes, streams=2, flush=64)
    assert events.count() == len(want[3]) and not connection.in_atomic_block


@pytest.mark.django_db
def test_a_failing_copy_raises_and_leaves_the_connection_usable(client_a, content_factory, now):
    """An error while planning (before any COPY), at the first row, or after some rows have come
    is the database's error (as Django raises it), and the connection takes the next query."""
    from django.db import DataError, transaction
    from django.db.models import ExpressionWrapper, F, IntegerField, Value

    _postgresql_only()
    events = _world(client_a, content_factory, now)
    middle = sorted(events.values_list("id", flat=True))[250]
    late = events.annotate(x=ExpressionWrapper(Value(1) / (F("id") - Value(middle)), output_field=IntegerField()))
    early = events.annotate(x=ExpressionWrapper(Value(1) / (F("id") - F("id")), output_field=IntegerField()))
    planned = events.annotate(x=ExpressionWrapper(Value(1) / Value(0), output_field=IntegerField()))
    for qs in (late, early, planned):
        with pytest.raises(DataError, match="division by zero"), transaction.atomic():
            readers._copy_rows(qs.values_list("subscriber_id", "content_id", "x", "id"), (">i8",) * 4, flush=64)
        assert events.count() == 500
    assert len(readers.interactions(client=client_a, since=now - timedelta(days=30), weights={"read": 1.0})) == 250


@pytest.mark.django_db
def test_sends_as_arrays_keep_clicks_platforms_and_propensities(client_a, content_factory, now):
    from apps.campaigns.models import Campaign, Wave
    from apps.delivery.models import Send

    content = content_factory(client_a, "s")
    campaign = Campaign.objects.create(client=client_a, content=content, created_at=now, state="running")
    wave = Wave.objects.create(campaign=campaign, number=1, planned_size=4, created_at=now)
    subs = Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"p{i}", platform=p)
                                           for i, p in enumerate(["ios", "android", "ios", "android"])])
    sent = now - timedelta(hours=2)
    Send.objects.bulk_create([
        Send(campaign=campaign, wave=wave, subscriber=subs[0], baseline_ctr=0.05, state="sent", created_at=sent, sent_at=sent,
             clicked_at=sent + timedelta(seconds=90), propensity=1.0),
        Send(campaign=campaign, wave=wave, subscriber=subs[1], baseline_ctr=0.05, state="sent", created_at=sent, sent_at=sent,
             propensity=0.25),
        Send(campaign=campaign, wave=wave, subscriber=subs[2], baseline_ctr=0.05, state="pending", created_at=sent),
        Send(campaign=campaign, wave=wave, subscriber=subs[3], baseline_ctr=0.05, state="sent", created_at=sent,
             sent_at=now + timedelta(hours=1)),
    ])
    got = readers.sends(client=client_a, until=now)
    assert len(got) == 2  # the pending one and the one sent after ``until`` are not there
    order = np.argsort(got.subscribers)
    assert got.platforms[order].tolist() == ["ios", "android"]
    np.testing.assert_allclose(got.clicked[order][0] - got.sent[order][0], 90.0, atol=1e-3)
    assert np.isnan(got.clicked[order][1]) and got.propensity[order].tolist() == [1.0, 0.25]
    assert len(readers.sends(waves=[], until=now)) == 0
