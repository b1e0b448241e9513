"""The thin Django adapter of the simulated world (``recsys.simulate``): the product's own
services run against it in process, on simulated time, without Celery.

Each strategy gets its own client and its own copy of the world (same seed, same people, same
contents). Every step runs the product's own sweep (``apps.orchestration.sweep``) with two things
passed in: the ranker (the product's for ``product``; a random order or the world's truth for
``random`` and ``oracle``) and the dispatcher (pushes handed to the world at once). Everything else
(evaluation, titles, auto-approve, waves and the ramp, attribution, expiry, nightly retraining)
is the product's code.
"""

from __future__ import annotations

import heapq
import math
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction

from apps.core.policy import DEFAULTS
from apps.simulation.payloads import activity_items, content_data, subscriber_items, world_events
from recsys.simulate.world import World, WorldConfig

STRATEGIES = ("product", "random", "oracle")
# More audiences to compare on the same world and schedule (``--strategies``): the long-horizon
# activity ranking alone (with the same MF versions), the denoising autoencoder over read
# histories (``apps.mlops.ranking.DAERanker``) and text similarity to what people read
# (``apps.mlops.ranking.ContentRanker``).
EXTRA_STRATEGIES = ("activity", "dae", "content")
# Yardsticks of the weekly slot (docs/simulator.md, "The weekly slot"): ``hindsight`` (each
# person's best content of the week, knowing the week ahead and the truth), ``universal`` (the
# week's best-liked content broadcast to everyone eligible) run straight against the world;
# ``oracle_first_come`` is the truth-ranked audience spending slots first-come.
REFERENCE_STRATEGIES = ("hindsight", "universal", "oracle_first_come")
# The product spending slots first-come (Policy.slot_objective "first_come"; the product's
# default is "clicks": the weekly slot's price)
FIRST_COME_STRATEGIES = ("first_come",)
# The product with one estimate replaced by the truth, to say what that estimate costs:
# ``oracle_quality`` judges contents by their true quality in place of the push-worthiness score
# (the click model, prices and waves as the product's, learning from those scores).
DIAGNOSTIC_STRATEGIES = ("oracle_quality",)
ALL_STRATEGIES = STRATEGIES + EXTRA_STRATEGIES + REFERENCE_STRATEGIES + FIRST_COME_STRATEGIES + DIAGNOSTIC_STRATEGIES
# Strategies whose rankers give no calibrated click probabilities, so a price could not be set
# against them: they run first-come, and the product's models do not price their slots (their
# audiences are compared by order alone).
UNPRICED_STRATEGIES = ("random", "oracle_first_come", "activity", "dae", "content") + FIRST_COME_STRATEGIES
DIRECT_STRATEGIES = ("hindsight", "universal")  # no product: pushed by recsys.simulate.reference
STATE_INACTIVE = 2  # index into recsys.simulate STATES (active, lapsing, inactive)
STEADY_DAYS = 14  # share_of_hindsight_steady counts pushes from this day on
PUSH_DELAY_S = 1800.0  # the references push when the product's evaluation would (30 minutes)
# ... and not inside anyone's quiet hours (the product's default policy; the strategies run with it)
QUIET_HOURS = (DEFAULTS.quiet_hours_start, DEFAULTS.quiet_hours_end)


class SimProvider:
    """The delivery provider of the simulation: hands pushes to the world, and keeps the clicks
    it draws to report them through the events service when their time comes."""

    name = "sim"

    def __init__(self, run: "StrategyRun"):
        self.run = run

    def send_batch(self, messages):
        from apps.delivery.providers import DeliveryResult

        by_content: dict[str, list] = {}
        for m in messages:
            by_content.setdefault(m.content_external_id, []).append(m)
        now_s = self.run.world.seconds(self.run.now)
        for ext, group in by_content.items():
            idx = np.array([self.run.sub_index[m.subscriber_external_id] for m in group], dtype=np.int64)
            clicks = self.run.world.push(self.run.content_index[ext], idx, now_s)
            for m, t in zip(group, clicks):
                if np.isfinite(t):
                    heapq.heappush(self.run.future_clicks, (float(t), m.send_id))
        return [DeliveryResult(send_id=m.send_id, ok=True, provider_message_id=f"sim-{m.send_id}") for m in messages]


class OracleRanker:
    """Knows every subscriber's true click probability for the content. ``priced``: ranks by that
    probability and gives it as a calibrated score, so the engine values pushes and compares them
    with slot prices as it does with a click model's (the allocator fed the truth); otherwise
    ranks by true improvement (probability / usual CTR) with no score."""

    name = "oracle"

    def __init__(self, run: "StrategyRun", *, priced: bool = False):
        self.run = run
        self.priced = priced

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        idx = np.array([self.run.index_of_id[i] for i in candidates.ids.tolist()], dtype=np.int64)
        c, at = self.run.content_index[content.external_id], self.run.world.seconds(now)
        best = self.run.world.oracle_rank(c, idx, k, at=at, by="probability" if self.priced else "improvement")
        pos = {v: j for j, v in enumerate(idx.tolist())}
        chosen = np.array([candidates.ids[pos[b]] for b in best.tolist()], dtype=np.int64)
        if self.priced:
            return Ranked(chosen, self.run.world.true_click_prob(c, best, at=at), {}, self.name, calibrated=True)
        return Ranked(chosen, np.zeros(len(chosen)), {}, self.name)


class TruthScorer:
    """The ``oracle_quality`` strategy's push-worthiness scorer: a content's score is its true
    quality (the factor every push click probability of it carries; 1.0 = the contents' mean, as
    the interim rule's 1.0 is a typical content), judged against the client's threshold like any
    score. Stands in for ``apps.mlops.scoring.Scorer``."""

    name = "truth"
    model_version = None
    needs_text = False

    def __init__(self, run: "StrategyRun"):
        self.run = run

    def score(self, features, content=None) -> tuple[float, list[dict]]:
        if content is None or content.external_id not in self.run.content_index:
            raise ValueError("the truth scorer judges only the simulated world's contents")
        quality = self.run.world.content_quality(self.run.content_index[content.external_id])
        return float(quality), [{"feature": "truth", "label": "the simulated world's true quality", "contribution": 0.0}]


