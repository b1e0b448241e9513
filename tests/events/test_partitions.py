"""Events by month and their retention, through the real ingestion, roll-ups, maintenance and sweep.

On PostgreSQL the events table is partitioned by month (``apps.events.partitions``): a batch's
months get their partitions before it is stored, the sweep makes the next month ahead and drops a
month past the retention only once the roll-ups have processed every event in it, and nothing
inside the retention window is lost. On SQLite (one table) the same retention deletes rows. On
both, a repeated event_id is counted once, whatever its ``occurred_at`` within 30 days.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from apps.core.models import Decision
from apps.events import partitions
from apps.events.models import Event
from apps.events.services import events_ingest, events_partitions_maintain, subscribers_activity_rollup
from tests.events.conftest import DAYS, read


def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("monthly partitions are PostgreSQL's; SQLite keeps one table (its retention: the tests below)")


def _stored(client) -> dict[str, datetime]:
    return dict(Event.objects.filter(client=client).values_list("event_id", "occurred_at"))


def _month(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _maintain(now: datetime) -> dict[str, int]:
    """``events_partitions_maintain`` as a sweep runs it: after the ingestion's transaction ended.
    Here both are inside the test's transaction, so first what the ingestion's commit does: the
    deferred foreign-key checks of the events it stored (PostgreSQL drops no table with such
    checks pending)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
    return events_partitions_maintain(now=now)


@pytest.mark.django_db
def test_a_month_past_the_retention_is_dropped_once_rolled_up_and_no_event_inside_is_lost(client_a, reader, retention):
    """Months long before the migration's (2020-2021), so that each partition here is made by the
    ingestion or the maintenance under test, and the migration's are in their future."""
    _postgresql_only()
    t0 = datetime(2021, 1, 15, 12, tzinfo=UTC)
    batch = {
        "jul-a": datetime(2020, 7, 10, 8, tzinfo=UTC),
        "jul-b": datetime(2020, 7, 31, 23, 59, 59, 999999, tzinfo=UTC),  # the last instant of July
        "aug-first": datetime(2020, 8, 1, tzinfo=UTC),  # the first of August
        "aug-b": datetime(2020, 8, 20, tzinfo=UTC),
        "oct": datetime(2020, 10, 5, tzinfo=UTC),
        "jan": datetime(2021, 1, 15, 11, tzinfo=UTC),
    }
    assert not {m for m in partitions.partitions() if m.year in (2020, 2021)}
    answer = events_ingest(client=client_a, items=[read(k, at, f"u{n % 3}") for n, (k, at) in enumerate(batch.items())], now=t0)
    assert answer["accepted"] == 6
    # the batch's months got their partitions (and the months between them), each event in its own
    assert {m for m in partitions.partitions() if m.year in (2020, 2021)} == {_month(2020, m) for m in range(7, 13)} | {_month(2021, 1)}
    with connection.cursor() as cur:
        cur.execute("SELECT event_id, tableoid::regclass::text FROM events_event WHERE client_id = %s", [client_a.pk])
        where = dict(cur.fetchall())
    assert where == {"jul-a": "events_event_y2020m07", "jul-b": "events_event_y2020m07", "aug-first": "events_event_y2020m08",
                     "aug-b": "events_event_y2020m08", "oct": "events_event_y2020m10", "jan": "events_event_y2021m01"}
    july_max_id = max(Event.objects.filter(event_id__startswith="jul-").values_list("id", flat=True))

    # 2021-02-20 minus 200 days is 2020-08-04: July ended before the cutoff, August did not.
    t1 = datetime(2021, 2, 20, 9, tzinfo=UTC)
    cutoff = t1 - retention
    assert _month(2020, 8) < cutoff < _month(2020, 9)
    done = _maintain(t1)  # the roll-ups have processed nothing yet
    assert (done["partitions_dropped"], done["partitions_held"]) == (0, 1)
    assert done["partitions_created"] == 2  # February and March 2021: the current month and the next
    assert {_month(2020, 7), _month(2021, 2), _month(2021, 3)} <= partitions.partitions().keys()
    subscribers_activity_rollup()  # one sweep's lag: it notes the newest event, processes none
    assert _maintain(t1)["partitions_held"] == 1
    assert set(_stored(client_a)) == set(batch)

    subscribers_activity_rollup()  # now every event is in the subscribers' sums
    done = _maintain(t1)
    assert (done["partitions_dropped"], done["partitions_held"], done["partitions_created"]) == (1, 0, 0)
    assert _month(2020, 7) not in partitions.partitions()
    kept = _stored(client_a)
    assert set(kept) == {"aug-first", "aug-b", "oct", "jan"}
    assert {k for k, at in batch.items() if at >= cutoff} <= set(kept)  # nothing inside the window lost
    assert kept["aug-first"] < cutoff  # a month goes only whole
    dropped = Decision.objects.get(action="events_drop")
    assert dropped.client_id is None and dropped.actor_name == "retention" and dropped.subject == "events_event_y2020m07"
    assert dropped.numbers["max_id"] == july_max_id and dropped.numbers["rolled_up_through"] >= july_max_id
    assert dropped.numbers["retention_days"] == DAYS

    assert _maintain(t1) == dict.fromkeys(done, 0)  # idempotent
    # the months kept take events as before
    assert events_ingest(client=client_a, items=[read("sep", datetime(2020, 9, 9, tzinfo=UTC))], now=t1)["accepted"] == 1


