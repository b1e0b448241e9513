"""Writes of the outbox: slots and sends, cancellation, dispatch to the provider, attribution of
opens and clicks. The counts these change on other apps' rows (waves, campaigns, title variants,
subscribers) go through those apps' services."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import connection, transaction

from apps.audience.models import Subscriber
from apps.audience.services import subscribers_count_clicks
from apps.campaigns import services as campaigns
from apps.campaigns.selectors import running_campaign_ids
from apps.contents.services import title_variants_count
from apps.core import clock
from apps.core.selectors import paused_client_ids
from apps.core.sql import binary_cursor
from apps.delivery.models import Send

RECORD_EVERY = 200  # sends handed to the provider between two writes of their results
NEVER_PUSHED = (Send.State.CANCELLED, Send.State.HELD_OUT)  # no open or click can be theirs


def sends_attribute(*, events: list[dict]) -> dict[str, int]:
    """Record the first open and the first click of each send and count clicks on its wave,
    campaign, title variant and subscriber. Runs inside the ingesting transaction; a second
    click on the same send changes nothing. Clicks after the content expired still count."""
    first: dict[str, dict[int, datetime]] = {"open": {}, "click": {}}
    for e in events:
        kind = e["type"]
        if kind in first and (e["send_id"] not in first[kind] or e["occurred_at"] < first[kind][e["send_id"]]):
            first[kind][e["send_id"]] = e["occurred_at"]
    opened = _mark(first["open"], "opened_at")
    clicked = _mark(first["click"], "clicked_at")
    if clicked:
        def by(column):
            return Counter(row[column] for row in clicked if row[column] is not None)

        campaigns.clicks_count(by_wave=by("wave_id"), by_campaign=by("campaign_id"))
        title_variants_count(clicks=by("title_variant_id"))
        subscribers_count_clicks(counts=by("subscriber_id"))
    return {"opened": len(opened), "clicked": len(clicked)}


def _mark(times: dict[int, datetime], field: str) -> list[dict]:
    if not times:
        return []
    rows = list(
        Send.objects.select_for_update()
        .filter(pk__in=list(times), **{f"{field}__isnull": True})
        .exclude(state__in=NEVER_PUSHED)
        .order_by("pk")
        .only("pk", "wave_id", "campaign_id", "title_variant_id", "subscriber_id")
    )
    for row in rows:
        setattr(row, field, times[row.pk])
    Send.objects.bulk_update(rows, [field], batch_size=500)
    return [{"wave_id": r.wave_id, "campaign_id": r.campaign_id, "title_variant_id": r.title_variant_id,
             "subscriber_id": r.subscriber_id} for r in rows]


# --- The outbox: slots and sends --------------------------------------------------------------

def sends_create_with_slots(*, campaign, wave, subscriber_ids, baseline_ctr, scores, variant_ids, cap_window: timedelta,
                            now, explored=None, ranks=None, propensities=None, chosen_by=None, values=None,
                            prices=None) -> dict:
    """Claim each subscriber's slot and create their send, in one statement per chunk.

    ``scores``: the ranker's (NaN = none, stored empty); ``explored``: True where the person was
    drawn at random outside the ranked top (default: nobody); ``chosen_by``: each one's
    ``Send.ChosenBy`` (default: from ``explored``); ``ranks`` (0 = none) and
    ``propensities`` (NaN = none): what chose each one, recorded on the send; ``values`` and
    ``prices`` (NaN or None = none): the push's value and the person's slot price when planned.

    The claim is one conditional ``UPDATE ... WHERE last_content_push_at <= now - cap_window``;
    only the subscribers it actually updated get a send row, in the same transaction, which keeps
    the slot's previous value (restored if the send is cancelled). A subscriber whose slot another
    campaign took first is skipped. ``UNIQUE(campaign, subscriber)`` is the last guard against
    sending one content twice.
    """
    ids = np.asarray(subscriber_ids, dtype=np.int64)
    if len(ids) == 0:
        return {"subscriber_ids": ids}
    order = np.argsort(ids, kind="stable")  # rows locked in id order: concurrent claims cannot deadlock
    ids, ctr = ids[order], np.asarray(baseline_ctr, dtype=float)[order]
    score = np.asarray(scores, dtype=float)[order]
    variant = np.asarray(variant_ids, dtype=np.int64)[order]
    how = _chosen_by(len(ids), explored, chosen_by)[order]
    rank = np.zeros(len(ids), dtype=np.int64) if ranks is None else np.asarray(ranks, dtype=np.int64)[order]
    prop = np.full(len(ids), np.nan) if propensities is None else np.asarray(propensities, dtype=float)[order]
    value = np.full(len(ids), np.nan) if values is None else np.asarray(values, dtype=float)[order]
    price = np.full(len(ids), np.nan) if prices is None else np.asarray(prices, dtype=float)[order]
    subs, sends = Subscriber._meta.db_table, Send._meta.db_table
    created: list[int] = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            raw = binary_cursor()
            for start in range(0, len(ids), 20_000):
                sl = slice(start, start + 20_000)
                raw.execute(
                    f"""WITH locked AS (
                          SELECT id, last_content_push_at AS prev FROM {subs} WHERE id = ANY(%b) ORDER BY id FOR NO KEY UPDATE
                        ), claimed AS (
                          UPDATE {subs} s SET last_content_push_at = %b, push_sends = s.push_sends + 1
                          FROM locked WHERE s.id = locked.id AND s.push_opt_in
                            AND (s.last_content_push_at IS NULL OR s.last_content_push_at <= %b)
                          RETURNING s.id, locked.prev
                        )
                        INSERT INTO {sends} (campaign_id, wave_id, subscriber_id, title_variant_id, state, baseline_ctr, score,
                                             chosen_by, rank, propensity, value, slot_price, provider, provider_message_id,
                                             attempts, error, created_at, slot_previous_at)
                        SELECT %b, %b, u.id, NULLIF(u.v, 0), 'pending', u.ctr, NULLIF(u.score, 'NaN'::float8), u.how,
                               NULLIF(u.rank, 0), NULLIF(u.prop, 'NaN'::float8), NULLIF(u.value, 'NaN'::float8),
                               NULLIF(u.price, 'NaN'::float8), '', '', 0, '', %b, claimed.prev
                        FROM unnest(%b::bigint[], %b::bigint[], %b::float8[], %b::float8[], %b::varchar[], %b::bigint[],
                                    %b::float8[], %b::float8[], %b::float8[]) AS u(id, v, ctr, score, how, rank, prop, value, price)
                        JOIN claimed ON claimed.id = u.id
                        RETURNING subscriber_id""",
                    [ids[sl].tolist(), now, now - cap_window, campaign.pk, wave.pk, now,
                     ids[sl].tolist(), variant[sl].tolist(), ctr[sl].tolist(), score[sl].tolist(), how[sl].tolist(),
                     rank[sl].tolist(), prop[sl].tolist(), value[sl].tolist(), price[sl].tolist()],
                )
                created += [r[0] for r in raw.fetchall()]
            if len(created) >= 20_000:
                # A big wave just changed the outbox a lot: refresh the planner's statistics now
                # rather than when autovacuum gets to it, or the dispatcher's claims may scan.
                cur.execute(f"ANALYZE {sends}")
        else:
            adapt = connection.ops.adapt_datetimefield_value
            by_id = {int(i): k for k, i in enumerate(ids)}
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500].tolist()
                # The transaction holds SQLite's write lock: nothing changes between the read and the claim.
                previous = dict(Subscriber.objects.filter(pk__in=chunk).values_list("pk", "last_content_push_at"))
                cur.execute(
                    f"UPDATE {subs} SET last_content_push_at = %s, push_sends = push_sends + 1 "
                    f"WHERE id IN ({','.join(['%s'] * len(chunk))}) AND push_opt_in "
                    f"AND (last_content_push_at IS NULL OR last_content_push_at <= %s) RETURNING id",
                    [adapt(now), *chunk, adapt(now - cap_window)],
                )
                claimed = sorted(r[0] for r in cur.fetchall())
                Send.objects.bulk_create([
                    Send(campaign_id=campaign.pk, wave_id=wave.pk, subscriber_id=sid,
                         title_variant_id=int(variant[by_id[sid]]) or None, state=Send.State.PENDING,
                         baseline_ctr=float(ctr[by_id[sid]]), created_at=now, slot_previous_at=previous[sid],
                         score=None if np.isnan(score[by_id[sid]]) else float(score[by_id[sid]]),
                         chosen_by=str(how[by_id[sid]]), rank=int(rank[by_id[sid]]) or None,
                         propensity=None if np.isnan(prop[by_id[sid]]) else float(prop[by_id[sid]]),
                         value=None if np.isnan(value[by_id[sid]]) else float(value[by_id[sid]]),
                         slot_price=None if np.isnan(price[by_id[sid]]) else float(price[by_id[sid]]))
                    for sid in claimed
                ])
                created += claimed
    return {"subscriber_ids": np.array(sorted(created), dtype=np.int64)}


def _chosen_by(n: int, explored, chosen_by) -> np.ndarray:
    if chosen_by is not None:
        how = np.asarray(chosen_by, dtype=object)
        if len(how) != n or not set(how.tolist()) <= set(Send.ChosenBy.values):
            raise ValueError(f"chosen_by: one of {Send.ChosenBy.values} per subscriber")
        return how
    return np.where(np.zeros(n, dtype=bool) if explored is None else np.asarray(explored, dtype=bool),
                    Send.ChosenBy.EXPLORED, Send.ChosenBy.RANKED).astype(object)


def sends_hold_out(*, campaign, wave, subscriber_ids, baseline_ctr, explored, ranks, propensities, now,
                   chosen_by=None) -> int:
    """Record the people of a wave held out at random (the campaign's holdout): a ``held_out``
    row each, so they are never chosen for this content again and can be compared with the
    recipients. No slot is claimed, nothing is sent."""
    how = _chosen_by(len(subscriber_ids), explored, chosen_by)
    if connection.vendor == "postgresql" and len(subscriber_ids):
        # one statement on arrays (binary parameters), as the sends themselves are written
        binary_cursor().execute(
            f"""INSERT INTO {Send._meta.db_table} (campaign_id, wave_id, subscriber_id, state, baseline_ctr, chosen_by,
                                                 rank, propensity, provider, provider_message_id, attempts, error,
                                                 created_at)
                SELECT %b, %b, u.id, %b, u.ctr, u.how, NULLIF(u.rank, 0), NULLIF(u.prop, 'NaN'::float8), '', '', 0, '', %b
                FROM unnest(%b::bigint[], %b::float8[], %b::varchar[], %b::bigint[], %b::float8[])
                     AS u(id, ctr, how, rank, prop)""",
            [campaign.pk, wave.pk, Send.State.HELD_OUT.value, now,
             np.asarray(subscriber_ids, dtype=np.int64).tolist(), np.asarray(baseline_ctr, dtype=float).tolist(),
             [str(h) for h in how], np.asarray(ranks, dtype=np.int64).tolist(),
             np.asarray(propensities, dtype=float).tolist()])
        return len(subscriber_ids)
    Send.objects.bulk_create([
        Send(campaign_id=campaign.pk, wave_id=wave.pk, subscriber_id=int(sid), state=Send.State.HELD_OUT,
             baseline_ctr=float(c), created_at=now, chosen_by=str(h),
             rank=int(r) or None, propensity=None if np.isnan(p) else float(p))
        for sid, c, h, r, p in zip(subscriber_ids, baseline_ctr, how, ranks, propensities)
    ], batch_size=1000)
    return len(subscriber_ids)


def sends_cancel_pending(*, campaign_id: int, reason: str, now) -> dict[str, int]:
    """The pushes of a campaign that never left (it ended first): cancelled with the reason, never
    silently dropped. Each one's slot goes back to what it was before, unless the subscriber has
    been pushed since; it no longer counts as a send of its wave, campaign, title variant or
    subscriber, nor as expected clicks. Returns how many were cancelled and how many slots freed.
    A send a worker has claimed is on its way to the provider and is left to finish."""
    rows = list(Send.objects.select_for_update().filter(campaign_id=campaign_id, state=Send.State.PENDING)
                .order_by("pk").values_list("pk", "wave_id", "subscriber_id", "title_variant_id", "baseline_ctr",
                                            "created_at", "slot_previous_at"))
    if not rows:
        return {"cancelled": 0, "slots_released": 0}
    Send.objects.filter(pk__in=[r[0] for r in rows]).update(state=Send.State.CANCELLED, cancelled_at=now,
                                                           error=reason[:500])
    by_wave: dict[int, list] = {}
    for _, wave_id, _, _, ctr, _, _ in rows:
        acc = by_wave.setdefault(wave_id, [0, 0.0])
        acc[0] += 1
        acc[1] += ctr
    campaigns.sends_uncount(by_wave=by_wave)
    title_variants_count(sends=_negative_counts(r[3] for r in rows if r[3] is not None))
    released = _slots_release([(r[2], r[5], r[6]) for r in rows])
    return {"cancelled": len(rows), "slots_released": released}


def _negative_counts(ids) -> dict[int, int]:
    return {pk: -n for pk, n in Counter(ids).items()}


def _slots_release(claims: list[tuple[int, datetime, datetime | None]]) -> int:
    """Give back the slots that cancelled sends claimed: (subscriber, claimed at, previous value).
    A slot someone claimed again since is left alone; the send no longer counts in the
    subscriber's push history either way."""
    subs = Subscriber._meta.db_table
    current = dict(Subscriber.objects.select_for_update().filter(pk__in=sorted({c[0] for c in claims}))
                   .order_by("pk").values_list("pk", "last_content_push_at"))
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cur:
        cur.executemany(
            f"UPDATE {subs} SET last_content_push_at = CASE WHEN last_content_push_at = %s THEN %s "
            f"ELSE last_content_push_at END, "
            f"push_sends = CASE WHEN push_sends > push_clicks THEN push_sends - 1 ELSE push_sends END WHERE id = %s",
            [(adapt(claimed), adapt(previous), sid) for sid, claimed, previous in sorted(claims)],
        )
    return sum(1 for sid, claimed, _ in claims if current.get(sid) == claimed)


def _backoff(attempts: int, conf: dict) -> timedelta:
    """The dispatcher's wait before handing a send over again: ``SEND_BACKOFF_SECONDS`` after the
    first hand-over, doubling, at most ``SEND_BACKOFF_MAX_SECONDS``."""
    first, most = conf.get("SEND_BACKOFF_SECONDS", 30), conf.get("SEND_BACKOFF_MAX_SECONDS", 900)
    return timedelta(seconds=min(first * 2 ** max(attempts - 1, 0), most))


def sends_dispatch_batch(*, limit: int = 1000, now=None, provider=None) -> dict[str, int]:
    """Claim up to ``limit`` due sends by a conditional update, hand them to the provider, and
    record each result. Safe to run in many workers at once; a claim that a dead worker left
    behind is taken back after the claim timeout (``CLAIM_TIMEOUT_SECONDS``)."""
    from django.conf import settings

    from apps.delivery.providers.base import PushMessage

    now_given, now = now, now or clock.now()
    paused = paused_client_ids()
    if paused is None:  # every client's pushes are held
        return {"claimed": 0, "paused": 1}
    conf = settings.PUSHADMIN["DELIVERY"]
    claim_timeout = timedelta(seconds=conf.get("CLAIM_TIMEOUT_SECONDS", 120))
    running = running_campaign_ids(exclude_clients=paused)
    _claims_take_back(now - claim_timeout, running, now)
    table = Send._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    if not running:
        return {"claimed": 0}
    # The partial index of unfinished sends serves the scan and LIMIT stops it early, however
    # many sends are done (no ORDER BY, no join to scan).
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"WITH due AS (SELECT d.id FROM {table} d WHERE d.state = 'pending' "
                        f"AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= %s) AND d.campaign_id = ANY(%s) "
                        f"LIMIT %s FOR UPDATE SKIP LOCKED) "
                        f"UPDATE {table} s SET state = 'claimed', claimed_at = %s, attempts = s.attempts + 1 "
                        f"FROM due WHERE s.id = due.id RETURNING s.id",
                        [adapt(now), running, limit, adapt(now)])
        else:
            marks = ",".join(["%s"] * len(running))
            cur.execute(f"UPDATE {table} SET state = 'claimed', claimed_at = %s, attempts = attempts + 1 WHERE id IN ("
                        f"SELECT id FROM {table} WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
                        f"AND campaign_id IN ({marks}) LIMIT %s) AND state = 'pending' RETURNING id",
                        [adapt(now), adapt(now), *running, limit])
        claimed = [r[0] for r in cur.fetchall()]
    if not claimed:
        return {"claimed": 0}
    rows = list(Send.objects.filter(pk__in=claimed).order_by("pk").values_list(
        "pk", "wave_id", "attempts", "campaign_id", "subscriber__external_id", "subscriber__push_token",
        "subscriber__platform", "title_variant__text", "campaign__content__external_id", "campaign__content__title",
        "campaign__content__body", "campaign__content__url"))
    messages = [
        PushMessage(send_id=pk, campaign_id=camp, content_external_id=cext, subscriber_external_id=sext, push_token=token,
                    platform=platform, title=vtext or ctitle, body=(body or "")[:180], url=url,
                    data={"send_id": str(pk), "content": cext})
        for pk, _, _, camp, sext, token, platform, vtext, cext, ctitle, body, url in rows
    ]
    if provider is None:
        from apps.delivery.providers import get_provider

        provider = get_provider()
    info = {pk: (wave_id, attempts) for pk, wave_id, attempts, *_ in rows}
    totals = Counter()
    # Results are recorded after every chunk: if this worker dies, at most one chunk was handed
    # to the provider without being recorded (and it carries the same Idempotency-Key when it
    # is sent again).
    lease = now
    for start in range(0, len(messages), RECORD_EVERY):
        chunk = messages[start:start + RECORD_EVERY]
        if start:
            # Renew the claim on what is left, so a long batch is not taken back while it runs;
            # rows another worker took back meanwhile are left to it.
            renewed = clock.now() if now_given is None else now
            with transaction.atomic():
                left = set(Send.objects.select_for_update().filter(
                    pk__in=[m.send_id for m in messages[start:]], state=Send.State.CLAIMED, claimed_at=lease,
                ).values_list("pk", flat=True))
                Send.objects.filter(pk__in=left).update(claimed_at=renewed)
            lease = renewed
            chunk = [m for m in chunk if m.send_id in left]
            if not chunk:
                continue
        results = provider.send_batch(chunk)
        done = clock.now() if now_given is None else now
        outcomes = [_outcome(r, info[r.send_id], done, provider.name, conf) for r in results]
        with transaction.atomic():
            # Only rows still under our claim are written (state claimed, claimed_at our lease):
            # one taken back after the claim timeout belongs to another worker now.
            written = _write_results(outcomes, claimed_at=lease)
            ours = [o for o in outcomes if o.pk in written]
            campaigns.waves_count_delivery(delivered=Counter(o.wave_id for o in ours if o.state == Send.State.SENT),
                                           failed=Counter(o.wave_id for o in ours if o.state == Send.State.FAILED))
        totals.update(o.state for o in ours)
    return {"claimed": len(claimed), "sent": totals[Send.State.SENT], "failed": totals[Send.State.FAILED],
            "retry": totals[Send.State.PENDING]}