@dataclass
class StrategyRun:
    strategy: str
    world: World
    client: object = None
    now: datetime | None = None
    sub_index: dict = field(default_factory=dict)      # external id -> world index
    index_of_id: dict = field(default_factory=dict)    # subscriber pk -> world index
    content_index: dict = field(default_factory=dict)  # external id -> world index
    future_clicks: list = field(default_factory=list)  # heap of (time s, send id)
    event_seq: int = 0
    ope_truth: dict = field(default_factory=dict)      # wave id -> {ranker: OpeTruth}
    last_pool: int = 0
    first_waves: list = field(default_factory=list)    # (true improvement of wave 1, of the truth-ranked same-size pick)
    last_first_wave: int = 0
    ranker_for: object = None                          # the strategy's client -> ranker (None: the product's)
    pool_tops: list = field(default_factory=list)      # the ranker's top tenth of a first wave's pool, as first_waves


OPE_RANKERS = ("uniform", "interim")
POOL_TOP_SHARE = 0.1  # the share of a first wave's pool its ranker is judged on (pool_top_tenth_vs_truth)
POOL_TOP_MIN = 100  # pools smaller than this are not judged so


@dataclass(frozen=True)
class OpeTruth:
    """One candidate ranker on one explored wave, as the world saw it when the wave was planned."""

    picks: np.ndarray       # whom the ranker chose from the wave's pool (subscriber ids)
    true_clicks: float      # sum of the world's true click probabilities of the picks, then
    expected: float         # sum of the pool's usual CTRs of the picks (the estimate's denominator)
    explored_clicks: float  # expected clicks among the picks the wave would send at random: the
                            # only window the logs have on the picks outside the logged top


def _ope_truths(run: StrategyRun) -> None:
    """For each wave planned with a pool since the last call: whom each candidate ranker would
    have chosen and their true improvement then (the world's state now is the wave's: it is
    planned and dispatched in this sweep, so the truth here is the probability its pushes had)."""
    from apps.campaigns.models import WavePool
    from apps.campaigns.selectors import wave_pool
    from apps.delivery.models import Send
    from apps.mlops.ope import candidate_picks, ranker_named

    for pool_row in WavePool.objects.filter(pk__gt=run.last_pool).select_related("wave__campaign__content").order_by("pk"):
        run.last_pool = pool_row.pk
        wave, pool = pool_row.wave, wave_pool(wave_id=pool_row.wave_id)
        content = wave.campaign.content
        if content.external_id not in run.content_index:
            continue
        rows = list(Send.objects.filter(wave=wave).values_list("subscriber_id", "propensity", "chosen_by"))
        size = len(rows)
        # the logged ranker's choice (its window's probes or its top, sent or held out), and the
        # exploration draw's probability outside it (the smallest an explored send records)
        top = {sid for sid, _prop, how in rows if how != Send.ChosenBy.EXPLORED}
        explore_q = min((prop for _sid, prop, how in rows if how == Send.ChosenBy.EXPLORED and prop is not None),
                        default=0.0)
        sent_share = 1.0 - wave.campaign.holdout_share
        ctr = dict(zip(pool["ids"].tolist(), pool["ctr"].tolist()))
        out = {}
        for name in OPE_RANKERS:
            picks = candidate_picks(wave, pool, ranker_named(name, wave), size)
            idx = np.array([run.index_of_id[i] for i in picks.tolist()], dtype=np.int64)
            probs = run.world.true_click_prob(run.content_index[content.external_id], idx, at=run.world.seconds(wave.created_at))
            outside = np.array([i not in top for i in picks.tolist()], dtype=bool)
            out[name] = OpeTruth(picks, float(probs.sum()), float(sum(ctr[i] for i in picks.tolist())),
                                 float(explore_q * sent_share * probs[outside].sum()))
        run.ope_truth[wave.pk] = out


def _first_wave_reference(run: StrategyRun) -> None:
    """For each first wave planned since the last call, as the world stood when it went out: the
    true improvement of the window of ranks its probes were drawn from (every member equally
    likely to be probed, so the probes' expected improvement is the window's), and of the window
    of the same size the truth would rank first from the same pool (the eligible people of the
    same content at the same moment, the content's language first as the ranker got them). Same
    contents, same moment, same size, the same exploration slice beside both: the ranker's share
    of what was attainable."""
    from apps.campaigns.models import Wave
    from apps.campaigns.selectors import wave_pool, wave_window
    from apps.mlops.ope import pool_rows
    from apps.mlops.ranking import prefer_language
    from apps.mlops.ranking import ranker_for as product_ranker_for
    from apps.orchestration.engine import campaign_seed_ids

    for wave in (Wave.objects.filter(campaign__client=run.client, number=1, pk__gt=run.last_first_wave)
                 .select_related("campaign__content").order_by("pk")):
        run.last_first_wave = wave.pk
        content = wave.campaign.content
        pool = wave_pool(wave_id=wave.pk)
        window, _ = wave_window(wave=wave)
        if pool is None or not len(window) or content.external_id not in run.content_index:
            continue
        ids = prefer_language(pool_rows(pool), content, wave.planned_size).ids  # as the ranker got them
        c, at = run.content_index[content.external_id], run.world.seconds(wave.created_at)
        mine = np.array([run.index_of_id[i] for i in window.tolist()], dtype=np.int64)
        everyone = np.array([run.index_of_id[i] for i in ids.tolist()], dtype=np.int64)
        best = run.world.oracle_rank(c, everyone, len(mine), at=at)
        # a window drawn at random from the pool: the pool's own true improvement (in expectation)
        pool_truth = run.world.true_improvement(c, everyone, at=at)
        run.first_waves.append((run.world.true_improvement(c, mine, at=at), run.world.true_improvement(c, best, at=at),
                                pool_truth, len(mine) / len(everyone)))
        # The ranking itself, whatever the cap left of the pool: the ranker, as it stood, asked for
        # the top tenth of the same pool, against the truth's top tenth.
        k = int(np.ceil(POOL_TOP_SHARE * len(everyone)))
        if len(everyone) >= POOL_TOP_MIN:
            ranker = (run.ranker_for or product_ranker_for)(run.client)
            rows = prefer_language(pool_rows(pool), content, wave.planned_size)
            ranked = ranker.rank(candidates=rows, content=content, seed_ids=campaign_seed_ids(wave.campaign, wave.created_at),
                                 k=k, now=wave.created_at,
                                 rng=np.random.default_rng([zlib.crc32(content.external_id.encode()), wave.number]))
            top = np.array([run.index_of_id[int(i)] for i in np.asarray(ranked.ids)[:k]], dtype=np.int64)
            if len(top):
                run.pool_tops.append((run.world.true_improvement(c, top, at=at),
                                      run.world.true_improvement(c, run.world.oracle_rank(c, everyone, len(top), at=at), at=at),
                                      pool_truth, len(top) / len(everyone), _ranking_family(ranked.ranker)))


