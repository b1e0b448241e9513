from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.events.models import Event

URL = "/api/v1/events/"


@pytest.fixture
def world(client_a, client_b, content_factory, subscriber_factory):
    return {
        "subs": subscriber_factory(client_a, 5),
        "content": content_factory(client_a, "c1"),
        "other_sub": subscriber_factory(client_b, 1, prefix="b")[0],
        "other_content": content_factory(client_b, "bc1"),
    }


@pytest.fixture
def campaign_with_sends(client_a, world, now):
    """A campaign of c1 with one wave and a send to each of the 5 subscribers."""
    from apps.campaigns.models import Campaign, Wave
    from apps.contents.models import TitleVariant
    from apps.delivery.models import Send

    content = world["content"]
    variant = TitleVariant.objects.create(content=content, text="Title", source="original", review="approved")
    campaign = Campaign.objects.create(client=client_a, content=content, created_at=now)
    wave = Wave.objects.create(campaign=campaign, number=1, planned_size=5, created_at=now, state="observing")
    sends = Send.objects.bulk_create([
        Send(campaign=campaign, wave=wave, subscriber=s, title_variant=variant, state="sent", baseline_ctr=0.02,
             created_at=now, sent_at=now) for s in world["subs"]])
    Subscriber.objects.filter(client=client_a).update(push_sends=1)
    return {"campaign": campaign, "wave": wave, "sends": sends, "variant": variant}


def ev(i, type="read", sub="u0", content="c1", **extra):
    return {"event_id": f"e{i}", "type": type, "subscriber": sub, "content": content, **extra}


@pytest.mark.django_db
def test_accepts_and_updates_activity(api, world, now):
    r = api.post(URL, {"events": [ev(1, occurred_at="2026-11-28T08:00:00Z"), ev(2, sub="u1")]}, format="json")
    assert r.status_code == 200
    assert (r.data["accepted"], r.data["duplicates"], r.data["rejected"]) == (2, 0, 0)
    assert [x["status"] for x in r.data["results"]] == ["accepted", "accepted"]
    assert Event.objects.count() == 2
    from apps.events.services import subscribers_activity_rollup

    u0 = Subscriber.objects.get(external_id="u0", client=world["content"].client)
    assert u0.last_activity_at is None  # rolled up by the sweep, off the request path
    assert subscribers_activity_rollup() == 0  # first sweep: only notes the newest event
    assert subscribers_activity_rollup() == 2  # one sweep later the events are applied
    u0.refresh_from_db()
    assert u0.last_activity_at.isoformat() == "2026-11-28T08:00:00+00:00"
    # Older events never move activity back; newer ones do; dismissals are not activity.
    api.post(URL, {"events": [ev(5, occurred_at="2026-11-27T08:00:00Z"), ev(6, sub="u1", type="dismiss")]}, format="json")
    subscribers_activity_rollup(settle=True)
    u0.refresh_from_db()
    assert u0.last_activity_at.isoformat() == "2026-11-28T08:00:00+00:00"
    assert subscribers_activity_rollup(settle=True) == 0  # idempotent


@pytest.mark.django_db
def test_repeated_event_id_is_acknowledged_once(api, world):
    first = api.post(URL, {"events": [ev(1), ev(2)]}, format="json")
    again = api.post(URL, {"events": [ev(1), ev(3), ev(3)]}, format="json")
    assert [x["status"] for x in first.data["results"]] == ["accepted", "accepted"]
    assert [x["status"] for x in again.data["results"]] == ["duplicate", "accepted", "duplicate"]
    assert Event.objects.count() == 3


