"""Writes of campaigns: launch, wave planning, ramp decisions, stop, and the global pause.

The loop, driven by the minute sweep (``campaigns_advance_due``) and by the dispatcher:
launch -> wave 1 planned (rank, claim 7-day slots, outbox rows) -> dispatched -> observed for the
window -> ``recsys.ramp.decide`` -> next wave (expand / re-send) or stop. Every decision is a
``Decision`` row with the numbers it saw.
"""

from __future__ import annotations

import logging
import zlib
from datetime import datetime

import numpy as np
from django.db import transaction
from django.db.models import Max, Q

from apps.audience.selectors import Segment, eligible_candidates
from apps.campaigns.models import Campaign, Wave
from apps.campaigns.ranking import get_ranker
from apps.campaigns.selectors import ramp_config
from apps.contents.models import Content, ContentStatus, TitleVariant
from apps.core import clock
from apps.core.errors import ApiError
from apps.core.models import Switch
from apps.core.services import decision_record

log = logging.getLogger(__name__)
PAUSE_SWITCH = "sending_paused"


class CannotLaunch(ApiError):
    status_code = 409
    default_code = "cannot_launch"


@transaction.atomic
def campaign_launch(*, content: Content, user=None, now: datetime | None = None, **settings) -> Campaign:
    """Start the push of an approved content: its campaign, and wave 1 planned at once."""
    now = now or clock.now()
    content = Content.objects.select_for_update().get(pk=content.pk)
    if content.status != ContentStatus.APPROVED:
        raise CannotLaunch(f"Only an approved content can be launched; this one is {content.status}.", field="status")
    if content.expires_at <= now:
        raise CannotLaunch("The content has expired.", field="expires_at")
    if not content.title_variants.filter(review=TitleVariant.Review.APPROVED).exists():
        raise CannotLaunch("Approve at least one title first.", field="title_variants")
    if Campaign.objects.filter(content=content).exists():
        raise CannotLaunch("This content has a campaign already.", field="content")
    campaign = Campaign(client_id=content.client_id, content=content, created_by=user, created_at=now,
                        segment=settings.pop("segment", {"activity": "inactive", "inactive_days": 7}), **settings)
    ramp_config(campaign)  # validates the settings (ValueError names the field)
    Segment.from_json(campaign.segment)
    campaign.save()
    from apps.contents.services import content_transition

    content_transition(content=content, to=ContentStatus.SENDING)
    decision_record(client=content.client_id, action="campaign_launch", actor_user=user, actor_name="" if user else "auto-approve",
                    content=content, campaign=campaign, subject=f"campaign:{campaign.pk}",
                    after={"state": campaign.state, "initial_size": campaign.initial_size, "segment": campaign.segment},
                    numbers={"push_score": content.push_score}, now=now)
    wave = Wave.objects.create(campaign=campaign, number=1, planned_size=min(campaign.initial_size, campaign.max_sends), created_at=now)
    wave_plan(wave=wave, now=now)
    return campaign


def _seed_ids(campaign: Campaign, now: datetime) -> np.ndarray:
    """The look-alike seed: the content's early readers and everyone who clicked a wave so far."""
    from apps.delivery.models import Send
    from apps.events.models import Event

    readers = Event.objects.filter(content_id=campaign.content_id, type=Event.Type.READ, occurred_at__lte=now)
    clickers = Send.objects.filter(campaign=campaign, clicked_at__isnull=False)
    ids = set(readers.values_list("subscriber_id", flat=True)[:1000]) | set(clickers.values_list("subscriber_id", flat=True)[:5000])
    return np.array(sorted(ids), dtype=np.int64)