def _ranking_family(name: str) -> str:
    """Which of the product's orders ranked a pool (``Ranked.ranker``): ``click`` (a click model
    re-ranked the shortlist), ``interim``, the pre-click order the MF version chose
    (``affinity`` or ``<component> alone``), or the name itself for injected rankers."""
    if name.startswith("model:"):
        if "+click" in name:
            return "click"
        return name.partition(" (")[2].removesuffix(")") or "affinity"
    return name.partition(":")[0]


def first_wave_report(pairs: list, draws: int = 2000) -> dict:
    """First waves' windows against the truth-ranked window of the same size from the same pool
    and against a window drawn at random from it (the pool's own true improvement): the mean true
    improvement of each; ``ratio``, the ranker's over the truth's (of means); and
    ``share_of_attainable_gain``, how much of the truth's gain over random the ranker got
    ((ranker - random) / (truth - random): 0 is random, 1 the truth), each with a paired
    bootstrap interval over waves. ``window_share_of_pool`` (median): when a window takes most of
    its pool every ranking is close to the truth's and ``ratio`` says little."""
    if not pairs:
        return {"waves": 0}
    a, b, r, share = (np.array([p[n] for p in pairs], float) for n in range(4))
    idx = np.random.default_rng(0).integers(0, len(a), size=(draws, len(a)))
    ma, mb, mr = a[idx].mean(axis=1), b[idx].mean(axis=1), r[idx].mean(axis=1)
    lo, hi = np.quantile(ma / mb, [0.025, 0.975])
    gained = (ma - mr) / np.where(mb - mr > 0, mb - mr, np.nan)
    g_lo, g_hi = np.nanquantile(gained, [0.025, 0.975]) if np.isfinite(gained).any() else (np.nan, np.nan)
    attainable = b.mean() - r.mean()

    def rounded(x):
        return round(float(x), 3) if np.isfinite(x) else None

    return {"waves": len(a), "true_improvement": round(float(a.mean()), 3),
            "truth_ranked_true_improvement": round(float(b.mean()), 3),
            "random_window_true_improvement": round(float(r.mean()), 3),
            "ratio": round(float(a.mean() / b.mean()), 3), "ratio_ci95": [round(float(lo), 3), round(float(hi), 3)],
            "share_of_attainable_gain": rounded((a.mean() - r.mean()) / attainable) if attainable > 0 else None,
            "share_of_attainable_gain_ci95": [rounded(g_lo), rounded(g_hi)],
            "window_share_of_pool": round(float(np.median(share)), 3),
            # the waves where the order could matter at all (a window that takes its pool is the truth's)
            "waves_window_below_pool": int(np.sum(share < 0.999))}


def _setup(run: StrategyRun, *, seed: int, policy: dict | None = None) -> None:
    from apps.audience.models import Subscriber
    from apps.audience.services import subscribers_bulk_upsert
    from apps.contents.models import AutoApprovePolicy
    from apps.core.models import Client
    from apps.core.services import client_create

    slug = f"sim-{run.strategy}-{seed}"
    # The simulated newsroom launches every content predicted at least at its usual rate and lets
    # the ramp sort them out. The random strategy judges nothing: every content, random people
    # (the world's self-check: its click improvement should come out near 1.0).
    threshold = 0.0 if run.strategy == "random" else 1.0
    run.client = Client.objects.filter(slug=slug).first() or client_create(
        slug=slug, name=f"Simulated world ({run.strategy})", evaluation_delay=timedelta(minutes=30),
        candidate_threshold=threshold)
    AutoApprovePolicy.objects.update_or_create(client=run.client, defaults={
        "enabled": True, "min_score": threshold, "categories": [], "updated_at": run.now})
    # the caller's rules over the defaults (a shorter cap window, say); unpriced strategies first-come
    rules = {**({"slot_objective": "first_come"} if run.strategy in UNPRICED_STRATEGIES else {}), **(policy or {})}
    if rules:
        from apps.core.services import policy_set

        policy_set(client=run.client, now=run.now, **rules)
    subs = run.world.subscribers
    items = subscriber_items(run.world)
    for k in range(0, len(items), 10_000):
        subscribers_bulk_upsert(client=run.client, items=items[k:k + 10_000], now=run.now)
    rows = list(Subscriber.objects.filter(client=run.client).values_list("pk", "external_id"))
    run.sub_index = {str(e): i for i, e in enumerate(subs.external_id)}
    run.index_of_id = {pk: run.sub_index[ext] for pk, ext in rows}
    # Their push history before the simulation (behind the product's usual-CTR estimate).
    by_ext = dict((ext, pk) for pk, ext in rows)
    objs = [Subscriber(pk=by_ext[str(subs.external_id[i])], push_sends=int(subs.history_sends[i]),
                       push_clicks=int(min(subs.history_clicks[i], subs.history_sends[i]))) for i in range(len(subs))]
    Subscriber.objects.bulk_update(objs, ["push_sends", "push_clicks"], batch_size=5000)


