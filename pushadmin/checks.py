"""System checks of the project as a whole (``manage.py check``, and every command that runs
the checks first: ``migrate``, ``runserver``).

``pushadmin.E001``: the events' retention (``PUSHADMIN_EVENT_RETENTION_DAYS``) is at least the
longest window a reader of events looks back over. The windows are read from where each reader
keeps its own, here where every app may be imported."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.checks import Error


def event_reader_windows() -> dict[str, timedelta]:
    """How far back each reader of events looks, by what it is (longest readers only: the
    others look back days)."""
    from apps.dashboards import services as dashboards
    from apps.mlops.ranking import ContentRanker, DAERanker
    from apps.mlops.training import MFConfig

    return {
        "the matrix factorization's training (apps.mlops.training.MFConfig.days)": timedelta(days=MFConfig().days),
        "the daily rankers' fit (apps.mlops.ranking: DAERanker.days, ContentRanker.days)":
            timedelta(days=max(DAERanker.days, ContentRanker.days)),
        "the weekly actives' roll-up (apps.dashboards.services.WEEKS closed weeks and the current one)":
            timedelta(weeks=dashboards.WEEKS + 1),
        "the reach's reading categories (apps.dashboards.services.CATEGORY_WINDOW)": dashboards.CATEGORY_WINDOW,
    }


def event_retention_check(app_configs=None, **kwargs) -> list[Error]:
    days = settings.PUSHADMIN["EVENT_RETENTION_DAYS"]
    reader, window = max(event_reader_windows().items(), key=lambda kv: kv[1])
    if timedelta(days=days) >= window:
        return []
    need = -(-window // timedelta(days=1))
    return [Error(
        f"PUSHADMIN_EVENT_RETENTION_DAYS is {days}, but events must be kept at least {need} days: {reader} reads that "
        f"far back, and older events are refused at ingestion and dropped by the sweep.",
        hint=f"Set PUSHADMIN_EVENT_RETENTION_DAYS to {need} or more (default 365).",
        id="pushadmin.E001",
    )]