@pytest.mark.django_db
def test_the_dropped_month_is_the_one_whose_events_were_rolled_up(client_a, reader, retention):
    """The roll-ups' watermark decides: a month whose largest event id is beyond it waits, even
    when an older month beside it goes."""
    _postgresql_only()
    t0 = datetime(2019, 3, 10, tzinfo=UTC)
    events_ingest(client=client_a, items=[read("sep", datetime(2018, 9, 5, tzinfo=UTC))], now=t0)
    subscribers_activity_rollup(settle=True)
    events_ingest(client=client_a, items=[read("oct", datetime(2018, 10, 5, tzinfo=UTC))], now=t0)  # not rolled up
    t1 = datetime(2019, 6, 1, tzinfo=UTC)  # cutoff 2018-11-13: September and October are past it
    done = _maintain(t1)
    assert (done["partitions_dropped"], done["partitions_held"]) == (1, 1)
    assert set(_stored(client_a)) == {"oct"}
    assert _month(2018, 10) in partitions.partitions() and _month(2018, 9) not in partitions.partitions()


@pytest.mark.django_db
def test_a_repeated_event_id_counts_once_within_30_days_whatever_its_occurred_at(client_a, reader, now):
    """Same id and time again (the unique index); the same id with another time in the same
    month or in the month before (the look-up); twice in one batch; and, documented, a repeat
    whose times are more than ``REPEAT_WINDOW`` apart, which is stored again."""
    from apps.events.services import REPEAT_WINDOW

    assert REPEAT_WINDOW == timedelta(days=30)
    t = partitions.month_of(now) + timedelta(days=1)  # "now" of these batches: the 2nd of this month
    first = events_ingest(client=client_a, now=t, items=[
        read("a", t - timedelta(hours=5)), read("b", t - timedelta(days=3)), read("c", t - timedelta(minutes=30)),
        read("far", t - timedelta(days=70))])
    assert first["accepted"] == 4
    again = events_ingest(client=client_a, now=t, items=[
        read("a", t - timedelta(hours=5)),  # the same occurred_at
        read("b", t - timedelta(hours=1)),  # another time, in this month: the first one is in last month's partition
        read("c", t - timedelta(minutes=10)),  # another time in the same month
        {"event_id": "a", "type": "read", "subscriber": "u1", "content": "c1"},  # no occurred_at: its arrival, t
        read("far", t - timedelta(hours=2)),  # 70 days after the stored one: beyond the window, stored again
    ])
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate", "duplicate", "duplicate", "accepted"]
    stored = Event.objects.filter(client=client_a)
    assert stored.count() == 5 and stored.filter(event_id="far").count() == 2
    assert stored.get(event_id="b").occurred_at == t - timedelta(days=3)  # the first one kept
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT tableoid::regclass::text FROM events_event WHERE event_id = 'b'")
            assert cur.fetchone()[0] == partitions.name_of(partitions.month_of(t - timedelta(days=3)))
    once = events_ingest(client=client_a, now=t, items=[read("d", t - timedelta(days=100)), read("d", t - timedelta(days=1))])
    assert [r["status"] for r in once["results"]] == ["accepted", "duplicate"]  # twice in one batch: once


