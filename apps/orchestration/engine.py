"""The campaign engine: launch, wave planning, ramp decisions, and the one way a campaign ends.

launch -> wave 1 planned (eligible people ranked, a stratified sample of the window of ranks that
it and its expansion would cover, slots claimed, outbox rows) -> dispatched -> observed for the
window -> ``recsys.ramp.decide`` on the window's probes -> next wave (expand: the window's rest
and probes of the next window; re-send: more probes) or a wait for late clicks or the end.

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
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audience.selectors import Segment
from apps.campaigns import services as campaigns
from apps.campaigns.models import Campaign, Wave
from apps.campaigns.selectors import ramp_config, wave_window
from apps.contents.models import Content, ContentStatus, TitleVariant
from apps.contents.services import CannotLaunch, content_transition, title_variants_count
from apps.core import clock
from apps.core.errors import ApiError
from apps.core.labels import label
from apps.core.policy import campaign_settings
from apps.core.selectors import policy_of
from apps.core.services import decision_record
from apps.delivery import selectors as outbox
from apps.delivery.models import Send
from apps.delivery.services import sends_cancel_pending, sends_create_with_slots, sends_hold_out
from apps.events.selectors import readers_of
from apps.mlops.ranking import prefer_language, ranker_for as product_ranker_for
from apps.mlops.selectors import active_versions, click_delay_model

RankerFor = Callable[[object], object]

NOBODY_LEFT = "No eligible subscriber left for this content."
PRICED_OUT = "Nobody eligible valued this content above the price of their weekly slot."


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


def campaign_seed_ids(campaign: Campaign, now: datetime) -> np.ndarray:
    """The look-alike seed: the content's early readers and everyone who clicked a wave so far."""
    ids = readers_of(content_id=campaign.content_id, until=now) | outbox.clickers_of(campaign_id=campaign.pk)
    return np.array(sorted(ids), dtype=np.int64)


