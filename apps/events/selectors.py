"""Reads of events."""

from __future__ import annotations

from datetime import datetime

from apps.events.models import Event


def readers_of(*, content_id: int, until: datetime, limit: int = 1000) -> set[int]:
    """Subscribers who read the content up to ``until`` (organic reads, not pushes)."""
    return set(Event.objects.filter(content_id=content_id, type=Event.Type.READ, occurred_at__lte=until)
               .values_list("subscriber_id", flat=True)[:limit])