@transaction.atomic
def wave_plan(*, wave: Wave, now: datetime | None = None) -> int:
    """Choose the wave's recipients, claim their 7-day slots and write the outbox rows.

    Returns the number of sends created. A subscriber whose slot was taken meanwhile (by another
    campaign) is skipped by the conditional update, never sent twice.
    """
    from recsys.bandit import prob_best, thompson_allocate
    from recsys.ramp import fit_population_prior, smoothed_ctr

    from apps.delivery.services import sends_create_with_slots

    now = now or clock.now()
    wave = Wave.objects.select_for_update().select_related("campaign__content", "campaign__client").get(pk=wave.pk)
    campaign = wave.campaign
    if wave.state != Wave.State.PLANNED or campaign.state != Campaign.State.RUNNING:
        return 0
    client, content = campaign.client, campaign.content
    remaining = max(campaign.max_sends - campaign.sends, 0)
    candidates = eligible_candidates(client=client, campaign_id=campaign.pk, content_id=content.pk, now=now,
                                     segment=Segment.from_json(campaign.segment),
                                     quiet_start=client.quiet_hours_start, quiet_end=client.quiet_hours_end)
    seed = _seed_ids(campaign, now)
    if len(seed):  # the seed already has the content: look-alikes only
        candidates = candidates.take(~np.isin(candidates.ids, seed))
    # Seeded by what the campaign is, not by row ids, so a rerun of the same world draws the same.
    rng = np.random.default_rng([zlib.crc32(f"{client.slug}/{content.external_id}".encode()), wave.number])
    ranker = get_ranker(client)
    ranked = ranker.rank(candidates=candidates, content=content, seed_ids=seed, k=min(wave.planned_size, remaining),
                         now=now, rng=rng)
    a, b = fit_population_prior(candidates.push_clicks, candidates.push_sends) if len(candidates) else (0.5, 49.5)
    pos = np.searchsorted(candidates.ids, ranked.ids)
    ctr = smoothed_ctr(candidates.push_clicks[pos], candidates.push_sends[pos], a, b) if len(pos) else np.zeros(0)

    variants = list(content.title_variants.filter(review=TitleVariant.Review.APPROVED).order_by("id"))
    counts = thompson_allocate(np.array([v.clicks for v in variants]), np.array([v.sends for v in variants]),
                               len(ranked.ids), rng) if variants else np.zeros(0, dtype=int)
    order = rng.permutation(len(ranked.ids))
    variant_of = np.zeros(len(ranked.ids), dtype=np.int64)
    start = 0
    for v, n in zip(variants, counts):
        variant_of[order[start:start + int(n)]] = v.pk
        start += int(n)

    created = sends_create_with_slots(campaign=campaign, wave=wave, subscriber_ids=ranked.ids, baseline_ctr=ctr,
                                      scores=ranked.total, variant_ids=variant_of, now=now)
    sent_ids = created["subscriber_ids"]
    mask = np.isin(ranked.ids, sent_ids)
    expected = float(ctr[mask].sum())
    per_variant = {str(v.pk): int(np.sum(variant_of[mask] == v.pk)) for v in variants}
    for v in variants:
        TitleVariant.objects.filter(pk=v.pk).update(sends=v.sends + per_variant[str(v.pk)])
    wave.allocation = {
        "recipients": per_variant,
        "prob_best": {str(v.pk): round(float(p), 4) for v, p in zip(variants, prob_best(
            np.array([v.clicks for v in variants]), np.array([v.sends for v in variants])))} if variants else {},
        "method": "thompson",
    }
    wave.ranker = ranked.ranker
    wave.sends = len(sent_ids)
    wave.expected_clicks = expected
    wave.state = Wave.State.SENDING if len(sent_ids) else Wave.State.DECIDED
    numbers = {"eligible": int(len(candidates)), "seed": int(len(seed)), "chosen": int(len(ranked.ids)),
               "created": int(len(sent_ids)), "slot_lost": int(len(ranked.ids) - len(sent_ids)),
               "expected_clicks": round(expected, 4), "prior": [round(float(a), 4), round(float(b), 4)],
               "ranker": ranked.ranker, "allocation": per_variant}
    if not len(sent_ids):
        wave.decision, wave.decided_at = Wave.Decision.STOP, now
        wave.decision_reason = "No eligible subscriber left for this content."
        wave.decision_numbers = numbers
    wave.save()
    Campaign.objects.filter(pk=campaign.pk).update(sends=campaign.sends + len(sent_ids),
                                                   expected_clicks=campaign.expected_clicks + expected)
    decision_record(client=client, action="wave_plan", actor_name="planner", content=content, campaign=campaign,
                    subject=f"wave:{wave.number}", after={"state": wave.state, "sends": wave.sends}, numbers=numbers, now=now)
    if not len(sent_ids):
        _campaign_end(campaign, state=Campaign.State.DONE, reason=wave.decision_reason, now=now)
    else:
        from apps.delivery.tasks import dispatch_soon

        dispatch_soon()
    return len(sent_ids)


