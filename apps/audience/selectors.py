"""Reads of subscribers, and the audience rules in plain words.

Who may get a content push: push opt-in; no content push within the client's cap window (the
slot); never sent this content; not in quiet hours in the subscriber's own time zone; in the
campaign's segment (default: inactive). ``is_eligible`` states the rules for one subscriber; the
outbox's set-based query (``apps.delivery.selectors.eligible_candidates``) is held to it by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apps.audience.models import Subscriber
from recsys.quiet import in_quiet_hours


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for. ``activity``: inactive (no activity for ``inactive_days``), active, or any."""

    activity: str
    inactive_days: int

    @classmethod
    def from_json(cls, data: dict) -> "Segment":
        try:
            seg = cls(activity=data["activity"], inactive_days=int(data["inactive_days"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"bad segment {data!r}: give activity and inactive_days") from None
        if seg.activity not in ("inactive", "active", "any") or seg.inactive_days < 1:
            raise ValueError(f"bad segment {data!r}: activity must be inactive|active|any, inactive_days >= 1")
        return seg


@lru_cache(maxsize=2048)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - an unknown zone is treated as UTC
        return ZoneInfo("UTC")


def local_hour(now: datetime, tz: str) -> int:
    return now.astimezone(_zone(tz)).hour


def is_eligible(sub: Subscriber, *, now: datetime, sent_this_content: bool, segment: Segment, cap_window: timedelta,
                quiet_start: int, quiet_end: int) -> bool:
    """The rules for one subscriber, in plain words (the reference for the set-based query)."""
    if not sub.push_opt_in or sent_this_content:
        return False
    if sub.last_content_push_at is not None and sub.last_content_push_at > now - cap_window:
        return False
    if in_quiet_hours(local_hour(now, sub.timezone), quiet_start, quiet_end):
        return False
    inactive_since = now - timedelta(days=segment.inactive_days)
    inactive = sub.last_activity_at is None or sub.last_activity_at < inactive_since
    return segment.activity == "any" or (inactive if segment.activity == "inactive" else not inactive)
