"""Tests for recsys.simulate: the world is deterministic, its text carries its topics, its
truth behaves (random ~ 1, oracle well above the target, lower on hard), delays are heavy-tailed
as configured, inactive people click less, clicks bring people back, and it is fast.

Run without Django:
    python -m pytest -p no:django --confcutdir=tests/recsys tests/recsys/test_simulate*.py -q
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from recsys.simulate import DAY, HOUR, WEEK, Calibration, World, WorldConfig, run_reference, summarize
from recsys.simulate import calibration as calib
from recsys.simulate.calibration import ACTIVE, INACTIVE, DIFFICULTY_KNOB, SOURCES, resolve
from recsys.simulate.measure import poisson_interval, weekly_active_lift
from recsys.simulate.vocab import corpus_paths
from recsys.text import tokenize

SMALL = WorldConfig(n_subscribers=2_000, seed=3)


def _pushable(world):
    s = world.subscribers
    return np.flatnonzero(s.push_opt_in & ~s.holdout)


@pytest.fixture(scope="module")
def random_run():
    """20,000 subscribers, one week, every content pushed to 300 random pushable people (no cap)."""
    world = World(WorldConfig(n_subscribers=20_000, seed=11))
    t0 = time.perf_counter()
    log = run_reference(world, "random", until=7 * DAY, audience_size=300, cap_s=0.0, seed=1)
    return world, log, time.perf_counter() - t0


# ------------------------------------------------------------------------------ determinism


def test_same_seed_same_numbers_however_time_is_sliced():
    subs = np.arange(0, 2_000, 3)

    def run(cuts):
        w = World(SMALL)
        out = []
        for t in cuts:
            a = w.advance(t)
            out.append(a)
            if t == 30 * HOUR:
                out.append(w.push(0, subs[~w.subscribers.holdout[subs]], t))
        return w, out

    w1, one = run([30 * HOUR, 2 * DAY])
    cuts = sorted(set(np.round(np.linspace(0, 2 * DAY, 41)[1:], 3).tolist() + [30 * HOUR]))
    w2, many = run(cuts)

    def collect(out):
        contents, opens, reads, clicks = [], [], [], None
        for a in out:
            if isinstance(a, np.ndarray):
                clicks = a
                continue
            contents += [(c.external_id, c.title, c.body, c.created_at, c.quality) for c in a.contents]
            opens += list(zip(a.opens.subscriber.tolist(), a.opens.time.tolist()))
            reads += list(zip(a.reads.subscriber.tolist(), a.reads.content.tolist(), a.reads.time.tolist()))
        return contents, sorted(opens), sorted(reads), clicks

    c1, o1, r1, k1 = collect(one)
    c2, o2, r2, k2 = collect(many)
    assert c1 == c2 and o1 == o2 and r1 == r2
    np.testing.assert_array_equal(k1, k2)
    assert len(c1) > 40 and len(o1) > 200 and len(r1) > 200
    for name in ("external_id", "timezone", "platform", "push_opt_in", "taste", "usual_ctr", "history_clicks"):
        np.testing.assert_array_equal(getattr(w1.subscribers, name), getattr(w2.subscribers, name))
    np.testing.assert_array_equal(w1.weekly_active(0), w2.weekly_active(0))
    # another seed is another world
    w3 = World(dataclasses.replace(SMALL, seed=4))
    assert not np.array_equal(w3.subscribers.taste, w1.subscribers.taste)
    assert w3.advance(DAY).contents[0].body != one[0].contents[0].body


def test_events_are_sorted_and_inside_the_interval():
    w = World(SMALL)
    a = w.advance(5 * HOUR + 17)
    b = w.advance(29 * HOUR)
    for act in (a, b):
        for ev in (act.opens, act.reads):
            assert np.all(np.diff(ev.time) >= 0)
            assert ev.time.size == 0 or (ev.time.min() >= act.start and ev.time.max() < act.end)
        for c in act.contents:
            assert act.start <= c.created_at < act.end
    assert (b.reads.content >= 0).all() and (b.opens.content == -1).all()
    created = np.array([c.created_at for c in w.contents])
    assert (b.reads.time > created[b.reads.content]).all()
    with pytest.raises(ValueError):
        w.advance(HOUR)


# ----------------------------------------------------------------------------------- text


def _nb_accuracy(train_x, train_y, test_x, test_y, k):
    vocab = {w: i for i, w in enumerate(sorted({w for doc in train_x for w in doc}))}
    counts = np.ones((k, len(vocab)))
    for doc, y in zip(train_x, train_y):
        for w in doc:
            counts[y, vocab[w]] += 1
    logp = np.log(counts / counts.sum(1, keepdims=True))
    prior = np.log(np.bincount(train_y, minlength=k) + 1.0)
    hits = 0
    for doc, y in zip(test_x, test_y):
        idx = [vocab[w] for w in doc if w in vocab]
        hits += int(np.argmax(prior + logp[:, idx].sum(1)) == y)
    return hits / len(test_y)


def test_texts_come_from_the_real_corpora_and_carry_their_topic():
    w = World(WorldConfig(n_subscribers=500, seed=5, contents_per_day=150))
    contents = w.advance(4 * DAY).contents
    assert len(contents) > 450
    paths = corpus_paths()
    lee = paths["en"][0].read_text(encoding="utf-8")
    ko = re.sub(r"\s|[\u2460-\u2473]", "", "".join(p.read_text(encoding="utf-8") for p in paths["ko"]))
    ko = re.sub(r"-\d+-", "", ko)   # page numbers inside the bills' wrapped lines
    names = {t.name for t in w.topics}
    assert len(names) == w.n_topics
    for c in contents[:120]:
        assert c.category == w.topics[c.main_topic].name and c.language == w.topics[c.main_topic].language
        assert abs(sum(c.topic_mix) - 1) < 1e-9 and c.topic_mix[c.main_topic] >= 0.5
        sentences = re.split(r"(?<=[.!?][\"'])\s+|(?<=[.!?])\s+", c.body)
        for s in sentences:
            if c.language == "en":
                assert s in lee, s
            else:
                assert re.sub(r"\s", "", s) in ko, s
        assert c.title and len(c.title) <= 80
    # a bag-of-words classifier, trained on half the contents, names the topic of the other half
    docs = [tokenize(c.title + " " + c.body, c.language) for c in contents]
    y = np.array([c.main_topic for c in contents])
    half = len(docs) // 2
    acc = _nb_accuracy(docs[:half], y[:half], docs[half:], y[half:], w.n_topics)
    majority = Counter(y[half:].tolist()).most_common(1)[0][1] / (len(y) - half)
    assert acc > 0.75 and acc > majority + 0.4, (acc, majority)


# ---------------------------------------------------------------------------------- truth


def test_random_targeting_gives_improvement_about_one(random_run):
    world, log, _ = random_run
    s = summarize(log)
    assert s.pushes > 50_000
    # the clicks are drawn from the truth: observed vs expected within Poisson error
    assert abs(s.clicks - s.true_expected) < 4 * math.sqrt(s.true_expected)
    # a random audience's affinity averages 1, so its true improvement is the mean quality of
    # the contents pushed (freshness ~ 1 ten minutes after creation)
    q = np.array([c.quality for c in world.contents])
    pushed_q = np.array([world.content(int(c)).quality for c in log.content])
    quality_weighted = float((log.usual_ctr * pushed_q).sum() / log.usual_ctr.sum())
    assert abs(s.true_improvement - quality_weighted) < 0.04
    # and the mean quality is 1 up to its sampling error; all together random ~ 1
    se = math.hypot(math.sqrt(s.clicks) / s.usual_expected, q.std() / math.sqrt(len(q)))
    assert abs(s.improvement - 1.0) < 3 * se, (s.improvement, se)


def test_oracle_is_well_above_target_on_default_and_lower_on_hard():
    means = {}
    for difficulty in ("default", "hard"):
        w = World(WorldConfig(n_subscribers=20_000, seed=2, difficulty=difficulty))
        w.advance(2 * DAY)
        cand = _pushable(w)
        k = int(0.05 * len(cand))
        oracle = [w.true_improvement(c.index, w.oracle_rank(c.index, cand, k)) for c in w.contents]
        means[difficulty] = float(np.mean(oracle))
    assert means["default"] > 3.0, means
    assert means["hard"] < means["default"] - 0.6, means


def test_oracle_rank_is_the_best_ratio_first():
    w = World(SMALL)
    w.advance(DAY)
    cand = _pushable(w)[:500]
    top = w.oracle_rank(3, cand, 50)
    ratio = w.true_click_prob(3, cand) / w.usual_ctr(cand)
    best = cand[np.argsort(-ratio, kind="stable")[:50]]
    assert set(top.tolist()) == set(best.tolist())
    r_top = w.true_click_prob(3, top) / w.usual_ctr(top)
    assert np.all(np.diff(r_top) <= 1e-12)
    assert w.true_improvement(3, top) > w.true_improvement(3, cand)


def test_inactive_subscribers_click_less_than_active_ones(random_run):
    world, log, _ = random_run
    s = world.subscribers
    ctr = [s.usual_ctr[s.initial_state == k].mean() for k in range(3)]
    assert ctr[INACTIVE] < 0.5 * ctr[ACTIVE]
    rate = {}
    for k in (ACTIVE, INACTIVE):
        m = log.delivered & (log.state == k)
        clicks = int(np.isfinite(log.clicked_at[m]).sum())
        rate[k] = (clicks, int(m.sum()))
    (ca, na), (ci, ni) = rate[ACTIVE], rate[INACTIVE]
    assert ci / ni < 0.5 * ca / na
    assert poisson_interval(ci)[1] / ni < poisson_interval(ca)[0] / na


def test_click_delays_are_heavy_tailed_as_configured():
    w = World(WorldConfig(n_subscribers=20_000, seed=7, difficulty="easy"))
    w.advance(DAY)
    s = w.subscribers
    seoul = _pushable(w)[s.timezone[_pushable(w)] == "Asia/Seoul"]
    sent = DAY + 11 * HOUR   # t = 0 is midnight in Seoul: this is 11:00, everyone awake
    w.advance(sent)
    delays = {"ios": [], "android": []}
    for c in w.contents[:40]:
        t = w.push(c.index, seoul, sent)
        ok = np.isfinite(t)
        for plat in delays:
            m = ok & (s.platform[seoul] == plat)
            delays[plat].append(t[m] - sent)
    cal = Calibration()
    for plat, parts in delays.items():
        d = np.concatenate(parts)
        assert len(d) > 1500
        ks = stats.kstest(d, lambda x: calib.delay_cdf(x, plat, cal))
        assert ks.pvalue > 1e-3, (plat, ks)
        assert abs(np.median(d) / cal.get("delay_median_s", plat) - 1) < 0.15
        assert np.quantile(d, 0.99) / np.median(d) > 15          # heavy tail
    # most clicks of an awake iPhone user within minutes, a long tail for everyone
    ios = np.concatenate(delays["ios"])
    assert (ios < 20 * 60).mean() > 0.6 and (ios > 2 * HOUR).mean() > 0.05
    # a push delivered at 02:00 in Seoul is read after 07:00
    w2 = World(WorldConfig(n_subscribers=20_000, seed=7, difficulty="easy"))
    night = DAY + 2 * HOUR   # 02:00 in Seoul on day 2
    w2.advance(night)
    seoul2 = _pushable(w2)[w2.subscribers.timezone[_pushable(w2)] == "Asia/Seoul"]
    late = [c for c in w2.contents if c.created_at < night][-10:]
    clicks = np.concatenate([w2.push(c.index, seoul2, night) for c in late])
    clicks = clicks[np.isfinite(clicks)]
    assert len(clicks) > 100 and clicks.min() >= night + 5 * HOUR


# ------------------------------------------------------------------------------ push rules


def test_push_rules():
    w = World(SMALL)
    w.advance(DAY)
    c = max(w.contents, key=lambda x: x.quality)
    with pytest.raises(ValueError):
        w.push(c.index, _pushable(w)[:5], c.created_at - 1)
    with pytest.raises(ValueError):
        w.push(c.index, np.flatnonzero(w.subscribers.holdout)[:1], DAY)
    with pytest.raises(KeyError):
        w.push(len(w.contents) + 5, [0], DAY)
    out = w.subscribers.push_opt_in == False  # noqa: E712
    nope = np.flatnonzero(out & ~w.subscribers.holdout)[:50]
    assert np.isnan(w.push(c.index, nope, DAY)).all()
    # the same person never clicks the same content twice; by external id too
    subs = _pushable(w)
    first = w.push(c.external_id, subs, DAY)
    again = w.push(c.index, subs, DAY + HOUR)
    clicked = np.isfinite(first)
    assert clicked.sum() > 5 and np.isnan(again[clicked]).all()
    log = w.push_log()
    assert log.repeat[-len(subs):].all() and not log.delivered[: len(nope)].any()
    # duplicates inside one call count once
    t = w.push(w.contents[1].index, np.repeat(subs[:300], 2), DAY)
    assert not (np.isfinite(t[0::2]) & np.isfinite(t[1::2])).any()


def test_every_click_is_reported_once_by_advance():
    w = World(SMALL)
    w.advance(DAY)
    subs = _pushable(w)
    for c in w.contents[-8:]:
        w.push(c.index, subs, DAY)
    w.push(w.contents[0].index, subs, DAY - 6 * HOUR)   # sent late: some clicks are already past
    reported = [w.advance(DAY + k * 0.5 * HOUR).clicks for k in range(1, 200)]
    got = sorted((int(s), int(c), float(t)) for ev in reported for s, c, t in zip(ev.subscriber, ev.content, ev.time))
    log = w.push_log()
    ok = np.isfinite(log.clicked_at)
    want = sorted(zip(log.subscriber[ok].tolist(), log.content[ok].tolist(), log.clicked_at[ok].tolist()))
    assert len(want) > 20 and got == [x for x in want if x[2] < w.now]
    for ev, k in zip(reported[1:], range(2, 200)):
        assert ev.time.size == 0 or ev.time.min() >= DAY + (k - 1) * 0.5 * HOUR


def test_a_click_brings_an_inactive_subscriber_back_for_the_week():
    w = World(WorldConfig(n_subscribers=20_000, seed=8))
    w.advance(DAY)
    inactive = _pushable(w)[w.activity_state()[_pushable(w)] == INACTIVE]
    assert not w.weekly_active(0)[inactive].all()
    best = max(w.contents, key=lambda c: c.quality)
    t = w.push(best.index, inactive, DAY)
    back = inactive[np.isfinite(t)]
    assert len(back) > 30
    w.advance(float(np.nanmax(t[np.isfinite(t) & (t < WEEK)])) + 1)
    in_week = back[t[np.isfinite(t)] < WEEK]
    assert w.weekly_active(0)[in_week].all()
    assert (w.activity_state()[in_week] == ACTIVE).all()
    # their usual CTR is an active person's now
    assert (w.usual_ctr(in_week) > w.subscribers.usual_ctr[in_week]).all()


def test_pushes_raise_weekly_actives_against_the_holdout():
    w = World(WorldConfig(n_subscribers=20_000, seed=9, holdout_share=0.3))
    log = run_reference(w, "oracle", until=WEEK - HOUR, audience_size=1_500)
    s = summarize(log)
    lift = weekly_active_lift(w, 0)
    assert s.reactivated_per_1000 > 10
    assert lift.ci[0] > 0 and lift.treated_rate > lift.holdout_rate, lift
    plain = weekly_active_lift(w, 0, stratify=False)
    assert plain.ci[1] - plain.ci[0] > lift.ci[1] - lift.ci[0]   # post-stratification narrows it


# ---------------------------------------------------------------------------- calibration


def test_every_default_has_a_source_and_default_difficulty_is_the_calibration():
    cal = Calibration()
    assert {f.name for f in dataclasses.fields(Calibration)} == set(SOURCES)
    r = resolve(cal, "default")
    assert r.cal == cal
    easy, hard = resolve(cal, "easy").cal, resolve(cal, "hard").cal
    assert easy.taste_weight > cal.taste_weight > hard.taste_weight
    assert easy.ctr_multiplier > 1 > hard.ctr_multiplier
    assert easy.organic_multiplier > 1 > hard.organic_multiplier
    assert easy.popularity_noise_sd < cal.popularity_noise_sd < hard.popularity_noise_sd
    assert set(DIFFICULTY_KNOB) <= set(SOURCES)
    with pytest.raises(ValueError):
        WorldConfig(difficulty=1.5)
    with pytest.raises(ValueError):
        WorldConfig(difficulty="brutal")
    for plat, median in cal.delay_median_s:
        assert calib.delay_cdf(median, plat, cal) == pytest.approx(0.5, abs=1e-9)


def test_population_matches_the_benchmarks(random_run):
    world, _, _ = random_run
    s = world.subscribers
    cal = Calibration()
    n = len(s)
    for plat in ("ios", "android"):
        m = s.platform == plat
        se = math.sqrt(0.25 / m.sum())
        assert abs(s.push_opt_in[m].mean() - cal.get("opt_in", plat)) < 4 * se
        ctr = s.usual_ctr[m & s.push_opt_in].mean()
        assert abs(ctr / cal.get("push_ctr", plat) - 1) < 0.08, (plat, ctr)
    assert abs(s.holdout.mean() - 0.05) < 4 * math.sqrt(0.05 * 0.95 / n)
    ko = s.language == "ko"
    assert abs((s.timezone[ko] == "Asia/Seoul").mean() - 0.96) < 0.02
    assert (s.history_sends[~s.push_opt_in] == 0).all() and (s.history_clicks <= s.history_sends).all()
    assert (s.last_active_at <= 0).all()
    rate = s.history_clicks[s.push_opt_in].sum() / s.history_sends[s.push_opt_in].sum()
    assert abs(rate / s.usual_ctr[s.push_opt_in].mean() - 1) < 0.15


def test_dau_over_mau_is_in_the_media_range():
    w = World(WorldConfig(n_subscribers=4_000, seed=12))
    days = []
    for d in range(28):
        a = w.advance((d + 1) * DAY)
        act = np.zeros(w.n, bool)
        act[a.opens.subscriber] = True
        days.append(act)
    d = np.array(days)
    ratio = d.mean(1).mean() / d.any(0).mean()
    assert 0.12 <= ratio <= 0.25, ratio


# -------------------------------------------------------------------------------- speed


def test_twenty_thousand_subscribers_for_seven_days_is_fast(random_run):
    world, log, seconds = random_run
    # 7 simulated days, ~330 contents each pushed to 300 people, every hour's reads and opens
    assert world.now == 7 * DAY and len(log) > 50_000
    assert seconds < 20, seconds


def test_per_content_table_adds_up_to_the_summary(random_run):
    from recsys.simulate import by_content

    world, log, _ = random_run
    table = by_content(log)
    s = summarize(log)
    assert table.pushes.sum() == s.pushes and table.clicks.sum() == s.clicks
    assert table.true_expected.sum() == pytest.approx(s.true_expected)
    c = int(table.content[5])
    one = summarize(log, mask=log.content == c)
    assert table.true_improvement[5] == pytest.approx(one.true_improvement)
    # with a random audience a content's true improvement is about its quality
    q = np.array([world.content(int(i)).quality for i in table.content])
    assert np.corrcoef(q, table.true_improvement)[0, 1] > 0.9


def test_taste_affinity_is_the_click_ratio_without_the_story_noise():
    """``taste_affinity`` is what the truth's click ratio is made of, minus the interest in one
    story that no taste explains: below the cap, ratio = taste affinity x that noise x quality
    x freshness, the same factor for everyone for one content at one moment."""
    world = World(WorldConfig(n_subscribers=600, seed=2))
    world.advance(6 * HOUR)
    c = world.contents[0].index
    subs = np.arange(world.n)
    at = world.contents[0].created_at
    ratio = world.true_click_prob(c, subs, at) / world.usual_ctr(subs)
    below_cap = world.true_click_prob(c, subs, at) < world.params.cal.p_max
    factor = ratio / (world.taste_affinity(c, subs) * world._noise(c))
    np.testing.assert_allclose(factor[below_cap], factor[below_cap][0], rtol=1e-4)
    # and it is not the whole ratio: the story's own noise moves people around
    assert not np.allclose(ratio / ratio.mean(), world.taste_affinity(c, subs) / world.taste_affinity(c, subs).mean())


def test_history_reads_follow_taste_and_end_at_each_ones_last_open():
    world = World(WorldConfig(n_subscribers=3000, seed=5))
    who, topic, when = world.history_reads(np.random.default_rng(0))
    assert len(who) == len(topic) == len(when) > 0
    assert np.all(when <= np.minimum(world.subscribers.last_active_at[who], 0.0))
    # people read their favourite topic more than the others, beyond the taste-blind share
    favourite = np.argmax(world.subscribers.taste, axis=1)
    assert np.mean(topic == favourite[who]) > 2.0 / len(world.vocab.topics)
    again = world.history_reads(np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip((who, topic, when), again))


def test_ranking_ceilings_order_the_yardsticks():
    """The truth's top is the best (nearly always per content, on the whole by construction); a
    ranker knowing taste exactly gets most of it, the posterior from the history less, the
    history's category shares less again, a random pool least."""
    from recsys.simulate.reference import RANKING_CEILINGS, ranking_ceilings

    world = World(WorldConfig(n_subscribers=4000, seed=1))
    world.advance(DAY)
    got = ranking_ceilings(world, pool_size=800, rng=np.random.default_rng(0))
    assert set(got) == set(RANKING_CEILINGS) and all(len(v) == len(world.contents) for v in got.values())
    mean = {name: v.mean() for name, v in got.items()}
    # (the truth ranks people by their own ratio; a top's improvement is the ratio of its sums,
    # so another top can beat it on one content, not on the whole)
    assert np.mean(got["truth"] >= got["taste"]) > 0.8 and np.all(got["truth"] > got["random"])
    assert mean["truth"] > mean["taste"] > mean["history_posterior"] > mean["category_history"] > mean["random"]
    again = ranking_ceilings(world, pool_size=800, rng=np.random.default_rng(0))
    assert all(np.array_equal(got[name], again[name]) for name in got)
    with pytest.raises(ValueError, match="top_share"):
        ranking_ceilings(world, top_share=0.0, rng=np.random.default_rng(0))


def test_read_signal_says_more_of_quality_the_longer_reads_are_watched_and_never_more_than_the_pull():
    """``reference.read_signal``: the push-worthiness score's read share, watched from 30 minutes
    to a day, against the true quality; the organic pull it samples is its ceiling, and a world
    whose reads say less about quality (the hard difficulty's popularity noise) has a lower one."""
    from recsys.simulate.reference import read_signal

    got = read_signal(World(WorldConfig(n_subscribers=3000, seed=1)), until=10 * DAY)
    assert got["contents"] >= 50 and set(got["windows"]) == {"30min", "60min", "120min", "240min", "1440min"}
    assert all(0 < r < 1 for r in got["windows"].values()), got
    assert got["windows"]["1440min"] >= got["windows"]["30min"] + 0.1, got
    assert all(r < got["pull"] for r in got["windows"].values()), got
    hard = read_signal(World(WorldConfig(n_subscribers=3000, seed=1, difficulty="hard")), until=10 * DAY)
    assert hard["pull"] < got["pull"] - 0.1, (hard, got)
    # nothing to measure before the warm-up week is over
    assert read_signal(World(WorldConfig(n_subscribers=500, seed=1)), until=7 * DAY)["contents"] == 0
