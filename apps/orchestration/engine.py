"""The campaign engine: launch, wave planning, ramp decisions, and the one way a campaign ends.

launch -> wave 1 planned (eligible people ranked, slots claimed, outbox rows) -> dispatched ->
observed for the window -> ``recsys.ramp.decide`` -> next wave (expand / re-send) or the end.

Every end goes through ``campaign_end``: the content expired, an operator stopped it, the ramp
stopped for futility, the sending cap or the wave budget was used up, nobody was left to send to.
It cancels the pushes that have not left (with the reason), gives their slots back, closes the
waves it interrupted, moves the content on and writes one decision row.

The engine does not dispatch: whoever runs it (the sweep, an editor's launch) hands the new sends
to its dispatcher afterwards. Which ranker chooses recipients is a parameter (``ranker_for``,
client -> ranker; default: the product's, ``apps.mlops.ranking.ranker_for``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audience.selectors import Segment
from apps.campaigns import services as campaigns
from apps.campaigns.models import Campaign, Wave
from apps.campaigns.selectors import ramp_config
from apps.contents.models import Content, ContentStatus, TitleVariant
from apps.contents.services import CannotLaunch, content_transition, title_variants_count
from apps.core import clock
from apps.core.errors import ApiError
from apps.core.labels import label
from apps.core.policy import campaign_settings
from apps.core.selectors import policy_of
from apps.core.services import decision_record
from apps.delivery import selectors as outbox
from apps.delivery.services import sends_cancel_pending, sends_create_with_slots, sends_hold_out
from apps.events.selectors import readers_of
from apps.mlops.ranking import ranker_for as product_ranker_for
from apps.mlops.selectors import active_versions, click_delay_model

RankerFor = Callable[[object], object]

NOBODY_LEFT = "No eligible subscriber left for this content."


class NotRunning(ApiError):
    status_code = 409
    default_code = "not_running"


def campaign_launch(*, content: Content, user=None, now: datetime | None = None, ranker_for: RankerFor | None = None,
                    **settings) -> Campaign:
    """Start the push of an approved content: its campaign, and wave 1 planned at once.

    The campaign copies its ramp and segment from the client's policy; ``settings`` override
    them for this launch (``initial_size``, ``growth``, ``max_sends``, ...)."""
    now = now or clock.now()
    with transaction.atomic():
        content = Content.objects.select_for_update().get(pk=content.pk)
        if content.status != ContentStatus.APPROVED:
            raise CannotLaunch(_("Only an approved content can be launched; this one is %(status)s.") % {
                "status": label("content_status", content.status)}, field="status")
        if content.expires_at <= now:
            raise CannotLaunch(_("The content has expired."), field="expires_at")
        if not content.title_variants.filter(review=TitleVariant.Review.APPROVED).exists():
            raise CannotLaunch(_("Approve at least one title first."), field="title_variants")
        if Campaign.objects.filter(content=content).exists():
            raise CannotLaunch(_("This content has a campaign already."), field="content")
        campaign = campaigns.campaign_create(content=content, user=user, now=now,
                                             **{**campaign_settings(policy_of(content.client_id)), **settings})
        content_transition(content=content, to=ContentStatus.SENDING)
        decision_record(client=content.client_id, action="campaign_launch", actor_user=user,
                        actor_name="" if user else "auto-approve", content=content, campaign=campaign,
                        subject=f"campaign:{campaign.pk}",
                        after={"state": campaign.state, "initial_size": campaign.initial_size, "segment": campaign.segment},
                        numbers={"push_score": content.push_score}, now=now)
        wave = campaigns.wave_create(campaign=campaign, number=1, planned_size=min(campaign.initial_size, campaign.max_sends),
                                     now=now)
        wave_plan(wave=wave, now=now, ranker_for=ranker_for)
    return campaign


def _seed_ids(campaign: Campaign, now: datetime) -> np.ndarray:
    """The look-alike seed: the content's early readers and everyone who clicked a wave so far."""
    ids = readers_of(content_id=campaign.content_id, until=now) | outbox.clickers_of(campaign_id=campaign.pk)
    return np.array(sorted(ids), dtype=np.int64)