def _history(run: StrategyRun, *, weeks: int = 3, per_topic: int = 8) -> int:
    """What people read before the simulation starts, drawn from the world's own reading model
    (topics in proportion to taste, as much as an active person reads), up to each one's last
    app open: the history a product would have. Read through archive contents, one category per
    topic, registered and reported through the product's services like everything else."""
    from apps.contents.services import content_upsert
    from apps.events.services import events_ingest

    world, subs = run.world, run.world.subscribers
    rng = np.random.default_rng([world.config.seed, 7919])
    start = world.config.start
    topics = world.vocab.topics
    archive = []
    for t in topics:
        ids = []
        for j in range(per_topic):
            created = start - timedelta(days=float(rng.uniform(7 * weeks + 1, 7 * weeks + 8)))
            ext = f"archive-{t.index}-{j}"
            content_upsert(client=run.client, external_id=ext, now=start,
                           data={"title": f"{t.name}: {' '.join(t.top_words[:4])}", "body": " ".join(t.top_words[:30]),
                                 "language": t.language, "category": t.name, "created_at": created,
                                 "expires_at": created + timedelta(hours=4)})
            ids.append(ext)
        archive.append(ids)
    who, topic, when = world.history_reads(rng, weeks=weeks)
    events = [{"event_id": f"h{i}", "type": "read", "subscriber": str(subs.external_id[u]),
               "content": archive[t][int(rng.integers(per_topic))],
               "occurred_at": (start + timedelta(seconds=float(at))).isoformat()}
              for i, (u, t, at) in enumerate(zip(who.tolist(), topic.tolist(), when.tolist()))]
    for k in range(0, len(events), 10_000):
        events_ingest(client=run.client, items=events[k:k + 10_000], now=start)
    return len(events)


def _feed(run: StrategyRun, until: datetime) -> None:
    """What happened in the world until ``until``: contents, app opens, reads, and due clicks."""
    from apps.audience.services import subscribers_bulk_upsert
    from apps.contents.services import content_upsert
    from apps.events.services import events_ingest

    world = run.world
    act = world.advance(world.seconds(until))
    for c in act.contents:
        run.content_index[c.external_id] = c.index
        content_upsert(client=run.client, external_id=c.external_id, now=until, data=content_data(c))
    if len(act.opens):
        items = activity_items(world, act)
        for k in range(0, len(items), 10_000):
            subscribers_bulk_upsert(client=run.client, items=items[k:k + 10_000], now=until)
    horizon = world.seconds(until)
    due = []
    while run.future_clicks and run.future_clicks[0][0] <= horizon:
        due.append(heapq.heappop(run.future_clicks))
    events, run.event_seq = world_events(world, act, due, seq=run.event_seq)
    for k in range(0, len(events), 10_000):
        events_ingest(client=run.client, items=events[k:k + 10_000], now=until)


def _dispatcher(provider: SimProvider):
    """The simulation's dispatcher: every waiting push handed to the world at once."""
    from apps.delivery.services import sends_dispatch_batch

    def dispatch(now: datetime) -> None:
        while sends_dispatch_batch(limit=5000, now=now, provider=provider).get("claimed"):
            pass

    return dispatch


def run_strategy(strategy: str, *, subscribers: int, days: float, seed: int, difficulty, step_minutes: int = 10,
                 retrain: bool = True, progress=None, start: datetime | None = None, history: bool = True,
                 ope_check: bool = False, policy: dict | None = None) -> dict:
    """One strategy on its own world for ``days``; ``policy``: client rules set over the
    defaults (``apps.core.services.policy_set`` fields)."""
    from apps.orchestration.sweep import sweep
    from apps.orchestration.training import models_retrain

    extra = {"start": start} if start is not None else {}
    world = World(WorldConfig(n_subscribers=subscribers, seed=seed, difficulty=difficulty, **extra))
    run = StrategyRun(strategy=strategy, world=world, now=world.config.start)
    _setup(run, seed=seed, policy=policy)
    rounds = 0
    if history:
        _history(run)
        if retrain:  # every strategy on the same schedule: at the start and every simulated night
            models_retrain(client=run.client, now=run.now)
            rounds += 1
    ranker_for = run.ranker_for = _ranker_for(strategy, run)
    dispatch = _dispatcher(SimProvider(run))
    truth = TruthScorer(run) if strategy == "oracle_quality" else None
    scorer_for = (lambda client_id: truth) if truth is not None else None
    steps = int(days * 24 * 60 / step_minutes)
    for n in range(1, steps + 1):
        run.now = world.config.start + timedelta(minutes=step_minutes * n)
        _feed(run, run.now)
        sweep(now=run.now, ranker_for=ranker_for, dispatch=dispatch, settle=True, scorer_for=scorer_for)
        _first_wave_reference(run)
        if ope_check:
            _ope_truths(run)
        if retrain and n % int(24 * 60 / step_minutes) == 0:
            models_retrain(client=run.client, now=run.now)
            rounds += 1
        if strategy == "oracle" and n % int(24 * 60 / step_minutes) == 0:
            _true_prices(run)
        if progress and n % 36 == 0:
            progress(strategy, n / steps)
    report = {**measure(run), "retraining_rounds": rounds, "models": _models_report(run),
              "wave1_vs_truth_ranked": first_wave_report(run.first_waves),
              "pool_top_tenth_vs_truth": first_wave_report(run.pool_tops),
              # the same, apart for each order that ranked the pools (a click model, or the order
              # the product used before its first click model)
              "pool_top_tenth_by_ranking": {family: first_wave_report([p for p in run.pool_tops if p[4] == family])
                                            for family in sorted({p[4] for p in run.pool_tops})}}
    if ope_check:
        report["ope_check"] = ope_check_report(run)
    return report


def _true_prices(run: StrategyRun) -> dict:
    """The ``oracle`` strategy's slot prices: the product's own refresh
    (``apps.mlops.slots.slot_prices_refresh``: the contents launched in the last cap window, each
    valued as at its launch) on the true click probabilities, with everyone's current state,
    instead of the click model's. Written over the nightly refresh's prices."""
    from apps.mlops.slots import slot_prices_refresh

    return slot_prices_refresh(client=run.client, now=run.now, probabilities=_true_probabilities(run))


