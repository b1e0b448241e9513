from __future__ import annotations

from django.db import models

from apps.audience.models import Subscriber
from apps.contents.models import Content
from apps.core.models import Client


class Event(models.Model):
    """Something a subscriber did, as reported by the client: open, click, read or dismiss.

    Kept for the retention (``PUSHADMIN["EVENT_RETENTION_DAYS"]``, 365 days by default): an event
    that occurred earlier is refused at ingestion, and older ones are dropped once rolled up
    (``apps.events.services.events_partitions_maintain``). On PostgreSQL the table is partitioned
    by month of ``occurred_at`` (``apps.events.partitions``; migration 0002): its primary key is
    really ``(id, occurred_at)``; ``id`` still comes from one sequence, so no two events share
    one, though the database enforces only the pair.

    A repeated ``event_id`` is answered ``duplicate`` and not counted again:

    - with the same ``occurred_at``: always, even when two batches carry it at the same moment.
      ``UNIQUE(client, event_id, occurred_at)`` decides (a unique index of a partitioned table
      must hold the partition key, so ``UNIQUE(client, event_id)`` cannot be kept);
    - with another ``occurred_at`` (an event sent again without ``occurred_at``, which then
      defaults to its time of arrival): when the stored one's is within
      ``apps.events.services.REPEAT_WINDOW`` (30 days) of the repeat's batch, and was committed
      before that batch looked (the look-up of the batch's ``event_id``s before inserting). Two
      batches in flight at once both store it; so does a repeat further apart in time (looking
      over every month nearly doubled the database's time per batch, docs/benchmarks.md).

    On SQLite batches never overlap (one writer at a time): there only the time apart counts.
    """

    class Type(models.TextChoices):
        OPEN = "open"
        CLICK = "click"
        READ = "read"
        DISMISS = "dismiss"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=64)
    type = models.CharField(max_length=8, choices=Type.choices)
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="events")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="events")
    send = models.ForeignKey("delivery.Send", null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "event_id", "occurred_at"], name="event_client_event_id_at"),
            models.CheckConstraint(condition=models.Q(type__in=["open", "click", "read", "dismiss"]), name="event_type_valid"),
        ]
        indexes = [models.Index(fields=["content", "type", "occurred_at"], name="event_content_type_at")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
