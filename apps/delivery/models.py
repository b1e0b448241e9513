from __future__ import annotations

from django.db import models

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave

SEND_STATES = ("pending", "claimed", "sent", "failed", "cancelled", "held_out")


class Send(models.Model):
    """The outbox row of one push to one subscriber.

    ``UNIQUE(campaign, subscriber)``: nobody gets the same content twice. A row is created only in
    the transaction that claims the subscriber's slot (one content push per cap window); the
    dispatcher claims ``pending`` rows by a conditional update and checks the row count, so a row is
    handed to a provider once. A push that never left (its campaign ended first) is ``cancelled``:
    its slot goes back to ``slot_previous_at`` and it counts neither as a send nor as expected clicks.
    Someone chosen for a wave and held out at random (the campaign's holdout) has a ``held_out`` row:
    never sent, no slot claimed, never chosen again for this content.

    ``error`` says why a send failed or was cancelled; on one still pending, or delivered after
    all, why its last hand-over did not deliver it (the provider's answer, the rate limiter's Redis
    unreachable, a claim taken back from a worker that stopped): the system page counts these.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        CLAIMED = "claimed"
        SENT = "sent"
        FAILED = "failed"
        CANCELLED = "cancelled"
        HELD_OUT = "held_out"

    class ChosenBy(models.TextChoices):
        RANKED = "ranked", "ranked into the wave"
        EXPLORED = "explored", "drawn at random outside the ranked top"
        PROBED = "probed", "drawn at random from the ranks an expansion would reach (its test's evidence)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="send_rows")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="send_rows")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="sends")
    title_variant = models.ForeignKey("contents.TitleVariant", null=True, blank=True, on_delete=models.SET_NULL, related_name="send_rows")
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    baseline_ctr = models.FloatField(help_text="The subscriber's usual push CTR when planned: this send's expected clicks.")
    score = models.FloatField(null=True, blank=True, help_text="The audience ranking's total score (none when explored).")
    chosen_by = models.CharField(max_length=8, choices=ChosenBy.choices, default=ChosenBy.RANKED)
    rank = models.PositiveIntegerField(null=True, blank=True, help_text="Place in the ranker's order among the eligible (1 = first); for a probe or an "
                                                                  "expansion's send, the place in its window; empty when explored.")
    propensity = models.FloatField(
        null=True, blank=True,
        help_text="Probability of being chosen into the wave given who was eligible: 1 for the ranked top and an expansion's "
                  "audience, the draw's for the explored and the probed.")
    value = models.FloatField(
        null=True, blank=True,
        help_text="The push's value to the client's objective when planned (the click model's probability; for the "
                  "reactivations objective, 0 unless the person was inactive); empty when the slot was not priced.")
    slot_price = models.FloatField(
        null=True, blank=True, help_text="The subscriber's slot price when planned (empty: not priced).")
    provider = models.CharField(max_length=16, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    slot_previous_at = models.DateTimeField(
        null=True, blank=True, help_text="The subscriber's last content push before this send claimed the slot (restored if it is cancelled).")
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "subscriber"], name="send_campaign_subscriber"),
            models.CheckConstraint(condition=models.Q(state__in=SEND_STATES), name="send_state_valid"),
        ]
        indexes = [
            # The dispatcher's scan: only unfinished rows are indexed.
            models.Index(fields=["state", "next_attempt_at"], name="send_dispatch_due",
                         condition=models.Q(state__in=["pending", "claimed"])),
            models.Index(fields=["wave", "state"], name="send_wave_state"),
        ]

    def __str__(self) -> str:
        return f"send {self.pk} ({self.state})"
