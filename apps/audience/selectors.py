"""Reads of subscribers: who may get a content push now.

Eligibility (all must hold): push opt-in; no content push in the last rolling 7 days; never sent
this campaign's content; not in quiet hours in the subscriber's own time zone; in the campaign's
segment (default: inactive, no activity in the last 7 days). The database filters the first three
and the segment; quiet hours are computed per time zone in numpy. ``is_eligible`` states the same
rules for one subscriber in plain Python, and the tests hold the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection

from apps.audience.models import Subscriber

SLOT = timedelta(days=7)


@dataclass(frozen=True)
class Segment:
    """Who a campaign is for. ``activity``: inactive (no activity for ``inactive_days``), active, or any."""

    activity: str = "inactive"
    inactive_days: int = 7

    @classmethod
    def from_json(cls, data: dict | None) -> "Segment":
        data = data or {}
        seg = cls(activity=data.get("activity", "inactive"), inactive_days=int(data.get("inactive_days", 7)))
        if seg.activity not in ("inactive", "active", "any") or seg.inactive_days < 1:
            raise ValueError(f"bad segment {data!r}: activity must be inactive|active|any, inactive_days >= 1")
        return seg


@dataclass(frozen=True)
class CandidateRows:
    """Eligible subscribers as aligned arrays (one row each)."""

    ids: np.ndarray  # int64
    push_sends: np.ndarray  # int64
    push_clicks: np.ndarray  # int64
    days_inactive: np.ndarray  # float64, NaN = never active
    language: np.ndarray | None = None  # str: the language part of each locale ("" = unknown)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, mask_or_index) -> "CandidateRows":
        return CandidateRows(self.ids[mask_or_index], self.push_sends[mask_or_index],
                             self.push_clicks[mask_or_index], self.days_inactive[mask_or_index],
                             None if self.language is None else self.language[mask_or_index])


def in_quiet_hours(local_hour: int, start: int, end: int) -> bool:
    if start == end:
        return False
    return start <= local_hour < end if start < end else (local_hour >= start or local_hour < end)


@lru_cache(maxsize=2048)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - an unknown zone is treated as UTC
        return ZoneInfo("UTC")


def local_hour(now: datetime, tz: str) -> int:
    return now.astimezone(_zone(tz)).hour


def is_eligible(sub: Subscriber, *, now: datetime, sent_this_content: bool, segment: Segment,
                quiet_start: int, quiet_end: int) -> bool:
    """The rules for one subscriber, in plain words (the reference for ``eligible_candidates``)."""
    if not sub.push_opt_in or sent_this_content:
        return False
    if sub.last_content_push_at is not None and sub.last_content_push_at > now - SLOT:
        return False
    if in_quiet_hours(local_hour(now, sub.timezone), quiet_start, quiet_end):
        return False
    inactive_since = now - timedelta(days=segment.inactive_days)
    inactive = sub.last_activity_at is None or sub.last_activity_at < inactive_since
    return segment.activity == "any" or (inactive if segment.activity == "inactive" else not inactive)


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    return f"CAST(strftime('%%s', {column}) AS REAL)"


def eligible_candidates(*, client, campaign_id: int | None, content_id: int | None, now: datetime,
                        segment: Segment, quiet_start: int, quiet_end: int) -> CandidateRows:
    """Everyone of ``client`` who may get this content now, as arrays."""
    subs = Subscriber._meta.db_table
    from apps.delivery.models import Send
    from apps.campaigns.models import Campaign

    sends, campaigns = Send._meta.db_table, Campaign._meta.db_table
    where = ["s.client_id = %s", "s.push_opt_in", "(s.last_content_push_at IS NULL OR s.last_content_push_at <= %s)"]
    adapt = connection.ops.adapt_datetimefield_value
    params: list = [client.pk, adapt(now - SLOT)]
    inactive_since = adapt(now - timedelta(days=segment.inactive_days))
    if segment.activity == "inactive":
        where.append("(s.last_activity_at IS NULL OR s.last_activity_at < %s)")
        params.append(inactive_since)
    elif segment.activity == "active":
        where.append("s.last_activity_at >= %s")
        params.append(inactive_since)
    if content_id is not None:
        # Never the same content twice, whichever campaign of it sent it.
        where.append(f"NOT EXISTS (SELECT 1 FROM {sends} d JOIN {campaigns} c ON c.id = d.campaign_id "
                     f"WHERE c.content_id = %s AND d.subscriber_id = s.id)")
        params.append(content_id)
    sql = (f"SELECT s.id, s.push_sends, s.push_clicks, {_epoch('s.last_activity_at')}, s.timezone, s.locale "
           f"FROM {subs} s WHERE {' AND '.join(where)} ORDER BY s.id")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return CandidateRows(empty, empty, empty, np.zeros(0), np.zeros(0, dtype=str))
    ids, sends_, clicks, last_act, zones, locales = zip(*rows)
    last = np.array([np.nan if v is None else float(v) for v in last_act])
    rows_ = CandidateRows(
        ids=np.fromiter(ids, dtype=np.int64, count=len(ids)),
        push_sends=np.fromiter(sends_, dtype=np.int64, count=len(ids)),
        push_clicks=np.fromiter(clicks, dtype=np.int64, count=len(ids)),
        days_inactive=(now.timestamp() - last) / 86400.0,
        language=np.array([(loc or "").split("-")[0].split("_")[0].lower() for loc in locales]),
    )
    zone_names, inverse = np.unique(np.asarray(zones, dtype=object).astype(str), return_inverse=True)
    quiet = np.array([in_quiet_hours(local_hour(now, z), quiet_start, quiet_end) for z in zone_names], dtype=bool)
    return rows_.take(~quiet[inverse])
