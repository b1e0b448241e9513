"""The campaign loop on the real database: launch, slots, waves, dispatch, decisions, controls."""

from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.contents.services import CannotLaunch
from apps.core.services import sending_pause_set
from apps.orchestration.engine import campaign_launch, campaign_stop, campaigns_advance_due
from apps.contents.models import Content
from apps.core.models import Decision
from apps.delivery.models import Send
from apps.delivery.services import sends_dispatch_batch


def dispatch_all(now):
    total = 0
    while (n := sends_dispatch_batch(limit=500, now=now).get("claimed", 0)):
        total += n
    return total


@pytest.mark.django_db
def test_launch_plans_wave_one_with_slots_and_allocation(approved_content, population, now):
    subs = population(1000)
    content = approved_content()
    campaign = campaign_launch(content=content, now=now)
    wave = campaign.waves.get()
    assert (wave.number, wave.state, wave.sends) == (1, "sending", 300)
    sends = Send.objects.filter(campaign=campaign)
    assert sends.count() == 300 and sends.filter(state="pending").count() == 300
    assert Subscriber.objects.filter(last_content_push_at=now).count() == 300
    assert Subscriber.objects.filter(push_sends=1).count() == 300
    assert sum(wave.allocation["recipients"].values()) == 300 and len(wave.allocation["recipients"]) == 2
    assert wave.expected_clicks == pytest.approx(sum(sends.values_list("baseline_ctr", flat=True)))
    assert Content.objects.get(pk=content.pk).status == "sending"
    assert set(Decision.objects.filter(campaign=campaign).values_list("action", flat=True)) == {"campaign_launch", "wave_plan"}
    assert wave.ranker.startswith("interim")
    assert len(subs) == 1000


@pytest.mark.django_db
def test_launch_refuses_what_is_not_ready(approved_content, client_a, content_factory, now):
    raw = content_factory(client_a, "raw")
    with pytest.raises(CannotLaunch, match="approved"):
        campaign_launch(content=raw, now=now)
    c = approved_content()
    c.title_variants.update(review="pending")
    with pytest.raises(CannotLaunch, match="title"):
        campaign_launch(content=c, now=now)
    c.title_variants.update(review="approved")
    with pytest.raises(CannotLaunch, match="expired"):
        campaign_launch(content=c, now=now + timedelta(hours=5))


@pytest.mark.django_db
def test_nobody_gets_two_content_pushes_in_seven_days(approved_content, population, now):
    population(500)
    a = campaign_launch(content=approved_content("a"), now=now, initial_size=400)
    b = campaign_launch(content=approved_content("b"), now=now, initial_size=400)
    got_a = set(Send.objects.filter(campaign=a).values_list("subscriber_id", flat=True))
    got_b = set(Send.objects.filter(campaign=b).values_list("subscriber_id", flat=True))
    assert len(got_a) == 400 and len(got_b) == 100 and not (got_a & got_b)
    # Six days later still capped; after seven days the slot is free again.
    c = campaign_launch(content=approved_content("c", created_at=now + timedelta(days=6, minutes=10)), now=now + timedelta(days=6, minutes=40),
                        initial_size=500)
    assert c.waves.get().sends == 0 and Campaign.objects.get(pk=c.pk).state == "done"
    d = campaign_launch(content=approved_content("d", created_at=now + timedelta(days=7, minutes=10)), now=now + timedelta(days=7, minutes=40),
                        initial_size=500)
    assert d.waves.get().sends == 500


@pytest.mark.django_db
def test_quiet_hours_opt_out_segment_and_readers(approved_content, population, client_a, now):
    subs = population(40)
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:10]]).update(timezone="Asia/Seoul")  # 21:00 local: fine
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[10:20]]).update(timezone="Pacific/Kiritimati")  # 02:00: quiet
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[20:25]]).update(push_opt_in=False)
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[25:30]]).update(last_activity_at=now - timedelta(days=1))  # active
    content = approved_content()
    from apps.events.services import events_ingest

    events_ingest(client=client_a, now=now, items=[{"event_id": f"r{i}", "type": "read", "subscriber": subs[30 + i].external_id,
                                                    "content": content.external_id} for i in range(3)])
    from apps.core.services import policy_set

    # the reactivations objective pushes the inactive only (the campaign's segment)
    policy_set(client=client_a, slot_objective="reactivations")
    campaign = campaign_launch(content=content, now=now)
    assert campaign.segment == {"activity": "inactive", "inactive_days": 7}
    got = set(Send.objects.filter(campaign=campaign).values_list("subscriber_id", flat=True))
    assert got == {s.pk for s in subs[:10]} | {s.pk for s in subs[33:]}
    # the clicks objective (the default) is for everyone opted in: the active ones too, the
    # quiet, the opted-out and the readers still not
    policy_set(client=client_a, slot_objective="clicks")
    other = approved_content(external_id="push-2", category="sports")
    Subscriber.objects.filter(client=client_a).update(last_content_push_at=None)
    campaign = campaign_launch(content=other, now=now)
    assert campaign.segment == {"activity": "any", "inactive_days": 7}
    got = set(Send.objects.filter(campaign=campaign).values_list("subscriber_id", flat=True))
    assert got == {s.pk for s in subs[:10]} | {s.pk for s in subs[25:30]} | {s.pk for s in subs[30:]}