def _campaign_end(campaign: Campaign, *, state: str, reason: str, now: datetime, user=None) -> None:
    from apps.contents.services import content_transition
    from apps.delivery.services import sends_cancel_pending

    Campaign.objects.filter(pk=campaign.pk).update(state=state, ended_at=now, end_reason=reason[:500])
    content = Content.objects.select_for_update().get(pk=campaign.content_id)
    if content.status == ContentStatus.SENDING:
        content_transition(content=content, to=ContentStatus.DONE)
    sends_cancel_pending(campaign_id=campaign.pk, reason=f"campaign {state}: {reason}"[:500], now=now)
    decision_record(client=campaign.client_id, action="campaign_stop" if state == Campaign.State.STOPPED else "campaign_end",
                    actor_user=user, actor_name="" if user else "ramp", campaign=campaign, content=content,
                    subject=f"campaign:{campaign.pk}", after={"state": state}, note=reason, now=now)


@transaction.atomic
def campaign_stop(*, campaign: Campaign, user=None, reason: str = "stopped by an operator", now: datetime | None = None) -> Campaign:
    """Stop a campaign now: no further wave, and its unsent pushes are cancelled."""
    now = now or clock.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state not in (Campaign.State.RUNNING, Campaign.State.PAUSED):
        raise CannotLaunch(f"The campaign is {campaign.state} already.", field="state")
    _campaign_end(campaign, state=Campaign.State.STOPPED, reason=reason, now=now, user=user)
    campaign.refresh_from_db()
    return campaign


def sending_paused() -> bool:
    return Switch.objects.filter(name=PAUSE_SWITCH, on=True).exists()


@transaction.atomic
def sending_pause_set(*, paused: bool, user=None, now: datetime | None = None) -> Switch:
    """The one switch that holds every push (the dispatcher checks it before each batch)."""
    now = now or clock.now()
    switch, _ = Switch.objects.select_for_update().get_or_create(name=PAUSE_SWITCH)
    before = switch.on
    switch.on, switch.changed_at, switch.changed_by = paused, now, user
    switch.save()
    decision_record(client=None, action="sending_pause" if paused else "sending_resume", actor_user=user,
                    actor_name="" if user else "system", subject="switch:sending_paused",
                    before={"on": before}, after={"on": paused}, now=now)
    return switch


def _wave_arrays(wave: Wave):
    from apps.delivery.models import Send

    rows = list(Send.objects.filter(wave=wave, state=Send.State.SENT).values_list("baseline_ctr", "sent_at", "clicked_at"))
    ctr = np.array([r[0] for r in rows], dtype=float)
    sent = np.array([r[1].timestamp() for r in rows], dtype=float)
    clicked = np.array([r[2].timestamp() if r[2] else np.nan for r in rows], dtype=float)
    return ctr, sent, clicked


def _click_delay():
    from recsys.ramp import ClickDelayModel

    from apps.mlops.models import ModelKind, ModelVersion

    active = ModelVersion.objects.filter(kind=ModelKind.CLICK_DELAY, is_active=True).first()
    return ClickDelayModel.from_dict(active.params) if active and active.params else ClickDelayModel.default()


