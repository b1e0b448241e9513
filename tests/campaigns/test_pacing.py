"""Pacing the weekly slots while no click model prices them (apps.orchestration.pacing): each
campaign of a priced objective reaches at most its share of the week's slots, not whoever is free
first; first-come by choice, priced slots and a client that turned it off are not paced."""

import math
from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.contents.models import Content
from apps.core.models import Decision
from apps.core.selectors import policy_of
from apps.core.services import policy_set
from apps.dashboards.selectors.campaign import wave_shortfall
from apps.delivery.models import Send
from apps.campaigns import services as campaigns
from apps.orchestration.engine import PACED, campaign_launch, wave_plan
from apps.orchestration.pacing import slot_pace


def _contents(client, factory, now, ages_h, scores=None):
    """Contents created ``ages_h`` hours before now; ``scores`` (one per content, None = not
    evaluated yet) as their push-worthiness scores."""
    made = []
    for n, age in enumerate(ages_h):
        c = factory(client, f"w{n}", created_at=now - timedelta(hours=age))
        if scores is not None and scores[n] is not None:
            Content.objects.filter(pk=c.pk).update(push_score=scores[n], evaluated_at=c.created_at + timedelta(minutes=30))
        made.append(c)
    return made


@pytest.mark.django_db
def test_a_contents_share_is_the_opted_in_over_the_candidates_expected_in_a_week(
        client_a, content_factory, subscriber_factory, now):
    subscriber_factory(client_a, 700)
    subscriber_factory(client_a, 300, prefix="out", push_opt_in=False)  # never counted
    policy = policy_of(client_a.pk)
    # 70 contents over the week, ten a day: 70 candidates expected a week, 700 / 70 each
    made = _contents(client_a, content_factory, now, [2.4 * n + 1 for n in range(70)])
    pace = slot_pace(client_id=client_a.pk, policy=policy, content=made[0], sent=0, first_wave=1, now=now)
    assert (pace.people, pace.share, pace.allowed) == (700, 10, 10)
    assert pace.candidates_per_window == pytest.approx(70, rel=0.02)
    # what the campaign has sent already is taken off; never below 0
    assert slot_pace(client_id=client_a.pk, policy=policy, content=made[0], sent=7, first_wave=1, now=now).allowed == 3
    assert slot_pace(client_id=client_a.pk, policy=policy, content=made[0], sent=40, first_wave=1, now=now).allowed == 0
    # twenty more in the last day: judged on the recent rate (30 a day), not the week's
    _contents(client_a, content_factory, now, [0.5 + n for n in range(20)])
    pace = slot_pace(client_id=client_a.pk, policy=policy, content=made[0], sent=0, first_wave=1, now=now)
    recent = sum(1 for c in Content.objects.filter(client=client_a) if c.created_at >= now - timedelta(days=1))
    assert pace.candidates_per_window == pytest.approx(recent * 7, rel=0.02)
    assert pace.share == math.ceil(700 / pace.candidates_per_window)


@pytest.mark.django_db
def test_the_share_follows_the_candidates_share_and_the_contents_score(client_a, content_factory, subscriber_factory, now):
    subscriber_factory(client_a, 1400)
    policy_set(client=client_a, candidate_threshold=1.5)
    policy = policy_of(client_a.pk)
    # 14 contents over the week (one every 12 hours, the first 157 hours ago), every other one
    # scored 2.0 (a candidate), the others 1.0: half the rate of contents is the candidates'
    ages = [12.0 * n + 1 for n in range(14)]
    made = _contents(client_a, content_factory, now, ages, scores=[2.0 if n % 2 else 1.0 for n in range(14)])
    pace = slot_pace(client_id=client_a.pk, policy=policy, content=made[1], sent=0, first_wave=1, now=now)
    assert pace.candidates_per_window == pytest.approx(14 * 168 / 157 / 2)
    assert pace.score_ratio == pytest.approx(1.0) and pace.share == math.ceil(1400 / pace.candidates_per_window)
    # a content scored twice the candidates' mean gets twice the share
    best = content_factory(client_a, "best", created_at=now - timedelta(minutes=30))
    Content.objects.filter(pk=best.pk).update(push_score=4.0)
    best.refresh_from_db()
    doubled = slot_pace(client_id=client_a.pk, policy=policy, content=best, sent=0, first_wave=1, now=now)
    assert doubled.score_ratio == pytest.approx(2.0)
    assert doubled.share == math.ceil(1400 / doubled.candidates_per_window * 2.0)