def _window_draw(*, ranker, candidates, rank_pool, content, seed, now, rng, mode: str, size: int, probe_n: int,
                 growth: float, explore: int, prev: Wave | None, taken: np.ndarray, slot: tuple[str, int] | None = None,
                 explore_share: float):
    """Who a wave goes to (docs/ramp.md, "Marginal decisions"): the audience an expansion chose
    (``fill``, the unsent rest of the previous window), the probes of the window, and the explored.

    mode "start" (wave 1) and "expand": a new window, the ``(1 + growth) x probes`` best-ranked;
    "resend": the previous window grown by the next ``probe_n`` ranks. Probes are a rank-stratified
    sample of the window, drawn so that every member has had the same chance (``recsys.ramp``).

    ``explore``: wave 1's exploration slice as planned (``explore_share`` of the planned wave); it
    is cut to ``explore_share`` of what is drawn (the slice over probes + slice).

    ``slot``: (the client's slot objective, its inactive days). When the ranker's scores are
    calibrated click probabilities, a new window takes only people for whom this content is worth
    at least their slot's price (``Subscriber.slot_price``); the ranked people it passes over are
    counted in ``held_back``."""
    from recsys.ids import positions
    from recsys.ramp import block_counts, probe_counts, stratified_pick, window_size

    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    fill = (empty_i, empty_f, empty_i)  # ids, scores, places in the previous window (1 = first)
    old_ids, old_scores = empty_i, empty_f
    probed_before = 0
    if mode in ("expand", "resend"):
        old_ids, old_scores = wave_window(wave=prev)
    if mode == "expand":
        rest = ~np.isin(old_ids, taken) & np.isin(old_ids, candidates.ids)
        where = np.nonzero(rest)[0]
        if len(where) > size:  # the cap cuts the audience: a random part of it, as it was tested
            where = np.sort(rng.choice(where, size=size, replace=False))
        fill = (old_ids[where], old_scores[where], where + 1)
        old_ids, old_scores = empty_i, empty_f
        probe_n = min(probe_n, size - len(where))
    excluded = np.concatenate([fill[0], old_ids])
    want = window_size(probe_n, growth) if mode != "resend" else probe_n
    priced = slot is not None and slot[0] != "first_come" and rank_pool.slot_price is not None \
        and bool(np.any(rank_pool.slot_price > 0))
    deeper = PRICED_DEPTH * want if priced else want  # room for the people their slot's price passes over
    ranked = ranker.rank(candidates=rank_pool, content=content, seed_ids=seed,
                         k=int(np.isin(rank_pool.ids, excluded).sum()) + deeper, now=now, rng=rng)
    r_ids, r_total = np.asarray(ranked.ids, dtype=np.int64), np.asarray(ranked.total, dtype=float)
    keep = ~np.isin(r_ids, excluded)
    held_back = 0
    if priced and ranked.calibrated:
        worth = slot_worth(r_ids, r_total, rank_pool, objective=slot[0], inactive_days=slot[1])[0]
        held_back = int((~worth[keep][:want]).sum())  # of those first-come would have taken
        keep &= worth
    new_ids, new_scores = r_ids[keep][:want], r_total[keep][:want]
    if mode == "resend":
        sent_old = np.isin(old_ids, taken)
        probed_before = int(sent_old.sum())
        old_free = np.nonzero(~sent_old & np.isin(old_ids, candidates.ids))[0]
    else:
        old_free = empty_i
    window_ids = np.concatenate([old_ids, new_ids])
    window_scores = np.concatenate([old_scores, new_scores])
    c_old, c_new = probe_counts(probed=probed_before, old_unsent=len(old_free), new=len(new_ids), n=probe_n)
    pick_old, p_old = stratified_pick(len(old_free), c_old, STRATA, rng)
    pick_new, p_new = stratified_pick(len(new_ids), c_new, STRATA, rng)
    at = np.concatenate([old_free[pick_old], len(old_ids) + pick_new])  # places in the window
    probes = (window_ids[at], window_scores[at], at + 1, np.concatenate([p_old, p_new]))
    explored = (empty_i, empty_f)
    if explore and explore_share < 1:
        # The slice is its share of the wave that goes out, not of the wave planned: when the
        # price lets few probes through, a slice of the planned size would spend more slots at
        # random than on the people the content is worth them to (docs/simulator.md, "A price for
        # a rolling slot"). Rounded at random, so that its mean is the share.
        x = explore_share / (1 - explore_share) * len(probes[0])
        explore = min(explore, int(np.floor(x)) + int(rng.random() < x - np.floor(x)))
    if explore:  # wave 1's exploration slice: at random among the eligible not probed
        pool = candidates.ids[~np.isin(candidates.ids, probes[0])]
        drawn = np.sort(rng.choice(pool, size=min(explore, len(pool)), replace=False)) if len(pool) else pool[:0]
        q = len(drawn) / len(pool) if len(pool) else 0.0
        # what anyone's chance of being in the wave was: the probe draw's in their rank block of
        # the window, then the exploration draw's (outside the window: the latter only)
        starts, draws = block_counts(len(new_ids), c_new, STRATA)
        sizes = np.diff(np.concatenate([starts, [len(new_ids)]]))
        p_block = np.where(sizes > 0, draws / np.maximum(sizes, 1), 0.0)
        by_id = np.argsort(window_ids)
        found = positions(window_ids[by_id], drawn)
        place = np.where(found >= 0, by_id[np.maximum(found, 0)], -1) if len(window_ids) else np.full(len(drawn), -1)
        p_probe = np.where(place >= 0, p_block[np.clip(np.searchsorted(starts, place, side="right") - 1, 0, None)], 0.0) \
            if len(starts) else np.zeros(len(drawn))
        explored = (drawn, p_probe + (1 - p_probe) * q)
        probes = probes[:3] + (probes[3] + (1 - probes[3]) * q,)
    return ranked, fill, probes, explored, (window_ids, window_scores), held_back


STRATA = 5  # rank strata of a window's probes
PRICED_DEPTH = 4  # with prices, the ranker is asked for this many times the window


def slot_worth(ids: np.ndarray, scores: np.ndarray, pool, *, objective: str, inactive_days: int):
    """(worth: the content is worth at least the person's slot price, value, price) for people
    ``ids`` with calibrated click probabilities ``scores``, their rows in ``pool``
    (``CandidateRows`` with ``slot_price``). The value is ``recsys.slots.pair_values`` by the
    client's objective: the probability, or for reactivations the probability of people inactive
    for ``inactive_days`` (never active counts as inactive) and 0 for the others."""
    from apps.mlops.slots import slot_value
    from recsys.ids import positions

    at = positions(pool.ids, np.asarray(ids, dtype=np.int64))
    known = at >= 0
    value = slot_value(scores, pool.days_inactive[np.maximum(at, 0)], objective=objective, inactive_days=inactive_days)
    price = np.where(known, pool.slot_price[np.maximum(at, 0)], 0.0)
    return value >= price, value, price
WAIT_RECHECK_S = 300  # a waiting wave is looked at again this often
_PACKER = None  # the thread a plan packs its pool on (``_pack_pool``)


