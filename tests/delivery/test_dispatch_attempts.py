"""The two retry settings are independent: ``HTTP_ATTEMPTS`` is how many HTTP requests the
provider makes for a push in one hand-over, ``SEND_ATTEMPTS`` how many times the dispatcher
hands one send over (with its backoff between) before the send fails."""

from datetime import timedelta

import pytest

from apps.orchestration.engine import campaign_launch
from apps.delivery.models import Send
from apps.delivery.providers import get_provider
from apps.delivery.services import sends_dispatch_batch
from tests.campaigns.conftest import approved_content, now, population  # noqa: F401  (fixtures)
from tests.delivery.fake_gateway import FakeGateway, Reply
from tests.delivery.test_providers import FakeClock, NoJitter


@pytest.mark.django_db
def test_http_attempts_per_hand_over_and_send_attempts_per_send_are_independent(settings, approved_content, population, now):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "DELIVERY": {
        **settings.PUSHADMIN["DELIVERY"], "HTTP_ATTEMPTS": 2, "SEND_ATTEMPTS": 3}}
    population(50)
    campaign = campaign_launch(content=approved_content(), now=now, initial_size=1)
    [send] = Send.objects.filter(campaign=campaign)
    clock = FakeClock()
    with FakeGateway() as gateway:
        gateway.responder = lambda r: Reply(503, body=b"always down")
        provider = get_provider("webhook", options={
            "WEBHOOK_URL": gateway.url + "/push", "WEBHOOK_SECRET": "whsec-test", "limiter": None,
            "sleep": clock.sleep, "clock": clock, "rng": NoJitter()})
        assert provider.max_attempts == 2

        t = now
        for hand_over in (1, 2, 3):
            assert sends_dispatch_batch(now=t, provider=provider)["claimed"] == 1
            send.refresh_from_db()
            assert len(gateway.requests) == 2 * hand_over and send.attempts == hand_over
            if hand_over < 3:
                assert send.state == Send.State.PENDING and send.next_attempt_at > t
                t = send.next_attempt_at
        # One short inline backoff per hand-over (two requests each); the dispatcher's waits
        # between hand-overs are scheduled, not slept.
        assert clock.sleeps == [0.5, 0.5, 0.5]
        assert send.state == Send.State.FAILED
        assert "gave up after 2 attempts" in send.error and "gave up after 3 attempts" in send.error

        assert sends_dispatch_batch(now=t + timedelta(hours=1), provider=provider)["claimed"] == 0
        assert len(gateway.requests) == 6


class AlwaysBusy:
    """A provider that takes every push and answers "try again later", without a Retry-After."""

    name = "busy"

    def send_batch(self, messages):
        from apps.delivery.providers import DeliveryResult

        return [DeliveryResult(send_id=m.send_id, ok=False, error="busy") for m in messages]


@pytest.mark.django_db
def test_the_dispatchers_backoff_and_the_providers_cooldown_come_from_the_settings(settings, approved_content,
                                                                                  population, now):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "DELIVERY": {
        **settings.PUSHADMIN["DELIVERY"], "SEND_ATTEMPTS": 5, "SEND_BACKOFF_SECONDS": 2, "SEND_BACKOFF_MAX_SECONDS": 5,
        "COOLDOWN_SECONDS": 7, "WEBHOOK_URL": "https://push.example.com/", "WEBHOOK_SECRET": "s"}}
    population(10)
    campaign = campaign_launch(content=approved_content(), now=now, initial_size=1)
    [send] = Send.objects.filter(campaign=campaign)
    waits, t = [], now
    for _ in range(4):
        assert sends_dispatch_batch(now=t, provider=AlwaysBusy())["claimed"] == 1
        send.refresh_from_db()
        waits.append((send.next_attempt_at - t).total_seconds())
        t = send.next_attempt_at
    assert waits == [2, 4, 5, 5]  # doubling from the first wait, capped
    assert get_provider("webhook", options={"limiter": None}).cooldown == 7


@pytest.mark.django_db
def test_a_push_delivered_after_a_retry_keeps_why_and_a_claim_taken_back_says_so(settings, approved_content,
                                                                                 population, now):
    from apps.delivery.providers import get_provider as provider_named

    settings.PUSHADMIN = {**settings.PUSHADMIN, "DELIVERY": {**settings.PUSHADMIN["DELIVERY"], "CLAIM_TIMEOUT_SECONDS": 60}}
    population(10)
    campaign = campaign_launch(content=approved_content(), now=now, initial_size=2)
    first, second = Send.objects.filter(campaign=campaign).order_by("pk")
    delivering = provider_named("log", options={"limiter": None})

    sends_dispatch_batch(now=now, provider=AlwaysBusy())
    first.refresh_from_db()
    assert (first.state, first.error) == ("pending", "busy")
    # The second was claimed by a worker that died before recording anything.
    Send.objects.filter(pk=second.pk).update(state="claimed", claimed_at=now)
    later = first.next_attempt_at + timedelta(seconds=61)
    sends_dispatch_batch(now=later, provider=delivering)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.error) == ("sent", "busy")  # delivered, and why it took a retry
    assert second.state == "sent" and second.error.startswith("Claim taken back after 60 s")
