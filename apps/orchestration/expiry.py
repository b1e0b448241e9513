"""Expiry: a content past its lifetime expires, and its running campaign ends through the engine
(its unsent pushes cancelled, their slots given back, its open waves closed)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.campaigns.models import Campaign
from apps.contents.services import contents_expire, contents_lock_expiring
from apps.orchestration.engine import campaign_end

EXPIRED = "content expired"


def contents_expire_due(*, now: datetime) -> int:
    """Expire up to 5,000 live contents past their lifetime (the rest at the next sweep); returns how many."""
    with transaction.atomic():
        due = contents_lock_expiring(now=now)
        if not due:
            return 0
        running = Campaign.objects.select_for_update().filter(content_id__in=[pk for pk, _, _ in due],
                                                               state=Campaign.State.RUNNING).order_by("pk")
        for campaign in running:
            campaign_end(campaign=campaign, state=Campaign.State.DONE, reason=EXPIRED, code="expired", now=now,
                         actor_name="sweep", content_to=None)
        return contents_expire(due=due, now=now)