@pytest.mark.django_db
def test_dispatch_observe_decide_expand_with_clicks(approved_content, population, client_a, now):
    from apps.events.services import events_ingest

    population(3000)
    campaign = campaign_launch(content=approved_content(), now=now)
    assert dispatch_all(now) == 300
    assert Send.objects.filter(campaign=campaign, state="sent").count() == 300
    assert campaigns_advance_due(now=now + timedelta(minutes=1))["waves_closed"] == 1
    wave = Wave.objects.get(campaign=campaign, number=1)
    assert wave.state == "observing" and wave.observe_until == now + timedelta(minutes=20)
    assert wave.delivered == 300
    # Clicks far above the recipients' usual CTR arrive within the window.
    sends = list(Send.objects.filter(campaign=campaign).order_by("id")[:45])
    events_ingest(client=client_a, now=now + timedelta(minutes=15), items=[
        {"event_id": f"k{s.pk}", "type": "click", "send_id": s.pk, "occurred_at": (now + timedelta(minutes=3)).isoformat()}
        for s in sends])
    assert campaigns_advance_due(now=now + timedelta(minutes=10))["waves_decided"] == 0  # never before the window
    assert campaigns_advance_due(now=now + timedelta(minutes=21))["waves_decided"] == 1
    wave.refresh_from_db()
    assert wave.decision == "expand", wave.decision_reason
    numbers = wave.decision_numbers
    assert numbers["anytime_interval"]["lo"] > 1.5 and numbers["normal_interval"]["label"]
    # Wave 1 probed the 1,500 best-ranked (it and its expansion); the expansion sends to the
    # 1,200 of them it did not probe, and probes the next window with as many.
    assert numbers["marginal"]["window"] == 1500 and numbers["marginal"]["audience"] == 1200
    wave2 = Wave.objects.get(campaign=campaign, number=2)
    assert wave2.planned_size == 2400 and wave2.sends == 2400 and wave2.stage == 2
    from apps.campaigns.selectors import wave_window

    first_window, _ = wave_window(wave=wave)
    fill = set(Send.objects.filter(wave=wave2, chosen_by="ranked").values_list("subscriber_id", flat=True))
    probes1 = set(Send.objects.filter(wave=wave, chosen_by="probed").values_list("subscriber_id", flat=True))
    assert len(fill) == 1200 and fill | probes1 == set(first_window.tolist())
    assert Send.objects.filter(wave=wave2, chosen_by="probed").count() == 1200
    assert Decision.objects.filter(campaign=campaign, action="wave_expand").exists()
    # The clickers joined the look-alike seed of wave 2's ranking.
    assert Decision.objects.filter(campaign=campaign, action="wave_plan", subject="wave:2").get().numbers["seed"] == 45
    # The variants' clicks fed the bandit: wave 2's allocation is recorded.
    assert sum(wave2.allocation["recipients"].values()) == 2400


@pytest.mark.django_db
def test_no_clicks_stops_for_futility(approved_content, population, client_a, now):
    population(20000)
    campaign = campaign_launch(content=approved_content(), now=now, initial_size=3000)
    t = now
    for _ in range(6):
        dispatch_all(t)
        campaigns_advance_due(now=t + timedelta(minutes=1))
        t = t + timedelta(minutes=22)
        campaigns_advance_due(now=t)
        campaign.refresh_from_db()
        if campaign.state != "running":
            break
    assert campaign.state == "done"
    last = campaign.waves.order_by("number").last()
    assert last.decision == "stop" and last.decision_numbers["code"] == "futility"
    assert Content.objects.get(pk=campaign.content_id).status == "done"


@pytest.mark.django_db
def test_stop_cancels_unsent_with_a_reason_and_pause_holds_sending(approved_content, population, people, now):
    population(1000)
    campaign = campaign_launch(content=approved_content(), now=now)
    sending_pause_set(paused=True, user=people["operator"], now=now)
    assert sends_dispatch_batch(now=now)["claimed"] == 0
    sending_pause_set(paused=False, user=people["operator"], now=now)
    assert sends_dispatch_batch(limit=100, now=now)["claimed"] == 100
    campaign_stop(campaign=campaign, user=people["operator"], now=now)
    assert Send.objects.filter(campaign=campaign, state="sent").count() == 100
    cancelled = Send.objects.filter(campaign=campaign, state="cancelled")
    assert cancelled.count() == 200 and all("stopped" in e for e in cancelled.values_list("error", flat=True))
    assert sends_dispatch_batch(now=now)["claimed"] == 0
    actions = list(Decision.objects.filter(actor_user=people["operator"]).values_list("action", flat=True))
    assert sorted(actions) == ["campaign_stop", "sending_pause", "sending_resume"]