def _claims_take_back(before: datetime, running: list[int], now: datetime) -> None:
    """Claims a worker left behind (it died while sending): back to pending when their campaign
    still runs. When it has ended, whether the push left before the worker died is unknown: the
    send fails with that reason and keeps its slot, so nobody can get two pushes in one window."""
    stale = Send.objects.filter(state=Send.State.CLAIMED, claimed_at__lt=before)
    stale.filter(campaign_id__in=running).update(
        state=Send.State.PENDING,
        error=f"Claim taken back after {(now - before).total_seconds():g} s: the worker that held it stopped before "
              "recording the result (it may have reached the provider; it goes again with the same Idempotency-Key).")
    orphans = list(stale.exclude(campaign_id__in=running).values_list("pk", "wave_id"))
    if orphans:
        Send.objects.filter(pk__in=[pk for pk, _ in orphans], state=Send.State.CLAIMED).update(
            state=Send.State.FAILED, failed_at=now,
            error="Claimed by a worker that stopped before recording the result, and the campaign has ended since: "
                  "it may or may not have been delivered.")
        campaigns.waves_count_delivery(delivered={}, failed=Counter(w for _, w in orphans))


def _outcome(r, info, done, provider_name: str, conf: dict) -> "_Outcome":
    wave_id, attempts = info
    max_attempts = conf["SEND_ATTEMPTS"]
    if r.ok:  # error None: a push delivered after a retry keeps why it was retried
        return _Outcome(r.send_id, wave_id, Send.State.SENT, done, None, None, provider_name, r.provider_message_id[:200], None)
    if r.permanent or (attempts >= max_attempts and getattr(r, "attempted", True)):
        error = (r.error or "failed")[:450] + ("" if r.permanent else f" (gave up after {attempts} attempts)")
        return _Outcome(r.send_id, wave_id, Send.State.FAILED, None, done, None, provider_name, "", error)
    wait = timedelta(seconds=r.retry_after) if r.retry_after else _backoff(attempts, conf)
    # A push the provider never tried (paused, over its rate) does not use up an attempt.
    used = attempts if getattr(r, "attempted", True) else attempts - 1
    return _Outcome(r.send_id, wave_id, Send.State.PENDING, None, None, done + wait, provider_name, "", (r.error or "")[:500],
                    used)



