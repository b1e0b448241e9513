"""Writes of campaigns: launch, waves, ramp decisions, stop and pause."""

from __future__ import annotations

from datetime import datetime

from apps.campaigns.models import Campaign


def campaign_launch(*, content, user=None, now: datetime | None = None) -> Campaign:
    """Start the push of an approved content: create its campaign and plan wave 1."""
    raise NotImplementedError("campaign engine: in progress")


def campaigns_advance_due(*, now: datetime) -> dict[str, int]:
    """Plan, dispatch and decide waves that are due (called by the minute sweep)."""
    return {}