@pytest.mark.django_db(transaction=True)
def test_batches_racing_with_the_same_events_store_each_once(client_a, content_factory, subscriber_factory):
    """Four batches at once carrying the same 300 events (the same ids and times): the unique
    index makes the database the judge, so together they accept each event once."""
    subscriber_factory(client_a, 3)
    content_factory(client_a, "c1")
    now = datetime.now(UTC).replace(microsecond=0)
    items = [read(f"r{i}", now - timedelta(minutes=i), f"u{i % 3}") for i in range(300)]
    start = threading.Barrier(4)
    answers, errors = [], []

    def worker():
        try:
            start.wait()
            answers.append(events_ingest(client=client_a, items=items, now=now))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert sum(a["accepted"] for a in answers) == 300 and sum(a["duplicates"] for a in answers) == 900
    assert Event.objects.filter(client=client_a).count() == 300


@pytest.mark.django_db
def test_the_sweep_keeps_the_retention(client_a, reader, retention, now):
    """Both databases: the sweep rolls up, then removes what is past the retention and rolled up
    (PostgreSQL: the month, SQLite: the rows), and keeps the rest; on PostgreSQL it also makes
    the next month's partition ahead."""
    from apps.orchestration.sweep import sweep

    old = now - timedelta(days=260)
    assert events_ingest(client=client_a, now=now - timedelta(days=100),
                         items=[read("old", old), read("kept", now - timedelta(days=150))])["accepted"] == 2
    assert events_ingest(client=client_a, now=now, items=[read("recent", now - timedelta(days=1))])["accepted"] == 1
    old_id = Event.objects.get(event_id="old").pk
    if connection.vendor == "postgresql":
        ahead = partitions.month_after(partitions.month_after(partitions.month_of(now)))
        assert ahead not in partitions.partitions()
    _maintain(now - timedelta(days=100))  # (nothing past the retention then: only the ingestion's commit)
    done = sweep(now=now, settle=True)
    assert done["activity"] >= 1
    assert set(_stored(client_a)) == {"kept", "recent"}
    if connection.vendor == "postgresql":
        # (the month of "old", and the migration's empty months before the cutoff)
        assert done["events_partitions_dropped"] >= 1 and partitions.month_of(old) not in partitions.partitions()
        decision = Decision.objects.get(action="events_drop", subject=partitions.name_of(partitions.month_of(old)))
        assert decision.numbers["max_id"] == old_id
        later = sweep(now=ahead - timedelta(days=3), settle=True)  # in the month before it: made ahead
        assert later["events_partitions_created"] >= 1 and ahead in partitions.partitions()
    else:
        decision = Decision.objects.get(action="events_drop")
        assert done["events_rows_deleted"] == 1 and decision.numbers["rows"] == 1
        assert sweep(now=now + timedelta(minutes=1), settle=True)["events_rows_deleted"] == 0


