"""Every way a campaign ends goes through the engine's one end: pushes that never left are
cancelled with the reason and their slots given back, the waves it interrupted are closed, the
numbers no longer count what was not sent, and one decision row says what happened."""

from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.contents.models import Content, TitleVariant
from apps.core.models import Decision
from apps.core.services import sending_pause_set
from apps.delivery.models import Send
from apps.delivery.selectors import sends_due_exist
from apps.delivery.services import sends_dispatch_batch
from apps.events.services import events_ingest
from apps.orchestration.engine import campaign_launch, campaign_stop, campaigns_advance_due
from apps.orchestration.expiry import contents_expire_due
from apps.orchestration.sweep import sweep


def dispatch_all(now):
    while sends_dispatch_batch(limit=500, now=now).get("claimed"):
        pass


def no_dispatch(now):
    pass


def end_decisions(campaign):
    return list(Decision.objects.filter(campaign=campaign, action__in=["campaign_end", "campaign_stop"]))


def assert_no_open_wave(campaign):
    assert not Wave.objects.filter(campaign=campaign).exclude(state=Wave.State.DECIDED).exists()


@pytest.mark.django_db
def test_expiry_while_sending_is_paused_cancels_the_unsent_and_gives_their_slots_back(
        approved_content, population, people, now):
    subs = population(400)
    earlier = now - timedelta(days=8)  # pushed before, long enough ago that the slot is free again
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:200]]).update(last_content_push_at=earlier, push_sends=4,
                                                                        push_clicks=1)
    sending_pause_set(paused=True, user=people["operator"], now=now)
    content = approved_content()
    campaign = campaign_launch(content=content, now=now)
    assert Send.objects.filter(campaign=campaign, state="pending").count() == 300
    sweep(now=now + timedelta(minutes=10), dispatch=dispatch_all)  # paused: nothing leaves, the wave keeps waiting
    assert Send.objects.filter(campaign=campaign, state="pending").count() == 300
    chosen = list(Send.objects.filter(campaign=campaign).values_list("subscriber_id", flat=True))

    assert contents_expire_due(now=content.expires_at) == 1

    campaign.refresh_from_db()
    assert (campaign.state, campaign.end_reason) == ("done", "content expired")
    sends = Send.objects.filter(campaign=campaign)
    assert sends.filter(state="cancelled").count() == 300 and not sends.exclude(state="cancelled").exists()
    assert all("content expired" in e for e in sends.values_list("error", flat=True))
    # Every slot is as it was before the claim: free again, with the same push history.
    for sub in Subscriber.objects.filter(pk__in=chosen):
        assert sub.last_content_push_at in (None, earlier)
        assert sub.push_sends == (4 if sub.last_content_push_at == earlier else 0)
    assert Subscriber.objects.filter(pk__in=chosen, last_content_push_at=earlier).count() == \
        Send.objects.filter(campaign=campaign, slot_previous_at=earlier).count()
    # The numbers count only what was sent; the wave is closed; nothing is left for the dispatcher.
    assert (campaign.sends, campaign.expected_clicks) == (0, pytest.approx(0.0, abs=1e-9))
    wave = campaign.waves.get()
    assert (wave.state, wave.decision, wave.sends, wave.decision_numbers["code"]) == ("decided", "stop", 0, "expired")
    assert sum(TitleVariant.objects.filter(content=content).values_list("sends", flat=True)) == 0
    assert not sends_due_exist()
    [end] = end_decisions(campaign)
    assert (end.action, end.actor_name, end.note) == ("campaign_end", "sweep", "content expired")
    assert end.numbers == {"code": "expired", "cancelled": 300, "slots_released": 300, "waves_closed": 1}
    assert Content.objects.get(pk=content.pk).status == "expired"
    assert Decision.objects.filter(content=content, action="content_expire").count() == 1

    # The freed slots serve the next content at once, once sending resumes.
    sending_pause_set(paused=False, user=people["operator"], now=now)
    later = content.expires_at + timedelta(minutes=1)
    other = campaign_launch(content=approved_content("next", created_at=later - timedelta(minutes=30)), now=later,
                            initial_size=400)
    assert other.waves.get().sends == 400


@pytest.mark.django_db
def test_a_stop_mid_wave_keeps_what_left_and_cancels_the_rest(approved_content, population, people, now):
    population(1000)
    campaign = campaign_launch(content=approved_content(), now=now)
    assert sends_dispatch_batch(limit=100, now=now)["claimed"] == 100
    sent = set(Send.objects.filter(campaign=campaign, state="sent").values_list("subscriber_id", flat=True))
    expected_sent = sum(Send.objects.filter(campaign=campaign, state="sent").values_list("baseline_ctr", flat=True))

    campaign_stop(campaign=campaign, user=people["operator"], reason="wrong audience", now=now + timedelta(minutes=1))

    campaign.refresh_from_db()
    assert campaign.state == "stopped"
    assert Send.objects.filter(campaign=campaign, state="sent").count() == 100
    assert Send.objects.filter(campaign=campaign, state="cancelled").count() == 200
    assert Subscriber.objects.filter(pk__in=sent, last_content_push_at=now, push_sends=1).count() == 100
    cancelled = Send.objects.filter(campaign=campaign, state="cancelled").values_list("subscriber_id", flat=True)
    assert Subscriber.objects.filter(pk__in=list(cancelled), last_content_push_at__isnull=True, push_sends=0).count() == 200
    assert campaign.sends == 100 and campaign.expected_clicks == pytest.approx(expected_sent)
    assert_no_open_wave(campaign)
    [end] = end_decisions(campaign)
    assert (end.action, end.actor_user, end.note) == ("campaign_stop", people["operator"], "wrong audience")
    assert end.numbers["cancelled"] == 200 and end.numbers["slots_released"] == 200
    assert Content.objects.get(pk=campaign.content_id).status == "done"
    assert sends_dispatch_batch(now=now + timedelta(minutes=2))["claimed"] == 0


