"""A Celery worker killed with SIGKILL in the middle of a wave, then restarted: no duplicate
send, nobody with two content pushes in 7 days, every planned send sent or failed with a reason.
Real Redis, real worker processes (not eager), a real HTTP gateway; the database of the run."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from apps.audience.models import Subscriber
from apps.orchestration.engine import campaign_launch
from apps.delivery.models import Send
from pushadmin.celery import app
from tests.processes import database_url_for_subprocess, subprocess_env
from tests.delivery.fake_gateway import FakeGateway, Reply

ROOT = Path(__file__).resolve().parents[2]
WAVE = 1500
# Long enough that a live worker's chunk (200 sends to a slowish gateway, seconds on a loaded
# machine) is never taken back mid-flight, short enough that the dead worker's claims come back soon.
CLAIM_TIMEOUT = 20



def _start_worker(gateway_url: str, name: str) -> subprocess.Popen:
    env = subprocess_env(DATABASE_URL=database_url_for_subprocess(), PUSHADMIN_PUSH_PROVIDER="webhook",
                         PUSHADMIN_WEBHOOK_URL=gateway_url, PUSHADMIN_WEBHOOK_SECRET="s3cret",
                         PUSHADMIN_PUSH_CLAIM_TIMEOUT=str(CLAIM_TIMEOUT), PUSHADMIN_PUSH_RATE="100000", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pushadmin", "worker", "-Q", "default,sends", "-c", "2",
         "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_wave_then_restart(approved_content, population, client_a, now):
    from apps.core.models import Policy

    # The worker reads the real clock: no quiet hours, or the test would depend on the hour it runs at.
    Policy.objects.filter(client=client_a).update(quiet_hours_start=0, quiet_hours_end=0)
    population(WAVE + 200)
    gateway = FakeGateway()
    gateway.responder = lambda request: (time.sleep(0.004), Reply(200, json={"id": "ok"}))[1]  # a slowish gateway
    with gateway:
        real_now = timezone.now()
        content = approved_content(created_at=real_now - timedelta(minutes=40))
        campaign = campaign_launch(content=content, now=real_now, initial_size=WAVE)
        assert Send.objects.filter(campaign=campaign).count() == WAVE
        worker = _start_worker(gateway.url, "crash1")
        try:
            app.send_task("apps.delivery.tasks.dispatch", queue="sends")
            _wait(lambda: len(gateway.requests) >= WAVE // 4, 90, "the first deliveries")
        finally:
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool children, no goodbye
            worker.wait(timeout=30)
        at_kill = len(gateway.requests)
        assert at_kill < WAVE, "the wave finished before the kill: make the gateway slower"
        time.sleep(0.5)
        unfinished = Send.objects.filter(campaign=campaign, state__in=["pending", "claimed"]).count()
        assert unfinished > 0

        worker = _start_worker(gateway.url, "crash2")
        try:
            # What the beat sweep does every minute: ask for a dispatch. The dead worker's claims
            # are taken back after the claim timeout.
            def finished():
                app.send_task("apps.delivery.tasks.dispatch", queue="sends")
                return not Send.objects.filter(campaign=campaign, state__in=["pending", "claimed"]).exists()

            _wait(lambda: (time.sleep(1), finished())[1], 120, "every send to finish")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)

    sends = Send.objects.filter(campaign=campaign)
    assert sends.count() == WAVE
    assert sends.values("subscriber_id").distinct().count() == WAVE  # no duplicate send rows
    # Nobody holds two content pushes in 7 days, nobody's slot was counted twice.
    assert not Send.objects.values("subscriber_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Subscriber.objects.filter(push_sends__gt=1).count() == 0
    assert Subscriber.objects.filter(last_content_push_at__isnull=False).count() == WAVE
    # Every planned send was sent, or failed with its reason.
    assert set(sends.values_list("state", flat=True)) <= {"sent", "failed"}
    assert not sends.filter(state="failed", error="").exists()
    # The gateway saw every send; a repeat (a chunk in flight at the kill) carries the same
    # Idempotency-Key, so the receiver drops it.
    keys = Counter(r.headers["Idempotency-Key"] for r in gateway.requests)
    assert set(keys) == {str(pk) for pk in sends.values_list("pk", flat=True)}
    repeats = sum(n - 1 for n in keys.values())
    assert repeats <= 2 * 200, repeats  # at most one unrecorded chunk per pool process
    print(f"\nkilled after {at_kill} deliveries; {unfinished} unfinished then; repeats at the gateway: {repeats}")
