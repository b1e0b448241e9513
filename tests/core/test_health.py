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
    assert set(body["queues"]) == {"default", "sends", "ml"}

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
