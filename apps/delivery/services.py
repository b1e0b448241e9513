"""Writes of the outbox: attribution of opens and clicks to sends (and their waves)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db.models import F

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.contents.models import TitleVariant
from apps.delivery.models import Send


def sends_attribute(*, events: list[dict]) -> dict[str, int]:
    """Record the first open and the first click of each send and count clicks on its wave,
    campaign, title variant and subscriber. Runs inside the ingesting transaction; a second
    click on the same send changes nothing. Clicks after the content expired still count."""
    first: dict[str, dict[int, datetime]] = {"open": {}, "click": {}}
    for e in events:
        kind = e["type"]
        if kind in first and (e["send_id"] not in first[kind] or e["occurred_at"] < first[kind][e["send_id"]]):
            first[kind][e["send_id"]] = e["occurred_at"]
    opened = _mark(first["open"], "opened_at")
    clicked = _mark(first["click"], "clicked_at")
    if clicked:
        for model, column in ((Wave, "wave_id"), (Campaign, "campaign_id"), (TitleVariant, "title_variant_id"), (Subscriber, "subscriber_id")):
            counts = Counter(row[column] for row in clicked if row[column] is not None)
            field = "push_clicks" if model is Subscriber else "clicks"
            for pk, n in sorted(counts.items()):
                model.objects.filter(pk=pk).update(**{field: F(field) + n})
    return {"opened": len(opened), "clicked": len(clicked)}


def _mark(times: dict[int, datetime], field: str) -> list[dict]:
    if not times:
        return []
    rows = list(
        Send.objects.select_for_update()
        .filter(pk__in=list(times), **{f"{field}__isnull": True})
        .order_by("pk")
        .only("pk", "wave_id", "campaign_id", "title_variant_id", "subscriber_id")
    )
    for row in rows:
        setattr(row, field, times[row.pk])
    Send.objects.bulk_update(rows, [field], batch_size=500)
    return [{"wave_id": r.wave_id, "campaign_id": r.campaign_id, "title_variant_id": r.title_variant_id,
             "subscriber_id": r.subscriber_id} for r in rows]