@pytest.mark.django_db
def test_sqlite_deletes_the_old_rows_once_rolled_up_and_once_a_day(client_a, reader, retention, now, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's retention (PostgreSQL drops months: the tests above)")
    from apps.events import services

    then = now - timedelta(days=150)
    assert events_ingest(client=client_a, now=then, items=[read(f"o{k}", then - timedelta(days=60, minutes=k))
                                                           for k in range(25)])["accepted"] == 25
    assert events_ingest(client=client_a, now=now, items=[read("kept", now - timedelta(days=5))])["accepted"] == 1
    assert _maintain(now) == {**dict.fromkeys(services._COUNTS, 0), "rows_held": 25}
    subscribers_activity_rollup(settle=True)
    monkeypatch.setattr(services, "_CHUNK", 10)  # three statements: 10, 10, 5
    done = _maintain(now)
    assert (done["rows_deleted"], done["rows_held"]) == (25, 0)
    assert set(_stored(client_a)) == {"kept"}
    # the cutoff's day is done: the next sweeps that day do not look at the table
    Event.objects.create(client=client_a, event_id="planted", type="read", subscriber=Event.objects.get(event_id="kept").subscriber,
                         content=reader, occurred_at=now - timedelta(days=300), received_at=now)
    assert _maintain(now + timedelta(hours=1))["rows_deleted"] == 0
    subscribers_activity_rollup(settle=True)
    assert _maintain(now + timedelta(days=1))["rows_deleted"] == 1


@pytest.mark.django_db
def test_a_sweep_finding_another_at_it_skips_the_partitions(client_a, reader, retention):
    """Two sweeps at once: the one that does not get the advisory lock does nothing."""
    _postgresql_only()
    import psycopg

    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [partitions.LOCK_KEY])
        t = datetime(2018, 5, 5, tzinfo=UTC)
        assert _maintain(t)["partitions_created"] == 0
        assert _month(2018, 6) not in partitions.partitions()
        other.execute("SELECT pg_advisory_unlock(%s)", [partitions.LOCK_KEY])
        assert _maintain(t)["partitions_created"] >= 2
        assert _month(2018, 6) in partitions.partitions()
    finally:
        other.close()


@pytest.mark.django_db
def test_a_busy_events_table_postpones_the_drop_without_an_error(client_a, reader, retention):
    """A reader holding the events table: the drop waits at most its lock timeout (or does not
    try when the reader has been there longer), drops nothing, and the next sweep drops."""
    _postgresql_only()
    import psycopg

    t0 = datetime(2017, 3, 1, tzinfo=UTC)
    events_ingest(client=client_a, items=[read("jan", datetime(2017, 1, 10, tzinfo=UTC))], now=t0)
    subscribers_activity_rollup(settle=True)
    t1 = datetime(2017, 9, 1, tzinfo=UTC)  # cutoff 2017-02-13
    other = psycopg.connect(**connection.get_connection_params(), autocommit=False)
    try:
        other.execute("SELECT 1 FROM events_event LIMIT 1")  # holds the table until it ends
        done = _maintain(t1)
        assert done["partitions_dropped"] == 0 and _month(2017, 1) in partitions.partitions()
        with connection.cursor() as cur:
            cur.execute("SHOW lock_timeout")
            assert cur.fetchone()[0] == "0"  # the drop's own timeout did not stay behind
        other.rollback()
        assert _maintain(t1)["partitions_dropped"] == 1
        assert _month(2017, 1) not in partitions.partitions()
    finally:
        other.close()


