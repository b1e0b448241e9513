"""The beat's task: the sweep, at the product's clock. Thin, and safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.core import clock, health

log = logging.getLogger(__name__)


@shared_task(name="apps.orchestration.tasks.sweep", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep() -> dict:
    from apps.orchestration.sweep import sweep as run

    now = clock.now()
    done = run(now=now)
    health.beat_tick_record(product_at=now.timestamp())  # liveness in wall time, the product time beside
    if any(done.values()):
        log.info("sweep: %s", done)
    return done


@shared_task(name="apps.orchestration.tasks.schedule_training", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def schedule_training() -> list[int]:
    """The beat's training check: queue each client's runs that are due (on the ``ml`` queue)."""
    from apps.orchestration.training import trainings_schedule

    queued = trainings_schedule(now=clock.now())
    if queued:
        log.info("training runs queued: %s", queued)
    return queued
