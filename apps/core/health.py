"""Liveness of the parts: database, Redis, Celery workers and beat.

Workers write a heartbeat into a Redis hash every few seconds (``pushadmin.celery.HeartbeatStep``);
the beat sweep records its last tick. Both are status, not data: losing them loses nothing.
"""

from __future__ import annotations

import json
import time

from django.db import connection
from django_redis import get_redis_connection

from apps.core.queues import Queue

WORKERS_KEY = "pushadmin:workers"
BEAT_KEY = "pushadmin:beat:last_tick"


def _redis():
    return get_redis_connection("default")


def worker_heartbeat(*, hostname: str, queues: list[str], interval: int) -> None:
    _redis().hset(WORKERS_KEY, hostname, json.dumps({"at": time.time(), "queues": queues, "interval": interval}))


def beat_tick_record(*, at: float | None = None) -> None:
    _redis().set(BEAT_KEY, at if at is not None else time.time())


def workers_status(now: float | None = None) -> list[dict]:
    now = now if now is not None else time.time()
    out = []
    r = _redis()
    for host, raw in sorted(r.hgetall(WORKERS_KEY).items()):
        info = json.loads(raw)
        age = now - info["at"]
        if age > 3600:  # long gone: forget it
            r.hdel(WORKERS_KEY, host)
            continue
        out.append({"hostname": host.decode() if isinstance(host, bytes) else host, "queues": info["queues"],
                    "seconds_since_heartbeat": round(age, 1), "alive": age <= 3 * info["interval"]})
    return out


def queue_depths() -> dict[str, int]:
    r = _redis()
    return {q.value: int(r.llen(q.value)) for q in Queue}


def check() -> dict:
    """Everything ``/healthz`` reports. ``ok`` is false when the database or Redis is down."""
    report: dict = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        report["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        report["database"] = {"ok": False, "error": str(exc)[:200]}
    try:
        _redis().ping()
        report["redis"] = {"ok": True}
        workers = workers_status()
        last_tick = _redis().get(BEAT_KEY)
        report["workers"] = {"ok": any(w["alive"] for w in workers), "workers": workers}
        report["beat"] = {
            "ok": last_tick is not None and time.time() - float(last_tick) < 180,
            "seconds_since_tick": round(time.time() - float(last_tick), 1) if last_tick else None,
        }
        report["queues"] = queue_depths()
    except Exception as exc:  # noqa: BLE001
        report["redis"] = {"ok": False, "error": str(exc)[:200]}
        report["workers"] = {"ok": False, "workers": []}
        report["beat"] = {"ok": False, "seconds_since_tick": None}
    report["ok"] = report["database"]["ok"] and report["redis"]["ok"]
    return report
