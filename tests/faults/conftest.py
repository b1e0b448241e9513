"""What the fault tests share: the processes they start, a Redis of their own, a wave launched at
the real clock, a push gateway that keeps score per Idempotency-Key, and the checks that must
hold after every fault."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from tests.delivery.fake_gateway import FakeGateway, Hang, Reply
from tests.faults.services import Processes, RedisServer
from tests.processes import database_url_for_subprocess, subprocess_env

WEBHOOK_SECRET = "fault-secret"


@pytest.fixture
def procs(tmp_path):
    """Processes started by the test; every one is stopped when it ends, pass or fail."""
    started = Processes(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis of the test's own (the suite's, at REDIS_URL, serves the other tests and is never
    killed). The test process reads it too: the system page's health checks."""
    server = RedisServer(tmp_path / "redis").start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    yield server
    server.stop()


class Gateway(FakeGateway):
    """The webhook receiver: answers 200 with an id unless it is down (then it holds every request
    past the provider's timeout and closes it unanswered), and counts the 2xx answers it gave per
    Idempotency-Key: what a receiver that drops repeats would have delivered, and what one that
    does not would have shown twice."""

    def __init__(self, *, delay: float = 0.0, hang: float = 3.0):
        super().__init__()
        self.delay, self.hang = delay, hang
        self.down = threading.Event()
        self.accepted: Counter = Counter()
        self.unanswered = 0

    def respond(self, request):
        if self.down.is_set():
            with self._lock:  # one handler thread per connection
                self.unanswered += 1
            return Hang(self.hang)  # then closed without an answer
        if self.delay:
            time.sleep(self.delay)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            self.accepted[key] += 1
        return Reply(200, json={"id": f"gw-{key}-{self.accepted[key]}"})

    def start(self):
        self.responder = self.respond
        return super().start()


@pytest.fixture
def gateway():
    with Gateway() as gw:
        yield gw


def service_env(*, redis_url: str, gateway_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat: the test's database and Redis, the webhook provider
    pointed at the gateway, the sweep every second, and the product's own delivery settings
    given in ``extra`` (PUSHADMIN_PUSH_*)."""
    return subprocess_env(
        DATABASE_URL=database_url_for_subprocess(), REDIS_URL=redis_url, PUSHADMIN_PUSH_PROVIDER="webhook",
        PUSHADMIN_WEBHOOK_URL=gateway_url, PUSHADMIN_WEBHOOK_SECRET=WEBHOOK_SECRET, PUSHADMIN_PUSH_RATE="100000",
        PUSHADMIN_SWEEP_SECONDS="1", PYTHONUNBUFFERED="1", DJANGO_LOG_LEVEL="WARNING", **extra)


@pytest.fixture
def launched_wave(make_client, content_factory):
    """``make(n)``: a client without quiet hours (the workers read the real clock), ``n`` inactive
    subscribers and an approved content whose campaign is launched now with a first wave of
    ``n``: ``n`` pending sends, each with its slot claimed."""
    from apps.audience.models import Subscriber
    from apps.contents.models import ContentStatus, TitleVariant
    from apps.contents.services import content_transition
    from apps.core.models import Policy
    from apps.delivery.models import Send
    from apps.orchestration.engine import campaign_launch

    def make(n: int):
        client = make_client("news")
        Policy.objects.filter(client=client).update(quiet_hours_start=0, quiet_hours_end=0)
        now = timezone.now()
        Subscriber.objects.bulk_create([
            Subscriber(client=client, external_id=f"p{i}", push_token=f"tok-{i}", timezone="UTC",
                       last_activity_at=now - timedelta(days=10)) for i in range(n)])
        content = content_factory(client, "fault-1", category="news", created_at=now - timedelta(minutes=40))
        content_transition(content=content, to=ContentStatus.CANDIDATE)
        content_transition(content=content, to=ContentStatus.APPROVED)
        TitleVariant.objects.create(content=content, text=f"{content.title}!", source="original", review="approved")
        campaign = campaign_launch(content=content, now=now, initial_size=n)
        assert Send.objects.filter(campaign=campaign, state="pending").count() == n
        return campaign

    return make


def unfinished(campaign) -> int:
    from apps.delivery.models import Send

    return Send.objects.filter(campaign=campaign, state__in=["pending", "claimed"]).count()


def check_invariants(campaign, gateway: Gateway, *, planned: int, max_repeats: int) -> dict:
    """What must hold after any fault, once the wave has finished:

    - every planned send is sent, or failed with its reason; none pending or claimed;
    - one send row per person, one slot claimed per person (nobody has two content pushes in the
      cap window) and the same content never twice to anyone;
    - the wave counts each send once;
    - the gateway saw every sent push, and accepted it exactly once per Idempotency-Key, except
      for at most ``max_repeats`` repeats of a push whose result was never recorded; a repeat
      carries the same key, so a receiver that drops repeats delivers once.
    Returns the numbers, for the test's report."""
    from apps.audience.models import Subscriber
    from apps.campaigns.models import Wave
    from apps.delivery.models import Send

    sends = Send.objects.filter(campaign=campaign)
    states = Counter(sends.values_list("state", flat=True))
    assert sends.count() == planned, states
    assert set(states) <= {"sent", "failed"}, f"unfinished or lost sends: {states}"
    assert not sends.filter(state="failed", error="").exists(), "a send failed without its reason"
    assert sends.values("subscriber_id").distinct().count() == planned
    # The slot: nobody has two content pushes in the window, nobody's slot was claimed twice.
    assert not (Send.objects.exclude(state__in=["cancelled", "held_out"]).values("subscriber_id")
                .annotate(n=Count("id")).filter(n__gt=1).exists())
    assert Subscriber.objects.filter(push_sends__gt=1).count() == 0
    assert Subscriber.objects.filter(last_content_push_at__isnull=False).count() == planned
    # Each result counted once on its wave.
    wave = Wave.objects.get(campaign=campaign)
    assert (wave.delivered, wave.failed) == (states["sent"], states["failed"]), (wave.delivered, wave.failed, states)

    sent_ids = {str(pk) for pk in sends.filter(state="sent").values_list("pk", flat=True)}
    with gateway._lock:
        requests = list(gateway.requests)
        accepted = Counter(gateway.accepted)
    keys = Counter(r.headers["Idempotency-Key"] for r in requests)
    assert all(r.headers["Idempotency-Key"] == str(r.json["send_id"]) for r in requests)
    assert set(keys) <= {str(pk) for pk in sends.values_list("pk", flat=True)}, "a push the outbox does not know"
    assert sent_ids <= set(accepted), "a send recorded as sent that the gateway never accepted"
    assert not set(accepted) - sent_ids, "the gateway accepted a push recorded as failed"
    # The same person never got two different pushes of this content.
    people = Counter((r.json["subscriber_external_id"], r.json["send_id"]) for r in requests)
    assert len({person for person, _ in people}) == len(people)
    repeats = sum(n - 1 for n in accepted.values())
    assert repeats <= max_repeats, f"{repeats} pushes accepted twice by the gateway"
    return {"states": dict(states), "requests": len(requests), "accepted_twice": repeats,
            "unanswered": gateway.unanswered}


def system_page(client, django_user_model) -> str:
    """The system page as a superuser sees it."""
    admin = django_user_model.objects.filter(username="faults-admin").first() or \
        django_user_model.objects.create_superuser("faults-admin", "admin@example.com", "pw-admin-123456")
    client.force_login(admin)
    response = client.get(reverse("dashboards:system"))
    assert response.status_code == 200
    return response.content.decode()