def _true_probabilities(run: StrategyRun):
    """``apps.mlops.slots``' ``probabilities`` from the world: a campaign's true click probability
    for ``people`` (``CandidateRows``) as at its launch, with everyone's current state."""
    mapped: list = [None, None]  # (the people's ids array, their world indices): the same people for every campaign

    def truth(campaign, people):
        c = run.content_index.get(campaign.content.external_id)
        if c is None:
            return None
        if mapped[0] is not people.ids:
            mapped[:] = people.ids, np.array([run.index_of_id[int(i)] for i in people.ids], dtype=np.int64)
        return run.world.true_click_prob(c, mapped[1], at=run.world.seconds(campaign.created_at))

    return truth


def _ranker_for(strategy: str, run: StrategyRun):
    """The audience of a strategy (None: the product's own ``ranker_for``). ``activity`` ranks
    with the client's own MF versions, retrained on the same schedule, by long-horizon activity
    alone (the rule-based ranker before the first version); ``dae`` by ``DAERanker``, ``content``
    by ``ContentRanker``."""
    from apps.mlops.models import ModelKind
    from apps.mlops.ranking import ContentRanker, DAERanker, InterimRanker, ModelRanker, UniformRanker
    from apps.mlops.selectors import active_version

    if strategy == "activity":
        def activity(client):
            version = active_version(client, ModelKind.MF)
            return ModelRanker(version, None, ranking="activity") if version is not None else InterimRanker()
        return activity
    ranker = {"random": UniformRanker(), "oracle": OracleRanker(run, priced=True), "oracle_first_come": OracleRanker(run),
              "dae": DAERanker(), "content": ContentRanker()}.get(strategy)
    return (lambda client: ranker) if ranker is not None else None


def _models_report(run: StrategyRun) -> dict:
    """Per kind: versions trained for this strategy's client, and how many were promoted after the
    first (activations by the trainer of a version other than v1)."""
    from apps.core.models import Decision
    from apps.mlops.models import ModelVersion

    out = {}
    for kind, version in ModelVersion.objects.filter(client=run.client).values_list("kind", "version"):
        out.setdefault(kind, {"versions": 0, "promoted_after_first": 0})["versions"] += 1
    for subject in Decision.objects.filter(client=run.client, action="model_activate", actor_user__isnull=True).values_list(
            "subject", flat=True):
        _, kind, number = subject.split(":")
        if kind in out and number != "v1":
            out[kind]["promoted_after_first"] += 1
    return out


def ope_check_report(run: StrategyRun, *, settle_days: float = 1.0, level: float = 0.9) -> dict:
    """How well the off-policy estimate of each candidate ranker, from the product's logs alone,
    covers that ranker's true improvement on the same waves (waves of the last ``settle_days``
    are left out: their clicks are not all in).

    The estimate is made as ``manage.py ope`` makes it: the candidate re-ranks each wave's kept
    pool now, as of the wave's time (``picks_changed`` counts the waves where that gave other
    people than the ranker chose when the wave was planned: it should be 0). ``explored_clicks``
    is how many clicks of explored sends the estimate rests on, ``explored_clicks_expected`` how
    many the world expected there: with about one, the estimate is right on average but mostly
    below the truth, sometimes far above (see docs/simulator.md)."""
    from apps.mlops.ope import candidate_picks, logged_waves, ranker_named
    from recsys.ope import estimate, wave_interval

    rng = np.random.default_rng(0)
    cutoff = run.now - timedelta(days=settle_days)
    logged = [(w, pool, lw, size) for w, pool, lw, size in logged_waves(client_id=run.client.pk)
              if w.pk in run.ope_truth and w.created_at <= cutoff]
    out = {}
    for name in OPE_RANKERS:
        covered, widths, waves, picks, num, den, changed, explored_expected = 0, [], [], [], 0.0, 0.0, 0, 0.0
        for w, pool, lw, size in logged:
            truth_at_plan = run.ope_truth[w.pk][name]
            pick = candidate_picks(w, pool, ranker_named(name, w), size)
            changed += not np.array_equal(np.sort(pick), np.sort(truth_at_plan.picks))
            truth = truth_at_plan.true_clicks / truth_at_plan.expected if truth_at_plan.expected else float("nan")
            value, lo, hi = wave_interval(lw, pick, rng, level=level, n_boot=400)
            covered += bool(lo <= truth <= hi)
            widths.append(hi - lo)
            waves.append(lw)
            picks.append(pick)
            num, den = num + truth_at_plan.true_clicks, den + truth_at_plan.expected
            explored_expected += truth_at_plan.explored_clicks
        if not waves:
            out[name] = {"waves": 0}
            continue
        est = estimate(waves, picks, rng, level=level, n_boot=1000)
        out[name] = {"waves": len(waves), "coverage": round(covered / len(waves), 3),
                     "median_interval_width": round(float(np.median(widths)), 3),
                     "estimate": round(est.value, 3), "interval": [round(est.lo, 3), round(est.hi, 3)],
                     "truth": round(num / den, 3) if den else None,
                     "explored_clicks": est.explored_clicks, "explored_clicks_expected": round(explored_expected, 2),
                     "explored_share": round(est.explored_share, 3) if np.isfinite(est.explored_share) else None,
                     "picks_changed": changed}
    return out


