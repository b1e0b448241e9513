"""Quiet hours: the local hours in which nobody is pushed (a client's policy, 22 to 8 by default).

One rule for every place that needs it: who may be pushed now (``apps.audience.selectors``,
``apps.delivery.selectors``), when a client's nightly training may start
(``apps.orchestration.training``) and when the simulator's yardsticks may push
(``recsys.simulate.reference``). Pure Python.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone, tzinfo

__all__ = ["in_quiet_hours", "quiet_ends_at"]


def in_quiet_hours(local_hour: int, start: int, end: int) -> bool:
    """Whether ``local_hour`` (0-23) is inside quiet hours ``[start, end)``, which may wrap
    midnight (22 to 8); ``start == end``: no quiet hours."""
    if start == end:
        return False
    return start <= local_hour < end if start < end else (local_hour >= start or local_hour < end)


def quiet_ends_at(now: datetime, zone: tzinfo, start: int, end: int) -> datetime | None:
    """When the quiet hours ``[start, end)`` that ``now`` (aware) falls in end in time zone
    ``zone``: the next local ``end``:00 (today's, or tomorrow's when the quiet hours began before
    midnight), as an aware UTC datetime; None when ``now`` is not in them there. A morning that a
    daylight-saving change skips is read as the wall clock says (``zoneinfo``'s rule)."""
    local = now.astimezone(zone)
    if not in_quiet_hours(local.hour, start, end):
        return None
    day = local.date() + timedelta(days=1) if start > end and local.hour >= start else local.date()
    return datetime.combine(day, time(end), tzinfo=zone).astimezone(timezone.utc)