def _pack_pool(candidates, a: float, b: float):
    """A future of ``campaigns.wave_pool_pack`` for everyone eligible, on a thread of its own:
    at millions of people its compression takes seconds, and runs while the ranker works."""
    global _PACKER
    from concurrent.futures import ThreadPoolExecutor

    from recsys.ramp import smoothed_ctr

    if _PACKER is None:
        _PACKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool-pack")
    return _PACKER.submit(campaigns.wave_pool_pack, ids=candidates.ids,
                          ctr=smoothed_ctr(candidates.push_clicks, candidates.push_sends, a, b),
                          language=candidates.language if candidates.language is not None else [""] * len(candidates),
                          push_sends=candidates.push_sends, push_clicks=candidates.push_clicks,
                          days_inactive=candidates.days_inactive, reads_decayed=candidates.reads_decayed,
                          active_days_decayed=candidates.active_days_decayed)


@transaction.atomic
def wave_plan(*, wave: Wave, now: datetime | None = None, ranker_for: RankerFor | None = None) -> int:
    """Choose the wave's recipients, claim their slots and write the outbox rows.

    Wave 1 probes the window of ranks that it and its expansion would cover (plus the
    exploration slice); a re-send probes the same window, grown by as many ranks as it probes;
    an expansion sends to the window's unsent rest and probes the next window. Returns the number
    of sends created. A subscriber whose slot was taken meanwhile (by another campaign) is
    skipped by the conditional update, never sent twice. With nobody to send to, the campaign
    ends.
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
    seed = campaign_seed_ids(campaign, now)
    if len(seed):  # the seed already has the content: look-alikes only
        candidates = candidates.without(seed)
    # Seeded by what the campaign is, not by row ids, so a rerun of the same world draws the same.
    rng = np.random.default_rng([zlib.crc32(f"{client.slug}/{content.external_id}".encode()), wave.number])
    size = min(wave.planned_size, remaining)
    # The content's language first when enough people speak it for this wave (the window the
    # ranker is asked for is larger than the wave)
    rank_pool = prefer_language(candidates, content, size)
    prev = campaign.waves.filter(number=wave.number - 1).first() if wave.number > 1 else None
    mode = "start" if prev is None else ("expand" if prev.decision == Wave.Decision.EXPAND else "resend")
    stage = 1 if prev is None else prev.stage + (mode == "expand")
    explore = int(round(campaign.exploration_share * size)) if mode == "start" else 0
    a, b = fit_population_prior(candidates.push_clicks, candidates.push_sends) if len(candidates) else (0.5, 49.5)
    # an exploring wave keeps its pool (another ranker can be judged on it): packed beside the ranking
    pool = _pack_pool(candidates, a, b) if explore and len(candidates) else None
    probe_n = min(wave.probe_size or wave.planned_size, size - explore)
    ranker = (ranker_for or product_ranker_for)(client)
    slot = (policy.slot_objective, int(policy.inactive_days))
    ranked, fill, probes, (drawn, p_explored), window, held_back = _window_draw(
        ranker=ranker, candidates=candidates, rank_pool=rank_pool, content=content, seed=seed, now=now, rng=rng,
        mode=mode, size=size,
        probe_n=probe_n, growth=campaign.growth, explore=explore, prev=prev, explore_share=campaign.exploration_share,
        taken=outbox.campaign_recipient_ids(campaign_id=campaign.pk) if prev is not None else np.zeros(0, np.int64),
        slot=slot)
    chosen = np.concatenate([fill[0], probes[0], drawn])
    picked = len(chosen)  # before the holdout
    scores = np.concatenate([fill[1], probes[1], np.full(len(drawn), np.nan)])
    how = np.array([Send.ChosenBy.RANKED] * len(fill[0]) + [Send.ChosenBy.PROBED] * len(probes[0])
                   + [Send.ChosenBy.EXPLORED] * len(drawn), dtype=object)
    explored = how == Send.ChosenBy.EXPLORED
    ranks = np.concatenate([fill[2], probes[2], np.zeros(len(drawn), dtype=np.int64)]).astype(np.int64)
    propensity = np.concatenate([np.ones(len(fill[0])), probes[3], p_explored])
    measurement: dict = {}
    if explore:
        pool_size = int((~np.isin(candidates.ids, probes[0])).sum())
        measurement.update(explored=int(len(drawn)), exploration_probability=round(len(drawn) / pool_size, 6) if pool_size else None)
    pos = np.searchsorted(candidates.ids, chosen)
    ctr = smoothed_ctr(candidates.push_clicks[pos], candidates.push_sends[pos], a, b) if len(pos) else np.zeros(0)
    # what each push is worth and its recipient's slot price, when the scores are click probabilities
    value = price = np.full(len(chosen), np.nan)
    if ranked.calibrated and candidates.slot_price is not None and len(chosen):
        _, value, price = slot_worth(chosen, scores, candidates, objective=slot[0], inactive_days=slot[1])
        value = np.where(np.isnan(scores), np.nan, value)  # the explored were not valued
    if pool is not None:
        campaigns.wave_pool_store(wave=wave, packed=pool.result())
    if campaign.holdout_share > 0 and len(chosen):  # held out at random: never sent this content
        held = rng.random(len(chosen)) < campaign.holdout_share
        measurement["held_out"] = sends_hold_out(campaign=campaign, wave=wave, subscriber_ids=chosen[held],
                                                 baseline_ctr=ctr[held], explored=explored[held], ranks=ranks[held],
                                                 propensities=propensity[held], chosen_by=how[held], now=now)
        chosen, scores, explored, ctr, how = chosen[~held], scores[~held], explored[~held], ctr[~held], how[~held]
        ranks, propensity, value, price = ranks[~held], propensity[~held], value[~held], price[~held]

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
                                      propensities=propensity, chosen_by=how, cap_window=policy.cap_window, now=now,
                                      values=value, prices=price)
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
    numbers = {"planned": int(wave.planned_size), "target": int(size), "eligible": int(len(candidates)),
               "seed": int(len(seed)), "chosen": int(len(chosen)),
               "created": int(len(sent_ids)), "slot_lost": int(len(chosen) - len(sent_ids)),
               "expected_clicks": round(expected, 4), "prior": [round(float(a), 4), round(float(b), 4)],
               "ranker": ranked.ranker, "allocation": per_variant,
               "stage": stage, "window": int(len(window[0])), "probes": int(np.sum(how == Send.ChosenBy.PROBED)),
               "expansion_audience": int(len(fill[0])), "held_back_by_price": held_back, **measurement}
    # with nobody sent: were there people, whose slot's price the content did not beat?
    priced_out = held_back > 0 and not picked
    empty_reason, empty_code = (PRICED_OUT, "priced_out") if priced_out else (NOBODY_LEFT, "nobody_left")
    campaigns.wave_record_plan(wave=wave, sends=len(sent_ids), expected_clicks=expected, allocation=allocation,
                               ranker=ranked.ranker, numbers=numbers, now=now, empty_reason=empty_reason,
                               model_versions={"ranker": ranked.ranker, **active_versions(client)},
                               stage=stage, window_ids=window[0], window_scores=window[1])
    decision_record(client=client, action="wave_plan", actor_name="planner", content=content, campaign=campaign,
                    subject=f"wave:{wave.number}", after={"state": wave.state, "sends": wave.sends}, numbers=numbers, now=now)
    if not len(sent_ids):
        campaign_end(campaign=campaign, state=Campaign.State.DONE, reason=empty_reason, code=empty_code, now=now,
                     actor_name="planner")
    return len(sent_ids)


def _marginal(campaign: Campaign, wave: Wave, now: datetime, config, delay):
    """The evidence of the decision after ``wave``: the delivered probes of its stage (one
    ``WaveStats`` per wave), the same on every delivered send (display only), and how the
    probes did per rank stratum of the window."""
    from recsys.ramp import strata_summary, wave_stats

    t = now.timestamp()
    marginal, everything, strata_in = [], [], ([], [], [])
    probes = 0
    for w in campaign.waves.filter(number__lte=wave.number).order_by("number"):
        ctr, sent, clicked, probed, rank, platform = outbox.wave_delivered(wave_id=w.pk)
        if not len(ctr):
            continue
        everything.append(wave_stats(ctr, sent, clicked, t, delay, band=config.delay_band, platform=platform))
        if not wave.window:  # planned before windows: the pooled rule on every delivered send
            probed = np.ones(len(ctr), dtype=bool)
        if w.stage == wave.stage and probed.any():
            marginal.append(wave_stats(ctr[probed], sent[probed], clicked[probed], t, delay, band=config.delay_band,
                                       platform=platform[probed]))
            probes += int(probed.sum())
            strata_in[0].append(rank[probed] - 1)
            strata_in[1].append((np.isfinite(clicked[probed]) & (clicked[probed] <= t)).astype(float))
            strata_in[2].append(ctr[probed] * delay.cdf(t - sent[probed], platform=platform[probed]))
    window_ids, _ = wave_window(wave=wave)
    strata = (strata_summary(np.concatenate(strata_in[0]), len(window_ids), np.concatenate(strata_in[1]),
                             np.concatenate(strata_in[2]), STRATA) if strata_in[0] else [])
    return marginal, everything, {"stage": wave.stage, "window": int(len(window_ids)), "probes": probes,
                                  "strata": strata}


@transaction.atomic
def wave_decide(*, wave: Wave, now: datetime | None = None, ranker_for: RankerFor | None = None) -> str | None:
    """After the observation window: expand, re-send, wait or stop, on the probes of the wave's
    window (the people an expansion would reach).

    A wait sends nothing: the wave stays observing, its look's numbers and reason are kept on it,
    and the sweep looks again every few minutes; the first look of a wait writes a decision row
    (``wave_wait``), the later ones do not, until the ramp decides."""
    from recsys.ramp import _finite, _pool, decide, decision_due

    now = now or clock.now()
    wave = Wave.objects.select_for_update().select_related("campaign__content").get(pk=wave.pk)
    campaign = wave.campaign
    if wave.state != Wave.State.OBSERVING or campaign.state != Campaign.State.RUNNING:
        return None
    config, delay = ramp_config(campaign), click_delay_model(campaign.client_id)
    stats, everything, marginal = _marginal(campaign, wave, now, config, delay)
    remaining = max(campaign.max_sends - campaign.sends, 0)
    if not everything:
        d_action, d_size, d_reason, d_numbers, d_code = "stop", 0, "No push of this campaign was delivered.", {}, "undelivered"
    elif not stats:
        d_action, d_size, d_numbers = "stop", 0, {}
        d_code = "cap" if remaining <= 0 else "undelivered"
        d_reason = ("The content's cap is reached." if remaining <= 0 else
                    "No probe of this wave's window was delivered: nothing to judge an expansion on.")
    else:
        if not decision_due(stats, config):
            return None
        window_ids, _ = wave_window(wave=wave)
        audience = int((~np.isin(window_ids, outbox.campaign_recipient_ids(campaign_id=campaign.pk))).sum())
        d = decide(stats, config, remaining_cap=remaining, expand_size=audience,
                   remaining_s=(campaign.content.expires_at - now).total_seconds())
        d_action, d_size, d_reason, d_code = d.action, d.next_size, d.reason, d.code
        pooled = _pool(everything)
        marginal["audience"] = audience
        d_numbers = {**d.numbers, "marginal": marginal,
                     "all_sends": {"sends": pooled["sends"], "clicks": pooled["clicks"],
                                   "expected_clicks": round(pooled["expected"], 4),
                                   "improvement": _finite(pooled["clicks"] / pooled["expected"]) if pooled["expected"] > 0 else None}}
    numbers = {**d_numbers, "code": d_code}
    if d_action == "wait":
        started = campaigns.wave_record_wait(wave=wave, reason=d_reason, numbers=numbers, now=now,
                                             next_look=now + timedelta(seconds=WAIT_RECHECK_S))
        if started:
            decision_record(client=campaign.client_id, action="wave_wait", actor_name="ramp", campaign=campaign,
                            content=campaign.content, subject=f"wave:{wave.number}", after={"decision": "wait"},
                            numbers=numbers, note=d_reason, now=now)
        return "wait"
    campaigns.wave_record_decision(wave=wave, decision=d_action, reason=d_reason, numbers=numbers, now=now)
    decision_record(client=campaign.client_id, action=f"wave_{d_action}", actor_name="ramp", campaign=campaign,
                    content=campaign.content, subject=f"wave:{wave.number}", after={"decision": d_action, "next_size": d_size},
                    numbers=wave.decision_numbers, note=d_reason, now=now)
    if d_action == "stop" or d_size <= 0:
        campaign_end(campaign=campaign, state=Campaign.State.DONE, reason=d_reason, code=d_code, now=now)
    else:
        # An expansion sends to the window's rest and probes the next window (growth x this
        # stage's probes); a re-send probes this window again.
        base = wave.probe_size or wave.planned_size
        probe = int(round(campaign.growth * base)) if d_action == "expand" else base
        probe = max(min(probe, remaining - (d_size if d_action == "expand" else 0)), 0)
        planned = (d_size + probe) if d_action == "expand" else min(base, remaining)
        nxt = campaigns.wave_create(campaign=campaign, number=wave.number + 1, planned_size=planned, now=now,
                                    probe_size=probe if d_action == "expand" else planned)
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
    waiting = 0
    for wave in Wave.objects.filter(state=Wave.State.OBSERVING, observe_until__lte=now, campaign__state=Campaign.State.RUNNING):
        outcome = wave_decide(wave=wave, now=now, ranker_for=ranker_for)
        decided += outcome not in (None, "wait")
        waiting += outcome == "wait"
    return {"waves_closed": closed, "waves_decided": decided, "waves_waiting": waiting}
