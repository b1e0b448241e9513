import time

import pytest

from apps.core import health


@pytest.mark.django_db
def test_healthz_reports_db_redis_workers_beat(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["workers"] == {"ok": False, "workers": []}
    assert body["beat"]["ok"] is False
    assert set(body["queues"]) == {"default", "sends", "ml", "shards"}

    health.worker_heartbeat(hostname="w1@host", queues=["default", "sends"], interval=10)
    health.beat_tick_record()
    body = client.get("/healthz").json()
    assert body["workers"]["ok"] is True and body["workers"]["workers"][0]["hostname"] == "w1@host"
    assert body["beat"]["ok"] is True


@pytest.mark.django_db
def test_a_silent_worker_is_reported_dead(client):
    health.worker_heartbeat(hostname="old@host", queues=["default"], interval=10)
    status = health.workers_status(now=time.time() + 60)
    assert status[0]["alive"] is False


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_down(client, settings):
    # Nothing listens on port 1; the setting_changed signal rebuilds the cache handler.
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["redis"]["ok"] is False


@pytest.mark.django_db
def test_liveness_is_in_wall_time_when_the_product_clock_runs_faster(client, settings, people):
    """The demo's clock runs 60x: the beat's sweep of product time T, a few real seconds ago, is
    a live beat (not one dead for the hours of product time that passed), and a worker's fresh
    heartbeat is seconds old on the system page, not minus hours."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.core import clock
    from apps.dashboards.selectors import system_page
    from apps.orchestration.tasks import sweep

    epoch = timezone.now() - timedelta(minutes=30)  # 30 real minutes ago: 30 product hours
    settings.PUSHADMIN = {**settings.PUSHADMIN, "CLOCK_SPEED": 60, "CLOCK_EPOCH": epoch, "CLOCK_START": epoch}
    product_now = clock.now()
    assert product_now - timezone.now() > timedelta(hours=28)
    sweep()  # the beat's task, at the product's clock
    health.worker_heartbeat(hostname="w1@host", queues=["default", "sends"], interval=10)

    beat = client.get("/healthz").json()["beat"]
    assert beat["ok"] is True and 0 <= beat["seconds_since_tick"] < 30
    assert abs(beat["product_time_of_tick"] - product_now.timestamp()) < 60  # the product time, beside

    page = system_page(user=people["operator"], now=clock.now())
    assert page["beat_ok"] and 0 <= page["beat_seconds"] < 30
    assert [(w["hostname"], w["alive"]) for w in page["workers"]] == [("w1@host", True)]
    assert 0 <= page["workers"][0]["seconds_since_heartbeat"] < 30
    assert page["clock_differs"] and abs((page["beat_product_at"] - product_now).total_seconds()) < 60


@pytest.mark.django_db
def test_a_tick_recorded_as_a_bare_number_still_reads(client):
    from django_redis import get_redis_connection

    get_redis_connection("default").set(health.BEAT_KEY, time.time() - 5)
    assert client.get("/healthz").json()["beat"]["ok"] is True
