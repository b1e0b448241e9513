"""The push providers against a real local HTTP server (tests/delivery/fake_gateway.py) and the
real Redis. Nothing sleeps for backoff: the providers get a fake clock whose ``sleep`` records
the wait and moves time on."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from email.utils import formatdate

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from django.core.exceptions import ImproperlyConfigured

from apps.delivery.providers import (
    DeliveryResult,
    FcmProvider,
    LogProvider,
    Provider,
    PushMessage,
    RateLimitTimeout,
    RedisRateLimiter,
    WebhookProvider,
    get_provider,
    parse_retry_after,
    verify,
)
from apps.delivery.providers.transport import pooled_session
from tests.delivery.fake_gateway import Drop, FakeGateway, Hang, Reply, fcm_error, fcm_responder

SECRET = "whsec-test-123"
T0 = 1_700_000_000.0


class FakeClock:
    """time() and sleep(): sleeping records the wait and moves the clock."""

    def __init__(self, start: float = T0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class NoJitter:
    """The top of every jitter range, so backoff waits are exact: base * 2 ** (attempt - 1)."""

    def random(self) -> float:
        return 1.0


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def gateway():
    with FakeGateway() as gw:
        yield gw


@pytest.fixture
def fcm_gateway():
    with FakeGateway(responder=fcm_responder, tls=True) as gw:  # FCM is https only
        yield gw


def msg(send_id: int = 41, **fields) -> PushMessage:
    values = dict(
        send_id=send_id, campaign_id=7, content_external_id="news-2024-001", subscriber_external_id=f"u{send_id}",
        push_token=f"tok-{send_id}", platform="android", title="서울 첫눈 — first snow", body="Read the story",
        url="https://news.example/first-snow", data={"section": "local"},
    )
    values.update(fields)
    return PushMessage(**values)


def webhook(gw: FakeGateway, clock: FakeClock, **options) -> WebhookProvider:
    return get_provider("webhook", options={
        "WEBHOOK_URL": gw.url + "/hooks/push", "WEBHOOK_SECRET": SECRET, "HTTP_ATTEMPTS": 5,
        "sleep": clock.sleep, "clock": clock, "rng": NoJitter(), **options,
    })


def fcm(gw: FakeGateway, clock: FakeClock, **options) -> FcmProvider:
    return get_provider("fcm", options={
        "FCM_BASE_URL": gw.url, "FCM_PROJECT_ID": "demo-proj", "FCM_ACCESS_TOKEN": "ya29.test-token",
        "HTTP_ATTEMPTS": 5, "sleep": clock.sleep, "clock": clock, "rng": NoJitter(), "session": gw.session(), **options,
    })


def receiver_verifies(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """The verification recipe of docs/delivery.md, written out independently of the code."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, fields["v1"])


# --- webhook -------------------------------------------------------------------------------------