@pytest.mark.django_db
def test_same_event_id_in_two_clients_is_two_events(api, api_b, world):
    api.post(URL, {"events": [ev(1)]}, format="json")
    r = api_b.post(URL, {"events": [ev(1, sub="b0", content="bc1")]}, format="json")
    assert r.data["accepted"] == 1
    assert Event.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event, field, reason",
    [
        ({"type": "read", "subscriber": "u0", "content": "c1"}, "event_id", "required"),
        (ev(1, type="like"), "type", "not one of"),
        (ev(1, sub="nobody"), "subscriber", "Unknown subscriber"),
        (ev(1, sub="b0"), "subscriber", "Unknown subscriber"),  # another client's subscriber
        (ev(1, content="bc1"), "content", "Unknown content"),  # another client's content
        ({"event_id": "e1", "type": "read", "subscriber": "u0"}, "content", "Required unless send_id"),
        (ev(1, occurred_at="noon"), "occurred_at", "ISO-8601"),
        (ev(1, occurred_at="2099-01-01T00:00:00Z"), "occurred_at", "future"),
        (ev(1, send_id=999999), "send_id", "Unknown send"),
        (ev(1, send_id="abc"), "send_id", "positive integer"),
        ({**ev(1), "extra": 1}, "extra", "Unknown field"),
    ],
)
def test_bad_events_are_rejected_with_field_and_reason(api, world, event, field, reason):
    r = api.post(URL, {"events": [event, ev(2)]}, format="json")
    assert r.status_code == 200
    bad, good = r.data["results"]
    assert bad["status"] == "rejected" and bad["field"] == f"events[0].{field}", bad
    assert reason in bad["reason"]
    assert good["status"] == "accepted"
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_not_an_object_is_rejected(api, world):
    r = api.post(URL, {"events": [42, ev(2)]}, format="json")
    assert [x["status"] for x in r.data["results"]] == ["rejected", "accepted"]
    assert r.data["results"][0]["field"] == "events[0]"


@pytest.mark.django_db
def test_over_the_limit_is_413(api, world):
    r = api.post(URL, {"events": [ev(i) for i in range(10_001)]}, format="json")
    assert r.status_code == 413 and "10000" in r.data["message"]
    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_10000_events_in_one_request(api, world):
    r = api.post(URL, {"events": [ev(i, sub=f"u{i % 5}") for i in range(10_000)]}, format="json")
    assert r.status_code == 200 and r.data["accepted"] == 10_000
    assert Event.objects.count() == 10_000


@pytest.mark.django_db
def test_click_with_send_id_counts_once_on_the_wave(api, world, campaign_with_sends):
    from apps.campaigns.models import Campaign, Wave

    s0, s1 = campaign_with_sends["sends"][:2]
    r = api.post(URL, {"events": [
        {"event_id": "k1", "type": "click", "send_id": s0.pk},
        {"event_id": "k2", "type": "click", "send_id": s0.pk},  # a second click on the same push
        {"event_id": "k3", "type": "open", "send_id": s1.pk},
        ev(4, type="click", sub="u1"),  # subscriber + content: linked to its send
    ]}, format="json")
    assert r.data["accepted"] == 4
    api.post(URL, {"events": [{"event_id": "k1", "type": "click", "send_id": s0.pk}]}, format="json")  # repeat
    wave = Wave.objects.get(pk=campaign_with_sends["wave"].pk)
    assert wave.clicks == 2
    assert Campaign.objects.get(pk=campaign_with_sends["campaign"].pk).clicks == 2
    campaign_with_sends["variant"].refresh_from_db()
    assert campaign_with_sends["variant"].clicks == 2
    assert Event.objects.get(event_id="e4").send_id == s1.pk
    assert Subscriber.objects.get(pk=s0.subscriber_id).push_clicks == 1


@pytest.mark.django_db
def test_send_of_another_client_is_rejected_and_changes_nothing(api_b, world, campaign_with_sends):
    from apps.campaigns.models import Wave

    s0 = campaign_with_sends["sends"][0]
    r = api_b.post(URL, {"events": [{"event_id": "x", "type": "click", "send_id": s0.pk}]}, format="json")
    assert r.data["results"][0]["status"] == "rejected" and r.data["results"][0]["field"] == "events[0].send_id"
    assert Wave.objects.get(pk=campaign_with_sends["wave"].pk).clicks == 0


@pytest.mark.django_db
def test_send_mismatch_is_rejected(api, world, campaign_with_sends):
    s0 = campaign_with_sends["sends"][0]
    r = api.post(URL, {"events": [{"event_id": "x", "type": "click", "send_id": s0.pk, "subscriber": "u3"}]}, format="json")
    assert r.data["results"][0]["reason"].startswith("The send belongs to another")


@pytest.mark.django_db
def test_click_after_expiry_still_counts(api, world, campaign_with_sends, now):
    from apps.campaigns.models import Wave
    from apps.contents.models import Content

    Content.objects.filter(pk=world["content"].pk).update(status="expired", expires_at=now - timedelta(minutes=1))
    s = campaign_with_sends["sends"][2]
    api.post(URL, {"events": [{"event_id": "late", "type": "click", "send_id": s.pk}]}, format="json")
    assert Wave.objects.get(pk=campaign_with_sends["wave"].pk).clicks == 1
