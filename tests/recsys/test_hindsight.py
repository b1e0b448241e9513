"""The weekly slot's yardsticks on the simulated world: the hindsight optimum (each person's best
content of the week, knowing the week ahead) and the universal broadcast. A world that looks
ahead is the same world; the optimum keeps the rules and is what it claims to be."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.simulate import DAY, World, WorldConfig, run_hindsight, run_reference, run_universal
from recsys.simulate.calibration import INACTIVE

SMALL = WorldConfig(n_subscribers=3_000, seed=5)
DELAY = 1800.0


def _pushable(world):
    return world.subscribers.push_opt_in & ~world.subscribers.holdout


def test_looking_ahead_changes_nothing_in_the_world():
    plain, peeking = World(SMALL), World(SMALL)
    ahead = peeking.upcoming(9 * DAY)
    assert ahead and all(c.created_at < 9 * DAY for c in ahead)
    assert peeking.contents == ()  # nothing is published by looking
    for until in (DAY, 3.5 * DAY, 9 * DAY):
        a, b = plain.advance(until), peeking.advance(until)
        assert [c.external_id for c in a.contents] == [c.external_id for c in b.contents]
        np.testing.assert_array_equal(a.reads.subscriber, b.reads.subscriber)
        np.testing.assert_array_equal(a.reads.time, b.reads.time)
    assert [c.external_id for c in ahead] == [c.external_id for c in plain.contents]
    # the truth of a content seen ahead is the truth once it is published
    c, subs = ahead[5].index, np.arange(200)
    fresh = World(SMALL)
    with pytest.raises(KeyError):  # not looked at yet
        fresh.click_prob_ahead(c, subs, at=0.0)
    fresh.upcoming(ahead[5].created_at + 1)
    early = fresh.click_prob_ahead(c, subs, at=ahead[5].created_at + DELAY)
    fresh.advance(ahead[5].created_at + 1)
    np.testing.assert_allclose(early, fresh.true_click_prob(c, subs, at=ahead[5].created_at + DELAY))


def _brute_force_week(world, start, end, objective, people):
    """Each of ``people``'s best content of the week by a plain loop over people and contents."""
    specs = world.upcoming(end, since=start)
    state = world.activity_state()
    best = {}
    for i in people:
        values = [float(world.click_prob_ahead(c.index, [i], c.created_at + DELAY)[0]) for c in specs]
        if objective == "reactivations" and state[i] != INACTIVE:
            continue
        j = int(np.argmax(values))
        if values[j] > 0:
            best[int(i)] = specs[j].index
    return best


@pytest.mark.parametrize("objective", ["clicks", "reactivations"])
def test_the_first_week_of_the_hindsight_run_is_each_persons_best_content(objective):
    world = World(SMALL)
    people = np.flatnonzero(_pushable(world))[::7]  # every seventh pushable person, by a plain loop
    expect = _brute_force_week(world, 0.0, 7 * DAY, objective, people)
    log = run_hindsight(World(SMALL), until=7 * DAY, objective=objective, push_delay_s=DELAY)
    got = dict(zip(log.subscriber.tolist(), log.content.tolist()))
    assert len(got) == len(log)  # one push per person in the week
    assert {i: c for i, c in got.items() if i in set(people.tolist())} == expect and len(expect) > 50
    if objective == "reactivations":
        assert np.all(log.state == INACTIVE)


def test_hindsight_keeps_the_rules_and_beats_first_come_and_the_broadcast():
    days = 21
    world = World(SMALL)
    log = run_hindsight(world, until=days * DAY, push_delay_s=DELAY)
    assert not world.subscribers.holdout[log.subscriber].any()
    assert _pushable(world)[log.subscriber].all()
    order = np.lexsort((log.sent_at, log.subscriber))
    subs, sent = log.subscriber[order], log.sent_at[order]
    same = subs[1:] == subs[:-1]
    assert np.all(sent[1:][same] - sent[:-1][same] >= 7 * DAY)  # the rolling cap, across weeks too
    created = {c.index: c.created_at for c in world.contents}
    assert np.allclose(log.sent_at, [created[c] + DELAY for c in log.content.tolist()])
    # every content is judged: the optimum spreads the slots over far more contents than first-come
    first_come = run_reference(World(SMALL), "oracle", until=days * DAY, audience_size=150, push_delay_s=DELAY)
    universal, chosen = run_universal(World(SMALL), until=days * DAY, push_delay_s=DELAY)
    assert len(np.unique(log.content)) > 2 * len(np.unique(first_come.content))
    assert log.p.sum() > 1.5 * first_come.p.sum() and log.p.sum() > 1.2 * universal.p.sum()


