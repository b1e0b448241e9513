"""Reference strategies run directly against the world (no product): random and oracle
first-come, the hindsight optimum of the weekly slots, and the universal broadcast.

They bound what the product can do: ``random`` is the floor (click improvement about 1),
``oracle`` the ceiling (it knows every true click probability). Both respect the product's rules
that matter for the comparison: opted-in only, never the holdout, one content push per person
per 7 days, one wave per content sent ``push_delay_s`` after the content is created.

    log = run_reference(world, "oracle", until=7 * DAY, audience_size=500)
    summarize(log)

``run_hindsight`` and ``run_universal`` know the week ahead (``World.upcoming``): they are
yardsticks, not strategies anyone could run. ``values_against_truth`` measures a matrix of slot
values (people x contents) against the true click probabilities of the same pairs.

Pure library: numpy only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np

from recsys.quiet import in_quiet_hours
from recsys.simulate.calibration import INACTIVE
from recsys.simulate.world import DAY, PushLog, World

__all__ = ["OBJECTIVES", "RANKING_CEILINGS", "Strategy", "oracle", "random", "ranking_ceilings", "read_signal", "run_hindsight", "run_priced",
           "run_reference", "run_universal", "send_times", "values_against_truth"]

OBJECTIVES = ("clicks", "reactivations")

Strategy = Callable[[World, int, np.ndarray, int, np.random.Generator], np.ndarray]


def random(world: World, content: int, eligible: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    k = min(k, len(eligible))
    return rng.choice(eligible, size=k, replace=False) if k else eligible[:0]


def oracle(world: World, content: int, eligible: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    return world.oracle_rank(content, eligible, k)


STRATEGIES: dict[str, Strategy] = {"random": random, "oracle": oracle}


def run_reference(world: World, strategy: str | Strategy, *, until: float, audience_size: int = 500,
                  push_delay_s: float = 600.0, cap_s: float = 7 * DAY, seed: int = 0,
                  select: Callable[[World, int], bool] | None = None) -> PushLog:
    """Advance ``world`` to ``until``, pushing each new content (for which ``select`` says yes)
    once to ``audience_size`` eligible subscribers chosen by ``strategy``. Returns the pushes
    made by this run (the world's log may hold others)."""
    strat = STRATEGIES[strategy] if isinstance(strategy, str) else strategy
    rng = np.random.default_rng(seed)
    s = world.subscribers
    pushable = s.push_opt_in & ~s.holdout
    last_push = np.full(world.n, -np.inf)
    first_log = len(world.push_log())
    for due, c in _launches(world, until, push_delay_s, select):
        eligible = np.flatnonzero(pushable & (last_push <= due - cap_s))
        chosen = np.asarray(strat(world, c, eligible, audience_size, rng), np.int64)
        if len(chosen):
            world.push(c, chosen, due)
            last_push[chosen] = due
    log = world.push_log()
    return log.select(np.arange(len(log)) >= first_log)


def _launches(world: World, until: float, push_delay_s: float, select=None):
    """(time, content) of each new content (those ``select`` says yes to) ``push_delay_s`` after it
    is created, in time order, the world advanced to that time; the world is at ``until`` at the end."""
    queue: list[tuple[float, int]] = []
    while True:
        next_due = queue[0][0] if queue else np.inf
        next_hour = (np.floor(world.now / 3600.0) + 1) * 3600.0
        act = world.advance(min(until, next_hour, max(next_due, world.now)))
        for spec in act.contents:
            if select is None or select(world, spec.index):
                queue.append((spec.created_at + push_delay_s, spec.index))
        queue.sort()
        while queue and queue[0][0] <= world.now:
            yield queue.pop(0)
        if world.now >= until:
            return


def _pushable(world: World) -> np.ndarray:
    s = world.subscribers
    return np.flatnonzero(s.push_opt_in & ~s.holdout)


def _weeks(world: World, until: float, week_s: float):
    """(start, end, contents created in it) of each planning week from now to ``until``."""
    start = world.now
    while start < until:
        end = min(start + week_s, until)
        yield start, end, list(world.upcoming(end, since=start))
        start = end


@lru_cache(maxsize=4096)
def _first_allowed(epoch: float, at: float, zone: str, start: int, end: int) -> float:
    local = datetime.fromtimestamp(epoch + at, timezone.utc).astimezone(ZoneInfo(zone))
    if not in_quiet_hours(local.hour, start, end):
        return at
    nxt = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if nxt <= local:
        nxt += timedelta(days=1)
    return nxt.timestamp() - epoch


def send_times(world: World, at: float, people: np.ndarray, quiet_hours: tuple[int, int] | None) -> np.ndarray:
    """When a push meant for ``at`` (world seconds) can reach each of ``people``: ``at``, or the
    end of their local quiet hours ``(start, end)`` when ``at`` falls inside them (the product's
    rule, per time zone). ``quiet_hours`` None: ``at`` for everyone."""
    out = np.full(len(people), float(at))
    if quiet_hours is None or quiet_hours[0] == quiet_hours[1] or not len(people):
        return out
    epoch = world.config.start.timestamp()
    zones = world.subscribers.timezone[people]
    for zone in np.unique(zones):
        out[zones == zone] = _first_allowed(epoch, float(at), str(zone), int(quiet_hours[0]), int(quiet_hours[1]))
    return out


def _by_time(at: np.ndarray, content: int, people: np.ndarray) -> list[tuple[float, int, np.ndarray]]:
    """``_send_plan`` entries for one content sent to ``people`` at their own times ``at``."""
    return [(float(t), content, people[at == t]) for t in np.unique(at)]


def _send_plan(world: World, plan: list[tuple[float, int, np.ndarray]], last_push: np.ndarray) -> None:
    """Push each (time, content, people) in time order, advancing the world to each time."""
    for at, c, people in sorted(plan, key=lambda x: (x[0], x[1])):
        if len(people):
            world.advance(max(at, world.now))
            world.push(c, people, at)
            last_push[people] = at


def run_hindsight(world: World, *, until: float, objective: str = "clicks", push_delay_s: float = 1800.0,
                  cap_s: float = 7 * DAY, week_s: float = 7 * DAY,
                  quiet_hours: tuple[int, int] | None = None) -> PushLog:
    """The hindsight optimum of the weekly slot: at the start of each week, knowing every content
    the week will bring and the truth, each pushable person gets the one content of the week
    whose push is worth most to the objective ("clicks": the true click probability;
    "reactivations": the same for people inactive at the week's start, nothing for the others),
    sent ``push_delay_s`` after it is created (or, with ``quiet_hours`` (start, end), when the
    person's local quiet hours end, if it falls inside them: the product's rule, so that the
    optimum is one the product could reach), if that is at least ``cap_s`` after their last push.

    With one push per person per ``cap_s`` and no limit per content, the week's assignment that
    maximizes the objective is each person's best content: exact for the week. Two
    approximations, both in its favour or neutral: the values use everyone's state at the week's
    start (states move with clicks and weekly transitions), and weeks are planned one at a
    time (a push late in one week can block the start of the next: the rolling cap is kept, the
    plan across weeks is not jointly optimal). Returns the pushes made by this run."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}")
    people = _pushable(world)
    last_push = np.full(world.n, -np.inf)
    first_log = len(world.push_log())
    for _, end, specs in _weeks(world, until, week_s):
        if specs and len(people):
            send = np.column_stack([send_times(world, c.created_at + push_delay_s, people, quiet_hours) for c in specs])
            value = np.empty((len(people), len(specs)), np.float32)
            for j, spec in enumerate(specs):
                value[:, j] = world.click_prob_ahead(spec.index, people, send[:, j])
            if objective == "reactivations":
                value[world.activity_state()[people] != INACTIVE] = 0.0
            value[send < last_push[people][:, None] + cap_s] = -1.0   # the rolling cap
            best = value.argmax(axis=1)
            worth = value[np.arange(len(people)), best] > 0
            plan = []
            for j in range(len(specs)):
                mine = worth & (best == j)
                plan += _by_time(send[mine, j], specs[j].index, people[mine])
            _send_plan(world, plan, last_push)
        world.advance(max(end, world.now))
    log = world.push_log()
    return log.select(np.arange(len(log)) >= first_log)


def run_universal(world: World, *, until: float, push_delay_s: float = 1800.0, cap_s: float = 7 * DAY,
                  week_s: float = 7 * DAY, quiet_hours: tuple[int, int] | None = None) -> tuple[PushLog, list[dict]]:
    """The broadcast yardstick: once a week, the week's content that everybody likes most (the
    highest mean true click probability over every pushable person, knowing the week ahead) is
    sent to every eligible person ``push_delay_s`` after it is created (with ``quiet_hours``: when
    their local quiet hours end, as ``run_hindsight``); nothing else is pushed.
    Returns the pushes and, per week, the content chosen with its quality's percentile among
    the week's contents."""
    people = _pushable(world)
    last_push = np.full(world.n, -np.inf)
    first_log = len(world.push_log())
    chosen = []
    for _, end, specs in _weeks(world, until, week_s):
        if specs and len(people):
            send = [send_times(world, c.created_at + push_delay_s, people, quiet_hours) for c in specs]
            liked = np.array([world.click_prob_ahead(c.index, people, at).mean() for c, at in zip(specs, send)])
            j = int(np.argmax(liked))
            quality = np.array([c.quality for c in specs])
            chosen.append({"content": specs[j].external_id, "mean_click_prob": float(liked[j]),
                           "quality_percentile": float((quality < quality[j]).mean() * 100)})
            free = last_push[people] <= send[j] - cap_s
            _send_plan(world, _by_time(send[j][free], specs[j].index, people[free]), last_push)
        world.advance(max(end, world.now))
    log = world.push_log()
    return log.select(np.arange(len(log)) >= first_log), chosen


