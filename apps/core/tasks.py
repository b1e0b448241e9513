"""The beat sweep: once a minute, find what is due in the database and do it.

Each step is a service that is safe to run twice; a lost tick only delays work by a minute.
"""

from __future__ import annotations

import logging

from celery import shared_task

from apps.core import clock, health

log = logging.getLogger(__name__)


@shared_task(name="apps.core.tasks.sweep", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep() -> dict:
    from apps.core.sweep import sweep_due

    now = clock.now()
    done = sweep_due(now=now)
    health.beat_tick_record(at=now.timestamp())
    if any(done.values()):
        log.info("sweep: %s", done)
    return done
