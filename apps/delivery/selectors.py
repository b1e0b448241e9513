"""Reads of the outbox: who may get a content's push now, and what a wave's sends did.

Eligibility (all must hold): push opt-in; no content push within the client's cap window (the
slot); never sent this content (an outbox row of its campaign, whatever its state); not in quiet
hours in the subscriber's own time zone; in the campaign's segment (default: inactive). The
database filters the first three and the segment; quiet hours are computed per time zone in numpy.
``apps.audience.selectors.is_eligible`` states the same rules for one subscriber in plain Python,
and the tests hold the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from django.db import connection

from apps.audience.models import Subscriber
from apps.audience.selectors import Segment, in_quiet_hours, local_hour
from apps.core.sql import epoch_sql
from apps.campaigns.models import Campaign
from apps.delivery.models import Send


@dataclass(frozen=True)
class CandidateRows:
    """Eligible subscribers as aligned arrays (one row each)."""

    ids: np.ndarray  # int64
    push_sends: np.ndarray  # int64
    push_clicks: np.ndarray  # int64
    days_inactive: np.ndarray  # float64, NaN = never active
    language: np.ndarray | None = None  # str: the language part of each locale ("" = unknown)
    reads_decayed: np.ndarray | None = None  # running sums of recsys.activity (read them with decayed_at)
    active_days_decayed: np.ndarray | None = None
    slot_price: np.ndarray | None = None  # float64: the weekly slot's price (Subscriber.slot_price; 0 = not priced)
    # How the rows can be read again, a subscriber range at a time (``rows_of``): the arguments of
    # ``eligible_candidates`` and the filters applied since ("without", "language"); None once
    # filtered otherwise (``take``)
    source: dict | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, mask_or_index) -> "CandidateRows":
        pick = lambda a: None if a is None else a[mask_or_index]  # noqa: E731
        return CandidateRows(self.ids[mask_or_index], self.push_sends[mask_or_index],
                             self.push_clicks[mask_or_index], self.days_inactive[mask_or_index],
                             pick(self.language), pick(self.reads_decayed), pick(self.active_days_decayed),
                             pick(self.slot_price))

    def without(self, ids: np.ndarray) -> "CandidateRows":
        """The rows but those of ``ids`` (sorted int64), remembered in ``source``."""
        rows = self.take(~np.isin(self.ids, ids))
        if self.source is None:
            return rows
        gone = np.union1d(np.asarray(self.source.get("without", []), dtype=np.int64), ids)
        return replace(rows, source={**self.source, "without": gone.tolist()})

    def in_language(self, language: str) -> "CandidateRows":
        """The rows whose language is ``language`` or unknown, remembered in ``source``."""
        if self.language is None:
            return self
        rows = self.take((self.language == language) | (self.language == ""))
        return rows if self.source is None else replace(rows, source={**self.source, "language": language})


def rows_of(source: dict, lo: int, hi: int) -> CandidateRows:
    """The rows ``source`` (``CandidateRows.source``) describes of the subscribers with ids in
    ``[lo, hi)``: a part of the same set, read again (by a shard, ``apps.mlops.shards``)."""
    from apps.core.models import Client

    q = source["query"]
    rows = eligible_candidates(client=Client(pk=q["client"]), content_id=q["content"],
                               now=datetime.fromisoformat(q["now"]), segment=Segment.from_json(q["segment"]),
                               cap_window=timedelta(seconds=q["cap_window"]), quiet_start=q["quiet_start"],
                               quiet_end=q["quiet_end"], id_range=(lo, hi))
    if source.get("without"):
        rows = rows.without(np.asarray(source["without"], dtype=np.int64))
    if source.get("language") is not None:
        rows = rows.in_language(source["language"])
    return rows


def eligible_candidates(*, client, content_id: int | None, now: datetime, segment: Segment, cap_window: timedelta,
                        quiet_start: int, quiet_end: int, id_range: tuple[int, int] | None = None) -> CandidateRows:
    """Everyone of ``client`` who may get this content now, as arrays sorted by id (``id_range``:
    of the subscribers with ids in ``[lo, hi)`` only)."""
    source = eligible_source(client_id=client.pk, content_id=content_id, now=now, segment=segment, cap_window=cap_window,
                             quiet_start=quiet_start, quiet_end=quiet_end)
    return replace(_eligible(client, content_id, now, segment, cap_window, quiet_start, quiet_end, id_range), source=source)


def eligible_source(*, client_id: int, content_id: int | None, now: datetime, segment: Segment, cap_window: timedelta,
                    quiet_start: int, quiet_end: int) -> dict:
    """``CandidateRows.source`` of ``eligible_candidates`` with these arguments (``rows_of`` reads
    a range of it)."""
    return {"query": {"client": client_id, "content": content_id, "now": now.isoformat(),
                      "segment": {"activity": segment.activity, "inactive_days": segment.inactive_days},
                      "cap_window": cap_window.total_seconds(), "quiet_start": quiet_start, "quiet_end": quiet_end}}


def _eligible(client, content_id, now, segment, cap_window, quiet_start, quiet_end, id_range) -> CandidateRows:
    subs, sends, campaigns = Subscriber._meta.db_table, Send._meta.db_table, Campaign._meta.db_table
    where = ["s.client_id = %s", "s.push_opt_in", "(s.last_content_push_at IS NULL OR s.last_content_push_at <= %s)"]
    adapt = connection.ops.adapt_datetimefield_value
    params: list = [client.pk, adapt(now - cap_window)]
    if id_range is not None:
        where.append("s.id >= %s AND s.id < %s")
        params.extend([int(id_range[0]), int(id_range[1])])
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
    sql_where = " AND ".join(where)
    if connection.vendor == "postgresql":
        # a range of ids is a shard of a job split already: one connection reads it
        got = _eligible_by_copy(client.pk, sql_where, params, now, quiet_start, quiet_end, split=id_range is None)
        if got is not None:
            return got
    sql = (f"SELECT s.id, s.push_sends, s.push_clicks, {epoch_sql('s.last_activity_at')}, s.timezone, s.locale, "
           f"s.reads_decayed, s.active_days_decayed, s.slot_price FROM {subs} s WHERE {sql_where} ORDER BY s.id")
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if not rows:
        return _no_rows()
    ids, sends_, clicks, last_act, zones, locales, reads, days, prices = zip(*rows)
    last = np.array([np.nan if v is None else float(v) for v in last_act])
    # a few distinct locales and zones among millions of people: each worked out once
    language_of = {loc: _language(loc) for loc in set(locales)}
    rows_ = CandidateRows(
        ids=np.fromiter(ids, dtype=np.int64, count=len(ids)),
        push_sends=np.fromiter(sends_, dtype=np.int64, count=len(ids)),
        push_clicks=np.fromiter(clicks, dtype=np.int64, count=len(ids)),
        days_inactive=(now.timestamp() - last) / 86400.0,
        language=np.array([language_of[loc] for loc in locales]),
        reads_decayed=np.fromiter(reads, dtype=np.float64, count=len(ids)),
        active_days_decayed=np.fromiter(days, dtype=np.float64, count=len(ids)),
        slot_price=np.fromiter(prices, dtype=np.float64, count=len(ids)),
    )
    quiet_in = {z: in_quiet_hours(local_hour(now, str(z)), quiet_start, quiet_end) for z in set(zones)}
    quiet = np.fromiter((quiet_in[z] for z in zones), dtype=bool, count=len(zones))
    return rows_.take(~quiet)


def _no_rows() -> CandidateRows:
    empty = np.zeros(0, dtype=np.int64)
    return CandidateRows(empty, empty, empty, np.zeros(0), np.zeros(0, dtype=str), np.zeros(0), np.zeros(0), np.zeros(0))


def _language(locale: str | None) -> str:
    """The language part of a locale ("ko-KR", "en_US" -> "ko", "en"; "" when unknown)."""
    return (locale or "").split("-")[0].split("_")[0].lower()


# PostgreSQL's 64-bit hash of a time zone's or a locale's text -> the text, learnt once per process
_TEXT_OF_HASH: dict[int, str] = {}
# client id -> the time zones its eligible people have been seen in, in this process
_ZONES_OF: dict[int, set[str]] = {}


def _texts(client_id: int, zone_hashes: np.ndarray, locale_hashes: np.ndarray) -> None:
    """Learn the texts behind hashes not seen yet in this process: one pass over the client's
    subscribers, only when a time zone or locale new to this process turns up."""
    missing = [h for h in np.concatenate([zone_hashes, locale_hashes]).tolist() if h not in _TEXT_OF_HASH]
    if not missing:
        return
    subs = Subscriber._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT hashtextextended(s.timezone, 0), s.timezone, hashtextextended(s.locale, 0), s.locale "
                    f"FROM {subs} s WHERE s.client_id = %s AND (hashtextextended(s.timezone, 0) = ANY(%s::bigint[]) "
                    f"OR hashtextextended(s.locale, 0) = ANY(%s::bigint[]))", [client_id, missing, missing])
        for zh, zone, lh, locale in cur.fetchall():
            _TEXT_OF_HASH[int(zh)] = zone
            _TEXT_OF_HASH[int(lh)] = locale


def _eligible_by_copy(client_id: int, where: str, params: list, now: datetime, quiet_start: int,
                      quiet_end: int, split: bool = True) -> CandidateRows | None:
    """``eligible_candidates`` on PostgreSQL: the rows by binary COPY into arrays (no Python
    object per person; at 10,000,000 people the row tuples alone took 23 s), the time zone and
    locale as 64-bit hashes of their text, each distinct one worked out once, the last activity
    as the database stores it (its epoch computed by the database cost a third of the query).
    Many rows (unless ``split`` is off) are read over ``SHARDS["READ_STREAMS"]`` connections side
    by side, each a range of the table's pages (``_split_read``); people in a time zone already seen to be
    in quiet hours now are not read at all. None when a row was not what was asked for (a NULL):
    the caller reads the rows otherwise."""
    from apps.core.pgcopy import PG_EPOCH_US, copy_arrays

    subs = Subscriber._meta.db_table
    cols = ["s.id", "s.push_sends::bigint", "s.push_clicks::bigint", "COALESCE(s.last_activity_at, '-infinity'::timestamptz)",
            "hashtextextended(s.timezone, 0)", "hashtextextended(s.locale, 0)", "s.reads_decayed",
            "s.active_days_decayed", "s.slot_price"]
    dtypes = (">i8", ">i8", ">i8", ">i8", ">i8", ">i8", ">f8", ">f8", ">f8")
    # the time zones of this client known to be in quiet hours now are left out by the
    # database (others are found out below, and remembered for the next read)
    quiet_known = sorted(z for z in _ZONES_OF.get(client_id, ()) if in_quiet_hours(local_hour(now, z), quiet_start, quiet_end))
    if quiet_known:
        where, params = f"{where} AND s.timezone <> ALL(%s::varchar[])", [*params, quiet_known]
    sql = f"SELECT {', '.join(cols)} FROM {subs} s WHERE {where}"
    got = _split_read(sql, params, dtypes) if split else False
    if got is False:
        got = copy_arrays(sql, params, dtypes)
    if got is None:
        return None
    ids, sends_, clicks, last_us, zone_h, locale_h, reads, days, prices = got
    if not len(ids):
        return _no_rows()
    zones, locales = np.unique(zone_h), np.unique(locale_h)  # a few distinct values each, sorted
    _texts(client_id, zones, locales)
    _ZONES_OF.setdefault(client_id, set()).update(_TEXT_OF_HASH[int(h)] for h in zones)
    language_of = np.array([_language(_TEXT_OF_HASH[int(h)]) for h in locales])
    quiet_zone = np.array([in_quiet_hours(local_hour(now, _TEXT_OF_HASH[int(h)]), quiet_start, quiet_end) for h in zones])
    quiet = quiet_zone[np.searchsorted(zones, zone_h)]
    # who is kept, in id order (as everywhere), each array taken once
    keep = None if not quiet.any() else np.flatnonzero(~quiet)
    if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
        order = np.argsort(ids, kind="stable")  # runs already in order: a merge, not a full sort
        once = np.concatenate([[True], ids[order[1:]] != ids[order[:-1]]])  # a row two parts of a split read both saw
        keep = order[once & ~quiet[order]]
    if keep is not None:
        ids, sends_, clicks, last_us, locale_h, reads, days, prices = (
            a[keep] for a in (ids, sends_, clicks, last_us, locale_h, reads, days, prices))
    last = np.where(last_us == np.iinfo(np.int64).min, np.nan, (last_us + PG_EPOCH_US) / 1e6)  # -infinity: never
    return CandidateRows(ids=ids, push_sends=sends_, push_clicks=clicks, days_inactive=(now.timestamp() - last) / 86400.0,
                         language=language_of[np.searchsorted(locales, locale_h)], reads_decayed=reads,
                         active_days_decayed=days, slot_price=prices)


def _split_read(sql: str, params: list, dtypes: tuple):
    """The eligible rows over several connections (``apps.core.pgcopy.copy_split``), or False
    when one is better: one stream configured, fewer rows expected than ``STREAM_MIN_ROWS``, a
    server older than 14, or a transaction that has itself changed subscribers or sends, which
    the other connections would not see."""
    from django.conf import settings

    from apps.core.pgcopy import copy_split, estimate_rows, split_worth

    streams = int(settings.PUSHADMIN["SHARDS"].get("READ_STREAMS", 1))
    if streams < 2:  # (no plan asked for)
        return False
    estimate = estimate_rows(sql, params)
    subs, sends = Subscriber._meta.db_table, Send._meta.db_table
    if not split_worth(estimate, streams, subs, sends):
        return False
    query = connection.ops.compose_sql(sql, params)  # COPY takes no bind parameters: the values go in quoted
    return copy_split(lambda condition: f"COPY ({query} AND {condition}) TO STDOUT (FORMAT BINARY)", subs, dtypes,
                      streams, capacity=int(estimate * 1.1) + 4096, alias="s")


def clickers_of(*, campaign_id: int, limit: int = 5000) -> set[int]:
    """Subscribers who clicked a push of this campaign so far."""
    return set(Send.objects.filter(campaign_id=campaign_id, clicked_at__isnull=False)
               .values_list("subscriber_id", flat=True)[:limit])


def wave_outcomes(*, wave_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The delivered sends of a wave as arrays: usual CTR (expected clicks), sent time and click
    time (epoch seconds; NaN = no click yet)."""
    ctr, sent, clicked = wave_delivered(wave_id=wave_id)[:3]
    return ctr, sent, clicked


