"""Roll-ups behind the operators' dashboards: numbers too costly to compute on every page view.

Both are derived data, rebuilt from sends and events by ``apps.dashboards.services.dashboards_rollup``
(a beat task every few minutes); deleting them loses nothing.
"""

from __future__ import annotations

from django.db import models

from apps.campaigns.models import Campaign
from apps.core.models import Client


class ActivityWeek(models.Model):
    """Distinct subscribers of a client with an open, click or read in one closed week
    (Monday 00:00 UTC to the next Monday). The current week is counted live."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    active_subscribers = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["client_id", "week_start"]
        constraints = [models.UniqueConstraint(fields=["client", "week_start"], name="activity_week_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.week_start}: {self.active_subscribers}"


class CampaignReach(models.Model):
    """Who a campaign's pushes reached and who came back.

    ``inactive_recipients``: delivered to someone with no open, click or read in the client's
    policy's inactive days (7 by default) before their push; ``reactivated``: of those, the ones
    with one in the 7 days after it.
    ``activity_states``, ``categories`` (the recipient's most-read category in the 30 days before
    the push) and ``platforms`` count recipients. ``settled`` once every push is 8 days old and
    the campaign has ended: the numbers no longer change and the roll-up leaves the row alone.
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="reach")
    recipients = models.PositiveIntegerField(default=0)
    inactive_recipients = models.PositiveIntegerField(default=0)
    reactivated = models.PositiveIntegerField(default=0)
    opted_out = models.PositiveIntegerField(default=0, help_text="Recipients who turned pushes off after this push, their latest.")
    held_out = models.PositiveIntegerField(default=0, help_text="People chosen for a wave and held out at random (the holdout).")
    held_out_inactive = models.PositiveIntegerField(default=0, help_text="Of the holdout, inactive when their wave went out.")
    held_out_reactivated = models.PositiveIntegerField(default=0, help_text="Of those, active again within 7 days.")
    activity_states = models.JSONField(default=dict, blank=True)
    categories = models.JSONField(default=dict, blank=True)
    platforms = models.JSONField(default=dict, blank=True)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()
    settled = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(reactivated__lte=models.F("inactive_recipients")), name="reach_reactivated_le_inactive"),
            models.CheckConstraint(condition=models.Q(inactive_recipients__lte=models.F("recipients")), name="reach_inactive_le_recipients"),
            models.CheckConstraint(condition=models.Q(held_out_reactivated__lte=models.F("held_out_inactive")),
                                   name="reach_holdout_reactivated_le_inactive"),
        ]
        indexes = [models.Index(fields=["settled"], name="reach_unsettled", condition=models.Q(settled=False))]

    def __str__(self) -> str:
        return f"reach of campaign {self.campaign_id}"
