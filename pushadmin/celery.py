"""The Celery app: Redis broker, four queues, one beat tick a minute.

Tasks are thin (ids in, one service call, safe to run twice), acknowledged late and requeued
when a worker dies. Nothing that must not be lost lives only in Redis: the beat sweep finds due
work in the database, so a lost message only delays it.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from celery import Celery, bootsteps
from kombu import Queue as KombuQueue

from apps.core.queues import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings.local")


app = Celery("pushadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _configure(settings) -> None:
    visibility = settings.CELERY_VISIBILITY_TIMEOUT
    if urlsplit(settings.CELERY_BROKER_URL).scheme in ("redis", "rediss"):
        # kombu's Redis transport, repaired so that a worker survives a broker restart (pushadmin.broker).
        app.conf.broker_transport = "pushadmin.broker:Transport"
    app.conf.update(
        task_default_queue=Queue.DEFAULT.value,
        task_queues=[KombuQueue(q.value, routing_key=q.value) for q in Queue],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        # The same visibility timeout for the broker and any result backend, and longer than any task.
        broker_transport_options={"visibility_timeout": visibility},
        result_backend_transport_options={"visibility_timeout": visibility},
        task_time_limit=visibility - 30,
        task_soft_time_limit=visibility - 60,
        beat_scheduler="django_celery_beat.schedulers:DatabaseScheduler",
        beat_schedule={
            "sweep-every-minute": {
                "task": "apps.orchestration.tasks.sweep",
                "schedule": float(settings.PUSHADMIN["SWEEP_SECONDS"]),
                "options": {"queue": Queue.DEFAULT.value, "expires": max(settings.PUSHADMIN["SWEEP_SECONDS"] - 5, 1)},
            },
            "training-schedule": {
                "task": "apps.orchestration.tasks.schedule_training",
                "schedule": float(settings.PUSHADMIN["TRAINING"]["CHECK_SECONDS"]),
                "options": {"queue": Queue.DEFAULT.value,
                            "expires": max(settings.PUSHADMIN["TRAINING"]["CHECK_SECONDS"] - 5, 1)},
            },
        },
        task_routes={
            "apps.delivery.tasks.*": {"queue": Queue.SENDS.value},
            "apps.mlops.tasks.shards_work": {"queue": Queue.SHARDS.value},
            "apps.mlops.tasks.*": {"queue": Queue.ML.value},
        },
    )


from django.conf import settings as _settings  # noqa: E402

_configure(_settings)
app.autodiscover_tasks()


class HeartbeatStep(bootsteps.StartStopStep):
    """Each worker writes a heartbeat to Redis every few seconds; ``/healthz`` and the system
    page read them (a missing key means the worker is gone)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from apps.core.health import worker_heartbeat

        interval = _settings.PUSHADMIN["WORKER_HEARTBEAT_SECONDS"]
        queues = sorted(q.name for q in worker.app.amqp.queues.consume_from.values()) if worker.app.amqp.queues.consume_from else []

        def beat():
            worker_heartbeat(hostname=worker.hostname, queues=queues, interval=interval)

        beat()
        self.tref = worker.timer.call_repeatedly(interval, beat)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


app.steps["worker"].add(HeartbeatStep)