def measure(run: StrategyRun) -> dict:
    """The numbers of one strategy: from the product's database and the world's truth."""
    from django.db.models import Count

    from apps.campaigns.models import Campaign, Wave
    from apps.delivery.models import Send

    world = run.world
    log = world.push_log()
    campaigns = list(Campaign.objects.filter(client=run.client).select_related("content"))
    expanded = set(Wave.objects.filter(campaign__client=run.client, decision="expand").values_list("campaign_id", flat=True))
    exp_clicks = sum(c.clicks for c in campaigns if c.pk in expanded)
    exp_expected = sum(c.expected_clicks for c in campaigns if c.pk in expanded)
    all_clicks = sum(c.clicks for c in campaigns)
    all_expected = sum(c.expected_clicks for c in campaigns)
    pushes = int(Send.objects.filter(campaign__client=run.client, state="sent").count())
    # True improvement of each campaign's first wave audience, at its send time.
    policy = run.client.policy
    floor, target = policy.floor, policy.target
    below = above = below_exp = above_exp = 0
    truths = []
    for c in campaigns:
        w1 = Wave.objects.filter(campaign=c, number=1).first()
        if w1 is None or c.content.external_id not in run.content_index:
            continue
        ids = list(Send.objects.filter(wave=w1).values_list("subscriber_id", flat=True))
        if not ids:
            continue
        truth = world.true_improvement(run.content_index[c.content.external_id], np.array([run.index_of_id[i] for i in ids]),
                                       at=world.seconds(w1.created_at))
        truths.append(truth)
        if truth < floor:
            below += 1
            below_exp += c.pk in expanded
        elif truth > target:
            above += 1
            above_exp += c.pk in expanded
    # Every expansion: the true improvement, when it was sent, of the audience the decision chose
    # (the window's rest: the new wave's sends that are not probes of the next window).
    expansions = marginal_below = 0
    by_campaign = {c.pk: c for c in campaigns}
    for w in Wave.objects.filter(campaign__client=run.client, decision="expand").order_by("pk"):
        nxt = Wave.objects.filter(campaign_id=w.campaign_id, number=w.number + 1).first()
        content = by_campaign[w.campaign_id].content
        if nxt is None or content.external_id not in run.content_index:
            continue
        ids = list(Send.objects.filter(wave=nxt, state="sent", chosen_by=Send.ChosenBy.RANKED)
                   .values_list("subscriber_id", flat=True))
        if not ids:
            continue
        expansions += 1
        truth = world.true_improvement(run.content_index[content.external_id], np.array([run.index_of_id[i] for i in ids]),
                                       at=world.seconds(nxt.created_at))
        marginal_below += bool(truth < floor)
    inactive_pushes = log.state == STATE_INACTIVE
    back = np.unique(log.subscriber[inactive_pushes & np.isfinite(log.clicked_at)])
    delivered = log.delivered
    truth_improvement = float(np.isfinite(log.clicked_at[delivered]).sum() / log.usual_ctr[delivered].sum()) if delivered.any() else None
    est = np.array(list(Send.objects.filter(campaign__client=run.client, state="sent").values_list("baseline_ctr", flat=True)))
    # Per content: each campaign's own improvement, and how much of the pushing one content took.
    own = [c.clicks / c.expected_clicks for c in campaigns if c.expected_clicks > 0]
    top = (Send.objects.filter(campaign__client=run.client, state="sent").values("campaign_id")
           .annotate(n=Count("id")).order_by("-n").values_list("n", flat=True).first()) or 0
    rankers = dict(Wave.objects.filter(campaign__client=run.client).values("ranker").annotate(n=Count("id"))
                   .values_list("ranker", "n"))
    # how the delivered pushes were chosen (ranked: an expansion's audience, probed, explored at
    # random), and the ranked people whose slot's price a wave passed over
    by_choice = dict(Send.objects.filter(campaign__client=run.client, state="sent").values("chosen_by")
                     .annotate(n=Count("id")).values_list("chosen_by", "n"))
    held_back = sum(int((n or {}).get("held_back_by_price", 0))
                    for n in Wave.objects.filter(campaign__client=run.client).values_list("plan_numbers", flat=True))
    return {
        "campaigns": len(campaigns), "expanded_campaigns": len(expanded), "pushes": pushes,
        "pushes_by_choice": by_choice, "held_back_by_price": held_back,
        "rankers": rankers,  # waves per ranker name
        "wave1_true_improvement_mean": round(float(np.mean(truths)), 3) if truths else None,
        # Against the world's true usual CTRs instead of the product's estimates, and how far
        # the estimates are from the truth (1.0 = unbiased).
        "click_improvement_vs_true_ctr": round(truth_improvement, 3) if truth_improvement is not None else None,
        "click_improvement_true_ctr": round(truth_improvement, 3) if truth_improvement is not None else None,
        "baseline_estimate_over_truth": round(float(est.sum() / log.usual_ctr[delivered].sum()), 3) if delivered.any() and len(est) else None,
        "click_improvement": round(exp_clicks / exp_expected, 3) if exp_expected else None,
        "click_improvement_all": round(all_clicks / all_expected, 3) if all_expected else None,
        "clicks_per_1000": round(1000 * all_clicks / pushes, 2) if pushes else None,
        "inactive_back_per_1000": round(1000 * len(back) / pushes, 2) if pushes else None,
        "wau": wau_lift(world, world.seconds(run.now)),
        **expected_outcomes(log),
        "ramp": {"below_floor": below, "expanded_below_floor": below_exp, "above_target": above, "expanded_above_target": above_exp,
                 "expanded_share_below_floor": round(below_exp / below, 4) if below else None,
                 "expanded_share_above_target": round(above_exp / above, 4) if above else None,
                 "expansions": expansions, "marginal_below_floor": marginal_below,
                 "marginal_below_floor_share": round(marginal_below / expansions, 4) if expansions else None},
        "per_content": {"contents": len(own), "median_improvement": round(float(np.median(own)), 3) if own else None,
                        "top_content_push_share": round(top / pushes, 4) if pushes else None},
        "push_score_vs_quality": push_score_vs_quality(run),
        "slot_values_vs_truth": slot_values_vs_truth(run),
    }


def slot_values_vs_truth(run: StrategyRun) -> dict | None:
    """What the product's slot values know at the run's end: the matrix its prices are set from
    (``apps.mlops.slots.slot_values``: every pushable person x the contents launched in the last
    cap window, valued as at their launch by the active models) against the world's true click
    probabilities of the same pairs at the same times
    (``recsys.simulate.reference.values_against_truth``). Only for the product's own ranker with
    the clicks objective (the values are probabilities there); None otherwise or without a click
    model."""
    from apps.core.selectors import policy_of
    from apps.mlops.slots import slot_values
    from recsys.simulate.reference import values_against_truth

    if run.ranker_for is not None or policy_of(run.client.pk).slot_objective != "clicks":
        return None
    got = slot_values(client=run.client, now=run.now)
    if got is None:
        return None
    # the same people and contents valued by the truth, through the same function
    ids, values, names = got
    _, truth, true_names = slot_values(client=run.client, now=run.now, probabilities=_true_probabilities(run))
    column = {name: j for j, name in enumerate(true_names)}
    both = [j for j, name in enumerate(names) if name in column]
    if len(both) < 2:
        return None
    return values_against_truth(values[:, both], truth[:, [column[names[j]] for j in both]], rng=np.random.default_rng(0))