@pytest.mark.django_db
def test_a_new_clients_first_content_is_judged_on_its_first_hour_not_given_everyone(
        client_a, content_factory, subscriber_factory, now):
    subscriber_factory(client_a, 5000)
    first = _contents(client_a, content_factory, now, [0.5])[0]
    pace = slot_pace(client_id=client_a.pk, policy=policy_of(client_a.pk), content=first, sent=0, first_wave=10, now=now)
    # one content in (at least) an hour: 168 expected a week, each a 168th of the slots
    assert pace.candidates_per_window == pytest.approx(168) and pace.share == math.ceil(5000 / 168)
    # ... but until the client's pushes are expected to have brought the clicks its models learn
    # from, a campaign may reach its first wave
    assert pace.learning
    learning = slot_pace(client_id=client_a.pk, policy=policy_of(client_a.pk), content=first, sent=0, first_wave=300,
                         now=now)
    assert learning.share == 300 and learning.allowed == 300


@pytest.mark.django_db
def test_the_first_pushes_teach_the_models_then_a_campaign_reaches_its_share_and_ends_when_it_is_used(
        approved_content, population, client_a, now, monkeypatch):
    from apps.orchestration import pacing

    population(2000)
    policy_set(client=client_a, slot_pacing=True, slot_objective="clicks")
    # learning: the first campaign reaches its first wave, whatever its share
    first = campaign_launch(content=approved_content("first"), now=now)
    assert first.waves.get().sends == 300 and first.waves.get().plan_numbers["pace"]["learning"]
    expected = sum(Send.objects.filter(campaign=first).values_list("baseline_ctr", flat=True))
    monkeypatch.setattr(pacing, "LEARNING_CLICKS", expected * 0.9)  # those pushes brought enough
    content = approved_content()  # created 40 minutes ago, as the first
    campaign = campaign_launch(content=content, now=now)
    wave = campaign.waves.get()
    share = math.ceil(2000 / (2 * 168))  # two contents in the client's first hour: 336 a week
    assert wave.planned_size == 300 and wave.sends == share and not wave.plan_numbers["pace"]["learning"]
    assert wave.plan_numbers["pace"]["share"] == share and wave.plan_numbers["target"] == share
    reasons = wave_shortfall(Wave.objects.get(pk=wave.pk))["reasons"]
    assert reasons[0]["code"] == "paced" and reasons[0]["n"] == share
    # a next wave finds the share used: the campaign ends, saying so
    Wave.objects.filter(pk=wave.pk).update(state=Wave.State.DECIDED, decision=Wave.Decision.EXPAND)
    Campaign.objects.filter(pk=campaign.pk).update(sends=share)
    # (at the same moment: later, the one content in more than an hour makes the share grow)
    nxt = campaigns.wave_create(campaign=campaign, number=2, planned_size=600, now=now)
    assert wave_plan(wave=nxt, now=now) == 0
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DONE
    end = Decision.objects.filter(campaign=campaign, action="campaign_end").latest("id")
    assert end.numbers["code"] == "paced" and end.note == PACED
    assert Send.objects.filter(campaign=campaign).count() == share


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["first_come", "priced", "off"])
def test_first_come_priced_slots_and_a_client_that_turned_it_off_are_not_paced(
        approved_content, population, client_a, now, how):
    subs = population(2000)
    policy_set(client=client_a, slot_pacing=how != "off", slot_objective="first_come" if how == "first_come" else "clicks")
    if how == "priced":  # a click model has priced the slots (prices below any click probability)
        Subscriber.objects.filter(pk__in=[s.pk for s in subs]).update(slot_price=1e-9)
    campaign = campaign_launch(content=approved_content(), now=now)
    wave = campaign.waves.get()
    assert wave.sends == 300 and "pace" not in wave.plan_numbers