@dataclass(frozen=True)
class _Outcome:
    pk: int
    wave_id: int
    state: str
    sent_at: datetime | None
    failed_at: datetime | None
    next_attempt_at: datetime | None
    provider: str
    provider_message_id: str
    error: str | None  # None: keep the send's error (the reason of its last retry)
    attempts: int | None = None  # set when the claim's attempt is given back


def _write_results(rows: list, *, claimed_at) -> set[int]:
    """One set-based update for a batch of dispatched sends; returns the ids written."""
    if not rows:
        return set()
    table = Send._meta.db_table
    cols = ("state", "sent_at", "failed_at", "next_attempt_at", "provider", "provider_message_id", "error")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"UPDATE {table} AS d SET state = u.state, sent_at = u.sent_at, failed_at = u.failed_at, "
                "next_attempt_at = u.next_at, provider = u.provider, provider_message_id = u.mid, "
                "error = COALESCE(u.error, d.error), "
                "attempts = COALESCE(u.attempts, d.attempts) "
                "FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], "
                "%s::varchar[], %s::varchar[], %s::varchar[], %s::int[]) "
                "AS u(id, state, sent_at, failed_at, next_at, provider, mid, error, attempts) "
                "WHERE d.id = u.id AND d.state = 'claimed' AND d.claimed_at = %s RETURNING d.id",
                [[r.pk for r in rows], *[[getattr(r, c) for r in rows] for c in cols], [r.attempts for r in rows], claimed_at],
            )
            return {r[0] for r in cur.fetchall()}
        adapt = connection.ops.adapt_datetimefield_value
        ours = {r[0] for r in cur.execute(
            f"SELECT id FROM {table} WHERE state = 'claimed' AND claimed_at = %s AND id IN ({','.join(['%s'] * len(rows))})",
            [adapt(claimed_at), *[r.pk for r in rows]]).fetchall()}
        sets = ", ".join("error = COALESCE(%s, error)" if c == "error" else f"{c} = %s" for c in cols)
        cur.executemany(
            f"UPDATE {table} SET {sets}, attempts = COALESCE(%s, attempts) WHERE id = %s",
            [[r.state, adapt(r.sent_at), adapt(r.failed_at), adapt(r.next_attempt_at), r.provider, r.provider_message_id,
              r.error, r.attempts, r.pk] for r in rows if r.pk in ours],
        )
        return ours
