"""The training schedule's step: every model kind of a client retrained, in the order their inputs
need (MF and the click-delay curve first, then the click model on the waves' logged rows;
push-worthiness last, on finished campaigns). Each trainer reads that client's rows only."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max

from apps.audience.selectors import local_hour
from apps.mlops.slots import slot_prices_refresh
from apps.mlops.training import train_click, train_click_delay, train_mf, train_push_worthiness
from recsys.quiet import in_quiet_hours


def models_retrain(*, client, now: datetime) -> dict[str, object]:
    """Train a version of each kind for ``client`` at ``now``; each is promoted only if it beats the
    active one. Then the slots' prices are set with the models now active (``apps.mlops.slots``)."""
    out = {"mf": train_mf(client=client, now=now), "click_delay": train_click_delay(client=client, now=now),
           "click": train_click(client=client, now=now), "push_worthiness": train_push_worthiness(client=client, now=now)}
    out["slot_prices"] = slot_prices_refresh(client=client, now=now)
    return out


# --- The schedule ------------------------------------------------------------------------------

def _client_zone(client) -> str:
    """The time zone most of the client's subscribers live in (UTC before any). Counting them is a
    scan of the client's subscribers: kept a day in the cache, not redone at every check."""
    from apps.audience.models import Subscriber

    def most_common() -> str:
        top = (Subscriber.objects.filter(client=client).values("timezone").annotate(n=Count("pk"))
               .order_by("-n", "timezone").first())
        return top["timezone"] if top else "UTC"

    return cache.get_or_set(f"client-zone:{client.pk}", most_common, timeout=24 * 3600)


def training_reasons(*, client, now: datetime) -> dict[str, str]:
    """Which of the client's model kinds are due for training now, and why:

    - ``first``: no version is active and the last attempt is ``FIRST_RETRY`` old (so a new
      client, or the demo, gets its first models as soon as its data allow);
    - ``nightly``: the client's quiet hours have begun where most of its subscribers live (no
      push is planned then, the ``ml`` worker is free) and the last run is 20 hours old;
    - ``campaigns``: ``CAMPAIGNS`` of the client's campaigns have ended since the last run.

    Never while a run of that kind is queued or running (a run left ``STALE`` long by a dead
    worker no longer counts)."""
    from apps.campaigns.models import Campaign
    from apps.core.selectors import policy_of
    from apps.mlops.models import ModelVersion, TrainingRun
    from apps.mlops.services import TRAINABLE

    cfg = settings.PUSHADMIN["TRAINING"]
    runs = TrainingRun.objects.filter(client=client)
    busy = set(runs.filter(state__in=[TrainingRun.State.QUEUED, TrainingRun.State.RUNNING],
                           created_at__gt=now - timedelta(minutes=cfg["STALE_MINUTES"])).values_list("kind", flat=True))
    last = dict(runs.values("kind").annotate(at=Max("created_at")).values_list("kind", "at"))
    active = set(ModelVersion.objects.filter(client=client, is_active=True).values_list("kind", flat=True))
    quiet = None
    due, ended = {}, {}
    for kind in TRAINABLE:
        if kind in busy:
            continue
        at = last.get(kind)
        if kind not in active:
            if at is None or at <= now - timedelta(minutes=cfg["FIRST_RETRY_MINUTES"]):
                due[kind] = "first"
            continue
        if at is not None and at > now - timedelta(hours=1):
            continue
        if at is None or at <= now - timedelta(hours=20):
            if quiet is None:
                policy = policy_of(client.pk)
                hour = local_hour(now, _client_zone(client))  # (an unknown zone reads as UTC)
                quiet = in_quiet_hours(hour, policy.quiet_hours_start, policy.quiet_hours_end)
            if quiet:
                due[kind] = "nightly"
                continue
        if at not in ended:  # runs queued together share their time: one count for them all
            qs = Campaign.objects.filter(client=client, ended_at__isnull=False)
            ended[at] = (qs if at is None else qs.filter(ended_at__gt=at)).count()
        if ended[at] >= cfg["CAMPAIGNS"]:
            due[kind] = "campaigns"
    return due


def trainings_schedule(*, now: datetime) -> list[int]:
    """Queue the training runs due for every client (``training_reasons``); returns their ids."""
    from apps.core.models import Client
    from apps.mlops.services import training_run_request

    queued = []
    for client in Client.objects.order_by("pk"):
        for kind, reason in training_reasons(client=client, now=now).items():
            queued.append(training_run_request(client=client, kind=kind, reason=reason, now=now).pk)
    return queued
