"""A push gateway that stops answering for "a minute" in the middle of a wave, then recovers.

While it is down it takes every request and holds it past the provider's timeout, then closes it
unanswered: the classic duplicate, a push the gateway received but we never heard back about. The
webhook provider sends each push with its send id as ``Idempotency-Key``, the same on every
attempt, so the receiver can drop the repeat: the gateway here counts what it accepted per key.

A minute of real time is too slow for the suite, so the outage and the product's own delivery
settings are all scaled down by ``SCALE`` from production: the provider's timeout (10 s), its
cooldown after a batch it stopped early (30 s), the dispatcher's first backoff before handing a send
over again (30 s, doubling) and the claim timeout (120 s); the outage is 60 s / ``SCALE``. The
number of attempts is not scaled: ``HTTP_ATTEMPTS`` 2 per hand-over, ``SEND_ATTEMPTS`` 5 hand-overs,
whose backoffs (3 + 6 + 12 + 24 s here, 7.5 min in production) outlast the outage, so the product
promises that every push is delivered after it, once. Only the beat's sweep runs every second
rather than every 6: it only asks for a dispatch sooner.
"""

from __future__ import annotations

import re
import time

import pytest

from apps.delivery.models import Send
from tests.faults.conftest import check_invariants, service_env, system_page, unfinished
from tests.faults.services import wait_for

WAVE = 600
SCALE = 10
OUTAGE_SECONDS = 60 / SCALE
SCALED = {
    "PUSHADMIN_PUSH_TIMEOUT": str(10 // SCALE),
    "PUSHADMIN_PUSH_COOLDOWN": str(30 // SCALE),
    "PUSHADMIN_PUSH_SEND_BACKOFF": str(30 // SCALE),
    "PUSHADMIN_PUSH_CLAIM_TIMEOUT": str(120 // SCALE),
    "PUSHADMIN_PUSH_HTTP_ATTEMPTS": "2",
    "PUSHADMIN_PUSH_SEND_ATTEMPTS": "5",
}


@pytest.mark.slow
@pytest.mark.one_database("postgresql", "a gateway outage; the dispatch's SQL runs on both in tests/campaigns/test_worker_crash.py")
@pytest.mark.django_db(transaction=True)
def test_a_gateway_that_times_out_for_a_minute(own_redis, gateway, launched_wave, procs, client, django_user_model):
    timeout = int(SCALED["PUSHADMIN_PUSH_TIMEOUT"])
    gateway.delay, gateway.hang = 0.005, 3 * timeout  # held well past the timeout, then closed unanswered
    campaign = launched_wave(WAVE)
    env = service_env(redis_url=own_redis.url, gateway_url=gateway.url, **SCALED)
    started = time.monotonic()
    procs.beat(env)
    workers = [procs.worker("fault-a", env), procs.worker("fault-b", env)]

    wait_for(lambda: sum(gateway.accepted.values()) >= WAVE // 5, 120, "the first deliveries", logs=procs.tails)
    gateway.down.set()
    down_at, delivered_before = time.monotonic(), sum(gateway.accepted.values())
    # While it is down: pushes wait for a retry, with the reason, and the page shows them.
    wait_for(lambda: Send.objects.filter(campaign=campaign, state="pending", error__contains="timeout").exists(), 60,
             "the dispatcher to notice", logs=procs.tails)
    page_during = system_page(client, django_user_model)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    gateway.down.clear()
    up_at, unanswered = time.monotonic(), gateway.unanswered
    assert delivered_before < WAVE, "the wave finished before the outage: make the gateway slower"
    # The outage spanned several timeouts, yet nothing was given up on while it lasted.
    assert unanswered >= 3 and not Send.objects.filter(campaign=campaign, state="failed").exists()

    wait_for(lambda: unfinished(campaign) == 0, 120, "every send to finish after the gateway came back", every=0.5,
             logs=procs.tails)
    recovered_in = time.monotonic() - up_at
    assert all(w.poll() is None for w in workers), "a worker exited\n" + procs.tails()
    page = system_page(client, django_user_model)
    procs.stop_all()

    numbers = check_invariants(campaign, gateway, planned=WAVE, max_repeats=0)
    assert numbers["states"] == {"sent": WAVE}  # retried and delivered after the outage, none given up
    # The pushes the gateway received but never answered went again, with the same key, and were
    # accepted once.
    keys = [r.headers["Idempotency-Key"] for r in gateway.requests]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert repeated and all(gateway.accepted[k] == 1 for k in repeated)
    retried = Send.objects.filter(campaign=campaign).exclude(error="")
    print(f"\ngateway down {OUTAGE_SECONDS:g} s after {delivered_before} deliveries: {unanswered} requests unanswered, "
          f"{len(repeated)} pushes received twice and accepted once, {retried.count()} delivered after a retry, all "
          f"finished {recovered_in:.1f} s after it came back; {numbers}; total {time.monotonic() - started:.1f} s")

    waiting = re.search(r'<span id="retrying">([\d,]+) waiting for a retry</span>', page_during)
    assert waiting and int(waiting.group(1).replace(",", "")) > 0
    assert f"webhook timeout after {timeout} s (read)" in page_during
    assert f'class="num retried">{retried.count():,}<' in page
    assert f"webhook timeout after {timeout} s (read)" in page