def push_score_vs_quality(run: StrategyRun) -> dict:
    """How much the product's push-worthiness scores know of the contents' true quality (the
    factor every push click probability of a content carries): Spearman's rank correlation over
    the evaluated contents, all and those scored by a trained model (the others have the
    rule-based score), and the same for the early reads alone and their share of the site's
    reads, the score's main inputs. The slot's price can only tell a strong content from a weak
    one for a person as well as this."""
    from apps.contents.models import Content
    from recsys.metrics import spearman

    rows = [(run.content_index[ext], score, reads, share, version) for ext, score, reads, share, version in
            Content.objects.filter(client=run.client, push_score__isnull=False)
            .values_list("external_id", "push_score", "early_reads", "early_read_share", "score_model_version")
            if ext in run.content_index]

    def rho(pairs) -> float | None:
        r = spearman(*map(np.array, zip(*pairs))) if len(pairs) >= 3 else float("nan")
        return round(r, 3) if np.isfinite(r) else None

    out = {}
    for name, keep in (("all", lambda v: True), ("by_model", lambda v: v is not None)):
        got = [(run.world.content_quality(c), s, n, f) for c, s, n, f, v in rows if keep(v)]
        # beside the score, its own inputs alone: the early reads it was computed from, and their
        # share of the site's reads over the same window
        out[name] = {"contents": len(got), "spearman": rho([(q, s) for q, s, _, _ in got]),
                     "early_reads_spearman": rho([(q, n) for q, _, n, _ in got]),
                     "early_read_share_spearman": rho([(q, f) for q, _, _, f in got if f is not None])}
    return out


def wau_lift(world: World, now_s: float) -> dict:
    """Weekly actives in the last (running) week among the pushable people against the holdout's,
    with a normal 95% interval of the difference."""
    last_week = max(int(math.ceil(now_s / (7 * 86400))) - 1, 0)
    active = world.weekly_active(last_week)
    hold = world.subscribers.holdout
    treated = ~hold & world.subscribers.push_opt_in
    p1, n1, p0, n0 = active[treated].mean(), treated.sum(), active[hold].mean(), max(hold.sum(), 1)
    se = math.sqrt(p1 * (1 - p1) / max(n1, 1) + p0 * (1 - p0) / n0)
    return {"week": last_week, "treated": round(float(p1), 4), "holdout": round(float(p0), 4),
            "lift": round(float(p1 - p0), 4), "ci95": [round(float(p1 - p0 - 1.96 * se), 4), round(float(p1 - p0 + 1.96 * se), 4)]}


def expected_outcomes(log) -> dict:
    """What a strategy's pushes were worth by the truth at send time (the world's click
    probability of each delivered push, not the clicks drawn): ``expected_clicks``, and
    ``expected_reactivations``, the same over the pushes to people inactive when sent; over the
    whole run and from day ``STEADY_DAYS`` on (``_steady``)."""
    delivered = log.delivered
    inactive = delivered & (log.state == STATE_INACTIVE)
    steady = log.sent_at >= STEADY_DAYS * 86400.0
    return {"expected_clicks": round(float(log.p[delivered].sum()), 2),
            "expected_reactivations": round(float(log.p[inactive].sum()), 2),
            "expected_clicks_steady": round(float(log.p[delivered & steady].sum()), 2),
            "expected_reactivations_steady": round(float(log.p[inactive & steady].sum()), 2)}


def run_direct(strategy: str, *, subscribers: int, days: float, seed: int, difficulty, start: datetime | None = None,
               quiet_hours: tuple[int, int] | None = QUIET_HOURS) -> dict:
    """A yardstick pushed straight into its own copy of the world (no product): ``hindsight``
    (``recsys.simulate.reference.run_hindsight``, once per objective: its report is the
    clicks-objective run's, with the reactivations-objective run's outcomes beside) or
    ``universal`` (``run_universal``). Both keep the product's default quiet hours (a push due
    inside someone's quiet hours reaches them when they end), as the product must;
    ``quiet_hours=None``: any hour."""
    from recsys.simulate.reference import run_hindsight, run_universal

    extra = {"start": start} if start is not None else {}

    def world():
        return World(WorldConfig(n_subscribers=subscribers, seed=seed, difficulty=difficulty, **extra))

    until = days * 86400.0
    if strategy == "hindsight":
        w = world()
        log = run_hindsight(w, until=until, push_delay_s=PUSH_DELAY_S, quiet_hours=quiet_hours)
        other = run_hindsight(world(), until=until, objective="reactivations", push_delay_s=PUSH_DELAY_S,
                              quiet_hours=quiet_hours)
        extra_out = {"reactivations_objective": expected_outcomes(other)}
    elif strategy == "universal":
        w = world()
        log, chosen = run_universal(w, until=until, push_delay_s=PUSH_DELAY_S, quiet_hours=quiet_hours)
        extra_out = {"broadcasts": chosen}
    else:
        raise ValueError(f"strategy: {strategy!r} is not pushed directly")
    delivered = log.delivered
    clicks = np.isfinite(log.clicked_at[delivered])
    return {"pushes": int(delivered.sum()), "contents": int(len(np.unique(log.content[delivered]))),
            "click_improvement_true_ctr": round(float(clicks.sum() / log.usual_ctr[delivered].sum()), 3) if delivered.any() else None,
            "wau": wau_lift(w, until), **expected_outcomes(log), **extra_out}


