"""A training's interactions kept for the next one: the rows kept plus the newer ones read from the
database are the rows one read of the window gives, whatever happened in between."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.contents.models import Content
from apps.events.models import Event
from apps.mlops import kept, readers

WEIGHTS = {"read": 1.0, "open": 1.0, "click": 3.0}


def _rows(got) -> list[tuple]:
    return sorted(zip(got.subscribers.tolist(), got.contents.tolist(), got.weights.tolist(), got.times.tolist()))


def _events(client, subs, contents, rng, start, end, tag, n):
    """``n`` events occurring between ``start`` and ``end``, each received a few seconds later."""
    rows = []
    for k in range(n):
        at = start + (end - start) * float(rng.uniform()) + timedelta(microseconds=int(rng.integers(0, 10**6)))
        rows.append(Event(client=client, event_id=f"{tag}{k}", type=["read", "open", "click", "dismiss"][k % 4],
                          subscriber=subs[int(rng.integers(len(subs)))], content=contents[int(rng.integers(len(contents)))],
                          occurred_at=at, received_at=at + timedelta(seconds=int(rng.integers(1, 30)))))
    Event.objects.bulk_create(rows)


@pytest.mark.django_db
def test_kept_and_newer_rows_are_the_rows_of_one_read(client_a, client_b, content_factory, now, tmp_path):
    rng = np.random.default_rng(3)
    subs = Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"k{i}") for i in range(40)])
    contents = [content_factory(client_a, f"c{j}") for j in range(6)]
    theirs = Subscriber.objects.create(client=client_b, external_id="x")
    t1, t2 = now - timedelta(days=3), now
    _events(client_a, subs, contents, rng, t1 - timedelta(days=40), t1, "old", 600)
    # settled before the first read, dated after it: kept, and read only by a training after its date
    Event.objects.create(client=client_a, event_id="future", type="read", subscriber=subs[0], content=contents[0],
                         occurred_at=t1 + timedelta(days=1), received_at=t1 - timedelta(hours=5))
    Event.objects.create(client=client_b, event_id="theirs", type="read", subscriber=theirs,
                         content=content_factory(client_b, "t"), occurred_at=t1 - timedelta(days=1),
                         received_at=t1 - timedelta(days=1))
    first, info1 = kept.interactions(client=client_a, since=t1 - timedelta(days=30), until=t1, weights=WEIGHTS,
                                     keep=tmp_path / "v1")
    assert _rows(first) == _rows(readers.interactions(client=client_a, since=t1 - timedelta(days=30), until=t1,
                                                      weights=WEIGHTS))
    assert info1["kept"] == 0 and info1["through_id"] > 0
    # between the two trainings: newer events, one that occurred long ago but arrived now, a
    # subscriber and a content deleted (their events with them)
    _events(client_a, subs, contents, rng, t1, t2, "new", 200)
    Event.objects.create(client=client_a, event_id="late", type="click", subscriber=subs[1], content=contents[1],
                         occurred_at=t1 - timedelta(days=10), received_at=t2 - timedelta(minutes=5))
    gone_sub = subs[5].pk
    Subscriber.objects.filter(pk=gone_sub).delete()
    gone_content = contents[4].pk
    Content.objects.filter(pk=gone_content).delete()
    since2 = t2 - timedelta(days=30)  # the window moved: kept rows older than it go too
    second, info2 = kept.interactions(client=client_a, since=since2, until=t2, weights=WEIGHTS, previous=tmp_path / "v1",
                                      keep=tmp_path / "v2")
    want = readers.interactions(client=client_a, since=since2, until=t2, weights=WEIGHTS)
    assert _rows(second) == _rows(want)
    assert len(want) > 300 and gone_sub not in second.subscribers and gone_content not in second.contents
    assert np.abs(second.times - (t1.timestamp() + 86400)).min() < 1e-3  # the future-dated event, now in the window
    assert info2["kept"] > 300 and info2["dropped"] > 0 and info2["read"] < 260  # most rows came from the file
    # and the rows kept by the second read serve a third one
    third, info3 = kept.interactions(client=client_a, since=since2, until=t2 + timedelta(hours=2), weights=WEIGHTS,
                                     previous=tmp_path / "v2")
    assert _rows(third) == _rows(readers.interactions(client=client_a, since=since2, until=t2 + timedelta(hours=2),
                                                      weights=WEIGHTS))
    assert info3["kept"] > 0


@pytest.mark.django_db
def test_kept_rows_that_cannot_serve_are_not_used(client_a, content_factory, now, tmp_path):
    rng = np.random.default_rng(4)
    subs = Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"k{i}") for i in range(10)])
    contents = [content_factory(client_a, f"c{j}") for j in range(3)]
    t1 = now - timedelta(days=2)
    _events(client_a, subs, contents, rng, t1 - timedelta(days=20), now, "e", 300)
    since = t1 - timedelta(days=30)
    _, info = kept.interactions(client=client_a, since=since, until=t1, weights=WEIGHTS, keep=tmp_path / "v1")
    assert info["through_id"] > 0
    cases = {
        "other weights": dict(since=since, until=now, weights={**WEIGHTS, "click": 2.0}),
        "a window that begins earlier": dict(since=since - timedelta(days=1), until=now, weights=WEIGHTS),
        "a week after the window was last read whole": dict(since=since, until=t1 + kept.REREAD, weights=WEIGHTS),
    }
    for why, kw in cases.items():
        got, info = kept.interactions(client=client_a, previous=tmp_path / "v1", **kw)
        assert info["kept"] == 0, why
        assert _rows(got) == _rows(readers.interactions(client=client_a, **kw)), why
    # a training back in time still uses them (every row through their id is in), and keeps as much
    back = dict(since=since, until=t1 - timedelta(days=5), weights=WEIGHTS)
    got, info = kept.interactions(client=client_a, previous=tmp_path / "v1", keep=tmp_path / "back", **back)
    assert info["kept"] > 0 and _rows(got) == _rows(readers.interactions(client=client_a, **back))
    got, _ = kept.interactions(client=client_a, since=since, until=now, weights=WEIGHTS, previous=tmp_path / "back")
    assert _rows(got) == _rows(readers.interactions(client=client_a, since=since, until=now, weights=WEIGHTS))
    # a damaged file: everything is read again, the same rows
    (tmp_path / "v1" / "times.npy").write_bytes(b"\x93NUMPY")
    got, info = kept.interactions(client=client_a, since=since, until=now, weights=WEIGHTS, previous=tmp_path / "v1")
    assert info["kept"] == 0 and _rows(got) == _rows(readers.interactions(client=client_a, since=since, until=now,
                                                                         weights=WEIGHTS))


@pytest.mark.django_db
def test_a_refresh_reads_only_newer_events_and_trains_the_model_a_full_read_trains(client_a, content_factory, now,
                                                                                   settings, tmp_path):
    from apps.mlops.artifacts import artifacts_root
    from apps.mlops.selectors import load_mf
    from apps.mlops.training import train_mf

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    rng = np.random.default_rng(5)
    subs = Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"k{i}") for i in range(60)])
    contents = [content_factory(client_a, f"c{j}") for j in range(12)]
    t1 = now - timedelta(days=1)
    _events(client_a, subs, contents, rng, t1 - timedelta(days=20), t1, "old", 1500)
    v1 = train_mf(client=client_a, now=t1, min_interactions=10)
    assert (artifacts_root() / v1.artifact_path / kept.KEPT / "meta.json").exists()
    _events(client_a, subs, contents, rng, t1, now, "new", 100)
    Subscriber.objects.filter(pk=subs[7].pk).delete()
    v2 = train_mf(client=client_a, now=now, min_interactions=10)
    assert v2.metrics["read"]["kept"] > 1000 and v2.metrics["read"]["read"] < 200
    assert not (artifacts_root() / v1.artifact_path / kept.KEPT).exists()  # only the newest version keeps rows
    kept.forget([artifacts_root() / v2.artifact_path])
    v3 = train_mf(client=client_a, now=now, min_interactions=10)  # no kept rows: everything read
    assert v3.metrics["read"]["kept"] == 0 and v3.metrics["read"]["read"] > 1000
    (m2, subs2, cons2), (m3, subs3, cons3) = load_mf(v2), load_mf(v3)
    np.testing.assert_array_equal(subs2, subs3)
    np.testing.assert_array_equal(cons2, cons3)
    assert subs[7].pk not in subs2
    np.testing.assert_allclose(m2.user_factors, m3.user_factors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m2.item_factors, m3.item_factors, rtol=1e-5, atol=1e-6)