@transaction.atomic
def wave_decide(*, wave: Wave, now: datetime | None = None) -> str | None:
    """After the observation window: expand, re-send or stop, on all waves so far."""
    from recsys.ramp import decide, decision_due, wave_stats

    now = now or clock.now()
    wave = Wave.objects.select_for_update().select_related("campaign").get(pk=wave.pk)
    campaign = wave.campaign
    if wave.state != Wave.State.OBSERVING or campaign.state != Campaign.State.RUNNING:
        return None
    config, delay = ramp_config(campaign), _click_delay()
    stats = []
    for w in campaign.waves.filter(number__lte=wave.number).order_by("number"):
        ctr, sent, clicked = _wave_arrays(w)
        if len(ctr):
            stats.append(wave_stats(ctr, sent, clicked, now.timestamp(), delay))
    if not stats:
        d_action, d_size, d_reason, d_numbers, d_code = "stop", 0, "No push of this campaign was delivered.", {}, "undelivered"
    else:
        if not decision_due(stats, config):
            return None
        d = decide(stats, config, remaining_cap=max(campaign.max_sends - campaign.sends, 0))
        d_action, d_size, d_reason, d_numbers, d_code = d.action, d.next_size, d.reason, d.numbers, d.code
    wave.decision, wave.decided_at, wave.state = d_action, now, Wave.State.DECIDED
    wave.decision_numbers = {**d_numbers, "code": d_code}
    wave.decision_reason = d_reason[:500]
    wave.save(update_fields=["decision", "decided_at", "state", "decision_numbers", "decision_reason"])
    decision_record(client=campaign.client_id, action=f"wave_{d_action}", actor_name="ramp", campaign=campaign,
                    content=campaign.content, subject=f"wave:{wave.number}", after={"decision": d_action, "next_size": d_size},
                    numbers=wave.decision_numbers, note=d_reason, now=now)
    if d_action == "stop" or d_size <= 0:
        _campaign_end(campaign, state=Campaign.State.DONE, reason=d_reason, now=now)
    else:
        nxt = Wave.objects.create(campaign=campaign, number=wave.number + 1, planned_size=d_size, created_at=now)
        wave_plan(wave=nxt, now=now)
    return d_action


def campaigns_advance_due(*, now: datetime) -> dict[str, int]:
    """Called every minute: close waves whose sends are done, decide waves whose window passed."""
    from apps.delivery.models import Send

    closed = decided = 0
    unfinished = Q(send_rows__state__in=[Send.State.PENDING, Send.State.CLAIMED])
    for wave in Wave.objects.filter(state=Wave.State.SENDING, campaign__state=Campaign.State.RUNNING).exclude(unfinished).distinct():
        with transaction.atomic():
            w = Wave.objects.select_for_update().select_related("campaign").get(pk=wave.pk)
            if w.state != Wave.State.SENDING or Send.objects.filter(wave=w, state__in=[Send.State.PENDING, Send.State.CLAIMED]).exists():
                continue
            last = Send.objects.filter(wave=w).aggregate(s=Max("sent_at"), f=Max("failed_at"))
            w.sent_at = max([t for t in (last["s"], last["f"]) if t is not None], default=now)
            w.observe_until = w.sent_at + w.campaign.observation_window
            w.state = Wave.State.OBSERVING
            w.save(update_fields=["sent_at", "observe_until", "state"])
            closed += 1
    for wave in Wave.objects.filter(state=Wave.State.OBSERVING, observe_until__lte=now, campaign__state=Campaign.State.RUNNING):
        if wave_decide(wave=wave, now=now):
            decided += 1
    if Send.objects.filter(state=Send.State.PENDING).exists():
        from apps.delivery.tasks import dispatch_soon

        dispatch_soon()
    return {"waves_closed": closed, "waves_decided": decided}
