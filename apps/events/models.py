from __future__ import annotations

from django.db import models

from apps.audience.models import Subscriber
from apps.contents.models import Content
from apps.core.models import Client


class Event(models.Model):
    """Something a subscriber did, as reported by the client: open, click, read or dismiss.

    ``UNIQUE(client, event_id)``: a repeated ``event_id`` is acknowledged and never counted twice.
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
            models.UniqueConstraint(fields=["client", "event_id"], name="event_client_event_id"),
            models.CheckConstraint(condition=models.Q(type__in=["open", "click", "read", "dismiss"]), name="event_type_valid"),
        ]
        indexes = [models.Index(fields=["content", "type", "occurred_at"], name="event_content_type_at")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