def _hindsight_shares(strategies: dict, hindsight: dict, *, name: str = "share_of_hindsight") -> None:
    """Add to each strategy's report its share of the hindsight optimum's expected clicks and
    reactivations (``name``), over the run and from day ``STEADY_DAYS`` on (``name`` + "_steady").
    Each denominator is the better of the two hindsight runs on that number (each optimizes one
    objective with the week-start states: the clicks run can get a little more reactivations)."""
    other = hindsight["reactivations_objective"]

    def best(key):
        return max(hindsight[key], other[key])

    for report in strategies.values():
        for suffix, out_name in (("", name), ("_steady", name + "_steady")):
            out = {}
            for objective, key in (("clicks", "expected_clicks"), ("reactivations", "expected_reactivations")):
                ref = best(key + suffix)
                out[objective] = round(report[key + suffix] / ref, 4) if ref > 0 else None
            report[out_name] = out


def simulate(*, subscribers: int, days: float, seed: int = 0, seeds=None, difficulty="default", strategies=STRATEGIES,
             keep: bool = False, retrain: bool = True, progress=None, start: datetime | None = None,
             ope_check: bool = False) -> dict:
    """Run each strategy on its own copy of the world, for each seed; the database is left as it
    was unless ``keep``. ``start``: when simulated time begins (default: the world's own start; to
    fill a database for the dashboards, start ``days`` before now so the data ends today).

    With several ``seeds``, the report's numbers are the means over the seeds, and ``seeds`` holds
    each seed's own report and each number's spread (sd, min, max)."""
    started = time.perf_counter()
    seeds = list(seeds) if seeds else [seed]
    runs = {}
    for one in seeds:
        runs[one] = _simulate_one(subscribers=subscribers, days=days, seed=one, difficulty=difficulty,
                                  strategies=strategies, keep=keep, retrain=retrain, progress=progress, start=start,
                                  ope_check=ope_check)
    out = _mean([runs[one] for one in seeds])
    out["settings"] = {"subscribers": subscribers, "days": days, "seed": seeds[0], "difficulty": difficulty}
    out["seeds"] = {"seeds": seeds, "runs": {str(one): runs[one] for one in seeds},
                    "spread": _spread([runs[one]["strategies"] for one in seeds])}
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _mean(reports: list):
    """The same structure with every number averaged (None if any report lacks it)."""
    first = reports[0]
    if isinstance(first, dict):
        return {k: _mean([r.get(k) if isinstance(r, dict) else None for r in reports]) for k in first}
    if isinstance(first, list):
        return [_mean([r[i] if isinstance(r, list) and len(r) > i else None for r in reports]) for i in range(len(first))]
    if len(reports) == 1 or isinstance(first, bool) or not isinstance(first, (int, float)):
        return first
    if any(not isinstance(r, (int, float)) for r in reports):
        return None
    return sum(reports) / len(reports)


def _spread(strategies: list[dict]) -> dict:
    """For each strategy's top-level numbers: sd (n - 1), min and max over the seeds."""
    out: dict = {}
    for name in strategies[0]:
        for key, value in strategies[0][name].items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            values = [s[name].get(key) for s in strategies]
            if any(v is None for v in values):
                continue
            arr = np.array(values, dtype=float)
            out.setdefault(name, {})[key] = {"sd": round(float(arr.std(ddof=1)), 4) if len(arr) > 1 else 0.0,
                                             "min": round(float(arr.min()), 4), "max": round(float(arr.max()), 4)}
    return out


def _simulate_one(*, subscribers: int, days: float, seed: int, difficulty, strategies, keep: bool, retrain: bool,
                  progress, start: datetime | None, ope_check: bool = False) -> dict:
    out = {"settings": {"subscribers": subscribers, "days": days, "seed": seed, "difficulty": difficulty}, "strategies": {}}
    # the yardstick every strategy's share is measured against (cheap: no product in it)
    hindsight = run_direct("hindsight", subscribers=subscribers, days=days, seed=seed, difficulty=difficulty, start=start)
    for strategy in strategies:
        if strategy in DIRECT_STRATEGIES:
            out["strategies"][strategy] = hindsight if strategy == "hindsight" else run_direct(
                strategy, subscribers=subscribers, days=days, seed=seed, difficulty=difficulty, start=start)
            continue
        with transaction.atomic():
            out["strategies"][strategy] = run_strategy(strategy, subscribers=subscribers, days=days, seed=seed,
                                                       difficulty=difficulty, retrain=retrain, progress=progress,
                                                       start=start, ope_check=ope_check)
            if not keep:
                transaction.set_rollback(True)
    _hindsight_shares(out["strategies"], hindsight)
    # the same against the optimum that may push at any hour (the yardstick before 5 December)
    any_hour = run_direct("hindsight", subscribers=subscribers, days=days, seed=seed, difficulty=difficulty, start=start,
                          quiet_hours=None)
    _hindsight_shares(out["strategies"], any_hour, name="share_of_hindsight_any_hour")
    ramp = {"below_floor": 0, "expanded_below_floor": 0, "above_target": 0, "expanded_above_target": 0,
            "expansions": 0, "marginal_below_floor": 0}
    ramped = {name: s for name, s in out["strategies"].items() if "ramp" in s}  # the yardsticks have no ramp
    for s in ramped.values():
        for k in ramp:
            ramp[k] += s["ramp"][k]
    out["ramp"] = {
        "contents_below_floor": ramp["below_floor"], "contents_above_target": ramp["above_target"],
        "expanded_share_below_floor": round(ramp["expanded_below_floor"] / ramp["below_floor"], 4) if ramp["below_floor"] else None,
        "expanded_share_above_target": round(ramp["expanded_above_target"] / ramp["above_target"], 4) if ramp["above_target"] else None,
        # of all expansions, those whose audience (the new wave's sends the decision chose) was
        # truly below the floor when it was sent
        "expansions": ramp["expansions"], "marginal_below_floor": ramp["marginal_below_floor"],
        "marginal_below_floor_share": round(ramp["marginal_below_floor"] / ramp["expansions"], 4) if ramp["expansions"] else None,
        "per_strategy": {name: {key: s["ramp"][key] for key in ("expanded_share_below_floor", "expanded_share_above_target",
                                                                "expansions", "marginal_below_floor_share")}
                         for name, s in ramped.items()},
    }
    product = out["strategies"].get("product", {})
    out["holdout"] = {"wau_lift": product.get("wau", {}).get("lift"), "ci95": product.get("wau", {}).get("ci95")}
    return out
