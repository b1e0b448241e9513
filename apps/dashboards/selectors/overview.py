"""The overview page: weekly actives and reactivations, pushes and improvement by day, the slot,
running campaigns and the alerts."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db.models import Avg, Count, IntegerField, Prefetch, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.core.labels import actor_label
from apps.core.models import Decision, Policy
from apps.core.selectors import pauses_on
from apps.dashboards.models import ActivityWeek, CampaignReach
from apps.dashboards.selectors.common import client_q, ratio, rules_of
from apps.dashboards.services import COMEBACK, WEEKS, week_start, week_start_at

OVERVIEW_DAYS = 30
RUNNING_SHOWN = 50
# The slot prices' distribution on the overview: click probabilities from each edge to the next
PRICE_EDGES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
SLOT_CONTENTS_SHOWN = 10  # the last 7 days' contents by people held back for something better
# Alerts: when the overview raises one.
PROVIDER_ERROR_SHARE = 0.02  # failed / (delivered + failed) over the last 24 h ...
PROVIDER_ERROR_MIN = 50  # ... once at least this many pushes were attempted
EXPANDED_FACTOR = 10.0  # a campaign of the last 7 days with this many times the median sends of the last 30 days
EXPANDED_MIN_SENDS = 1000
OPT_OUT_FACTOR = 2.0  # opt-outs per recipient in the last 7 days vs the 28 days before
OPT_OUT_MIN = 5
WEEK = timedelta(days=7)  # the reporting period of the "last 7 days" numbers (not a policy)
UTC = dt_timezone.utc  # days and weeks are UTC's, whatever the reader's time zone


def _n(x) -> str:
    return number_format(x, force_grouping=True)


def overview(*, user, now: datetime, client_id: int | None = None, weeks: int = WEEKS, days: int = OVERVIEW_DAYS) -> dict:
    """The overview page: weekly actives and reactivations by week, pushes by day, the slot,
    running campaigns, the contents that left people for better and alerts. About 25 queries."""
    scope = client_q(user, client_id)
    current = week_start(now)
    first_week = current - timedelta(weeks=weeks - 1)

    # Subscribers: five counts, each answered from an index (client; the slot's partial index of
    # opted-in subscribers; activity), instead of one pass over every subscriber row.
    subscribers = Subscriber.objects.filter(scope)
    opted_in = subscribers.filter(push_opt_in=True)
    # Each client's slot is its own policy's cap window.
    policies = list(Policy.objects.filter(scope).only("client_id", "cap_window", "floor", "target"))
    slot = Q(pk__in=[])
    for p in policies:
        slot |= Q(client_id=p.client_id, last_content_push_at__gt=now - p.cap_window)
    subs = {
        "total": subscribers.count(),
        "opted_in": opted_in.count(),
        "slot_taken": opted_in.filter(slot).count(),
        "active_7d": subscribers.filter(last_activity_at__gte=now - WEEK, last_activity_at__lte=now).count(),
        "active_this_week": subscribers.filter(last_activity_at__gte=week_start_at(current), last_activity_at__lte=now).count(),
        # the weekly slot's price (apps.mlops.slots): how many have one and its mean; and how many
        # ranked people the last 7 days' waves passed over because their slot is worth more elsewhere
        **opted_in.filter(slot_price__gt=0).aggregate(
            priced=Count("pk"), price_mean=Avg("slot_price"),
            **{f"price_bin_{n}": Count("pk", filter=Q(slot_price__gte=lo) & (Q(slot_price__lt=PRICE_EDGES[n + 1])
                                                                              if n + 1 < len(PRICE_EDGES) else Q()))
               for n, lo in enumerate(PRICE_EDGES)}),
        **Decision.objects.filter(client_q(user, client_id), action="wave_plan", at__gte=now - WEEK,
                                  at__lte=now).aggregate(
            held_back_7d=Sum(Cast(KT("numbers__held_back_by_price"), IntegerField()))),
    }

    closed = {row["week_start"]: row["n"] for row in ActivityWeek.objects.filter(
        scope, week_start__gte=first_week, week_start__lt=current).values("week_start").annotate(n=Sum("active_subscribers"))}
    react_by_day = CampaignReach.objects.filter(
        client_q(user, client_id, "campaign__client_id"),
        campaign__created_at__gte=week_start_at(first_week), campaign__created_at__lt=now,
    ).annotate(d=TruncDate("campaign__created_at", tzinfo=UTC)).values("d").annotate(
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
            "reactivation_rate": ratio(r, i),
            # A week's reactivations are final 7 days after its last push.
            "settling": week_start_at(ws) + WEEK + COMEBACK > now,
        })

    while len(week_rows) > 1 and not week_rows[0]["active"] and not week_rows[0]["recipients"]:
        week_rows.pop(0)  # weeks before anything happened

    first_day = (now - timedelta(days=days - 1)).date()
    by_day = {row["d"]: row for row in Wave.objects.filter(
        client_q(user, client_id, "campaign__client_id"),
        created_at__gte=datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo), created_at__lte=now,
    ).annotate(d=TruncDate("created_at", tzinfo=UTC)).values("d").annotate(
        sends=Sum("sends"), delivered=Sum("delivered"), failed=Sum("failed"), clicks=Sum("clicks"),
        expected=Sum("expected_clicks"), campaigns=Count("campaign_id", distinct=True))}
    day_rows = []
    for k in range(days):
        d = first_day + timedelta(days=k)
        row = by_day.get(d, {})
        clicks, expected = row.get("clicks") or 0, row.get("expected") or 0.0
        day_rows.append({"day": d, "campaigns": row.get("campaigns") or 0, "sends": row.get("sends") or 0,
                         "delivered": row.get("delivered") or 0, "failed": row.get("failed") or 0,
                         "clicks": clicks, "expected_clicks": expected, "improvement": ratio(clicks, expected)})

    running = running_campaigns(user=user, client_id=client_id, limit=RUNNING_SHOWN)
    totals_30d = {
        "sends": sum(d["sends"] for d in day_rows), "delivered": sum(d["delivered"] for d in day_rows),
        "clicks": sum(d["clicks"] for d in day_rows), "expected_clicks": sum(d["expected_clicks"] for d in day_rows),
    }
    totals_30d["improvement"] = ratio(totals_30d["clicks"], totals_30d["expected_clicks"])
    prices = [{"lo": lo, "hi": PRICE_EDGES[n + 1] if n + 1 < len(PRICE_EDGES) else None,
               "n": subs.pop(f"price_bin_{n}") or 0} for n, lo in enumerate(PRICE_EDGES)]
    for b in prices:
        b["share"] = ratio(b["n"], subs["priced"])
    return {
        "now": now,
        "subscribers": {**subs, "slot_share": ratio(subs["slot_taken"], subs["opted_in"])},
        "slot_prices": prices if subs["priced"] else [],
        "slot_contents": slot_contents(user=user, now=now, client_id=client_id),
        "weeks": week_rows,
        "days": day_rows,
        "totals_30d": totals_30d,
        "running": running,
        "alerts": alerts(user=user, now=now, client_id=client_id),
        "rules": rules_of(policies),
    }


def slot_contents(*, user, now: datetime, client_id: int | None = None, limit: int = SLOT_CONTENTS_SHOWN) -> list[dict]:
    """The last 7 days' contents whose waves held people back for their slot's price, most held
    back first: the people each won (its recipients), those it passed to a content worth more
    to them (held back by price), and those another content pushed while it was planning. From
    the planner's decisions (each wave's plan). 2 queries."""
    per = (Decision.objects.filter(client_q(user, client_id), action="wave_plan", at__gte=now - WEEK, at__lte=now,
                                   campaign__isnull=False)
           .values("campaign_id")
           .annotate(held=Sum(Cast(KT("numbers__held_back_by_price"), IntegerField())),
                     lost=Sum(Cast(KT("numbers__slot_lost"), IntegerField())))
           .filter(held__gt=0).order_by("-held", "campaign_id")[:limit])
    rows = {r["campaign_id"]: r for r in per}
    out = []
    for c in Campaign.objects.filter(pk__in=list(rows)).select_related("content"):
        r = rows[c.pk]
        out.append({"campaign": c, "content": c.content, "won": c.sends, "held_back": r["held"] or 0, "lost": r["lost"] or 0})
    return sorted(out, key=lambda r: (-r["held_back"], r["campaign"].pk))


def running_campaigns(*, user, client_id: int | None = None, limit: int = RUNNING_SHOWN) -> list[dict]:
    """Running campaigns, newest first, with their current wave and last decision. 2 queries."""
    campaigns = list(
        Campaign.objects.filter(client_q(user, client_id), state=Campaign.State.RUNNING)
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
    others, opt-outs rising after pushes, sending paused (for all, or for one of the user's
    clients). 4 queries."""
    out: list[dict] = []
    wave_scope = client_q(user, client_id, "campaign__client_id")
    w = Wave.objects.filter(wave_scope, created_at__gte=now - timedelta(hours=24), created_at__lte=now).aggregate(
        delivered=Sum("delivered"), failed=Sum("failed"))
    delivered, failed = w["delivered"] or 0, w["failed"] or 0
    attempted = delivered + failed
    if attempted >= PROVIDER_ERROR_MIN and failed / attempted > PROVIDER_ERROR_SHARE:
        out.append({"level": "bad", "kind": "provider_errors",
                    "text": _("Provider errors: %(failed)s of %(attempted)s pushes failed in the last 24 hours "
                              "(%(share)s, alert above %(limit)s).") % {
                        "failed": _n(failed), "attempted": _n(attempted), "share": f"{failed / attempted:.1%}",
                        "limit": f"{PROVIDER_ERROR_SHARE:.0%}"}, "link": "system"})

    recent = list(Campaign.objects.filter(client_q(user, client_id), created_at__gte=now - timedelta(days=30),
                                          created_at__lte=now, sends__gt=0)
                  .values_list("pk", "sends", "created_at", "content__title"))
    if len(recent) >= 3:
        median = statistics.median(s for _pk, s, _at, _title in recent)
        for pk, sends, created, title in sorted(recent, key=lambda r: -r[1]):
            if created >= now - WEEK and sends >= EXPANDED_MIN_SENDS and sends >= EXPANDED_FACTOR * median:
                out.append({"level": "warn", "kind": "expanded", "campaign_id": pk,
                            "text": _("“%(title)s” reached %(sends)s recipients, %(times)s× the median campaign of "
                                      "the last 30 days (%(median)s).") % {
                                "title": title[:80], "sends": _n(sends), "times": f"{sends / median:.0f}",
                                "median": _n(round(median))}, "link": "campaign"})

    reach = CampaignReach.objects.filter(client_q(user, client_id, "campaign__client_id"),
                                         campaign__created_at__gte=now - timedelta(days=35), campaign__created_at__lte=now)
    agg = reach.aggregate(
        recent_out=Sum("opted_out", filter=Q(campaign__created_at__gte=now - WEEK)),
        recent_n=Sum("recipients", filter=Q(campaign__created_at__gte=now - WEEK)),
        before_out=Sum("opted_out", filter=Q(campaign__created_at__lt=now - WEEK)),
        before_n=Sum("recipients", filter=Q(campaign__created_at__lt=now - WEEK)),
    )
    r_out, r_n, b_out, b_n = (agg[k] or 0 for k in ("recent_out", "recent_n", "before_out", "before_n"))
    r_rate, b_rate = ratio(r_out, r_n), ratio(b_out, b_n)
    if r_out >= OPT_OUT_MIN and r_rate is not None and (not b_rate or r_rate >= OPT_OUT_FACTOR * b_rate):
        before = (_("%(rate)s in the 28 days before") % {"rate": f"{b_rate:.2%}"} if b_rate
                  else _("none in the 28 days before"))
        out.append({"level": "bad", "kind": "opt_outs",
                    "text": _("Opt-outs rising: %(out)s of %(n)s recipients of the last 7 days turned pushes off after "
                              "their push (%(rate)s; %(before)s).") % {
                        "out": _n(r_out), "n": _n(r_n), "rate": f"{r_rate:.2%}", "before": before}, "link": "contents"})

    from apps.core.permissions import client_ids_of

    ids = client_ids_of(user)
    if client_id is not None:
        ids = [client_id] if ids is None or client_id in ids else []
    for sw in pauses_on(ids):
        who = sw.changed_by.get_username() if sw.changed_by else actor_label("system")
        at = timezone.localtime(sw.changed_at)  # the reader's clock
        since = {"at": f"{at:%Y-%m-%d %H:%M} {at.tzname()}", "who": who}
        text = (_("All sending is paused, for every client (since %(at)s, by %(who)s).") % since if sw.client_id is None
                else _("Sending for %(client)s is paused (since %(at)s, by %(who)s).") % {**since, "client": sw.client.name})
        out.append({"level": "bad", "kind": "paused", "text": text, "link": "system"})
    return out
