"""A wave due while most of its audience is in their quiet hours waits for their morning, and a
content on its default lifetime keeps the rest of that lifetime for after the wait."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from apps.audience.models import Subscriber
from apps.campaigns.models import Wave
from apps.core.models import Decision
from apps.delivery.models import Send
from apps.orchestration.engine import campaign_launch, campaigns_advance_due
from apps.orchestration.sweep import sweep

SEOUL = ZoneInfo("Asia/Seoul")
NIGHT = datetime(2026, 11, 28, 23, 10, tzinfo=SEOUL).astimezone(timezone.utc)  # 23:10 in Seoul
MORNING = datetime(2026, 11, 29, 8, 0, tzinfo=SEOUL).astimezone(timezone.utc)  # quiet hours 22-8 end


@pytest.fixture
def seoul_and_abroad(client_a):
    """300 Korean readers in Seoul, 40 in New York (awake at 9:10 there), opted in, inactive."""
    def make(seoul=300, abroad=40):
        rows = [Subscriber(client=client_a, external_id=f"s{i}", timezone="Asia/Seoul", locale="ko-KR",
                           last_activity_at=NIGHT - timedelta(days=10)) for i in range(seoul)]
        rows += [Subscriber(client=client_a, external_id=f"n{i}", timezone="America/New_York", locale="ko-KR",
                            last_activity_at=NIGHT - timedelta(days=10)) for i in range(abroad)]
        Subscriber.objects.bulk_create(rows)
    return make


def _korean(approved_content, **kw):
    return approved_content(language="ko", created_at=NIGHT - timedelta(minutes=40), **kw)


@pytest.mark.django_db
def test_a_korean_story_at_night_waits_for_seoul_morning_and_keeps_its_lifetime(approved_content, seoul_and_abroad,
                                                                               client_a):
    seoul_and_abroad()
    content = _korean(approved_content)
    lifetime_left = content.expires_at - NIGHT
    campaign = campaign_launch(content=content, now=NIGHT)
    wave = campaign.waves.get(number=1)
    assert wave.state == Wave.State.PLANNED and wave.plan_at == MORNING and not Send.objects.exists()
    content.refresh_from_db()
    assert content.expires_at == MORNING + lifetime_left  # the night did not count
    assert wave.plan_numbers["morning_wait"]["asleep"] == 300 and wave.plan_numbers["morning_wait"]["awake"] == 40
    row = Decision.objects.get(campaign=campaign, action="wave_wait_morning")
    assert row.after["plan_at"] == MORNING.isoformat() and "quiet hours" in row.note

    # the sweep of the night leaves it planned (expiry included: its lifetime moved), the morning's plans it
    sweep(now=MORNING - timedelta(minutes=1), dispatch=lambda now: None)
    wave.refresh_from_db()
    content.refresh_from_db()
    assert wave.state == Wave.State.PLANNED and content.status == "sending"
    done = campaigns_advance_due(now=MORNING)
    wave.refresh_from_db()
    assert done["waves_planned_morning"] == 1 and wave.state == Wave.State.SENDING
    sent_to = set(Send.objects.filter(wave=wave).values_list("subscriber__timezone", flat=True))
    assert wave.sends > 0 and "Asia/Seoul" in sent_to
    assert wave.plan_numbers["morning_wait"]["asleep"] == 300 and "eligible" in wave.plan_numbers
    # one wait, one row
    assert Decision.objects.filter(campaign=campaign, action="wave_wait_morning").count() == 1


@pytest.mark.django_db
def test_a_story_whose_readers_are_mostly_awake_goes_at_once(approved_content, seoul_and_abroad):
    seoul_and_abroad(seoul=30, abroad=100)
    campaign = campaign_launch(content=_korean(approved_content), now=NIGHT)
    wave = campaign.waves.get(number=1)
    assert wave.state == Wave.State.SENDING and wave.plan_at is None
    assert set(Send.objects.filter(wave=wave).values_list("subscriber__timezone", flat=True)) == {"America/New_York"}


@pytest.mark.django_db
def test_only_the_contents_language_counts(approved_content, seoul_and_abroad, client_a):
    """An English story at 23:10 in Seoul: its English readers are in London, awake; the Korean
    readers asleep in Seoul are not its audience."""
    seoul_and_abroad(seoul=300, abroad=0)
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"l{i}", timezone="Europe/London",
                                               locale="en-GB", last_activity_at=NIGHT - timedelta(days=10))
                                    for i in range(50)])
    campaign = campaign_launch(content=approved_content(language="en", created_at=NIGHT - timedelta(minutes=40)),
                               now=NIGHT)
    assert campaign.waves.get(number=1).state == Wave.State.SENDING


@pytest.mark.django_db
def test_a_content_whose_client_set_an_earlier_expiry_does_not_wait(approved_content, seoul_and_abroad):
    seoul_and_abroad()
    content = _korean(approved_content, expires_at=NIGHT + timedelta(hours=3))
    assert content.expires_given
    campaign = campaign_launch(content=content, now=NIGHT)
    wave = campaign.waves.get(number=1)
    assert wave.state == Wave.State.SENDING and wave.plan_at is None  # the awake 40, now
    assert set(Send.objects.filter(wave=wave).values_list("subscriber__timezone", flat=True)) == {"America/New_York"}
    content.refresh_from_db()
    assert content.expires_at == NIGHT + timedelta(hours=3)


@pytest.mark.django_db
def test_a_later_wave_due_at_night_waits_too(approved_content, seoul_and_abroad, client_a):
    """Wave 1 at 21:00 in Seoul; its decision falls due after 22:00: the next wave waits."""
    from apps.campaigns.models import Campaign
    from apps.orchestration.engine import wave_decide

    seoul_and_abroad(seoul=600, abroad=10)
    evening = datetime(2026, 11, 28, 21, 0, tzinfo=SEOUL).astimezone(timezone.utc)
    content = approved_content(language="ko", created_at=evening - timedelta(minutes=40))
    campaign = campaign_launch(content=content, now=evening)
    first = campaign.waves.get(number=1)
    assert first.state == Wave.State.SENDING and first.sends > 0
    # its pushes delivered, a third clicked: the ramp expands after its window
    Send.objects.filter(wave=first).update(state=Send.State.SENT, sent_at=evening + timedelta(minutes=1))
    clicked = list(Send.objects.filter(wave=first).values_list("pk", flat=True))[::3]
    Send.objects.filter(pk__in=clicked).update(clicked_at=evening + timedelta(minutes=5))
    from apps.campaigns import services as campaigns
    campaigns.wave_record_sent(wave=first, sent_at=evening + timedelta(minutes=1))
    late = datetime(2026, 11, 28, 23, 30, tzinfo=SEOUL).astimezone(timezone.utc)
    Wave.objects.filter(pk=first.pk).update(observe_until=late - timedelta(minutes=1))
    first.refresh_from_db()
    action = wave_decide(wave=first, now=late)
    assert action in ("expand", "resend")
    second = Wave.objects.get(campaign=campaign, number=2)
    assert second.state == Wave.State.PLANNED and second.plan_at == MORNING
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.RUNNING


@pytest.mark.django_db
def test_the_campaign_page_shows_the_wave_waiting_for_the_morning(approved_content, seoul_and_abroad, people):
    from django.test import Client as Browser
    from django.utils import translation

    from apps.core.services import preference_set

    seoul_and_abroad()
    campaign = campaign_launch(content=_korean(approved_content), now=NIGHT)
    preference_set(user=people["editor"], time_zone="Asia/Seoul", language="en")
    browser = Browser()
    browser.force_login(people["editor"])
    page = browser.get(f"/dashboards/campaigns/{campaign.pk}/").content.decode()
    assert "waiting for its audience's morning" in page
    assert "planned at 08:00: 300 of its audience in their quiet hours, 40 awake" in page
    preference_set(user=people["editor"], language="ko")
    with translation.override("ko"):
        page = browser.get(f"/dashboards/campaigns/{campaign.pk}/").content.decode()
    assert "08:00에 발송 계획: 독자 중 300명은 방해 금지 시간, 40명은 깨어 있음" in page
