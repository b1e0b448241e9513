"""Every number the operators' pages show: one selector per page, each taking ``now``.

The pages read the live tables for what is cheap (campaigns, waves, subscribers by index, the
decision log) and the roll-ups (``ActivityWeek``, ``CampaignReach``) for what would scan events
or every send. Each selector runs a bounded number of queries whatever the number of campaigns
or sends (the query-count tests hold them to it).

Definitions (docs/dashboards.md says the same for operators):

* weekly active subscribers: distinct subscribers with an open, click or read in the week
  (Monday-Sunday UTC); the current, unfinished week counts ``Subscriber.last_activity_at``.
* reactivated: a recipient with no activity in the 7 days before the push and some in the 7 days
  after it (the click on the push itself counts).
* click improvement: clicks / expected clicks, expected = the recipients' usual push CTRs summed.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from django.db.models import Count, F, FloatField, Max, Min, Prefetch, Q, Sum
from django.db.models.functions import Cast, NullIf, TruncDate, TruncHour
from django.http import Http404

from apps.audience.models import Subscriber
from apps.campaigns.selectors import ramp_config
from apps.campaigns.models import Campaign, Wave
from apps.core.models import Client, Decision
from apps.core.selectors import pause_switch
from apps.core.permissions import client_ids_of
from apps.dashboards.models import ActivityWeek, CampaignReach
from apps.dashboards.services import ACTIVITY_STATES, COMEBACK, WEEKS, week_start, week_start_at

OVERVIEW_DAYS = 30
RUNNING_SHOWN = 50
# Alerts: when the overview raises one.
PROVIDER_ERROR_SHARE = 0.02  # failed / (delivered + failed) over the last 24 h ...
PROVIDER_ERROR_MIN = 50  # ... once at least this many pushes were attempted
EXPANDED_FACTOR = 10.0  # a campaign of the last 7 days with this many times the median sends of the last 30 days
EXPANDED_MIN_SENDS = 1000
OPT_OUT_FACTOR = 2.0  # opt-outs per recipient in the last 7 days vs the 28 days before
OPT_OUT_MIN = 5


def _ratio(a, b) -> float | None:
    return (a / b) if b else None


def _client_q(user, client_id: int | None, field: str = "client_id") -> Q:
    """Rows of the clients ``user`` works for (optionally one of them)."""
    ids = client_ids_of(user)
    q = Q() if ids is None else Q(**{f"{field}__in": ids})
    if client_id is not None:
        q &= Q(**{field: client_id})
    return q


def visible_client_choices(*, user) -> list[Client]:
    ids = client_ids_of(user)
    qs = Client.objects.order_by("name", "pk")
    return list(qs if ids is None else qs.filter(pk__in=ids))


# ------------------------------------------------------------------------------------ overview

def overview(*, user, now: datetime, client_id: int | None = None, weeks: int = WEEKS, days: int = OVERVIEW_DAYS) -> dict:
    """The overview page: weekly actives and reactivations by week, pushes by day, the 7-day
    slot, running campaigns and alerts. 15 queries."""
    scope = _client_q(user, client_id)
    current = week_start(now)
    first_week = current - timedelta(weeks=weeks - 1)

    # Subscribers: five counts, each answered from an index (client; the slot's partial index of
    # opted-in subscribers; activity), instead of one pass over every subscriber row.
    subscribers = Subscriber.objects.filter(scope)
    opted_in = subscribers.filter(push_opt_in=True)
    subs = {
        "total": subscribers.count(),
        "opted_in": opted_in.count(),
        "slot_taken": opted_in.filter(last_content_push_at__gt=now - timedelta(days=7)).count(),
        "active_7d": subscribers.filter(last_activity_at__gte=now - timedelta(days=7), last_activity_at__lte=now).count(),
        "active_this_week": subscribers.filter(last_activity_at__gte=week_start_at(current), last_activity_at__lte=now).count(),
    }

    closed = {row["week_start"]: row["n"] for row in ActivityWeek.objects.filter(
        scope, week_start__gte=first_week, week_start__lt=current).values("week_start").annotate(n=Sum("active_subscribers"))}
    react_by_day = CampaignReach.objects.filter(
        _client_q(user, client_id, "campaign__client_id"),
        campaign__created_at__gte=week_start_at(first_week), campaign__created_at__lt=now,
    ).annotate(d=TruncDate("campaign__created_at")).values("d").annotate(
        r=Sum("reactivated"), i=Sum("inactive_recipients"), n=Sum("recipients"))
    react: dict = {}
    for row in react_by_day:
        ws = row["d"] - timedelta(days=row["d"].weekday())
        acc = react.setdefault(ws, [0, 0, 0])
        acc[0] += row["r"] or 0
        acc[1] += row["i"] or 0
        acc[2] += row["n"] or 0
    week_rows = []
    for k in range(weeks):
        ws = first_week + timedelta(weeks=k)
        r, i, n = react.get(ws, (0, 0, 0))
        week_rows.append({
            "week_start": ws, "partial": ws == current,
            "active": subs["active_this_week"] if ws == current else closed.get(ws),
            "reactivated": r, "inactive_recipients": i, "recipients": n,
            "reactivation_rate": _ratio(r, i),
            # A week's reactivations are final 7 days after its last push.
            "settling": week_start_at(ws) + timedelta(days=7) + COMEBACK > now,
        })

    while len(week_rows) > 1 and not week_rows[0]["active"] and not week_rows[0]["recipients"]:
        week_rows.pop(0)  # weeks before anything happened

    first_day = (now - timedelta(days=days - 1)).date()
    by_day = {row["d"]: row for row in Wave.objects.filter(
        _client_q(user, client_id, "campaign__client_id"),
        created_at__gte=datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo), created_at__lte=now,
    ).annotate(d=TruncDate("created_at")).values("d").annotate(
        sends=Sum("sends"), delivered=Sum("delivered"), failed=Sum("failed"), clicks=Sum("clicks"),
        expected=Sum("expected_clicks"), campaigns=Count("campaign_id", distinct=True))}
    day_rows = []
    for k in range(days):
        d = first_day + timedelta(days=k)
        row = by_day.get(d, {})
        clicks, expected = row.get("clicks") or 0, row.get("expected") or 0.0
        day_rows.append({"day": d, "campaigns": row.get("campaigns") or 0, "sends": row.get("sends") or 0,
                         "delivered": row.get("delivered") or 0, "failed": row.get("failed") or 0,
                         "clicks": clicks, "expected_clicks": expected, "improvement": _ratio(clicks, expected)})

    running = running_campaigns(user=user, client_id=client_id, limit=RUNNING_SHOWN)
    totals_30d = {
        "sends": sum(d["sends"] for d in day_rows), "delivered": sum(d["delivered"] for d in day_rows),
        "clicks": sum(d["clicks"] for d in day_rows), "expected_clicks": sum(d["expected_clicks"] for d in day_rows),
    }
    totals_30d["improvement"] = _ratio(totals_30d["clicks"], totals_30d["expected_clicks"])
    return {
        "now": now,
        "subscribers": {**subs, "slot_share": _ratio(subs["slot_taken"], subs["opted_in"])},
        "weeks": week_rows,
        "days": day_rows,
        "totals_30d": totals_30d,
        "running": running,
        "alerts": alerts(user=user, now=now, client_id=client_id),
    }


def running_campaigns(*, user, client_id: int | None = None, limit: int = RUNNING_SHOWN) -> list[dict]:
    """Running campaigns, newest first, with their current wave and last decision. 2 queries."""
    campaigns = list(
        Campaign.objects.filter(_client_q(user, client_id), state=Campaign.State.RUNNING)
        .select_related("content", "client").order_by("-created_at", "-id")
        .prefetch_related(Prefetch("waves", queryset=Wave.objects.order_by("number")))[:limit]
    )
    out = []
    for c in campaigns:
        waves = list(c.waves.all())
        decided = [w for w in waves if w.decision]
        last = decided[-1] if decided else None
        out.append({
            "campaign": c, "content": c.content, "client": c.client, "improvement": c.improvement,
            "current_wave": waves[-1] if waves else None, "waves": len(waves),
            "last_decision": {"wave": last.number, "decision": last.decision, "reason": last.decision_reason,
                              "code": last.decision_numbers.get("code", ""), "at": last.decided_at} if last else None,
        })
    return out


def alerts(*, user, now: datetime, client_id: int | None = None) -> list[dict]:
    """What an operator should look at now: provider errors, a content expanded far beyond the
    others, opt-outs rising after pushes, sending paused. 4 queries."""
    out: list[dict] = []
    wave_scope = _client_q(user, client_id, "campaign__client_id")
    w = Wave.objects.filter(wave_scope, created_at__gte=now - timedelta(hours=24), created_at__lte=now).aggregate(
        delivered=Sum("delivered"), failed=Sum("failed"))
    delivered, failed = w["delivered"] or 0, w["failed"] or 0
    attempted = delivered + failed
    if attempted >= PROVIDER_ERROR_MIN and failed / attempted > PROVIDER_ERROR_SHARE:
        out.append({"level": "bad", "kind": "provider_errors",
                    "text": f"Provider errors: {failed:,} of {attempted:,} pushes failed in the last 24 hours "
                            f"({failed / attempted:.1%}, alert above {PROVIDER_ERROR_SHARE:.0%}).", "link": "system"})

    recent = list(Campaign.objects.filter(_client_q(user, client_id), created_at__gte=now - timedelta(days=30),
                                          created_at__lte=now, sends__gt=0)
                  .values_list("pk", "sends", "created_at", "content__title"))
    if len(recent) >= 3:
        median = statistics.median(s for _, s, _, _ in recent)
        for pk, sends, created, title in sorted(recent, key=lambda r: -r[1]):
            if created >= now - timedelta(days=7) and sends >= EXPANDED_MIN_SENDS and sends >= EXPANDED_FACTOR * median:
                out.append({"level": "warn", "kind": "expanded", "campaign_id": pk,
                            "text": f"“{title[:80]}” reached {sends:,} recipients, {sends / median:.0f}× the median "
                                    f"campaign of the last 30 days ({median:,.0f}).", "link": "campaign"})

    reach = CampaignReach.objects.filter(_client_q(user, client_id, "campaign__client_id"),
                                         campaign__created_at__gte=now - timedelta(days=35), campaign__created_at__lte=now)
    agg = reach.aggregate(
        recent_out=Sum("opted_out", filter=Q(campaign__created_at__gte=now - timedelta(days=7))),
        recent_n=Sum("recipients", filter=Q(campaign__created_at__gte=now - timedelta(days=7))),
        before_out=Sum("opted_out", filter=Q(campaign__created_at__lt=now - timedelta(days=7))),
        before_n=Sum("recipients", filter=Q(campaign__created_at__lt=now - timedelta(days=7))),
    )
    r_out, r_n, b_out, b_n = (agg[k] or 0 for k in ("recent_out", "recent_n", "before_out", "before_n"))
    r_rate, b_rate = _ratio(r_out, r_n), _ratio(b_out, b_n)
    if r_out >= OPT_OUT_MIN and r_rate is not None and (not b_rate or r_rate >= OPT_OUT_FACTOR * b_rate):
        before = f"{b_rate:.2%} in the 28 days before" if b_rate else "none in the 28 days before"
        out.append({"level": "bad", "kind": "opt_outs",
                    "text": f"Opt-outs rising: {r_out:,} of {r_n:,} recipients of the last 7 days turned pushes off "
                            f"after their push ({r_rate:.2%}; {before}).", "link": "contents"})

    switch = pause_switch()
    if switch and switch.on:
        who = switch.changed_by.get_username() if switch.changed_by else "the system"
        out.append({"level": "bad", "kind": "paused",
                    "text": f"All sending is paused (since {switch.changed_at:%Y-%m-%d %H:%M} UTC, by {who}).", "link": "system"})
    return out


# ------------------------------------------------------------------------------------ campaign


def improvement_intervals(*, clicks: int, expected: float, campaign: Campaign) -> dict:
    """Improvement with the anytime-valid confidence sequence (what the ramp decides on) and
    the plain normal interval (one look only), from cumulative clicks and expected clicks."""
    from recsys.ramp import improvement_interval, normal_interval

    config = ramp_config(campaign)
    if expected <= 0:
        return {"improvement": None, "anytime": None, "normal": None, "clicks": clicks, "expected_clicks": expected}
    lo, hi = improvement_interval(clicks, expected, config=config)
    nlo, nhi = normal_interval(clicks, expected, config=config)

    def fin(x):
        return None if x is None or x != x or x in (float("inf"), float("-inf")) else float(x)

    return {"improvement": clicks / expected, "clicks": clicks, "expected_clicks": expected,
            "anytime": {"lo": fin(lo), "hi": fin(hi)}, "normal": {"lo": fin(nlo), "hi": fin(nhi)}}


def campaign_for_user(*, user, pk: int) -> Campaign:
    try:
        return (Campaign.objects.filter(_client_q(user, None)).select_related("content", "client", "created_by")
                .get(pk=pk))
    except Campaign.DoesNotExist:
        raise Http404("No such campaign.") from None


def campaign_page(*, user, pk: int, now: datetime) -> dict:
    """The campaign page: waves with their numbers and intervals, title variants by wave, who
    got it, the decision log. 7 queries."""
    from apps.contents.models import TitleVariant
    from apps.delivery.models import Send

    campaign = campaign_for_user(user=user, pk=pk)
    waves = list(campaign.waves.order_by("number"))
    level = 1 - 2 * campaign.alpha
    rows = []
    cum_clicks, cum_expected = 0, 0.0
    for w in waves:
        cum_clicks += w.clicks
        cum_expected += w.expected_clicks
        n = w.decision_numbers or {}
        decided = bool(w.decision) and "anytime_interval" in n
        if decided:
            cumulative = {
                "improvement": n.get("improvement"), "clicks": n.get("clicks"), "expected_clicks": n.get("expected_clicks"),
                "anytime": {"lo": n["anytime_interval"].get("lo"), "hi": n["anytime_interval"].get("hi")},
                "normal": {"lo": n["normal_interval"].get("lo"), "hi": n["normal_interval"].get("hi")},
                "e_up": n.get("e_value_above_floor"), "e_down": n.get("e_value_below_target"),
                "threshold": n.get("e_value_threshold"), "completion": n.get("completion"),
                "source": "decision",
            }
        elif w.sends and w.state != Wave.State.DECIDED:
            # Not decided yet: the same intervals on all clicks so far against the full-horizon
            # expected clicks (late clicks still to come make this conservative).
            cumulative = {**improvement_intervals(clicks=cum_clicks, expected=cum_expected, campaign=campaign),
                          "source": "provisional"}
        else:
            cumulative = None
        rows.append({"wave": w, "number": w.number, "state": w.state, "planned": w.planned_size, "sends": w.sends,
                     "delivered": w.delivered, "failed": w.failed, "clicks": w.clicks, "expected_clicks": w.expected_clicks,
                     "improvement": w.improvement, "cumulative": cumulative, "decision": w.decision,
                     "code": n.get("code", ""), "reason": w.decision_reason, "created_at": w.created_at,
                     "sent_at": w.sent_at, "decided_at": w.decided_at, "ranker": w.ranker})

    variants = list(TitleVariant.objects.filter(content_id=campaign.content_id).order_by("id"))
    by_wave_variant = {(r["wave_id"], r["title_variant_id"]): r for r in Send.objects.filter(campaign_id=campaign.pk)
                       .values("wave_id", "title_variant_id")
                       .annotate(n=Count("id"), clicks=Count("id", filter=Q(clicked_at__isnull=False)))}
    shown = [v for v in variants if v.sends or v.review == TitleVariant.Review.APPROVED]
    last_alloc = waves[-1].allocation if waves else {}
    variant_rows = []
    for v in shown:
        per_wave = []
        for w in waves:
            cell = by_wave_variant.get((w.pk, v.pk), {"n": 0, "clicks": 0})
            per_wave.append({"wave": w.number, "sends": cell["n"], "clicks": cell["clicks"],
                             "share": _ratio(cell["n"], w.sends), "ctr": _ratio(cell["clicks"], cell["n"])})
        sends = sum(c["sends"] for c in per_wave)
        clicks = sum(c["clicks"] for c in per_wave)
        variant_rows.append({"variant": v, "text": v.text, "source": v.source, "sends": sends, "clicks": clicks,
                             "ctr": _ratio(clicks, sends), "prob_best": (last_alloc.get("prob_best") or {}).get(str(v.pk)),
                             "per_wave": per_wave})

    reach = CampaignReach.objects.filter(campaign_id=campaign.pk).first()
    decisions = list(Decision.objects.filter(campaign_id=campaign.pk).select_related("actor_user").order_by("-at", "-id")[:100])
    total = improvement_intervals(clicks=campaign.clicks, expected=campaign.expected_clicks, campaign=campaign)
    return {
        "now": now, "campaign": campaign, "content": campaign.content, "client": campaign.client,
        "level": level, "floor": campaign.floor, "target": campaign.target,
        "waves": rows, "variants": variant_rows, "total": total,
        "reach": reach_summary(reach, campaign=campaign), "decisions": decisions,
        "rankers": sorted({w.ranker for w in waves if w.ranker}),
    }


def reach_summary(reach: CampaignReach | None, *, campaign: Campaign) -> dict:
    seg = campaign.segment or {}
    segment = ("everyone" if seg.get("activity") == "any" else
               f"active in the last {seg.get('inactive_days', 7)} days" if seg.get("activity") == "active" else
               f"inactive for {seg.get('inactive_days', 7)}+ days")
    if reach is None:
        return {"segment": segment, "computed": False}
    labels = {key: label for key, label, *_ in ACTIVITY_STATES}
    return {
        "segment": segment, "computed": True, "computed_at": reach.computed_at, "settled": reach.settled,
        "recipients": reach.recipients, "inactive_recipients": reach.inactive_recipients,
        "reactivated": reach.reactivated, "reactivation_rate": _ratio(reach.reactivated, reach.inactive_recipients),
        "opted_out": reach.opted_out,
        "activity_states": [{"key": k, "label": labels[k], "n": reach.activity_states.get(k, 0)}
                            for k, *_ in ACTIVITY_STATES if reach.activity_states.get(k)],
        "categories": [{"label": k, "n": n} for k, n in reach.categories.items()],
        "platforms": [{"label": k, "n": n} for k, n in reach.platforms.items()],
    }


# ------------------------------------------------------------------------------------ contents table

CONTENT_SORTS = {
    "newest": ("-created_at", "-id"), "oldest": ("created_at", "id"),
    "achieved": (F("achieved").desc(nulls_last=True), "-id"), "achieved_asc": (F("achieved").asc(nulls_last=True), "-id"),
    "predicted": (F("content__push_score").desc(nulls_last=True), "-id"),
    "predicted_asc": (F("content__push_score").asc(nulls_last=True), "-id"),
    "sends": ("-sends", "-id"), "sends_asc": ("sends", "id"), "clicks": ("-clicks", "-id"), "clicks_asc": ("clicks", "id"),
    "reactivated": (F("reach__reactivated").desc(nulls_last=True), "-id"),
    "reactivated_asc": (F("reach__reactivated").asc(nulls_last=True), "-id"),
}
CSV_COLUMNS = ("campaign_id", "client", "content_external_id", "title", "category", "launched_at", "state",
               "predicted_improvement", "achieved_improvement", "sends", "clicks", "expected_clicks",
               "inactive_recipients", "reactivated")


def _pushed(*, user, client_id=None, category="", date_from=None, date_to=None, sort="newest"):
    qs = (Campaign.objects.filter(_client_q(user, client_id))
          .annotate(achieved=Cast("clicks", FloatField()) / NullIf("expected_clicks", 0.0))
          .select_related("content", "client", "reach"))
    if category:
        qs = qs.filter(content__category=category)
    if date_from:
        qs = qs.filter(created_at__gte=datetime.combine(date_from, datetime.min.time()).replace(tzinfo=_utc()))
    if date_to:
        qs = qs.filter(created_at__lt=datetime.combine(date_to + timedelta(days=1), datetime.min.time()).replace(tzinfo=_utc()))
    return qs.order_by(*CONTENT_SORTS.get(sort, CONTENT_SORTS["newest"]))


def _utc():
    from datetime import timezone

    return timezone.utc


def _content_row(c: Campaign) -> dict:
    reach = getattr(c, "reach", None) if hasattr(c, "reach") else None
    return {
        "campaign": c, "campaign_id": c.pk, "client": c.client.slug, "content": c.content, "content_id": c.content_id,
        "content_external_id": c.content.external_id, "title": c.content.title, "category": c.content.category,
        "launched_at": c.created_at, "state": c.state, "predicted_improvement": c.content.push_score,
        "achieved_improvement": c.achieved, "sends": c.sends, "clicks": c.clicks, "expected_clicks": c.expected_clicks,
        "inactive_recipients": reach.inactive_recipients if reach else None,
        "reactivated": reach.reactivated if reach else None,
    }


def contents_table(*, user, now: datetime, client_id=None, category="", date_from=None, date_to=None,
                   sort="newest", page: int = 1, per_page: int = 50) -> dict:
    """The contents table: every pushed content (one campaign each) with predicted and achieved
    improvement, sends, clicks and reactivations; filtered, sorted, a page at a time. 4 queries."""
    from django.core.paginator import Paginator

    qs = _pushed(user=user, client_id=client_id, category=category, date_from=date_from, date_to=date_to, sort=sort)
    pager = Paginator(qs, per_page)
    page_obj = pager.get_page(page)
    rows = [_content_row(c) for c in page_obj.object_list]
    categories = sorted(c for c in Campaign.objects.filter(_client_q(user, client_id))
                        .order_by().values_list("content__category", flat=True).distinct() if c)
    return {"now": now, "page": page_obj, "rows": rows, "count": pager.count, "categories": categories}


def contents_csv_rows(*, user, client_id=None, category="", date_from=None, date_to=None, sort="newest"):
    """The same rows as the table, all of them, for the CSV export (read in chunks)."""
    qs = _pushed(user=user, client_id=client_id, category=category, date_from=date_from, date_to=date_to, sort=sort)
    for c in qs.iterator(chunk_size=2000):
        yield _content_row(c)


# ------------------------------------------------------------------------------------ models

def models_page(*, now: datetime, runs: int = 20) -> dict:
    """Model versions by kind with their offline metrics and the active one; recent training
    runs with their progress. 2 queries."""
    from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
    from apps.mlops.services import TRAINABLE

    versions = list(ModelVersion.objects.select_related("training_run").order_by("kind", "-version"))
    kinds = []
    for kind, label in ModelKind.choices:
        vs = [v for v in versions if v.kind == kind]
        active = next((v for v in vs if v.is_active), None)
        metric_names = sorted({k for v in vs for k, val in (v.metrics or {}).items() if isinstance(val, (int, float))})
        kinds.append({"kind": kind, "label": label, "versions": vs, "active": active, "metric_names": metric_names,
                      "trainable": kind in TRAINABLE})
    recent = list(TrainingRun.objects.select_related("requested_by").order_by("-created_at", "-id")[:runs])
    return {"now": now, "kinds": kinds, "runs": recent,
            "live": any(r.state in (TrainingRun.State.QUEUED, TrainingRun.State.RUNNING) for r in recent)}


def training_runs(*, runs: int = 20) -> dict:
    from apps.mlops.models import TrainingRun

    recent = list(TrainingRun.objects.select_related("requested_by").order_by("-created_at", "-id")[:runs])
    return {"runs": recent, "live": any(r.state in (TrainingRun.State.QUEUED, TrainingRun.State.RUNNING) for r in recent)}




# ------------------------------------------------------------------------------------ system

def system_page(*, user, now: datetime) -> dict:
    """Queues, workers, beat, provider error rates (the user's clients, last 24 h), the backlog
    and the global pause switch. 5 queries plus 3 Redis calls."""
    from django_redis import get_redis_connection

    from apps.core import health
    from apps.delivery.models import Send

    try:
        workers = health.workers_status(now=now.timestamp())
        queues = health.queue_depths()
        raw_tick = get_redis_connection("default").get(health.BEAT_KEY)
        redis_ok, redis_error = True, ""
    except Exception as exc:  # noqa: BLE001 - the page shows Redis down instead of failing
        workers, queues, raw_tick, redis_ok, redis_error = [], {}, None, False, str(exc)[:200]
    beat_age = (now.timestamp() - float(raw_tick)) if raw_tick else None

    since = now - timedelta(hours=24)
    scope = _client_q(user, None, "campaign__client_id")
    providers: dict[str, dict] = {}
    for row in (Send.objects.filter(scope, wave__created_at__gte=since, wave__created_at__lte=now,
                                    state__in=[Send.State.SENT, Send.State.FAILED])
                .values("provider", "state").annotate(n=Count("id"))):
        p = providers.setdefault(row["provider"] or "(none)", {"provider": row["provider"] or "(none)", "sent": 0, "failed": 0})
        p["sent" if row["state"] == Send.State.SENT else "failed"] += row["n"]
    for p in providers.values():
        p["error_rate"] = _ratio(p["failed"], p["sent"] + p["failed"])
    errors = list(Send.objects.filter(scope, wave__created_at__gte=since, wave__created_at__lte=now, state=Send.State.FAILED)
                  .values("provider", "error").annotate(n=Count("id"), last=Max("failed_at")).order_by("-n")[:8])
    hourly = {row["h"]: row for row in Wave.objects.filter(scope, created_at__gte=since, created_at__lte=now)
              .annotate(h=TruncHour("created_at")).values("h").annotate(delivered=Sum("delivered"), failed=Sum("failed"))}
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = []
    for k in range(24):
        h = start + timedelta(hours=k)
        row = hourly.get(h, {})
        hours.append({"hour": h, "delivered": row.get("delivered") or 0, "failed": row.get("failed") or 0})
    backlog = Send.objects.filter(scope, state__in=[Send.State.PENDING, Send.State.CLAIMED]).aggregate(
        pending=Count("id", filter=Q(state=Send.State.PENDING)), claimed=Count("id", filter=Q(state=Send.State.CLAIMED)),
        oldest=Min("created_at"))
    switch = pause_switch()
    return {
        "now": now, "redis_ok": redis_ok, "redis_error": redis_error,
        "workers": workers, "workers_alive": sum(1 for w in workers if w["alive"]),
        "queues": queues, "beat_seconds": beat_age, "beat_ok": beat_age is not None and beat_age < 180,
        "providers": sorted(providers.values(), key=lambda p: p["provider"]), "errors": errors, "hours": hours,
        "backlog": backlog, "paused": bool(switch and switch.on), "switch": switch,
    }

