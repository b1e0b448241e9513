"""The Celery runtime with a real Redis and a real worker process (not eager)."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from apps.core import health
from pushadmin.celery import Queue, app
from tests.processes import database_url_for_subprocess, subprocess_env

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_is_safe_for_lost_workers():
    conf = app.conf
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert {q.name for q in conf.task_queues} == {q.value for q in Queue} == {"default", "sends", "ml", "shards"}
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility == conf.result_backend_transport_options["visibility_timeout"]
    assert conf.task_time_limit < visibility  # a task never outlives its visibility timeout
    assert conf.beat_schedule["sweep-every-minute"]["schedule"] == 60.0
    assert conf.task_always_eager is False
    assert conf.broker_transport == "pushadmin.broker:Transport"  # survives a broker restart (tests/faults)
    # training on ml, a sharded job's parts on shards (apps.mlops.shards), though both are mlops tasks
    route = lambda name: app.amqp.router.route({}, name, (), {})["queue"].name  # noqa: E731
    assert route("apps.mlops.tasks.train") == "ml" and route("apps.mlops.tasks.shards_work") == "shards"



@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_sweep_and_reports_heartbeats(client_a, content_factory, now):
    due = content_factory(client_a, "due", created_at=now - timedelta(hours=5))
    env = subprocess_env(DATABASE_URL=database_url_for_subprocess(), PYTHONUNBUFFERED="1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pushadmin", "worker", "-Q", "default,sends,ml", "-c", "1",
         "-n", "test-worker@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        app.send_task("apps.orchestration.tasks.sweep", queue="default")
        deadline = time.time() + 60
        while time.time() < deadline:
            due.refresh_from_db()
            # the sweep expires the content, then records its tick: wait for both (and a heartbeat)
            if due.status == "expired" and health.check()["beat"]["ok"] and any(w["alive"] for w in health.workers_status()):
                break
            time.sleep(0.3)
        assert due.status == "expired", "the worker did not run the sweep"
        workers = health.workers_status()
        assert any(w["hostname"].startswith("test-worker@") and w["alive"] for w in workers), workers
        report = health.check()
        assert report["workers"]["ok"] and report["beat"]["ok"]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
