"""Redis killed (SIGKILL) in the middle of a wave and started again a few seconds later, empty, as
after a crash without persistence: the broker's queued and unacknowledged tasks, the workers'
heartbeats, the beat's tick and the rate limiter's bucket are all gone.

Real processes: a Redis of this test's own (the suite's Redis serves the other tests), two Celery
workers and a beat (the product's DatabaseScheduler, sweeping every second) on it, a webhook
gateway over HTTP, the database of the run. Nothing is called in-process but the checks: the
recovery is the product's own (the workers and the beat reconnect, the sweep finds the pending
sends in the database and asks for a dispatch again).

The workers must come through it running: with Celery 5.7's Redis transport, a worker that was
running a task when the broker connection broke exited ("Unrecoverable error") instead of
reconnecting, in about half the runs; ``pushadmin.broker`` repairs that.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from kombu import Connection, Exchange, Queue

from apps.core import health
from apps.delivery.models import Send
from tests.faults.conftest import check_invariants, service_env, system_page, unfinished
from tests.faults.services import RedisServer, wait_for

WAVE = 2000
# The product's delivery settings, scaled down so that recovery takes seconds, not minutes:
# production pauses a provider 30 s after a batch it stopped early and waits 30 s (doubling)
# before handing a send over again. The claim timeout (120 s) only matters if a worker dies; it
# stays well above how long a chunk of pushes can take on a busy machine (and SQLite's single
# writer), or a slow chunk would be taken back and sent twice.
SCALED = {"PUSHADMIN_PUSH_CLAIM_TIMEOUT": "30", "PUSHADMIN_PUSH_COOLDOWN": "2", "PUSHADMIN_PUSH_SEND_BACKOFF": "2"}
OUTAGE_SECONDS = 4
# A Redis outage: the dispatch's SQL runs on both databases in tests/campaigns/test_worker_crash.py.
POSTGRESQL_ONLY = pytest.mark.one_database(
    "postgresql", "a Redis outage; the dispatch's SQL runs on both in tests/campaigns/test_worker_crash.py")


@pytest.mark.slow
@POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True)
def test_redis_killed_mid_wave_and_restarted_empty(own_redis, gateway, launched_wave, procs, client,
                                                   django_user_model):
    gateway.delay = 0.003  # a slowish gateway: the wave takes some seconds
    campaign = launched_wave(WAVE)
    env = service_env(redis_url=own_redis.url, gateway_url=gateway.url, **SCALED)
    started = time.monotonic()
    procs.beat(env)
    workers = [procs.worker("fault-a", env), procs.worker("fault-b", env)]

    wait_for(lambda: sum(gateway.accepted.values()) >= WAVE // 4, 120, "the first deliveries", logs=procs.tails)
    own_redis.kill()
    killed_at, delivered_at_kill, requests_at_kill = time.monotonic(), sum(gateway.accepted.values()), len(gateway.requests)
    assert delivered_at_kill < WAVE, "the wave finished before Redis died: make the gateway slower"

    # While Redis is down: the page says so, and the dispatcher holds the pushes back instead of
    # sending them unpaced (the rate limit lives in Redis).
    page = system_page(client, django_user_model)
    assert "Redis" in page and ">down<" in page
    wait_for(lambda: Send.objects.filter(campaign=campaign, error__contains="rate limiter unavailable").exists(),
             30, "the dispatcher to notice", logs=procs.tails)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - killed_at)))
    held = unfinished(campaign)
    assert held > 0
    # At most the request each pool process had in flight at the kill: nothing left unpaced.
    assert len(gateway.requests) - requests_at_kill <= 4

    own_redis.start()  # empty
    restarted_at = time.monotonic()
    wait_for(lambda: len(gateway.requests) > requests_at_kill + 4, 60, "a delivery after Redis came back", logs=procs.tails)
    resumed_in = time.monotonic() - restarted_at
    wait_for(lambda: unfinished(campaign) == 0, 120, "every send to finish after Redis came back", every=0.5,
             logs=procs.tails)
    recovered_in = time.monotonic() - restarted_at

    # The workers reconnected on their own (none exited) and report again: their heartbeats went
    # with the old Redis.
    assert all(w.poll() is None for w in workers), "a worker exited instead of reconnecting\n" + procs.tails()
    wait_for(lambda: sum(w["alive"] for w in health.workers_status()) == 2, 60, "both workers' heartbeats",
             logs=procs.tails)
    page = system_page(client, django_user_model)
    procs.stop_all()
    numbers = check_invariants(campaign, gateway, planned=WAVE, max_repeats=0)
    retried = Send.objects.filter(campaign=campaign, state="sent").exclude(error="").count()
    print(f"\nredis killed after {delivered_at_kill} deliveries, {held} unfinished when it came back, all finished "
          f"{recovered_in:.1f} s later (sending again after {resumed_in:.1f} s), {retried} delivered after a retry; "
          f"{numbers}; "
          f"total {time.monotonic() - started:.1f} s")
    # Afterwards the page shows Redis up, both workers alive, and what the outage did: the pushes
    # delivered after a retry, and why.
    assert ">up<" in page and '<strong id="workers-alive">2</strong>' in page
    assert retried > 0 and f'class="num retried">{retried:,}<' in page
    assert "Why pushes were retried" in page and "rate limiter unavailable: ConnectionError" in page


def test_a_message_of_a_broken_broker_connection_is_left_to_redis(tmp_path):
    """What the worker's consumer does when the broker connection breaks under a task it has not
    acknowledged yet (pushadmin.broker): the connection is collected and closed, and the task's
    acknowledgement comes later. Neither may raise anything the worker takes for unrecoverable."""
    server = RedisServer(tmp_path).start()
    try:
        conn = Connection(server.url, transport="pushadmin.broker:Transport")
        queue = Queue("probe", Exchange("probe"), "probe")
        channel = conn.default_channel
        bound = queue(channel)
        bound.declare()
        conn.Producer(channel).publish({"task": 1}, exchange=queue.exchange, routing_key="probe", declare=[queue])
        message = bound.get(no_ack=False)
        server.kill()
        try:
            conn.collect(socket_timeout=1)
        except Exception:  # noqa: BLE001 - Celery ignores whatever collecting a broken connection raises
            pass
        conn.close()
        message.ack()
    finally:
        server.stop()


LAUNCH_SCRIPT = """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
web = Client()
web.force_login(get_user_model().objects.get(username="faults-editor"))
response = web.post("/contents/{pk}/launch/")
print(response.status_code, response.get("Location"))
"""


@pytest.mark.slow
@POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True)
def test_an_editors_launch_while_redis_is_down_is_not_an_error(client_a, content_factory):
    """The web server with Redis down (a port nothing listens on): an editor launches a push. The
    campaign starts in the database; asking a worker to dispatch at once fails, and the sweep will
    find the pending sends anyway, so the editor gets the campaign, not an error page."""
    from django.contrib.auth.models import Group

    from apps.campaigns.models import Campaign
    from apps.contents.models import ContentStatus, TitleVariant
    from apps.contents.services import content_transition
    from apps.core.permissions import Role
    from apps.core.services import person_create
    from tests.faults.services import ROOT, free_port
    from tests.processes import database_url_for_subprocess, subprocess_env

    # The roles' groups come from a migration, which an earlier transactional test's flush removed.
    Group.objects.get_or_create(name=Role.EDITOR.value)
    person_create(username="faults-editor", password="pw-faults-123456", role=Role.EDITOR, clients=[client_a])
    content = content_factory(client_a, "launch-1")
    content_transition(content=content, to=ContentStatus.CANDIDATE)
    TitleVariant.objects.create(content=content, text="A title", source="original", review="approved")
    env = subprocess_env(DATABASE_URL=database_url_for_subprocess(), REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = subprocess.run([sys.executable, "-c", LAUNCH_SCRIPT.format(pk=content.pk)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[:2] == ["302", f"/contents/{content.pk}/"], result.stdout
    assert Campaign.objects.filter(content=content).exists()