@pytest.mark.django_db
def test_provider_outcomes_retry_fail_and_unattempted(approved_content, population, now):
    """Retryable failures come back later, permanent ones fail with the reason, and pushes the
    provider never tried do not use up an attempt."""
    from apps.delivery.providers import DeliveryResult

    class Scripted:
        name = "scripted"

        def __init__(self):
            self.calls = 0

        def send_batch(self, messages):
            self.calls += 1
            out = []
            for i, m in enumerate(messages):
                if i % 3 == 0:
                    out.append(DeliveryResult(send_id=m.send_id, ok=False, permanent=True, error="404 UNREGISTERED"))
                elif i % 3 == 1:
                    out.append(DeliveryResult(send_id=m.send_id, ok=False, error="not attempted: paused", attempted=False,
                                              retry_after=30))
                else:
                    out.append(DeliveryResult(send_id=m.send_id, ok=False, error="503 busy", retry_after=60))
            return out

    population(300)
    campaign = campaign_launch(content=approved_content(), now=now, initial_size=30)
    got = sends_dispatch_batch(now=now, provider=Scripted())
    assert (got["claimed"], got["failed"], got["retry"]) == (30, 10, 20)
    failed = Send.objects.filter(campaign=campaign, state="failed")
    assert failed.count() == 10 and set(failed.values_list("error", flat=True)) == {"404 UNREGISTERED"}
    pending = Send.objects.filter(campaign=campaign, state="pending")
    assert sorted(set(pending.values_list("attempts", flat=True))) == [0, 1]  # the unattempted gave theirs back
    assert sends_dispatch_batch(now=now + timedelta(seconds=10), provider=Scripted())["claimed"] == 0  # not due yet
    assert sends_dispatch_batch(now=now + timedelta(seconds=61), provider=Scripted())["claimed"] == 20


@pytest.mark.django_db
def test_people_of_the_contents_language_come_first(approved_content, population, now):
    subs = population(1000)
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:400]]).update(locale="ko-KR")
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[400:900]]).update(locale="en")
    korean = campaign_launch(content=approved_content("ko1", title="서울 지하철 요금 인상", language="ko"), now=now, initial_size=300)
    got = Subscriber.objects.filter(sends__campaign=korean)
    assert got.count() == 300 and set(got.values_list("locale", flat=True)) <= {"ko-KR", ""}
    # Not enough English speakers left for a wave of 500: nobody is left out then.
    english = campaign_launch(content=approved_content("en1", title="Storm warning", language="en"), now=now, initial_size=650)
    assert Send.objects.filter(campaign=english).count() == 650


@pytest.mark.django_db
def test_the_interim_ranker_uses_only_reads_up_to_its_moment(approved_content, population, client_a, now):
    """Replayed at a past moment, the rule-based ranking sees what was known then: reads after
    ``now`` change nothing."""
    from apps.delivery.selectors import eligible_candidates
    from apps.audience.selectors import Segment
    from apps.core.policy import DEFAULTS
    from apps.events.services import events_ingest
    from apps.mlops.ranking import InterimRanker
    import numpy as np

    subs = population(200)
    content = approved_content(category="sports")
    other = approved_content("other", category="sports")

    def rank():
        cands = eligible_candidates(client=client_a, content_id=content.pk, now=now, cap_window=DEFAULTS.cap_window,
                                    segment=Segment(activity="any", inactive_days=7), quiet_start=0, quiet_end=0)
        seed = np.array(sorted(s.pk for s in subs[:5]), dtype=np.int64)
        r = InterimRanker().rank(candidates=cands, content=content, seed_ids=seed, k=20, now=now,
                                 rng=np.random.default_rng(0))
        return r.ids.tolist(), r.total.round(9).tolist()

    events_ingest(client=client_a, now=now, items=[
        {"event_id": f"past{s.pk}", "type": "read", "subscriber": s.external_id, "content": other.external_id,
         "occurred_at": (now - timedelta(days=2)).isoformat()} for s in subs[:40]])
    before = rank()
    events_ingest(client=client_a, now=now + timedelta(days=1), items=[
        {"event_id": f"later{s.pk}", "type": "read", "subscriber": s.external_id, "content": other.external_id,
         "occurred_at": (now + timedelta(hours=3)).isoformat()} for s in subs[100:200]])
    assert rank() == before