@transaction.atomic
def wave_plan(*, wave: Wave, now: datetime | None = None, ranker_for: RankerFor | None = None) -> int:
    """Choose the wave's recipients, claim their slots and write the outbox rows.

    Returns the number of sends created. A subscriber whose slot was taken meanwhile (by another
    campaign) is skipped by the conditional update, never sent twice. With nobody to send to, the
    campaign ends.
    """
    from recsys.bandit import prob_best, thompson_allocate
    from recsys.ramp import fit_population_prior, smoothed_ctr

    now = now or clock.now()
    wave = Wave.objects.select_for_update().select_related("campaign__content", "campaign__client").get(pk=wave.pk)
    campaign = wave.campaign
    if wave.state != Wave.State.PLANNED or campaign.state != Campaign.State.RUNNING:
        return 0
    client, content = campaign.client, campaign.content
    policy = policy_of(client.pk)
    remaining = max(campaign.max_sends - campaign.sends, 0)
    candidates = outbox.eligible_candidates(client=client, content_id=content.pk, now=now,
                                            segment=Segment.from_json(campaign.segment), cap_window=policy.cap_window,
                                            quiet_start=policy.quiet_hours_start, quiet_end=policy.quiet_hours_end)
    seed = _seed_ids(campaign, now)
    if len(seed):  # the seed already has the content: look-alikes only
        candidates = candidates.take(~np.isin(candidates.ids, seed))
    # Seeded by what the campaign is, not by row ids, so a rerun of the same world draws the same.
    rng = np.random.default_rng([zlib.crc32(f"{client.slug}/{content.external_id}".encode()), wave.number])
    size = min(wave.planned_size, remaining)
    explore = int(round(campaign.exploration_share * size)) if wave.number == 1 else 0
    ranker = (ranker_for or product_ranker_for)(client)
    ranked = ranker.rank(candidates=candidates, content=content, seed_ids=seed, k=size - explore, now=now, rng=rng)
    chosen, scores = np.asarray(ranked.ids, dtype=np.int64), np.asarray(ranked.total, dtype=float)
    explored = np.zeros(len(chosen), dtype=bool)
    ranks = np.arange(1, len(chosen) + 1, dtype=np.int64)  # the ranker's top, in its order: chosen for sure
    propensity = np.ones(len(chosen))
    measurement: dict = {}
    if explore:  # wave 1's exploration slice: at random among the eligible the ranker passed over
        pool = candidates.ids[~np.isin(candidates.ids, chosen)]
        drawn = np.sort(rng.choice(pool, size=min(explore, len(pool)), replace=False)) if len(pool) else pool[:0]
        measurement.update(explored=int(len(drawn)), exploration_probability=round(len(drawn) / len(pool), 6) if len(pool) else None)
        chosen, scores = np.concatenate([chosen, drawn]), np.concatenate([scores, np.full(len(drawn), np.nan)])
        explored = np.concatenate([explored, np.ones(len(drawn), dtype=bool)])
        ranks = np.concatenate([ranks, np.zeros(len(drawn), dtype=np.int64)])
        propensity = np.concatenate([propensity, np.full(len(drawn), len(drawn) / len(pool) if len(pool) else np.nan)])
    a, b = fit_population_prior(candidates.push_clicks, candidates.push_sends) if len(candidates) else (0.5, 49.5)
    pos = np.searchsorted(candidates.ids, chosen)
    ctr = smoothed_ctr(candidates.push_clicks[pos], candidates.push_sends[pos], a, b) if len(pos) else np.zeros(0)
    if explore and len(candidates):  # an exploring wave keeps its pool: another ranker can be judged on it
        campaigns.wave_pool_record(wave=wave, ids=candidates.ids,
                                   ctr=smoothed_ctr(candidates.push_clicks, candidates.push_sends, a, b),
                                   language=candidates.language if candidates.language is not None else [""] * len(candidates),
                                   push_sends=candidates.push_sends, push_clicks=candidates.push_clicks,
                                   days_inactive=candidates.days_inactive)
    if campaign.holdout_share > 0 and len(chosen):  # held out at random: never sent this content
        held = rng.random(len(chosen)) < campaign.holdout_share
        measurement["held_out"] = sends_hold_out(campaign=campaign, wave=wave, subscriber_ids=chosen[held],
                                                 baseline_ctr=ctr[held], explored=explored[held], ranks=ranks[held],
                                                 propensities=propensity[held], now=now)
        chosen, scores, explored, ctr = chosen[~held], scores[~held], explored[~held], ctr[~held]
        ranks, propensity = ranks[~held], propensity[~held]

    variants = list(content.title_variants.filter(review=TitleVariant.Review.APPROVED).order_by("id"))
    clicks, sends = np.array([v.clicks for v in variants]), np.array([v.sends for v in variants])
    counts = thompson_allocate(clicks, sends, len(chosen), rng) if variants else np.zeros(0, dtype=int)
    order = rng.permutation(len(chosen))
    variant_of = np.zeros(len(chosen), dtype=np.int64)
    start = 0
    for v, n in zip(variants, counts):
        variant_of[order[start:start + int(n)]] = v.pk
        start += int(n)

    created = sends_create_with_slots(campaign=campaign, wave=wave, subscriber_ids=chosen, baseline_ctr=ctr,
                                      scores=scores, variant_ids=variant_of, explored=explored, ranks=ranks,
                                      propensities=propensity, cap_window=policy.cap_window, now=now)
    sent_ids = created["subscriber_ids"]
    if ranked.features_of is not None and len(sent_ids):  # what the click model will learn from
        ids, x, names = ranked.features_of(np.asarray(sent_ids, dtype=np.int64))
        campaigns.wave_features_record(wave=wave, ids=ids, x=x, names=names)
    mask = np.isin(chosen, sent_ids)
    expected = float(ctr[mask].sum())
    per_variant = {str(v.pk): int(np.sum(variant_of[mask] == v.pk)) for v in variants}
    title_variants_count(sends={v.pk: per_variant[str(v.pk)] for v in variants})
    allocation = {
        "recipients": per_variant,
        "prob_best": {str(v.pk): round(float(p), 4) for v, p in zip(variants, prob_best(clicks, sends))} if variants else {},
        "method": "thompson",
    }
    numbers = {"eligible": int(len(candidates)), "seed": int(len(seed)), "chosen": int(len(ranked.ids)),
               "created": int(len(sent_ids)), "slot_lost": int(len(chosen) - len(sent_ids)),
               "expected_clicks": round(expected, 4), "prior": [round(float(a), 4), round(float(b), 4)],
               "ranker": ranked.ranker, "allocation": per_variant, **measurement}
    campaigns.wave_record_plan(wave=wave, sends=len(sent_ids), expected_clicks=expected, allocation=allocation,
                               ranker=ranked.ranker, numbers=numbers, now=now, empty_reason=NOBODY_LEFT,
                               model_versions={"ranker": ranked.ranker, **active_versions()})
    decision_record(client=client, action="wave_plan", actor_name="planner", content=content, campaign=campaign,
                    subject=f"wave:{wave.number}", after={"state": wave.state, "sends": wave.sends}, numbers=numbers, now=now)
    if not len(sent_ids):
        campaign_end(campaign=campaign, state=Campaign.State.DONE, reason=NOBODY_LEFT, code="nobody_left", now=now,
                     actor_name="planner")
    return len(sent_ids)


