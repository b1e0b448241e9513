"""The dispatcher on the ``sends`` queue: claims due sends in batches until none is left.

Thin and safe to run twice (claims are conditional updates); bounded in time so a long backlog
is worked off by several runs, each started by the sweep or after an editor's launch.
"""

from __future__ import annotations

import time

from celery import shared_task

DISPATCH_SECONDS = 50


@shared_task(name="apps.delivery.tasks.dispatch", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatch(batch: int = 1000) -> int:
    from apps.delivery.services import sends_dispatch_batch

    total, started = 0, time.monotonic()
    while time.monotonic() - started < DISPATCH_SECONDS:
        done = sends_dispatch_batch(limit=batch)
        total += done.get("claimed", 0)
        if not done.get("claimed"):
            break
    return total


def dispatch_soon(now=None) -> None:
    """Ask a worker to dispatch once the current transaction commits (the product's dispatcher;
    ``now`` is the caller's clock, which the worker reads again for itself).

    Only a nudge: when the broker cannot be reached, the failure is logged and the caller goes on
    (an editor's launch has committed), and the beat's next sweep finds the pending sends in the
    database and asks again."""
    from django.db import transaction

    transaction.on_commit(lambda: dispatch.delay(), robust=True)