def run_priced(world: World, *, until: float, objective: str = "clicks", push_delay_s: float = 1800.0,
               cap_s: float = 7 * DAY, price_every_s: float = DAY, value_noise_sd: float = 0.0,
               seed: int = 0) -> tuple[PushLog, dict]:
    """The weekly slot's price fed the truth: each content, ``push_delay_s`` after it is created,
    goes to every pushable person whose slot is free and for whom its true value
    (``recsys.slots.pair_values`` of the true click probability) is at least their price; prices
    are refreshed every ``price_every_s`` from the values of the contents of the last ``cap_s``
    (``recsys.slots.renewal_prices``). Knows nothing of the future: the truth of contents already
    out only. ``value_noise_sd`` > 0: each (person, content) value it decides on is the truth times
    an independent log-normal error of that sd (mean 1), an estimate of that quality in place of
    the truth. Returns the pushes and how many pushes the prices held back."""
    from collections import deque

    from recsys.slots import pair_values, renewal_prices

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}")
    people = _pushable(world)
    last_push = np.full(world.n, -np.inf)
    first_log = len(world.push_log())
    recent: deque = deque()  # (time, values over people)
    prices = np.zeros(len(people))
    next_price = world.now
    held = 0
    rng = np.random.default_rng(seed)
    for due, c in _launches(world, until, push_delay_s):
        if due >= next_price:
            while recent and recent[0][0] < due - cap_s:
                recent.popleft()
            if recent:
                prices = renewal_prices(np.column_stack([v for _, v in recent]))
            next_price = due + price_every_s
        inactive = world.activity_state()[people] == INACTIVE
        value = pair_values(world.true_click_prob(c, people, at=due), inactive=inactive, objective=objective)
        if value_noise_sd > 0:
            value = value * np.exp(value_noise_sd * rng.standard_normal(len(value)) - 0.5 * value_noise_sd ** 2)
        recent.append((due, value))
        free = last_push[people] <= due - cap_s
        worth = (value > 0) & (value >= prices)
        held += int((free & (value > 0) & ~worth).sum())
        chosen = people[free & worth]
        if len(chosen):
            world.push(c, chosen, due)
            last_push[chosen] = due
    log = world.push_log()
    return log.select(np.arange(len(log)) >= first_log), {"held_back": held}