@pytest.mark.django_db
def test_futility_ends_with_every_push_sent_and_every_slot_kept(approved_content, population, now):
    population(1000)
    campaign = campaign_launch(content=approved_content(), now=now)
    dispatch_all(now)
    t = now
    for _ in range(20):  # nobody clicks: the ramp stops for futility within a few waves
        t += timedelta(minutes=21)
        campaigns_advance_due(now=t)
        dispatch_all(t)
        campaign.refresh_from_db()
        if campaign.state != "running":
            break
    assert campaign.state == "done"
    [end] = end_decisions(campaign)
    assert end.numbers["code"] == "futility" and end.numbers["cancelled"] == 0
    sends = Send.objects.filter(campaign=campaign)
    assert sends.count() == sends.filter(state="sent").count() == campaign.sends > 0
    assert Subscriber.objects.filter(pk__in=sends.values("subscriber_id"), last_content_push_at__isnull=False).count() \
        == campaign.sends
    assert_no_open_wave(campaign)
    assert Wave.objects.filter(campaign=campaign).order_by("-number").first().decision == "stop"


@pytest.mark.django_db
def test_the_sending_cap_ends_a_campaign_that_would_expand(approved_content, population, client_a, now):
    population(1000)
    campaign = campaign_launch(content=approved_content(), now=now, max_sends=300)
    dispatch_all(now)
    clicked = list(Send.objects.filter(campaign=campaign).order_by("pk")[:60])
    events_ingest(client=client_a, now=now + timedelta(minutes=5), items=[
        {"event_id": f"k{s.pk}", "type": "click", "send_id": s.pk,
         "occurred_at": (now + timedelta(minutes=2)).isoformat()} for s in clicked])
    campaigns_advance_due(now=now + timedelta(minutes=21))
    campaign.refresh_from_db()
    assert campaign.state == "done" and campaign.sends == 300 and campaign.clicks == 60
    [end] = end_decisions(campaign)
    assert end.numbers["code"] == "cap" and end.numbers["cancelled"] == 0
    assert Send.objects.filter(campaign=campaign, state="sent").count() == 300
    assert_no_open_wave(campaign)


@pytest.mark.django_db
def test_nobody_left_ends_the_campaign_at_planning(approved_content, population, now):
    population(10, push_opt_in=False)
    campaign = campaign_launch(content=approved_content(), now=now)
    campaign.refresh_from_db()
    assert campaign.state == "done" and campaign.sends == 0
    [end] = end_decisions(campaign)
    assert end.numbers == {"code": "nobody_left", "cancelled": 0, "slots_released": 0, "waves_closed": 0}
    assert campaign.waves.get().decision == "stop"


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_worker_after_the_end_fails_and_keeps_its_slot(approved_content, population, people, now,
                                                                               settings):
    population(300)
    campaign = campaign_launch(content=approved_content(), now=now)
    # A worker claimed ten pushes and died before recording what the provider said.
    claimed = list(Send.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)[:10])
    Send.objects.filter(pk__in=claimed).update(state="claimed", claimed_at=now, attempts=1)
    campaign_stop(campaign=campaign, user=people["operator"], now=now + timedelta(minutes=1))
    assert Send.objects.filter(campaign=campaign, state="cancelled").count() == 290
    timeout = settings.PUSHADMIN["DELIVERY"]["CLAIM_TIMEOUT_SECONDS"]
    # Nothing is pending, yet the sweep must ask for a dispatch once the claims are stale: only a
    # dispatch takes them back.
    assert not sends_due_exist(now=now + timedelta(seconds=timeout - 1))
    assert sends_due_exist(now=now + timedelta(seconds=timeout + 5))
    sends_dispatch_batch(now=now + timedelta(seconds=timeout + 5))
    orphans = Send.objects.filter(pk__in=claimed)
    assert set(orphans.values_list("state", flat=True)) == {"failed"}
    assert all("may or may not have been delivered" in e for e in orphans.values_list("error", flat=True))
    # Whether it left is unknown, so the slot stays taken: never two pushes in one window.
    assert Subscriber.objects.filter(pk__in=orphans.values("subscriber_id"), last_content_push_at=now).count() == 10
    assert Wave.objects.get(campaign=campaign).failed == 10
    assert not sends_due_exist()
