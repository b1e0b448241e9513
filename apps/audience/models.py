from __future__ import annotations

from django.db import models

from apps.core.models import Client


class Subscriber(models.Model):
    """A person who can receive pushes, as the client's app knows them.

    ``last_content_push_at`` is the 7-day slot: a send is created only in the transaction whose
    conditional update moves it (``apps.delivery.services``). ``push_sends`` and ``push_clicks``
    are the history behind the usual push CTR (Beta-smoothed with the population prior).
    """

    class Platform(models.TextChoices):
        ANDROID = "android"
        IOS = "ios"
        WEB = "web"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="subscribers")
    external_id = models.CharField(max_length=128)
    push_opt_in = models.BooleanField(default=True)
    timezone = models.CharField(max_length=64, default="UTC")
    platform = models.CharField(max_length=8, choices=Platform.choices, default=Platform.ANDROID)
    push_token = models.CharField(max_length=512, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_content_push_at = models.DateTimeField(null=True, blank=True)
    push_sends = models.PositiveIntegerField(default=0)
    push_clicks = models.PositiveIntegerField(default=0)
    # Long-horizon reading activity as running sums (recsys.activity): each read adds
    # decay_increment(its time), each day its first read; decayed_at(sum, now) reads them.
    reads_decayed = models.FloatField(default=0.0, db_default=0.0)
    active_days_decayed = models.FloatField(default=0.0, db_default=0.0)
    last_read_at = models.DateTimeField(null=True, blank=True)
    # The weekly slot's price (recsys.slots.renewal_prices): what the person's slot is expected to
    # find in the client's stream of contents; a content goes to them only if worth at least this.
    slot_price = models.FloatField(default=0.0, db_default=0.0)
    slot_price_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "external_id"], name="subscriber_client_external_id"),
            models.CheckConstraint(condition=models.Q(push_clicks__lte=models.F("push_sends")), name="subscriber_clicks_le_sends"),
        ]
        indexes = [
            # Eligibility scans: opted-in subscribers of a client by their 7-day slot and activity.
            models.Index(fields=["client", "last_content_push_at"], name="subscriber_slot",
                         condition=models.Q(push_opt_in=True)),
            models.Index(fields=["client", "last_activity_at"], name="subscriber_activity"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.external_id}"