def test_the_broadcast_sends_the_weeks_best_liked_content_to_everyone_eligible():
    world = World(SMALL)
    people = np.flatnonzero(_pushable(world))
    specs = world.upcoming(7 * DAY)
    liked = [world.click_prob_ahead(c.index, people, c.created_at + DELAY).mean() for c in specs]
    log, chosen = run_universal(world, until=14 * DAY, push_delay_s=DELAY)
    assert len(chosen) == 2 and chosen[0]["content"] == specs[int(np.argmax(liked))].external_id
    assert 0 <= chosen[0]["quality_percentile"] <= 100
    first = log.sent_at < 7 * DAY + DELAY
    assert sorted(log.subscriber[first].tolist()) == people.tolist()  # everyone, once
    assert len(np.unique(log.content)) == 2
    # the second week's broadcast reaches only those whose slot came free again
    again = log.subscriber[~first]
    sent_first = dict(zip(log.subscriber[first].tolist(), log.sent_at[first].tolist()))
    second_at = float(log.sent_at[~first][0]) if (~first).any() else None
    if second_at is not None:
        assert all(second_at - sent_first[int(i)] >= 7 * DAY for i in again)


QUIET = (22, 8)


def _local_hours(world, log):
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    epoch = world.config.start.timestamp()
    zones = world.subscribers.timezone[log.subscriber]
    return np.array([datetime.fromtimestamp(epoch + t, timezone.utc).astimezone(ZoneInfo(str(z))).hour
                     for t, z in zip(log.sent_at.tolist(), zones)])


def test_with_quiet_hours_the_yardsticks_push_nobody_at_night_and_as_soon_as_they_may():
    """The optimum the product is measured against keeps its quiet hours: a push due at night
    reaches each person when their local quiet hours end, and each person still gets their best
    content of the week judged at the time it could reach them."""
    from recsys.simulate.reference import send_times

    world = World(SMALL)
    log = run_hindsight(world, until=14 * DAY, push_delay_s=DELAY, quiet_hours=QUIET)
    hours = _local_hours(world, log)
    assert len(log) > 1000 and not np.any((hours >= 22) | (hours < 8))
    created = {c.index: c.created_at for c in world.contents}
    due = np.array([created[c] + DELAY for c in log.content.tolist()])
    moved = log.sent_at > due + 1e-6
    assert moved.any() and (~moved).any()  # some due at night in Seoul, most not
    # moved pushes go at the first allowed hour: 8:00 local, not later
    assert np.all(hours[moved] == 8) and np.all(log.sent_at[moved] - due[moved] <= 10 * 3600 + 1)
    # the first week is still each person's best, judged when it could reach them (plain loop)
    fresh = World(SMALL)
    specs = fresh.upcoming(7 * DAY)
    people = np.flatnonzero(_pushable(fresh))[::11]
    week = log.sent_at < 7 * DAY
    got = dict(zip(log.subscriber[week].tolist(), log.content[week].tolist()))
    for i in people.tolist():
        values = []
        for c in specs:
            at = float(send_times(fresh, c.created_at + DELAY, np.array([i]), QUIET)[0])
            values.append(float(fresh.click_prob_ahead(c.index, [i], at)[0]))
        assert got.get(i) == specs[int(np.argmax(values))].index
    # keeping quiet hours can only cost the optimum: the same world's any-hour optimum gets more
    any_hour = run_hindsight(World(SMALL), until=14 * DAY, push_delay_s=DELAY)
    assert any_hour.p.sum() > log.p.sum()
    universal, _ = run_universal(World(SMALL), until=14 * DAY, push_delay_s=DELAY, quiet_hours=QUIET)
    hours = _local_hours(world, universal)
    assert len(universal) > 1000 and not np.any((hours >= 22) | (hours < 8))
