"""Property tests: the database's eligibility query agrees with the rules stated in plain Python,
and the rules themselves hold (opt-in, 7-day slot, never twice, quiet hours, segment)."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from apps.audience.models import Subscriber
from apps.audience.selectors import Segment, in_quiet_hours, is_eligible, local_hour
from apps.core.policy import DEFAULTS
from apps.delivery.selectors import eligible_candidates
from apps.campaigns.models import Campaign, Wave
from apps.delivery.models import Send

ZONES = ["UTC", "Asia/Seoul", "America/New_York", "Europe/London", "Pacific/Kiritimati", "Asia/Kolkata"]
offsets = st.one_of(st.none(), st.floats(min_value=0, max_value=20, allow_nan=False).map(lambda d: timedelta(days=d)))
subscriber = st.fixed_dictionaries({
    "push_opt_in": st.booleans(),
    "timezone": st.sampled_from(ZONES),
    "last_push_ago": offsets,
    "last_activity_ago": offsets,
    "sent_before": st.booleans(),
})


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(subscriber, min_size=1, max_size=25), hour=st.integers(0, 23),
       activity=st.sampled_from(["inactive", "active", "any"]), inactive_days=st.integers(1, 14),
       quiet=st.tuples(st.integers(0, 23), st.integers(0, 23)))
def test_query_agrees_with_the_rules(client_a, content_factory, people, hour, activity, inactive_days, quiet):
    Send.objects.all().delete()
    Campaign.objects.all().delete()
    Subscriber.objects.all().delete()
    now = datetime(2026, 11, 28, hour, 30, tzinfo=timezone.utc)
    content = content_factory(client_a, "prop", created_at=now - timedelta(minutes=40)) if not hasattr(client_a, "_prop") else client_a._prop
    client_a._prop = content
    old = Campaign.objects.create(client=client_a, content=content, created_at=now, state="done")
    wave = Wave.objects.create(campaign=old, number=1, planned_size=1, created_at=now)
    subs = []
    for i, p in enumerate(people):
        s = Subscriber.objects.create(
            client=client_a, external_id=f"h{i}", push_opt_in=p["push_opt_in"], timezone=p["timezone"],
            last_content_push_at=None if p["last_push_ago"] is None else now - p["last_push_ago"],
            last_activity_at=None if p["last_activity_ago"] is None else now - p["last_activity_ago"])
        if p["sent_before"]:
            Send.objects.create(campaign=old, wave=wave, subscriber=s, baseline_ctr=0.01, created_at=now)
        subs.append((s, p["sent_before"]))
    segment = Segment(activity=activity, inactive_days=inactive_days)
    got = set(eligible_candidates(client=client_a, content_id=content.pk, now=now, segment=segment, cap_window=DEFAULTS.cap_window,
                                  quiet_start=quiet[0], quiet_end=quiet[1]).ids.tolist())
    expected = {s.pk for s, sent in subs if is_eligible(s, now=now, sent_this_content=sent, segment=segment,
                                                         cap_window=DEFAULTS.cap_window, quiet_start=quiet[0], quiet_end=quiet[1])}
    assert got == expected


@given(hour=st.integers(0, 23), start=st.integers(0, 23), end=st.integers(0, 23))
def test_quiet_hours_cover_exactly_the_window(hour, start, end):
    window = {(start + i) % 24 for i in range((end - start) % 24)}
    assert in_quiet_hours(hour, start, end) == (hour in window)


@given(at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc)))
def test_local_hour_uses_the_subscribers_zone(at):
    assert local_hour(at, "UTC") == at.hour
    assert local_hour(at, "Asia/Seoul") == (at.hour + 9) % 24  # Korea has no daylight saving time


def test_default_quiet_hours_are_22_to_8():
    from apps.core.models import Policy

    c = Policy()
    assert {h for h in range(24) if in_quiet_hours(h, c.quiet_hours_start, c.quiet_hours_end)} == {22, 23, 0, 1, 2, 3, 4, 5, 6, 7}


@pytest.mark.django_db
def test_the_columnar_read_gives_the_rows_the_generic_read_gives(client_a, client_b, content_factory, monkeypatch):
    """On PostgreSQL the eligible are read by binary COPY, the time zone and locale as hashes of
    their text; every array must be the one the row-by-row read gives, in its order (zones valid
    and not, locales of every shape, people never active, another client's people beside), also
    once the zones in quiet hours are known and left out by the query."""
    import numpy as np
    from django.db import connection

    from apps.delivery import selectors

    if connection.vendor != "postgresql":
        pytest.skip("the columnar read is PostgreSQL's")
    rng = np.random.default_rng(3)
    now = datetime(2026, 11, 28, 14, 30, tzinfo=timezone.utc)
    zones = [*ZONES, "Not/AZone", "asia/seoul"]
    locales = ["", "ko", "ko-KR", "en_US", "EN-gb", "pt_BR.UTF-8", "zh-Hant-TW", "ja"]
    for client, prefix in ((client_a, "a"), (client_b, "b")):
        Subscriber.objects.bulk_create([Subscriber(
            client=client, external_id=f"{prefix}{i}", timezone=zones[rng.integers(len(zones))],
            locale=locales[rng.integers(len(locales))], push_opt_in=bool(rng.random() < 0.9),
            push_sends=int(rng.integers(0, 30)), push_clicks=0, reads_decayed=float(rng.random()),
            active_days_decayed=float(rng.random() * 3), slot_price=float(rng.random() * 0.05),
            last_activity_at=None if rng.random() < 0.2 else now - timedelta(days=float(rng.uniform(0, 60))),
            last_content_push_at=None if rng.random() < 0.5 else now - timedelta(days=float(rng.uniform(0, 14))))
            for i in range(3000)])
    content = content_factory(client_a, "columnar", created_at=now - timedelta(minutes=40))
    for segment, quiet in ((Segment(activity="inactive", inactive_days=7), (22, 8)),
                           (Segment(activity="any", inactive_days=7), (0, 0)),
                           (Segment(activity="active", inactive_days=14), (10, 20))):
        ask = dict(client=client_a, content_id=content.pk, now=now, segment=segment, cap_window=DEFAULTS.cap_window,
                   quiet_start=quiet[0], quiet_end=quiet[1])
        selectors._TEXT_OF_HASH.clear()  # learnt afresh from the database
        columnar = eligible_candidates(**ask)
        with monkeypatch.context() as m:
            m.setattr(selectors, "_eligible_by_copy", lambda *a, **k: None)
            generic = eligible_candidates(**ask)
        assert len(generic) > 100
        for name in ("ids", "push_sends", "push_clicks", "days_inactive", "language", "reads_decayed",
                     "active_days_decayed", "slot_price"):
            a, b = getattr(columnar, name), getattr(generic, name)
            assert a.dtype.kind == b.dtype.kind and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        assert set(columnar.language.tolist()) >= {"ko", "en", "pt", "zh"}
        # the zones seen are remembered: the next read leaves those in quiet hours to the database
        assert selectors._ZONES_OF[client_a.pk] >= {"UTC", "Asia/Seoul"}


@pytest.mark.django_db(transaction=True)
def test_the_read_over_several_connections_gives_what_one_gives(client_a, client_b, content_factory, monkeypatch,
                                                                  spy):
    """On PostgreSQL many eligible people are read over several connections, each a range of the
    table's pages: the same arrays as one connection's read, in id order although updates have
    moved rows to other pages, and another client's people left out; inside a transaction that
    has itself changed subscribers, one connection reads (the others would not see the change),
    and so does a shard's read of a range of ids."""
    import contextlib

    import numpy as np
    from django.conf import settings as django_settings
    from django.db import connection, transaction

    from apps.core import pgcopy
    from apps.delivery import selectors

    if connection.vendor != "postgresql":
        pytest.skip("the split read is PostgreSQL's")
    rng = np.random.default_rng(5)
    now = datetime(2026, 11, 28, 14, 30, tzinfo=timezone.utc)
    for client, prefix in ((client_a, "a"), (client_b, "b")):
        Subscriber.objects.bulk_create([Subscriber(
            client=client, external_id=f"{prefix}{i}", timezone=ZONES[rng.integers(len(ZONES))], locale="ko-KR",
            push_opt_in=bool(rng.random() < 0.9), push_sends=int(rng.integers(0, 30)), push_clicks=0,
            reads_decayed=float(rng.random()), slot_price=float(rng.random() * 0.05),
            last_activity_at=None if rng.random() < 0.2 else now - timedelta(days=float(rng.uniform(0, 60))))
            for i in range(4000)])
    mine = list(Subscriber.objects.filter(client=client_a).order_by("id").values_list("id", flat=True))
    Subscriber.objects.filter(id__in=mine[:1500:3]).update(push_sends=99)  # new row versions at the table's end
    content = content_factory(client_a, "split", created_at=now - timedelta(minutes=40))
    ask = dict(client=client_a, content_id=content.pk, now=now, segment=Segment(activity="any", inactive_days=7),
               cap_window=DEFAULTS.cap_window, quiet_start=22, quiet_end=8)
    split = spy(pgcopy, "copy_split", 3)  # the streams of each split read
    monkeypatch.setattr(pgcopy, "STREAM_MIN_ROWS", 0)
    names = ("ids", "push_sends", "push_clicks", "days_inactive", "language", "reads_decayed", "active_days_decayed",
             "slot_price")

    def read(streams):
        monkeypatch.setitem(django_settings.PUSHADMIN["SHARDS"], "READ_STREAMS", streams)
        return eligible_candidates(**ask)

    one = read(1)
    assert not split and len(one) > 1000 and np.all(np.diff(one.ids) > 0)
    assert set(one.ids.tolist()) <= set(mine)
    for streams in (2, 3):
        for in_transaction in (False, True):
            with transaction.atomic() if in_transaction else contextlib.nullcontext():
                got = read(streams)
            assert split[-1] == streams
            for name in names:
                a, b = getattr(got, name), getattr(one, name)
                assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    used = len(split)
    # a range of ids is a shard of a job split already: read over one connection
    part = eligible_candidates(**ask, id_range=(int(one.ids[0]), int(one.ids[-1]) + 1))
    assert len(split) == used and np.array_equal(part.ids, one.ids)
    with transaction.atomic():  # this transaction's own change: only its connection sees it
        Subscriber.objects.filter(id=one.ids[0]).update(push_sends=12345)
        got = read(2)
        assert len(split) == used and got.push_sends[0] == 12345
        transaction.set_rollback(True)
