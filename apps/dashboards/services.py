"""Writes of the dashboards: the roll-ups (``ActivityWeek``, ``CampaignReach``). (The pages' operator
actions call the campaign and model services directly.)

The roll-up is idempotent and incremental: a closed week is counted again only until two days
after its end (late events), a campaign's reach only until it has ended and its last push is
8 days old. ``apps.dashboards.tasks.rollup`` runs it every five minutes (beat, database schedule).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncWeek

from apps.campaigns.models import Campaign
from apps.core import clock
from apps.core.models import Client
from apps.dashboards.models import ActivityWeek, CampaignReach

ACTIVITY_TYPES = ("open", "click", "read")
COMEBACK = timedelta(days=7)  # reactivated: active again within this long after the push (the metric's definition)
SETTLE_AFTER = COMEBACK + timedelta(days=1)
LATE_EVENTS = timedelta(days=2)  # a closed week is counted again until this long after its end
CATEGORY_WINDOW = timedelta(days=30)
WEEKS = 12
NO_CATEGORY = "(no reads)"

# Buckets of "days since the last open, click or read" at the moment of the push, for the
# breakdown on the campaign page (the same for every client, so campaigns compare).
ACTIVITY_STATES = (
    ("active", "active in the last 7 days", 0, 7),
    ("7-13d", "inactive 7-13 days", 7, 14),
    ("14-29d", "inactive 14-29 days", 14, 30),
    ("30d+", "inactive 30+ days", 30, None),
    ("never", "never active", None, None),
)


def week_start(at: datetime) -> date:
    """The Monday (UTC) of the week ``at`` falls in."""
    d = at.astimezone(timezone.utc).date()
    return d - timedelta(days=d.weekday())


def week_start_at(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=timezone.utc)


def activity_state(sent_at: datetime, last_before: datetime | None) -> str:
    if last_before is None:
        return "never"
    days = (sent_at - last_before).total_seconds() / 86400.0
    for key, _, lo, hi in ACTIVITY_STATES[:-1]:
        if days >= lo and (hi is None or days < hi):
            return key
    return "never"  # unreachable: the buckets cover [0, inf)


def activity_weeks_refresh(*, now: datetime | None = None, weeks: int = WEEKS) -> int:
    """Count each client's distinct active subscribers in the closed weeks still open to late
    events (or never counted). One grouped query per client. Returns the rows written."""
    from apps.events.models import Event

    now = now or clock.now()
    current = week_start(now)
    oldest = current - timedelta(weeks=weeks)
    written = 0
    for client_id in Client.objects.order_by("pk").values_list("pk", flat=True):
        have = dict(ActivityWeek.objects.filter(client_id=client_id, week_start__gte=oldest)
                    .values_list("week_start", "computed_at"))
        stale = [oldest + timedelta(weeks=k) for k in range(weeks)
                 if (oldest + timedelta(weeks=k)) not in have
                 or have[oldest + timedelta(weeks=k)] < week_start_at(oldest + timedelta(weeks=k + 1)) + LATE_EVENTS]
        if not stale:
            continue
        counts = {
            (row["w"].date() if isinstance(row["w"], datetime) else row["w"]): row["n"]
            for row in Event.objects.filter(client_id=client_id, type__in=ACTIVITY_TYPES,
                                            occurred_at__gte=week_start_at(stale[0]), occurred_at__lt=week_start_at(current))
            .annotate(w=TruncWeek("occurred_at", tzinfo=timezone.utc)).values("w").annotate(n=Count("subscriber_id", distinct=True))
        }
        with transaction.atomic():
            for ws in stale:
                ActivityWeek.objects.update_or_create(client_id=client_id, week_start=ws,
                                                      defaults={"active_subscribers": counts.get(ws, 0), "computed_at": now})
                written += 1
    return written


def campaign_reach_compute(*, campaign: Campaign, now: datetime | None = None) -> CampaignReach:
    """Who one campaign reached (activity state, reading category, platform) and who came back."""
    from apps.delivery.models import Send
    from apps.events.models import Event

    now = now or clock.now()
    activity = Event.objects.filter(subscriber_id=OuterRef("subscriber_id"), type__in=ACTIVITY_TYPES)
    sent = Send.objects.filter(campaign_id=campaign.pk, state=Send.State.SENT)
    rows = list(sent.annotate(
        before=Subquery(activity.filter(occurred_at__lt=OuterRef("sent_at")).order_by("-occurred_at").values("occurred_at")[:1]),
        after=Subquery(activity.filter(occurred_at__gt=OuterRef("sent_at")).order_by("occurred_at").values("occurred_at")[:1]),
    ).values_list("subscriber_id", "sent_at", "before", "after", "subscriber__platform", "subscriber__push_opt_in",
                  "subscriber__updated_at", "created_at", "subscriber__last_content_push_at"))
    states: Counter = Counter()
    platforms: Counter = Counter()
    inactive = reactivated = opted_out = 0
    # Inactive before the push: no activity for the client's policy's inactive days, or never.
    inactive_after = timedelta(days=campaign.client.policy.inactive_days)
    for _, sent_at, before, after, platform, opt_in, updated_at, created_at, last_push in rows:
        state = activity_state(sent_at, before)
        states[state] += 1
        platforms[platform] += 1
        if before is None or sent_at - before >= inactive_after:
            inactive += 1
            if after is not None and after <= sent_at + COMEBACK:
                reactivated += 1
        # Turned pushes off after this push, which was their latest (its claim is their slot):
        # an opt-out is put on the push just before it, never on older ones.
        if not opt_in and updated_at is not None and updated_at >= sent_at and last_push == created_at:
            opted_out += 1
    first = min((r[1] for r in rows), default=None)
    last = max((r[1] for r in rows), default=None)
    categories: Counter = Counter()
    if rows:
        reads: dict[int, Counter] = defaultdict(Counter)
        for sid, category, n in (Event.objects.filter(type=Event.Type.READ, subscriber_id__in=sent.values("subscriber_id"),
                                                      occurred_at__gte=first - CATEGORY_WINDOW, occurred_at__lt=first)
                                 .values_list("subscriber_id", "content__category").annotate(n=Count("id"))):
            reads[sid][category or "(none)"] += n
        for sid, *_ in rows:
            counts = reads.get(sid)
            categories[min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else NO_CATEGORY] += 1
    held = _holdout(campaign, activity, inactive_after)
    ended = campaign.state in (Campaign.State.STOPPED, Campaign.State.DONE)
    settled = ended and (last is None or now >= last + SETTLE_AFTER) and (held["last"] is None or now >= held["last"] + SETTLE_AFTER)
    reach, _ = CampaignReach.objects.update_or_create(campaign=campaign, defaults={
        "recipients": len(rows), "inactive_recipients": inactive, "reactivated": reactivated, "opted_out": opted_out,
        "held_out": held["n"], "held_out_inactive": held["inactive"], "held_out_reactivated": held["reactivated"],
        "activity_states": {key: states[key] for key, *_ in ACTIVITY_STATES if states[key]},
        "categories": dict(categories.most_common()), "platforms": dict(platforms.most_common()),
        "first_sent_at": first, "computed_at": now, "settled": settled,
    })
    return reach


def _holdout(campaign: Campaign, activity, inactive_after: timedelta) -> dict:
    """The campaign's holdout, counted as the recipients are: each held-out person from the moment
    their wave went out (when it has not yet, when they were held out)."""
    from django.db.models.functions import Coalesce

    from apps.delivery.models import Send

    held = (Send.objects.filter(campaign_id=campaign.pk, state=Send.State.HELD_OUT)
            .annotate(at=Coalesce("wave__sent_at", "created_at")))
    rows = list(held.annotate(
        before=Subquery(activity.filter(occurred_at__lt=OuterRef("at")).order_by("-occurred_at").values("occurred_at")[:1]),
        after=Subquery(activity.filter(occurred_at__gt=OuterRef("at")).order_by("occurred_at").values("occurred_at")[:1]),
    ).values_list("at", "before", "after"))
    inactive = reactivated = 0
    for at, before, after in rows:
        if before is None or at - before >= inactive_after:
            inactive += 1
            reactivated += after is not None and after <= at + COMEBACK
    return {"n": len(rows), "inactive": inactive, "reactivated": reactivated, "last": max((r[0] for r in rows), default=None)}


FRESH_EVERY = timedelta(minutes=4)  # a campaign of the last day: counted again at every roll-up
SETTLING_EVERY = timedelta(hours=1)  # an older one, until it settles: once an hour


def campaign_reach_refresh(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Compute the reach of the campaigns that need it (oldest first): never counted; of the last
    day (or running) and not counted in the last few minutes; or not settled and not counted in
    the last hour. Returns how many."""
    now = now or clock.now()
    due = (Q(reach__isnull=True)
           | Q(reach__settled=False, reach__computed_at__lte=now - SETTLING_EVERY)
           | (Q(reach__settled=False, reach__computed_at__lte=now - FRESH_EVERY)
              & (Q(created_at__gte=now - timedelta(days=1)) | Q(state=Campaign.State.RUNNING))))
    todo = Campaign.objects.filter(due, created_at__lte=now).select_related("client__policy").order_by("created_at", "pk")
    if limit:
        todo = todo[:limit]
    done = 0
    for campaign in todo:
        campaign_reach_compute(campaign=campaign, now=now)
        done += 1
    return done