@pytest.mark.django_db
def test_a_month_dropped_behind_this_process_s_back_is_made_again(client_a, reader, retention, monkeypatch):
    """A month this process believes it has (its cache) but that is gone: the insert fails on the
    missing partition, the ingestion looks at the catalog again, makes it and stores the batch."""
    _postgresql_only()
    monkeypatch.setattr(partitions, "_known", {_month(2016, 4)})  # believed, never made
    assert _month(2016, 4) not in partitions.partitions()
    answer = events_ingest(client=client_a, items=[read("a", datetime(2016, 4, 2, tzinfo=UTC))],
                           now=datetime(2016, 4, 20, tzinfo=UTC))
    assert answer["accepted"] == 1 and _month(2016, 4) in partitions.partitions()
    assert set(_stored(client_a)) == {"a"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_a_filled_table_into_months_and_back(client_a, content_factory, subscriber_factory):
    """Migration 0002 on a table holding events (months apart, one older than any month the
    migration makes for the retention window, the sequence ahead of the largest id): every row
    kept with its id, in its month's partition (PostgreSQL), the same indexes and foreign keys,
    ids going on from the sequence; and back."""
    from django.db.migrations.executor import MigrationExecutor

    subscriber_factory(client_a, 1)
    content = content_factory(client_a, "c1")
    sub_id = Event._meta.get_field("subscriber").related_model.objects.get(client=client_a).pk
    indexes_before = _index_names()
    rows = [("m1", datetime(2015, 3, 4, 5, 6, 7, tzinfo=UTC)), ("m2", datetime(2015, 3, 31, 23, 59, tzinfo=UTC)),
            ("m3", datetime(2015, 4, 1, tzinfo=UTC)), ("m4", datetime.now(UTC).replace(microsecond=0)), ("gone", datetime.now(UTC))]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        MigrationExecutor(connection).migrate([("events", "0001_initial")])
        assert _index_names() - {"event_client_event_id"} == indexes_before - {"event_client_event_id_at"}
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cur:
            for event_id, at in rows:
                cur.execute("INSERT INTO events_event (client_id, event_id, type, subscriber_id, content_id, occurred_at, "
                            "received_at) VALUES (%s, %s, 'read', %s, %s, %s, %s)", [client_a.pk, event_id, sub_id, content.pk,
                                                                                     adapt(at), adapt(at)])
            cur.execute("DELETE FROM events_event WHERE event_id = 'gone'")  # its id is not to be used again
            cur.execute("SELECT event_id, id FROM events_event")
            before = dict(cur.fetchall())
        MigrationExecutor(connection).migrate(latest)
        assert dict(Event.objects.values_list("event_id", "pk")) == before
        assert dict(Event.objects.values_list("event_id", "occurred_at")) == dict(rows[:4])
        assert _index_names() == indexes_before
        new = Event.objects.create(client=client_a, event_id="next", type="read", subscriber_id=sub_id, content=content,
                                   occurred_at=rows[3][1], received_at=rows[3][1])
        assert new.pk > max(before.values()) + 1  # after "gone"'s id: the sequence went on
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT relkind FROM pg_class WHERE relname = 'events_event'")
                assert cur.fetchone()[0] == "p"
                cur.execute("SELECT event_id, tableoid::regclass::text FROM events_event")
                where = dict(cur.fetchall())
            assert where["m1"] == where["m2"] == "events_event_y2015m03" and where["m3"] == "events_event_y2015m04"
            assert where["m4"] == partitions.name_of(partitions.month_of(rows[3][1]))
            assert partitions.month_after(partitions.month_of(datetime.now(UTC))) in partitions.partitions()
        # and back: one table with UNIQUE(client, event_id) again, every row kept
        MigrationExecutor(connection).migrate([("events", "0001_initial")])
        with connection.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM events_event")
            assert cur.fetchone()[0] == 5
            if connection.vendor == "postgresql":
                cur.execute("SELECT relkind FROM pg_class WHERE relname = 'events_event'")
                assert cur.fetchone()[0] == "r"
        assert "event_client_event_id" in _index_names()
    finally:
        MigrationExecutor(connection).migrate(latest)


def _index_names() -> set[str]:
    with connection.cursor() as cur:
        return {name for name, info in connection.introspection.get_constraints(cur, "events_event").items()
                if info["index"] or info["unique"] or info["primary_key"]} - {None}