@transaction.atomic
def wave_decide(*, wave: Wave, now: datetime | None = None, ranker_for: RankerFor | None = None) -> str | None:
    """After the observation window: expand, re-send or stop, on all waves so far."""
    from recsys.ramp import decide, decision_due, wave_stats

    now = now or clock.now()
    wave = Wave.objects.select_for_update().select_related("campaign").get(pk=wave.pk)
    campaign = wave.campaign
    if wave.state != Wave.State.OBSERVING or campaign.state != Campaign.State.RUNNING:
        return None
    config, delay = ramp_config(campaign), click_delay_model()
    stats = []
    for w in campaign.waves.filter(number__lte=wave.number).order_by("number"):
        ctr, sent, clicked = outbox.wave_outcomes(wave_id=w.pk)
        if len(ctr):
            stats.append(wave_stats(ctr, sent, clicked, now.timestamp(), delay))
    if not stats:
        d_action, d_size, d_reason, d_numbers, d_code = "stop", 0, "No push of this campaign was delivered.", {}, "undelivered"
    else:
        if not decision_due(stats, config):
            return None
        d = decide(stats, config, remaining_cap=max(campaign.max_sends - campaign.sends, 0))
        d_action, d_size, d_reason, d_numbers, d_code = d.action, d.next_size, d.reason, d.numbers, d.code
    campaigns.wave_record_decision(wave=wave, decision=d_action, reason=d_reason, numbers={**d_numbers, "code": d_code},
                                   now=now)
    decision_record(client=campaign.client_id, action=f"wave_{d_action}", actor_name="ramp", campaign=campaign,
                    content=campaign.content, subject=f"wave:{wave.number}", after={"decision": d_action, "next_size": d_size},
                    numbers=wave.decision_numbers, note=d_reason, now=now)
    if d_action == "stop" or d_size <= 0:
        campaign_end(campaign=campaign, state=Campaign.State.DONE, reason=d_reason, code=d_code, now=now)
    else:
        nxt = campaigns.wave_create(campaign=campaign, number=wave.number + 1, planned_size=d_size, now=now)
        wave_plan(wave=nxt, now=now, ranker_for=ranker_for)
    return d_action