def dashboards_rollup(*, now: datetime | None = None) -> dict[str, int]:
    """Everything the dashboards read from roll-ups, brought up to date. Safe to run twice."""
    now = now or clock.now()
    return {"activity_weeks": activity_weeks_refresh(now=now), "campaign_reach": campaign_reach_refresh(now=now)}


@transaction.atomic
def client_settings_save(*, client: Client, user, policy_values: dict, auto_enabled: bool, auto_min_score: float,
                         auto_categories: str, now=None) -> list[str]:
    """Save a client's settings from its page, all or nothing: the policy fields that changed (one
    decision row with before and after) and the auto-approve rule (its own row when it changed).
    Returns the names of what changed. A ``ValidationError`` or ``ApiError`` names the field."""
    from apps.contents.models import AutoApprovePolicy
    from apps.contents.services import auto_approve_policy_set
    from apps.core.models import Policy
    from apps.core.services import policy_set

    policy = Policy.objects.get(client=client)
    changes = {name: value for name, value in policy_values.items() if getattr(policy, name) != value}
    if changes:
        policy_set(client=client, user=user, now=now, **changes)
    auto = AutoApprovePolicy.objects.filter(client=client).first()
    before = (auto.enabled, auto.min_score, auto.categories) if auto else None
    after = before
    if auto is not None or auto_enabled:  # an absent rule that stays off is not written
        saved = auto_approve_policy_set(client=client, enabled=auto_enabled, min_score=auto_min_score,
                                        categories=auto_categories, user=user, now=now)
        after = (saved.enabled, saved.min_score, saved.categories)
    return sorted(changes) + (["auto_approve"] if after != before else [])
