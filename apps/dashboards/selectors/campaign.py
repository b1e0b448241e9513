"""The campaign page: waves with their numbers and intervals, title variants by wave, who got it,
the decision log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from apps.audience.selectors import Segment
from apps.campaigns.models import Campaign, Wave
from apps.campaigns.selectors import ramp_config
from apps.core.labels import label, segment_label
from apps.core.models import Decision
from apps.dashboards.models import CampaignReach
from apps.dashboards.selectors.common import client_q, incremental_reactivations, ratio
from apps.dashboards.services import ACTIVITY_STATES, NO_CATEGORY


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


def marginal_test(waves: list[Wave]) -> dict | None:
    """The numbers of the ramp's last look (a decision or a wait): the probes of the window an
    expansion would reach, by rank stratum, against the improvement over every send."""
    for w in reversed(waves):
        n = w.decision_numbers or {}
        if "marginal" in n and "anytime_interval" in n:
            m = n["marginal"]
            return {"wave": w.number, "stage": m.get("stage"), "window": m.get("window"), "probes": m.get("probes"),
                    "audience": m.get("audience"), "strata": m.get("strata") or [], "code": n.get("code"),
                    "improvement": n.get("improvement"), "anytime": n["anytime_interval"],
                    "e_up": n.get("e_value_above_floor"), "e_down": n.get("e_value_below_target"),
                    "threshold": n.get("e_value_threshold"), "maturity": n.get("maturity"),
                    "all_sends": n.get("all_sends") or {}}
    return None


def wave_shortfall(wave: Wave) -> dict | None:
    """Why a wave went to fewer people than it planned, from what planning counted
    (``Wave.plan_numbers``): each reason with its count, in the order planning met them. None
    when it reached its plan (or was planned before planning counted)."""
    n = wave.plan_numbers or {}
    planned = int(n.get("planned", wave.planned_size))
    if "eligible" not in n or wave.state == Wave.State.PLANNED or wave.sends >= planned:
        return None
    target = int(n.get("target", planned))
    reasons = []
    if target < planned:
        reasons.append(("campaign_max", target, _("the campaign's maximum left room for %(n)s")))
    if n["eligible"] < target:
        reasons.append(("eligible", n["eligible"], _("only %(n)s could be sent it now (opted in, in the segment, "
                                                     "no push this week, outside quiet hours, not sent it before)")))
    if n.get("held_back_by_price"):
        reasons.append(("price", n["held_back_by_price"],
                        _("%(n)s held back: their weekly slot is worth more to a coming content")))
    if n.get("held_out"):
        reasons.append(("held_out", n["held_out"], _("%(n)s held out at random to measure the push")))
    if n.get("slot_lost"):
        reasons.append(("slot_lost", n["slot_lost"], _("%(n)s pushed by another content meanwhile")))
    if not reasons:
        reasons.append(("ranked", n.get("chosen", wave.sends), _("the ranking found %(n)s to send it to")))
    return {"planned": planned, "sends": wave.sends,
            "reasons": [{"code": code, "n": int(count), "text": text % {"n": f"{int(count):,}"}}
                        for code, count, text in reasons]}


def campaign_for_user(*, user, pk: int) -> Campaign:
    try:
        return (Campaign.objects.filter(client_q(user, None)).select_related("content", "client", "created_by")
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
        waiting = not w.decision and w.waiting_since is not None and w.state == Wave.State.OBSERVING
        decided = (bool(w.decision) or waiting) and "anytime_interval" in n
        if decided:
            cumulative = {
                "improvement": n.get("improvement"), "clicks": n.get("clicks"), "expected_clicks": n.get("expected_clicks"),
                "anytime": {"lo": n["anytime_interval"].get("lo"), "hi": n["anytime_interval"].get("hi")},
                "normal": {"lo": n["normal_interval"].get("lo"), "hi": n["normal_interval"].get("hi")},
                "e_up": n.get("e_value_above_floor"), "e_down": n.get("e_value_below_target"),
                "threshold": n.get("e_value_threshold"), "completion": n.get("completion"),
                "source": "waiting" if waiting else "decision",
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
                     "sent_at": w.sent_at, "decided_at": w.decided_at, "ranker": w.ranker, "short": wave_shortfall(w),
                     "waiting": {"since": w.waiting_since, "next_look": w.observe_until, "reason": w.decision_reason,
                                 "maturity": n.get("maturity")} if waiting else None})

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
                             "share": ratio(cell["n"], w.sends), "ctr": ratio(cell["clicks"], cell["n"])})
        sends = sum(c["sends"] for c in per_wave)
        clicks = sum(c["clicks"] for c in per_wave)
        variant_rows.append({"variant": v, "text": v.text, "source": v.source, "sends": sends, "clicks": clicks,
                             "ctr": ratio(clicks, sends), "prob_best": (last_alloc.get("prob_best") or {}).get(str(v.pk)),
                             "per_wave": per_wave})

    reach = CampaignReach.objects.filter(campaign_id=campaign.pk).first()
    decisions = list(Decision.objects.filter(campaign_id=campaign.pk).select_related("actor_user").order_by("-at", "-id")[:100])
    total = improvement_intervals(clicks=campaign.clicks, expected=campaign.expected_clicks, campaign=campaign)
    return {
        "marginal": marginal_test(waves),
        "now": now, "campaign": campaign, "content": campaign.content, "client": campaign.client,
        "level": level, "floor": campaign.floor, "target": campaign.target,
        "waves": rows, "variants": variant_rows, "total": total,
        "reach": reach_summary(reach, campaign=campaign), "decisions": decisions,
        "rankers": sorted({w.ranker for w in waves if w.ranker}),
    }


def reach_summary(reach: CampaignReach | None, *, campaign: Campaign) -> dict:
    seg = Segment.from_json(campaign.segment)
    segment = segment_label({"activity": seg.activity, "inactive_days": seg.inactive_days})  # in the reader's language
    if reach is None:
        return {"segment": segment, "computed": False}
    return {
        "segment": segment, "computed": True, "computed_at": reach.computed_at, "settled": reach.settled,
        "recipients": reach.recipients, "inactive_recipients": reach.inactive_recipients,
        "reactivated": reach.reactivated, "reactivation_rate": ratio(reach.reactivated, reach.inactive_recipients),
        "held_out": reach.held_out, "incremental": incremental_reactivations(reach),
        "opted_out": reach.opted_out,
        "activity_states": [{"key": k, "label": label("activity_state", k), "n": reach.activity_states.get(k, 0)}
                            for k, *_ in ACTIVITY_STATES if reach.activity_states.get(k)],
        "categories": [{"label": str(_("(no reads)")) if k == NO_CATEGORY else k, "n": n} for k, n in reach.categories.items()],
        "platforms": [{"label": k, "n": n} for k, n in reach.platforms.items()],
    }