def wave_delivered(*, wave_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``wave_outcomes`` and, for each send, whether it was a probe of the wave's window, its
    place there (``rank``; 0 = none) and the recipient's platform (each has its own click delays)."""
    rows = list(Send.objects.filter(wave_id=wave_id, state=Send.State.SENT)
                .values_list("baseline_ctr", "sent_at", "clicked_at", "chosen_by", "rank", "subscriber__platform"))
    ctr = np.array([r[0] for r in rows], dtype=float)
    sent = np.array([r[1].timestamp() for r in rows], dtype=float)
    clicked = np.array([r[2].timestamp() if r[2] else np.nan for r in rows], dtype=float)
    probed = np.array([r[3] == Send.ChosenBy.PROBED for r in rows], dtype=bool)
    rank = np.array([r[4] or 0 for r in rows], dtype=np.int64)
    platform = np.array([r[5] for r in rows], dtype=object)
    return ctr, sent, clicked, probed, rank, platform


def campaign_recipient_ids(*, campaign_id: int) -> np.ndarray:
    """Everyone with a row of this campaign (sent, pending, failed, cancelled or held out): never
    chosen for it again."""
    return np.array(sorted(Send.objects.filter(campaign_id=campaign_id).values_list("subscriber_id", flat=True)),
                    dtype=np.int64)


UNFINISHED = (Send.State.PENDING, Send.State.CLAIMED)


def wave_unfinished(*, wave_id: int) -> bool:
    """Whether some send of the wave is still waiting for or in the hands of the dispatcher."""
    return Send.objects.filter(wave_id=wave_id, state__in=UNFINISHED).exists()


def wave_last_result_at(*, wave_id: int) -> datetime | None:
    """When the wave's last send was delivered or failed."""
    from django.db.models import Max

    last = Send.objects.filter(wave_id=wave_id).aggregate(s=Max("sent_at"), f=Max("failed_at"))
    return max([t for t in (last["s"], last["f"]) if t is not None], default=None)


def sends_due_exist(*, now: datetime | None = None) -> bool:
    """Whether the dispatcher has work: a push waiting, or a claim older than the claim timeout,
    left by a worker that stopped (only a dispatch takes it back, to send it again or fail it)."""
    from django.conf import settings
    from django.db.models import Q

    from apps.core import clock

    timeout = timedelta(seconds=settings.PUSHADMIN["DELIVERY"].get("CLAIM_TIMEOUT_SECONDS", 120))
    stale = (now or clock.now()) - timeout
    return Send.objects.filter(Q(state=Send.State.PENDING) | Q(state=Send.State.CLAIMED, claimed_at__lt=stale)).exists()