RANKING_CEILINGS = ("truth", "taste", "history_posterior", "category_history", "random")


def ranking_ceilings(world: World, *, pool_size: int = 1000, top_share: float = 0.1, weeks: int = 3,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What a first wave's ranking can attain, on every content published so far, as the
    simulator's ``pool_top_tenth_vs_truth`` judges rankers: from a random pool of ``pool_size``
    pushable people at the content's creation, the true improvement of the top ``top_share``
    by ``truth`` (the world's click probability over the usual CTR: the reference, 1 by
    definition), ``taste`` (the part taste explains, ``World.taste_affinity``: a ranker that
    knew everyone's taste exactly but not their interest in this one story),
    ``history_posterior`` (the best any ranker can make of those reads: each person's posterior
    mean taste given their history under the world's own reading model, the prior being the
    tastes of everyone of their language, applied to the content's true topic mix; it knows the
    world's model and the content's mix, which no product does, so it bounds what the history
    allows from above), ``category_history`` (each person's share of history reads in the
    content's category, Dirichlet-smoothed toward everyone's: what the reads a product holds
    before its first push say about taste) and ``random`` (the pool's own). Returns one array per
    name, one value per content. Pools are drawn from everyone pushable, not from the eligible
    people of a wave."""
    if not 0 < top_share <= 1:
        raise ValueError("top_share must be in (0, 1]")
    who, topic, _ = world.history_reads(np.random.default_rng([world.config.seed, 7919]), weeks=weeks)
    n_topics = len(world.vocab.topics)
    counts = np.zeros((world.n, n_topics))
    np.add.at(counts, (who, topic), 1.0)
    share = counts.sum(axis=0) / max(counts.sum(), 1.0)
    strength = float(n_topics)  # pseudo-reads spread as everyone's reads are
    smoothed = (counts + strength * share) / (counts.sum(axis=1, keepdims=True) + strength)
    column = {t.name: t.index for t in world.vocab.topics}
    posterior = _history_posterior(world, counts)
    pushable = _pushable(world)
    out = {name: [] for name in RANKING_CEILINGS}
    for spec in world.contents:
        pool = rng.choice(pushable, size=min(pool_size, len(pushable)), replace=False)
        k = max(1, int(np.ceil(top_share * len(pool))))
        at = spec.created_at
        tie = rng.random(len(pool))  # ties broken at random, not by position
        picks = {"truth": world.oracle_rank(spec.index, pool, k, at=at),
                 "taste": pool[np.lexsort((tie, -world.taste_affinity(spec.index, pool)))[:k]],
                 "history_posterior": pool[np.lexsort((tie, -(posterior[pool] @ np.asarray(spec.topic_mix))))[:k]],
                 "category_history": pool[np.lexsort((tie, -smoothed[pool, column[spec.category]]))[:k]]}
        for name, top in picks.items():
            out[name].append(world.true_improvement(spec.index, top, at=at))
        out["random"].append(world.true_improvement(spec.index, pool, at=at))
    return {name: np.asarray(v, float) for name, v in out.items()}


def _history_posterior(world: World, counts: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """Each person's posterior mean taste given their history reads per topic (``counts``),
    under the reading model ``World.history_reads`` draws from (a read's topic in proportion to
    ``(1 - w) / k + w x taste``), the prior being the empirical one: the tastes of everyone of the
    person's language (importance weights by each one's likelihood of the counts)."""
    subs = world.subscribers
    w, k = world.params.cal.taste_weight, counts.shape[1]
    taste = np.asarray(subs.taste, float)
    log_q = np.log((1 - w) / k + w * taste).astype(np.float32)
    out = np.zeros_like(taste)
    language = np.asarray(subs.language)
    for lang in np.unique(language):
        mine = np.flatnonzero(language == lang)
        for lo in range(0, len(mine), chunk):
            rows = mine[lo:lo + chunk]
            ll = counts[rows].astype(np.float32) @ log_q[mine].T
            p = np.exp(ll - ll.max(axis=1, keepdims=True))
            out[rows] = (p / p.sum(axis=1, keepdims=True)) @ taste[mine]
    return out


def read_signal(world: World, *, until: float, windows_s=(1800.0, 3600.0, 7200.0, 4 * 3600.0, 86400.0),
                fresh_s: float = 72 * 3600.0, typical_s: float = 7 * DAY, warmup_s: float = 7 * DAY) -> dict:
    """How much a content's organic reads say of its true quality, by how long they are watched:
    for each window after creation, Spearman's correlation of the content's share of the reads of
    fresh contents (created up to ``fresh_s`` before it) over that window, divided by the median
    share of the contents of the ``typical_s`` before it (as ``apps.mlops.features`` computes the
    push-worthiness score's read share), with the true quality; beside them the same for the
    content's organic pull (the quantity reads sample, quality x noise: the ceiling of any
    count of reads). No pushes are sent (``world`` must be fresh; it is advanced to ``until``);
    contents of the first ``warmup_s`` and those whose longest window passes ``until`` are left
    out, so every window is measured on the same contents."""
    from recsys.metrics import spearman

    act = world.advance(until)
    contents = act.contents
    created = np.array([c.created_at for c in contents])
    quality = np.array([c.quality for c in contents])
    order = np.argsort(act.reads.time, kind="stable")
    read_c, read_t = act.reads.content[order], act.reads.time[order]
    longest = max(windows_s)
    keep = np.flatnonzero((created >= warmup_s - typical_s) & (created + longest <= until))
    measured = keep[created[keep] >= warmup_s]
    out = {"contents": 0, "pull": None, "windows": {}}
    if len(measured) < 10:
        return out
    # each measured content's typical: the contents of the week before it (the same for every window)
    before = [keep[(created[keep] < created[i]) & (created[keep] >= created[i] - typical_s)] for i in measured]
    for window in windows_s:
        share = np.full(len(contents), np.nan)
        for i in keep:
            lo, hi = np.searchsorted(read_t, [created[i], created[i] + window])
            seen = read_c[lo:hi]
            site = int(np.count_nonzero((created[seen] >= created[i] - fresh_s) & (created[seen] <= created[i] + window)))
            share[i] = np.count_nonzero(seen == i) / site if site else np.nan
        typical = np.array([np.nanmedian(share[b]) if np.isfinite(share[b]).any() else np.nan for b in before])
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.where(typical > 0, share[measured] / typical, np.nan)
        ok = np.isfinite(relative)
        rho = spearman(relative[ok], quality[measured][ok]) if ok.sum() >= 10 else np.nan
        out["windows"][f"{int(window // 60)}min"] = round(float(rho), 3) if np.isfinite(rho) else None
    out["contents"] = int(len(measured))
    out["pull"] = round(float(spearman(np.array([contents[i].pull for i in measured]), quality[measured])), 3)
    return out


def values_against_truth(values: np.ndarray, truth: np.ndarray, *, rng: np.random.Generator, people: int = 3000,
                         floor: float = 1e-3) -> dict:
    """What a matrix of slot values (people x contents, contents in launch order) knows of the
    true click probabilities of the same pairs: the median over ``people`` sampled rows of each
    person's Spearman correlation across contents; the correlation of the double-centred log
    values (floored at ``floor``) with the truth's, for the content part (each content's mean)
    and the person-specific rest; and an offline proxy of the allocation, each person taking the
    first content whose value is at least their renewal price on the same values, as a share of
    the truth summed over each person's best (beside it the same for the truth itself, the first
    content, and a random one); ``next_half``, the same with the price set on the older half of
    the contents and the newer half allocated (as a nightly price meets the next contents: an
    in-sample price knows the week's best and flatters values that separate it). The proxy
    offers every content to everyone: it says how well the values order a person's contents, not
    what the engine attains."""
    from recsys.metrics import spearman
    from recsys.slots import renewal_prices

    v, t = np.asarray(values, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if v.shape != t.shape or v.ndim != 2 or v.shape[1] < 2 or not len(v):
        raise ValueError(f"values and truth: the same people x contents shape, at least 2 contents; got {v.shape}, {t.shape}")
    rows = rng.choice(len(v), size=min(people, len(v)), replace=False)
    within = [spearman(v[r], t[r]) for r in rows]
    within = [x for x in within if np.isfinite(x)]

    def centred(m):
        lg = np.log(np.maximum(m, floor))
        lg -= lg.mean(axis=1, keepdims=True)
        part = lg.mean(axis=0)
        return part, lg - part

    (vc, vp), (tc, tp) = centred(v), centred(t)

    def share(found, truth):  # what each person got, over the sum of each person's best
        return round(float(found.sum() / truth.max(axis=1).sum()), 4)

    def first_over_price(m, price, truth):
        ok = m >= price[:, None]
        first = np.argmax(ok, axis=1)
        return share(np.where(ok.any(axis=1), truth[np.arange(len(truth)), first], 0.0), truth)

    def corr(a, b):
        return round(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]), 4) if a.std() > 0 and b.std() > 0 else None

    old, new = slice(0, v.shape[1] // 2), slice(v.shape[1] // 2, None)  # out of sample: priced on the older half
    return {"people": int(len(v)), "contents": int(v.shape[1]),
            "within_person_spearman": round(float(np.median(within)), 4) if within else None,
            "content_part_corr": corr(vc, tc), "person_part_corr": corr(vp, tp),
            "value_over_truth": round(float(v.sum() / t.sum()), 4) if t.sum() > 0 else None,
            "first_over_price_share": first_over_price(v, renewal_prices(v), t),
            "first_over_price_share_truth": first_over_price(t, renewal_prices(t), t),
            "first_content_share": share(t[:, 0], t),
            "random_content_share": share(t.mean(axis=1), t),
            "next_half": {"first_over_price_share": first_over_price(v[:, new], renewal_prices(v[:, old]), t[:, new]),
                          "first_over_price_share_truth": first_over_price(t[:, new], renewal_prices(t[:, old]), t[:, new]),
                          "random_content_share": share(t[:, new].mean(axis=1), t[:, new])}}