def campaign_end(*, campaign: Campaign, state: str, reason: str, code: str, now: datetime, user=None,
                 actor_name: str = "ramp", content_to: str | None = ContentStatus.DONE) -> dict[str, int]:
    """End a campaign, whatever ends it. Call inside a transaction, with the campaign locked.

    The pushes that have not left are cancelled with the reason and their slots given back; the
    waves it interrupted are closed (decided: stop, with ``code``); a sending content moves to
    ``content_to`` (None: the caller moves it, as expiry does); one decision row.
    """
    campaigns.campaign_close(campaign=campaign, state=state, reason=reason, now=now)
    cancelled = sends_cancel_pending(campaign_id=campaign.pk, reason=f"campaign {state}: {reason}", now=now)
    closed = campaigns.waves_close_open(campaign=campaign, reason=reason, code=code, now=now)
    content = Content.objects.select_for_update().get(pk=campaign.content_id)
    if content_to is not None and content.status == ContentStatus.SENDING:
        content_transition(content=content, to=content_to)
    numbers = {"code": code, **cancelled, "waves_closed": closed}
    decision_record(client=campaign.client_id, action="campaign_stop" if state == Campaign.State.STOPPED else "campaign_end",
                    actor_user=user,
                    actor_name="" if user else actor_name, campaign=campaign, content=content,
                    subject=f"campaign:{campaign.pk}", after={"state": state}, numbers=numbers, note=reason, now=now)
    return numbers


@transaction.atomic
def campaign_stop(*, campaign: Campaign, user=None, reason: str = "stopped by an operator",
                  now: datetime | None = None) -> Campaign:
    """Stop a campaign now: no further wave, and its unsent pushes are cancelled."""
    now = now or clock.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state != Campaign.State.RUNNING:
        raise NotRunning(_("The campaign is %(state)s already.") % {"state": label("campaign_state", campaign.state)},
                         field="state")
    campaign_end(campaign=campaign, state=Campaign.State.STOPPED, reason=reason, code="stopped", now=now, user=user)
    campaign.refresh_from_db()
    return campaign


def campaigns_advance_due(*, now: datetime, ranker_for: RankerFor | None = None) -> dict[str, int]:
    """Close waves whose sends are all done (they are observed from then), decide waves whose
    observation window has passed."""
    closed = decided = 0
    for wave in Wave.objects.filter(state=Wave.State.SENDING, campaign__state=Campaign.State.RUNNING).order_by("pk"):
        if outbox.wave_unfinished(wave_id=wave.pk):
            continue
        with transaction.atomic():
            w = Wave.objects.select_for_update().select_related("campaign").get(pk=wave.pk)
            if w.state != Wave.State.SENDING or outbox.wave_unfinished(wave_id=w.pk):
                continue
            campaigns.wave_record_sent(wave=w, sent_at=outbox.wave_last_result_at(wave_id=w.pk) or now)
            closed += 1
    for wave in Wave.objects.filter(state=Wave.State.OBSERVING, observe_until__lte=now, campaign__state=Campaign.State.RUNNING):
        if wave_decide(wave=wave, now=now, ranker_for=ranker_for):
            decided += 1
    return {"waves_closed": closed, "waves_decided": decided}
