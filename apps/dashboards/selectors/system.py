"""The system page: queues, workers, beat, provider errors, the backlog and the pause switch."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncHour

from apps.campaigns.models import Wave
from apps.core.selectors import pause_switches
from apps.dashboards.selectors.common import client_q, ratio


def system_page(*, user, now: datetime, wall_now: float | None = None) -> dict:
    """Queues, workers, beat, provider error rates and why pushes were retried (the user's
    clients, last 24 h), the backlog and the pause switches: every client's and each of the
    user's clients'. 7 queries plus 3 Redis calls, and 3 more per sharded job listed (``apps.mlops.shards``)."""
    from apps.core import health
    from apps.delivery.models import Send

    wall = time.time() if wall_now is None else wall_now  # liveness is in wall time, whatever the product's clock
    try:
        workers = health.workers_status(now=wall)
        queues = health.queue_depths()
        tick = health.beat_last_tick()
        redis_ok, redis_error = True, ""
    except Exception as exc:  # noqa: BLE001 - the page shows Redis down instead of failing
        workers, queues, tick, redis_ok, redis_error = [], {}, None, False, str(exc)[:200]
    beat_age = (wall - tick["at"]) if tick else None

    since = now - timedelta(hours=24)
    scope = client_q(user, None, "campaign__client_id")
    providers: dict[str, dict] = {}
    for row in (Send.objects.filter(scope, wave__created_at__gte=since, wave__created_at__lte=now,
                                    state__in=[Send.State.SENT, Send.State.FAILED])
                .values("provider", "state").annotate(n=Count("id"), retried=Count("id", filter=~Q(error="")))):
        p = providers.setdefault(row["provider"] or "(none)",
                                 {"provider": row["provider"] or "(none)", "sent": 0, "failed": 0, "retried": 0})
        p["sent" if row["state"] == Send.State.SENT else "failed"] += row["n"]
        if row["state"] == Send.State.SENT:
            p["retried"] += row["retried"]  # delivered after a retry
    for p in providers.values():
        p["error_rate"] = ratio(p["failed"], p["sent"] + p["failed"])
    errors = list(Send.objects.filter(scope, wave__created_at__gte=since, wave__created_at__lte=now, state=Send.State.FAILED)
                  .values("provider", "error").annotate(n=Count("id"), last=Max("failed_at")).order_by("-n")[:8])
    retries = _retry_reasons(Send.objects.filter(scope, wave__created_at__gte=since, wave__created_at__lte=now,
                                                 state__in=[Send.State.SENT, Send.State.PENDING]).exclude(error=""))
    hourly = {row["h"]: row for row in Wave.objects.filter(scope, created_at__gte=since, created_at__lte=now)
              .annotate(h=TruncHour("created_at", tzinfo=timezone.utc)).values("h").annotate(delivered=Sum("delivered"), failed=Sum("failed"))}
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = []
    for k in range(24):
        h = start + timedelta(hours=k)
        row = hourly.get(h, {})
        hours.append({"hour": h, "delivered": row.get("delivered") or 0, "failed": row.get("failed") or 0})
    backlog = Send.objects.filter(scope, state__in=[Send.State.PENDING, Send.State.CLAIMED]).aggregate(
        pending=Count("id", filter=Q(state=Send.State.PENDING)), claimed=Count("id", filter=Q(state=Send.State.CLAIMED)),
        retrying=Count("id", filter=Q(state=Send.State.PENDING) & ~Q(error="")), oldest=Min("created_at"))
    from apps.core.permissions import visible_clients

    clients = list(visible_clients(user).order_by("name"))
    sharded = _sharded_jobs({c.pk: c.name for c in clients}, wall) if redis_ok else []
    every = pause_switches([c.pk for c in clients])  # one query: every client's and theirs
    switch = every.pop(None, None)
    switches = [{"client": c, "switch": every.get(c.pk), "paused": bool(every.get(c.pk) and every[c.pk].on)} for c in clients]
    return {
        "now": now, "redis_ok": redis_ok, "redis_error": redis_error,
        "workers": workers, "workers_alive": sum(1 for w in workers if w["alive"]),
        "queues": queues, "beat_seconds": beat_age, "beat_ok": beat_age is not None and beat_age < health.BEAT_STALE_SECONDS,
        "beat_product_at": datetime.fromtimestamp(tick["product_at"], tz=timezone.utc) if tick else None,
        "wall_now": datetime.fromtimestamp(wall, tz=timezone.utc), "clock_differs": abs(now.timestamp() - wall) > 60,
        "providers": sorted(providers.values(), key=lambda p: p["provider"]), "errors": errors, "retries": retries,
        "hours": hours,
        "backlog": backlog, "paused": bool(switch and switch.on), "switch": switch, "client_switches": switches,
        "clients_paused": [row["client"].name for row in switches if row["paused"]],
        "sharded": sharded,
    }


def _sharded_jobs(names: dict[int, str], wall: float) -> list[dict]:
    """The last jobs split over the ``shards`` workers (``apps.mlops.shards``) of the user's
    clients (``names``: id -> name): what, when, how far (each shard's step and who did it), how
    long."""
    from apps.mlops.shards import recent_jobs

    out = []
    for job in recent_jobs(20):
        if job["client"] not in names:
            continue
        ended = job["ended"]
        out.append({**job, "client_name": names[job["client"]],
                    "started_at": datetime.fromtimestamp(job["started"], tz=timezone.utc),
                    "seconds": (ended or wall) - job["started"], "running": ended is None})
    return out[:10]


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _retry_reasons(sends, limit: int = 8) -> list[dict]:
    """Why pushes delivered after all, or still waiting, were retried: the reasons that differ
    only in their numbers (seconds left, ports) counted together, most frequent first, each with
    its most frequent wording, how many pushes, and the last time one was handed over."""
    groups: dict[tuple, dict] = {}
    for row in (sends.values("provider", "error").annotate(n=Count("id"), last=Max("claimed_at")).order_by("-n")[:500]):
        provider = row["provider"] or "(none)"
        g = groups.setdefault((provider, _NUMBER.sub("#", row["error"])),
                              {"provider": provider, "error": row["error"], "n": 0, "last": None})
        g["n"] += row["n"]
        if row["last"] is not None and (g["last"] is None or row["last"] > g["last"]):
            g["last"] = row["last"]
    return sorted(groups.values(), key=lambda g: -g["n"])[:limit]