def test_webhook_posts_the_signed_json_push(gateway, clock):
    provider = webhook(gateway, clock)
    [result] = provider.send_batch([msg(41)])

    assert result == DeliveryResult(send_id=41, ok=True, provider_message_id="gw-1")
    [req] = gateway.requests
    assert (req.method, req.path) == ("POST", "/hooks/push")
    assert req.json == {
        "event": "push", "send_id": 41, "campaign_id": 7, "content_external_id": "news-2024-001",
        "subscriber_external_id": "u41", "push_token": "tok-41", "platform": "android",
        "title": "서울 첫눈 — first snow", "body": "Read the story", "url": "https://news.example/first-snow",
        "data": {"section": "local"},
    }
    # Compact, sorted, UTF-8: the bytes signed are the bytes sent.
    assert req.body == json.dumps(req.json, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Idempotency-Key"] == "41"
    assert req.headers["X-Pushadmin-Attempt"] == "1"
    assert req.headers["User-Agent"].startswith("pushadmin-delivery/")
    signature = req.headers["X-Pushadmin-Signature"]
    assert signature.startswith(f"t={int(T0)},v1=")
    assert receiver_verifies(SECRET, signature, req.body, now=T0)
    assert verify(SECRET, signature, req.body, now=T0)
    # A tampered body, another secret or a stale timestamp do not verify.
    assert not receiver_verifies(SECRET, signature, req.body.replace(b"41", b"42"), now=T0)
    assert not receiver_verifies("other", signature, req.body, now=T0)
    assert not receiver_verifies(SECRET, signature, req.body, now=T0 + 301)
    assert not verify(SECRET, "garbage", req.body, now=T0)


def test_webhook_sends_one_request_per_message_in_order_over_one_pooled_connection(gateway, clock):
    results = webhook(gateway, clock).send_batch([msg(i) for i in range(1, 6)])

    assert [r.send_id for r in results] == [1, 2, 3, 4, 5] and all(r.ok for r in results)
    assert [r.json["send_id"] for r in gateway.requests] == [1, 2, 3, 4, 5]
    assert len({r.connection for r in gateway.requests}) == 1
    assert clock.sleeps == []


def test_webhook_429_waits_exactly_the_retry_after_seconds(gateway, clock):
    gateway.script(Reply(429, json={"error": "slow down"}, headers={"Retry-After": "3"}))
    [result] = webhook(gateway, clock).send_batch([msg(41)])

    assert result.ok and clock.sleeps == [3.0]
    first, second = gateway.requests
    assert first.body == second.body and first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "41"
    assert [first.headers["X-Pushadmin-Attempt"], second.headers["X-Pushadmin-Attempt"]] == ["1", "2"]
    # Each attempt is signed at its own time.
    assert second.headers["X-Pushadmin-Signature"].startswith(f"t={int(T0 + 3)},")
    assert receiver_verifies(SECRET, second.headers["X-Pushadmin-Signature"], second.body, now=T0 + 3)


def test_webhook_503_retry_after_as_an_http_date(gateway, clock):
    gateway.script(Reply(503, body=b"maintenance", headers={"Retry-After": formatdate(T0 + 7, usegmt=True)}))
    [result] = webhook(gateway, clock).send_batch([msg()])

    assert result.ok and clock.sleeps == [7.0] and len(gateway.requests) == 2


def test_webhook_5xx_then_success_backs_off_exponentially(gateway, clock):
    gateway.script(Reply(500, body=b"oops"), Reply(502, body=b"bad gateway"))
    [result] = webhook(gateway, clock).send_batch([msg()])

    assert result.ok and result.provider_message_id == "gw-3"
    assert len(gateway.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_webhook_timeout_then_success(gateway, clock):
    gateway.script(Hang(5))
    started = time.monotonic()
    # A timeout a loaded machine's normal reply stays well inside (0.2 s was not: a second
    # attempt timed out too); the hang is five times longer.
    [result] = webhook(gateway, clock, TIMEOUT_SECONDS=1.0).send_batch([msg()])

    assert result.ok and len(gateway.requests) == 2 and clock.sleeps == [0.5]
    assert time.monotonic() - started < 4  # the hung request was abandoned at the timeout


def test_webhook_connection_drop_then_success(gateway, clock):
    gateway.script(Drop(), Drop())
    [result] = webhook(gateway, clock).send_batch([msg()])

    assert result.ok and len(gateway.requests) == 3 and clock.sleeps == [0.5, 1.0]


def test_webhook_5xx_forever_is_a_non_permanent_failure_after_its_http_attempts(gateway, clock):
    gateway.responder = lambda r: Reply(503, body=b"upstream unavailable")
    [result] = webhook(gateway, clock, HTTP_ATTEMPTS=4).send_batch([msg(41)])

    assert len(gateway.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert not result.ok and not result.permanent and result.retry_after is None
    assert "503" in result.error and "upstream unavailable" in result.error and "gave up after 4 attempts" in result.error


def test_webhook_timeouts_forever_report_the_timeout(gateway, clock):
    gateway.responder = lambda r: Hang(5)
    [result] = webhook(gateway, clock, HTTP_ATTEMPTS=2, TIMEOUT_SECONDS=0.1).send_batch([msg()])

    assert len(gateway.requests) == 2 and not result.ok and not result.permanent
    assert "timeout after 0.1 s" in result.error


def test_webhook_429_forever_carries_the_last_retry_after(gateway, clock):
    gateway.responder = lambda r: Reply(429, headers={"Retry-After": "2"})
    [result] = webhook(gateway, clock, HTTP_ATTEMPTS=3).send_batch([msg()])

    assert len(gateway.requests) == 3 and clock.sleeps == [2.0, 2.0]
    assert not result.permanent and result.retry_after == 2.0 and "429" in result.error


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_webhook_other_4xx_is_permanent_without_retry(gateway, clock, status):
    gateway.script(Reply(status, json={"error": "unknown_token", "detail": "token tok-41 is not registered"}))
    [result] = webhook(gateway, clock).send_batch([msg(41)])

    assert len(gateway.requests) == 1 and clock.sleeps == []
    assert not result.ok and result.permanent
    assert f"HTTP {status}" in result.error and "token tok-41 is not registered" in result.error


def test_webhook_long_retry_after_is_handed_to_the_dispatcher_not_waited(gateway, clock):
    gateway.script(Reply(429, headers={"Retry-After": "120"}))
    results = webhook(gateway, clock).send_batch([msg(1), msg(2), msg(3)])

    assert len(gateway.requests) == 1 and clock.sleeps == []
    assert [r.retry_after for r in results] == [120.0, 120.0, 120.0]
    assert not any(r.ok or r.permanent for r in results)
    assert results[1].error.startswith("not attempted:") and "429" in results[1].error


def test_webhook_rejected_credentials_stop_the_batch_but_lose_nothing(gateway, clock):
    gateway.responder = lambda r: Reply(401, json={"error": "bad signature"})
    results = webhook(gateway, clock).send_batch([msg(1), msg(2), msg(3)])

    assert len(gateway.requests) == 1
    assert [(r.ok, r.permanent) for r in results] == [(False, False)] * 3
    assert "401" in results[0].error and "bad signature" in results[0].error


def test_webhook_does_not_follow_redirects(gateway, clock):
    gateway.script(Reply(302, headers={"Location": "/elsewhere"}))
    [result] = webhook(gateway, clock).send_batch([msg()])

    assert len(gateway.requests) == 1 and [r.path for r in gateway.requests] == ["/hooks/push"]
    assert not result.ok and not result.permanent and "302" in result.error


def test_one_failing_message_costs_its_retries_then_a_probe_decides(gateway, clock):
    gateway.on(lambda r: r.json["push_token"] == "poison", Reply(500, body=b"crash on this payload"))
    results = webhook(gateway, clock, HTTP_ATTEMPTS=3).send_batch(
        [msg(1, push_token="poison"), msg(2), msg(3)])

    # The endpoint still works for others: the probe (send 2) succeeds, send 3 is sent normally.
    assert [r.ok for r in results] == [False, True, True]
    assert [r.json["send_id"] for r in gateway.requests] == [1, 1, 1, 2, 3]


def test_an_endpoint_that_is_down_fails_the_batch_fast(gateway, clock):
    gateway.responder = lambda r: Reply(500, body=b"down")
    results = webhook(gateway, clock, HTTP_ATTEMPTS=3).send_batch([msg(i) for i in range(1, 11)])

    # 3 attempts for the first message, one probe for the second, none for the rest.
    assert [r.json["send_id"] for r in gateway.requests] == [1, 1, 1, 2]
    assert clock.sleeps == [0.5, 1.0]
    assert not any(r.ok or r.permanent for r in results)
    assert all(r.error.startswith("not attempted:") for r in results[2:])


def test_after_a_stopped_batch_the_next_batches_wait_out_a_pause_then_probe(gateway, clock):
    gateway.responder = lambda r: Reply(500, body=b"down")
    provider = webhook(gateway, clock, HTTP_ATTEMPTS=2, COOLDOWN_SECONDS=20)
    provider.send_batch([msg(1), msg(2), msg(3)])
    assert len(gateway.requests) == 3  # 2 attempts for send 1, a failed probe with send 2

    # The dispatcher's next chunk, right away: nothing is sent, the wait is handed back.
    clock.now += 5
    paused = provider.send_batch([msg(4), msg(5)])
    assert len(gateway.requests) == 3
    assert [r.retry_after for r in paused] == [pytest.approx(15.0)] * 2
    assert all(not r.permanent and r.error.startswith("not attempted:") and "500" in r.error for r in paused)

    # After the pause one probe decides: still down -> paused again after a single request.
    clock.now += 15
    provider.send_batch([msg(6), msg(7)])
    assert len(gateway.requests) == 4

    # Back up: the probe succeeds and the batch goes on normally.
    clock.now += 20
    gateway.responder = lambda r: Reply(200, json={"id": "back"})
    assert all(r.ok for r in provider.send_batch([msg(8), msg(9)]))
    assert [r.json["send_id"] for r in gateway.requests[4:]] == [8, 9]


def test_a_pause_follows_the_retry_after_that_caused_it(gateway, clock):
    gateway.script(Reply(503, headers={"Retry-After": "90"}))
    provider = webhook(gateway, clock)
    provider.send_batch([msg(1)])
    clock.now += 30
    [result] = provider.send_batch([msg(2)])
    assert result.retry_after == pytest.approx(60.0) and len(gateway.requests) == 1


def test_backoff_has_jitter_within_half_to_full_of_a_capped_exponential(gateway, clock):
    gateway.responder = lambda r: Reply(500)
    webhook(gateway, clock, HTTP_ATTEMPTS=7, BACKOFF_BASE_SECONDS=1, BACKOFF_MAX_SECONDS=8,
            rng=random.Random(1234)).send_batch([msg()])

    ceilings = [1, 2, 4, 8, 8, 8]
    assert len(clock.sleeps) == 6
    assert all(c / 2 <= s <= c for s, c in zip(clock.sleeps, ceilings))
    assert len(set(clock.sleeps)) == 6  # jittered, not lock-step


def test_a_message_that_cannot_be_encoded_is_refused_not_raised(gateway, clock):
    results = webhook(gateway, clock).send_batch([msg(1, data={"when": object()}), msg(2)])

    assert results[0].permanent and "cannot be encoded as JSON" in results[0].error
    assert results[1].ok and [r.json["send_id"] for r in gateway.requests] == [2]
    assert webhook(gateway, clock).send_batch([]) == []


def test_webhook_configuration_is_checked_up_front(gateway):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_URL"):
        get_provider("webhook", options={"WEBHOOK_URL": "", "WEBHOOK_SECRET": SECRET})
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_SECRET"):
        get_provider("webhook", options={"WEBHOOK_URL": gateway.url, "WEBHOOK_SECRET": ""})
    with pytest.raises(ImproperlyConfigured, match="https"):
        get_provider("webhook", options={"WEBHOOK_URL": "http://receiver.example/push", "WEBHOOK_SECRET": SECRET})
    assert get_provider("webhook", options={"WEBHOOK_URL": "https://receiver.example/push", "WEBHOOK_SECRET": SECRET})


def test_retry_after_parsing():
    assert parse_retry_after("3", now=T0) == 3.0
    assert parse_retry_after(" 1.5 ", now=T0) == 1.5
    assert parse_retry_after("-4", now=T0) == 0.0
    assert parse_retry_after(formatdate(T0 + 30, usegmt=True), now=T0) == 30.0
    assert parse_retry_after(formatdate(T0 - 30, usegmt=True), now=T0) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now=T0) is None


# --- FCM -----------------------------------------------------------------------------------------

def test_fcm_sends_the_v1_message_with_the_content_id_as_collapse_key_and_tag(fcm_gateway, clock):
    [result] = fcm(fcm_gateway, clock).send_batch([msg(41, data={"section": "local", "send_id": "spoof"})])

    [req] = fcm_gateway.requests
    assert (req.method, req.path) == ("POST", "/v1/projects/demo-proj/messages:send")
    assert req.headers["Authorization"] == "Bearer ya29.test-token"
    assert req.headers["Content-Type"].startswith("application/json")
    assert req.json == {"message": {
        "token": "tok-41",
        "notification": {"title": "서울 첫눈 — first snow", "body": "Read the story"},
        "data": {"section": "local", "send_id": "41", "campaign_id": "7", "content_id": "news-2024-001",
                 "url": "https://news.example/first-snow"},
        "android": {"collapse_key": "news-2024-001", "notification": {"tag": "news-2024-001"}},
        "apns": {"headers": {"apns-collapse-id": "news-2024-001"}},
        "webpush": {"notification": {"tag": "news-2024-001"}, "fcm_options": {"link": "https://news.example/first-snow"}},
    }}
    assert all(isinstance(v, str) for v in req.json["message"]["data"].values())
    assert result.ok and result.provider_message_id.startswith("projects/demo-proj/messages/0:")


def test_fcm_optional_parts(fcm_gateway, clock):
    long_id = "x" * 80
    fcm(fcm_gateway, clock, FCM_ANDROID_CLICK_ACTION="OPEN_STORY").send_batch(
        [msg(content_external_id=long_id, url="http://insecure.example/", data={})])

    message = fcm_gateway.requests[0].json["message"]
    key = hashlib.sha256(long_id.encode()).hexdigest()
    assert message["android"] == {"collapse_key": key, "notification": {"tag": key, "click_action": "OPEN_STORY"}}
    assert message["apns"]["headers"]["apns-collapse-id"] == key and len(key) == 64
    assert message["data"]["content_id"] == long_id  # the app still gets the real id
    assert message["webpush"] == {"notification": {"tag": key}}  # FCM accepts only https links


@pytest.mark.parametrize("reply, needle", [
    (fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."), "FCM HTTP 404 UNREGISTERED: Requested entity was not found."),
    (fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), "FCM HTTP 400 INVALID_ARGUMENT"),
    (fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"), "FCM HTTP 403 SENDER_ID_MISMATCH"),
    (fcm_error(400, "INVALID_ARGUMENT", None, "Invalid JSON payload received."), "FCM HTTP 400 INVALID_ARGUMENT: Invalid JSON payload"),
])
def test_fcm_bad_tokens_and_bad_messages_are_permanent(fcm_gateway, clock, reply, needle):
    fcm_gateway.script(reply)
    [result] = fcm(fcm_gateway, clock).send_batch([msg()])

    assert len(fcm_gateway.requests) == 1 and clock.sleeps == []
    assert not result.ok and result.permanent and needle in result.error


def test_fcm_mixed_batch_keeps_order_and_per_message_outcomes(fcm_gateway, clock):
    fcm_gateway.on(lambda r: r.json["message"]["token"] == "gone",
                   fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."))
    results = fcm(fcm_gateway, clock).send_batch([msg(1), msg(2, push_token="gone"), msg(3)])

    assert [r.send_id for r in results] == [1, 2, 3]
    assert [(r.ok, r.permanent) for r in results] == [(True, False), (False, True), (True, False)]
    assert len(fcm_gateway.requests) == 3


def test_fcm_quota_exceeded_waits_the_retry_after(fcm_gateway, clock):
    fcm_gateway.script(fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded", retry_after="4"))
    [result] = fcm(fcm_gateway, clock).send_batch([msg()])

    assert result.ok and clock.sleeps == [4.0] and len(fcm_gateway.requests) == 2


def test_fcm_unavailable_then_internal_then_success(fcm_gateway, clock):
    fcm_gateway.script(fcm_error(503, "UNAVAILABLE", "UNAVAILABLE", retry_after="1"), fcm_error(500, "INTERNAL", "INTERNAL"))
    [result] = fcm(fcm_gateway, clock).send_batch([msg()])

    assert result.ok and clock.sleeps == [1.0, 1.0] and len(fcm_gateway.requests) == 3


def test_fcm_timeout_then_success(fcm_gateway, clock):
    fcm_gateway.script(Hang(5))
    [result] = fcm(fcm_gateway, clock, TIMEOUT_SECONDS=1.0).send_batch([msg()])  # as the webhook's

    assert result.ok and len(fcm_gateway.requests) == 2


def test_fcm_5xx_forever(fcm_gateway, clock):
    fcm_gateway.responder = lambda r: fcm_error(500, "INTERNAL", "INTERNAL", "Internal error encountered.")
    [result] = fcm(fcm_gateway, clock, HTTP_ATTEMPTS=3).send_batch([msg()])

    assert len(fcm_gateway.requests) == 3 and clock.sleeps == [0.5, 1.0]
    assert not result.ok and not result.permanent
    assert "FCM HTTP 500 INTERNAL: Internal error encountered." in result.error and "gave up after 3 attempts" in result.error


def test_fcm_rejected_access_token_stops_the_batch_without_blaming_the_messages(fcm_gateway, clock):
    fcm_gateway.responder = lambda r: fcm_error(401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials.")
    results = fcm(fcm_gateway, clock).send_batch([msg(1), msg(2)])

    assert len(fcm_gateway.requests) == 1
    assert [(r.ok, r.permanent) for r in results] == [(False, False), (False, False)]
    assert "FCM HTTP 401 UNAUTHENTICATED" in results[0].error


def test_fcm_third_party_auth_error_fails_that_message_and_goes_on(fcm_gateway, clock):
    fcm_gateway.on(lambda r: r.json["message"]["token"] == "ios-token",
                   fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "APNs certificate invalid"))
    results = fcm(fcm_gateway, clock).send_batch([msg(1, push_token="ios-token", platform="ios"), msg(2)])

    assert [(r.ok, r.permanent) for r in results] == [(False, False), (True, False)]
    assert "THIRD_PARTY_AUTH_ERROR" in results[0].error and len(fcm_gateway.requests) == 2


def test_fcm_access_token_from_a_callable_on_every_request(fcm_gateway, clock):
    tokens = iter(["tok-a", "tok-b"])
    fcm(fcm_gateway, clock, FCM_ACCESS_TOKEN="", access_token=lambda: next(tokens)).send_batch([msg(1), msg(2)])
    assert [r.headers["Authorization"] for r in fcm_gateway.requests] == ["Bearer tok-a", "Bearer tok-b"]


def test_fcm_token_source_failure_sends_nothing(fcm_gateway, clock):
    def broken():
        raise RuntimeError("metadata server unreachable")

    results = fcm(fcm_gateway, clock, access_token=broken).send_batch([msg(1), msg(2)])
    assert fcm_gateway.requests == []
    assert not any(r.ok or r.permanent for r in results)
    assert "metadata server unreachable" in results[0].error


@pytest.mark.parametrize("fields, needle", [
    ({"push_token": ""}, "no push token"),
    ({"data": {"from": "x"}}, "'from' is reserved"),
    ({"data": {"google.c.a": "1"}}, "reserved"),
    ({"data": {"count": 3}}, "strings to strings"),
])
def test_fcm_refuses_messages_it_would_reject_without_sending(fcm_gateway, clock, fields, needle):
    [result] = fcm(fcm_gateway, clock).send_batch([msg(**fields)])
    assert fcm_gateway.requests == [] and result.permanent and needle in result.error


def test_fcm_configuration_is_checked_up_front():
    with pytest.raises(ImproperlyConfigured, match="FCM_PROJECT_ID"):
        get_provider("fcm", options={"FCM_PROJECT_ID": "", "FCM_ACCESS_TOKEN": "t"})
    with pytest.raises(ImproperlyConfigured, match="FCM_ACCESS_TOKEN"):
        get_provider("fcm", options={"FCM_PROJECT_ID": "p", "FCM_ACCESS_TOKEN": ""})


@pytest.mark.parametrize("base_url", ["http://fcm.googleapis.com", "http://127.0.0.1:8080", "ftp://fcm.example",
                                      "fcm.googleapis.com", "https://"])
def test_fcm_refuses_an_endpoint_that_is_not_https(base_url):
    with pytest.raises(ImproperlyConfigured) as refused:
        get_provider("fcm", options={"FCM_PROJECT_ID": "p", "FCM_ACCESS_TOKEN": "t", "FCM_BASE_URL": base_url})
    assert "PUSHADMIN_FCM_BASE_URL must be an https:// URL" in str(refused.value) and repr(base_url) in str(refused.value)


def test_fcm_over_https_checks_the_gateway_certificate(fcm_gateway, clock):
    """The TLS gateway answers a session that trusts its certificate; a default session refuses it
    (nothing reaches the gateway) and says so in the result instead of raising."""
    [trusted] = fcm(fcm_gateway, clock).send_batch([msg(1)])
    assert fcm_gateway.url.startswith("https://") and trusted.ok and len(fcm_gateway.requests) == 1

    [untrusted] = fcm(fcm_gateway, clock, session=pooled_session(), HTTP_ATTEMPTS=1).send_batch([msg(2)])
    assert not untrusted.ok and "SSL" in untrusted.error and len(fcm_gateway.requests) == 1


# --- rate limit ----------------------------------------------------------------------------------

def test_two_limiters_share_one_budget(clock):
    worker_a = RedisRateLimiter("webhook", 10, burst=10, clock=clock, sleep=clock.sleep)
    worker_b = RedisRateLimiter("webhook", 10, burst=10, clock=clock, sleep=clock.sleep)
    other = RedisRateLimiter("fcm", 10, burst=10, clock=clock, sleep=clock.sleep)

    assert worker_a.acquire(6) == 0
    assert worker_b.acquire(6) == pytest.approx(0.2)  # 4 were left: 2 more take 0.2 s at 10/s
    assert other.acquire(10) == 0  # another provider's bucket is separate

    # Alternating single takes for 10 simulated seconds: together they get the rate, not twice it.
    start, taken = clock.now, 0
    while clock.now - start < 10:
        (worker_a if taken % 2 else worker_b).acquire(1)
        taken += 1
    assert taken == pytest.approx(100, abs=2)


def test_two_limiters_on_the_redis_clock_in_parallel_threads():
    """Separate Redis connections (as separate processes would have), the server's clock."""
    from django.conf import settings

    def worker(limiter):
        for _ in range(40):
            limiter.acquire(1)

    limiters = [RedisRateLimiter("parallel", 200, burst=10, redis=redis.Redis.from_url(settings.REDIS_URL)) for _ in range(2)]
    threads = [threading.Thread(target=worker, args=(lim,)) for lim in limiters]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - started
    # 80 tokens at 200/s with 10 in the bucket cannot take less than 0.35 s if the budget is shared
    # (it would take 0.15 s if each had its own).
    assert elapsed >= 0.3


def test_providers_as_two_workers_wait_through_the_injected_sleep(gateway, clock):
    options = {"RATE_PER_SECOND": 5, "RATE_BURST": 5}
    worker_a, worker_b = webhook(gateway, clock, **options), webhook(gateway, clock, **options)

    assert all(r.ok for r in worker_a.send_batch([msg(i) for i in range(5)]))
    assert clock.sleeps == []
    assert all(r.ok for r in worker_b.send_batch([msg(5), msg(6)]))
    assert clock.sleeps == [pytest.approx(0.2), pytest.approx(0.2)]
    assert len(gateway.requests) == 7


def test_retries_draw_from_the_budget_too(gateway, clock):
    gateway.script(Reply(500))
    webhook(gateway, clock, RATE_PER_SECOND=1, RATE_BURST=1, BACKOFF_BASE_SECONDS=0.25).send_batch([msg()])
    # Backoff 0.25 s, then the second attempt waits for the bucket to refill (0.75 s more).
    assert clock.sleeps == [0.25, pytest.approx(0.75)]


def test_a_limiter_that_would_wait_too_long_hands_the_wait_back(gateway, clock):
    provider = webhook(gateway, clock, RATE_PER_SECOND=1, RATE_BURST=1, RATE_LIMIT_MAX_WAIT_SECONDS=0.5)
    results = provider.send_batch([msg(1), msg(2), msg(3)])

    assert [r.ok for r in results] == [True, False, False] and len(gateway.requests) == 1
    assert results[1].retry_after == pytest.approx(1.0) and not results[1].permanent
    assert "rate limit" in results[1].error
    # Refused before any request: neither it nor the rest used up a hand-over.
    assert [r.attempted for r in results] == [True, False, False]


def test_an_unreachable_limiter_sends_nothing_and_says_why(gateway, clock):
    # redis-py retries a refused connection with backoff by default (seconds); this client fails at once.
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    results = webhook(gateway, clock, redis=dead).send_batch([msg(1), msg(2)])
    assert gateway.requests == []
    assert all(not r.ok and not r.permanent and "rate limiter unavailable" in r.error for r in results)
    assert not any(r.attempted for r in results)  # nothing left: no hand-over used up

    [log_result] = get_provider("log", options={"redis": dead}).send_batch([msg(1)])
    assert not log_result.ok and "rate limiter unavailable" in log_result.error


def test_limiter_timeout_exception_states_the_wait(clock):
    limiter = RedisRateLimiter("tiny", 1, burst=1, clock=clock, sleep=clock.sleep, max_wait=0)
    limiter.acquire(1)
    with pytest.raises(RateLimitTimeout) as caught:
        limiter.acquire(1)
    assert caught.value.retry_after == pytest.approx(1.0) and clock.sleeps == []


# --- log -----------------------------------------------------------------------------------------

def test_log_provider_logs_one_line_each_and_keeps_the_latest(caplog):
    provider = get_provider("log", options={"LOG_KEEP": 3})
    with caplog.at_level(logging.INFO, logger="apps.delivery.providers.log"):
        results = provider.send_batch([msg(i) for i in range(1, 6)])

    assert [(r.send_id, r.ok, r.provider_message_id) for r in results] == [(i, True, f"log-{i}") for i in range(1, 6)]
    lines = [r for r in caplog.records if r.name == "apps.delivery.providers.log"]
    assert len(lines) == 5 and all(r.levelno == logging.INFO for r in lines)
    assert "send=1 " in lines[0].getMessage() and "content=news-2024-001" in lines[0].getMessage()
    assert [m.send_id for m in provider.sent] == [3, 4, 5]
    assert provider.send_batch([]) == []


def test_log_provider_throughput_is_far_above_the_dispatcher_target():
    messages = [msg(i) for i in range(20_000)]
    provider = get_provider("log", options={"RATE_PER_SECOND": 10_000_000})

    started = time.perf_counter()
    results = provider.send_batch(messages)
    elapsed = time.perf_counter() - started

    started = time.perf_counter()
    floor = [DeliveryResult(send_id=m.send_id, ok=True, provider_message_id=f"log-{m.send_id}") for m in messages]
    floor_elapsed = time.perf_counter() - started

    assert results == floor
    # The dispatcher targets 5,000 sends/s; 20,000 in 4 s is that rate, with logging on.
    assert elapsed < 4.0, f"{len(messages) / elapsed:.0f} sends/s"
    print(f"log provider: {len(messages) / elapsed:,.0f} sends/s ({elapsed / max(floor_elapsed, 1e-9):.1f}x building the results alone)")


# --- get_provider ----------------------------------------------------------------------------------

def test_get_provider_follows_settings_and_reuses_the_instance(settings):
    provider = get_provider()
    assert isinstance(provider, LogProvider) and isinstance(provider, Provider)
    assert get_provider() is provider  # pooled state survives between batches
    assert get_provider(options={"LOG_KEEP": 5}) is not provider

    settings.PUSHADMIN = {**settings.PUSHADMIN, "DELIVERY": {
        **settings.PUSHADMIN["DELIVERY"], "PROVIDER": "webhook",
        "WEBHOOK_URL": "https://receiver.example/push", "WEBHOOK_SECRET": SECRET}}
    webhook_provider = get_provider()
    assert isinstance(webhook_provider, WebhookProvider) and webhook_provider.url == "https://receiver.example/push"
    assert webhook_provider.max_attempts == settings.PUSHADMIN["DELIVERY"]["HTTP_ATTEMPTS"]
    assert webhook_provider.limiter.rate == settings.PUSHADMIN["DELIVERY"]["RATE_PER_SECOND"]


def test_get_provider_refuses_unknown_names_and_options():
    with pytest.raises(ImproperlyConfigured, match="choose one of"):
        get_provider("carrier-pigeon")
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_SECERT"):
        get_provider("webhook", options={"WEBHOOK_SECERT": "typo"})
    # The dispatcher's hand-overs of a send are not a provider option (HTTP_ATTEMPTS is).
    with pytest.raises(ImproperlyConfigured, match="SEND_ATTEMPTS"):
        get_provider("webhook", options={"SEND_ATTEMPTS": 3})


def test_no_limiter_when_asked():
    assert get_provider("log", options={"limiter": None}).limiter is None
