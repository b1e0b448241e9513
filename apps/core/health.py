"""Liveness of the parts: database, Redis, Celery workers and beat.

Workers write a heartbeat into a Redis hash every few seconds (``pushadmin.celery.HeartbeatStep``);
the beat sweep records its last tick. Both are status, not data: losing them loses nothing.

Liveness is measured on one clock, the wall clock, everywhere (``time.time()``): the product's clock
can run faster than real time in the demo, and "the beat ticked 5 s ago" must mean real seconds.
The beat's tick also keeps the product time it swept at, shown beside.
"""

from __future__ import annotations

import json
import time

from django.db import connection
from django_redis import get_redis_connection

from apps.core.queues import Queue

WORKERS_KEY = "pushadmin:workers"
BEAT_KEY = "pushadmin:beat:last_tick"
BEAT_STALE_SECONDS = 180  # wall seconds without a tick before the beat counts as down


def _redis():
    return get_redis_connection("default")


def worker_heartbeat(*, hostname: str, queues: list[str], interval: int) -> None:
    _redis().hset(WORKERS_KEY, hostname, json.dumps({"at": time.time(), "queues": queues, "interval": interval}))


def beat_tick_record(*, at: float | None = None, product_at: float | None = None) -> None:
    """The beat's tick: ``at`` the wall-clock time (default now), ``product_at`` the product time
    it swept at (default the same)."""
    wall = at if at is not None else time.time()
    _redis().set(BEAT_KEY, json.dumps({"at": wall, "product_at": product_at if product_at is not None else wall}))


def beat_last_tick() -> dict | None:
    """``{"at": wall seconds, "product_at": product seconds}`` of the last tick, or None."""
    raw = _redis().get(BEAT_KEY)
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if isinstance(info, (int, float)):  # a tick recorded before the product time was kept
        return {"at": float(info), "product_at": float(info)}
    return info if isinstance(info, dict) and "at" in info else None


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
        tick = beat_last_tick()
        age = time.time() - tick["at"] if tick else None
        report["workers"] = {"ok": any(w["alive"] for w in workers), "workers": workers}
        report["beat"] = {
            "ok": age is not None and age < BEAT_STALE_SECONDS,
            "seconds_since_tick": round(age, 1) if age is not None else None,
            "product_time_of_tick": tick["product_at"] if tick else None,
        }
        report["queues"] = queue_depths()
    except Exception as exc:  # noqa: BLE001
        report["redis"] = {"ok": False, "error": str(exc)[:200]}
        report["workers"] = {"ok": False, "workers": []}
        report["beat"] = {"ok": False, "seconds_since_tick": None}
    report["ok"] = report["database"]["ok"] and report["redis"]["ok"]
    return report
