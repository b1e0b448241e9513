"""Model artifacts in a store every machine reads: an S3-compatible server (moto's, in a process
of its own), a version trained by one worker loaded by another with a var folder of its own."""

import io
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from apps.mlops.models import ModelKind, ModelVersion
from tests.processes import database_url_for_subprocess, free_port, stop_process, subprocess_env

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "pushadmin-artifacts"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}




@pytest.fixture(scope="module")
def s3_server():
    """An S3-compatible server on a free port with an empty bucket: its endpoint."""
    import boto3

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    deadline = time.time() + 30
    while True:
        try:
            s3.create_bucket(Bucket=BUCKET)
            break
        except Exception:
            if time.time() > deadline or proc.poll() is not None:
                raise AssertionError(f"the S3 server did not start:\n{stop_process(proc)}") from None
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        stop_process(proc)


def _keys(endpoint: str, prefix: str) -> set[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def _use_store(settings, endpoint: str, prefix: str, var: Path) -> None:
    """This process reads and writes artifacts in the bucket under ``prefix``, with ``var`` as
    its local folder."""
    for k, v in CREDENTIALS.items():
        os.environ[k] = v
    settings.STORAGES = {**settings.STORAGES, "artifacts": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": BUCKET, "location": prefix, "endpoint_url": endpoint, "region_name": "us-east-1",
        "file_overwrite": True, "querystring_auth": False}}}
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": var}


def _forget_loaded() -> None:
    from apps.mlops import selectors

    for cache in (selectors._mf_cache, selectors._categories_cache, selectors._click_cache):
        cache.clear()


@pytest.mark.django_db
def test_a_version_published_to_the_store_is_fetched_whole_by_a_machine_that_never_had_it(
        client_a, content_factory, now, settings, tmp_path, s3_server):
    from apps.mlops import artifacts
    from apps.mlops.selectors import load_categories, load_mf
    from apps.mlops.training import train_mf
    from tests.mlops.test_per_client import _tribes

    _use_store(settings, s3_server, "one", tmp_path / "trainer")
    _tribes(client_a, content_factory, now, flip=False, prefix="a", seed=1)
    version = train_mf(client=client_a, now=now)
    trained = artifacts.artifacts_root() / version.artifact_path
    assert (trained / "model").exists() and (trained / artifacts.TRAINER_ONLY / "meta.json").exists()
    keys = _keys(s3_server, f"one/{version.artifact_path}/")
    names = {k.split(f"{version.artifact_path}/", 1)[1] for k in keys}
    assert artifacts.MANIFEST in names and "ids.npz" in names and "categories.npz" in names
    assert not any(n.startswith(artifacts.TRAINER_ONLY) for n in names)  # the trainer's own rows stay home
    model_a, subs_a, cons_a = load_mf(version)

    # another machine: an empty folder of its own, nothing loaded
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "server"}
    _forget_loaded()
    model_b, subs_b, cons_b = load_mf(version)
    fetched = tmp_path / "server" / version.artifact_path
    assert (fetched / artifacts.MANIFEST).exists() and not (fetched / artifacts.TRAINER_ONLY).exists()
    assert np.array_equal(subs_a, subs_b) and np.array_equal(cons_a, cons_b)
    assert np.array_equal(model_a.user_factors, model_b.user_factors)
    assert np.array_equal(model_a.item_factors, model_b.item_factors)
    profiles, names = load_categories(version)
    assert profiles is not None and len(profiles) == len(subs_b)
    assert not list((tmp_path / "server").glob(".fetching/*"))  # nothing half-fetched left behind


@pytest.mark.django_db
def test_a_version_not_whole_in_the_store_is_refused_and_nothing_is_left_half_fetched(settings, tmp_path, s3_server):
    from django.core.files.base import ContentFile

    from apps.mlops import artifacts

    _use_store(settings, s3_server, "two", tmp_path / "trainer")
    store = artifacts.artifact_storage()
    # uploaded without its manifest (the upload stopped): not there
    store.save("client-1/mf/v1-aaaa/ids.npz", ContentFile(b"x" * 10, name="ids.npz"))
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "server"}
    with pytest.raises(FileNotFoundError, match="client-1/mf/v1-aaaa: not in the store"):
        artifacts.local("client-1/mf/v1-aaaa")
    # a file whose size is not the manifest's: refused, no folder in place
    folder = tmp_path / "trainer" / "client-1" / "mf" / "v2-bbbb"
    folder.mkdir(parents=True)
    (folder / "ids.npz").write_bytes(b"y" * 100)
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "trainer"}
    assert artifacts.publish("client-1/mf/v2-bbbb", folder) == {"ids.npz": 100}
    store.delete("client-1/mf/v2-bbbb/ids.npz")
    store.save("client-1/mf/v2-bbbb/ids.npz", ContentFile(b"y" * 60, name="ids.npz"))
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "server"}
    with pytest.raises(OSError, match="ids.npz is 60 bytes, the manifest says 100"):
        artifacts.local("client-1/mf/v2-bbbb")
    assert not (tmp_path / "server" / "client-1" / "mf" / "v2-bbbb").exists()
    assert not list((tmp_path / "server").glob(".fetching/*"))


def _worker(name: str, queues: str, var: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pushadmin", "worker", "-Q", queues, "-c", "1", "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=ROOT, env=subprocess_env(**env, PUSHADMIN_VAR_DIR=str(var), PUSHADMIN_ARTIFACTS_DIR=str(var / "artifacts")),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait(what: str, check, workers, seconds: float = 120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got = check()
        if got:
            return got
        for w in workers:
            if w.poll() is not None:
                raise AssertionError(f"a worker stopped while waiting for {what}:\n{stop_process(w)}")
        time.sleep(0.5)
    from apps.core.models import Decision

    logs = "\n".join(stop_process(w) for w in workers)
    decisions = "\n".join(f"{d.action} {d.subject} {d.note}" for d in Decision.objects.order_by("-pk")[:10])
    raise AssertionError(f"timed out waiting for {what}; the workers said:\n{logs}\nlast decisions:\n{decisions}")


@pytest.mark.django_db(transaction=True)
def test_one_worker_trains_and_another_with_its_own_var_folder_plans_and_sends_with_that_model(
        client_a, content_factory, now, tmp_path, s3_server):
    from apps.audience.models import Subscriber
    from apps.campaigns.models import Campaign
    from apps.contents.models import AutoApprovePolicy
    from apps.core.models import Policy
    from apps.delivery.models import Send
    from apps.events.services import events_ingest
    from apps.mlops import artifacts
    from apps.mlops.services import training_run_request
    from pushadmin.celery import app
    from tests.mlops.test_per_client import _tribes

    _tribes(client_a, content_factory, now, flip=False, prefix="a", seed=1)
    # pushes at any hour of the run, launched by the policy as soon as the content is judged
    Policy.objects.filter(client=client_a).update(quiet_hours_start=0, quiet_hours_end=0,
                                                         candidate_threshold=0.0)
    AutoApprovePolicy.objects.update_or_create(client=client_a, defaults={"enabled": True, "min_score": 0.0,
                                                                          "updated_at": now})
    Subscriber.objects.filter(client=client_a).update(timezone="UTC", last_activity_at=now - timedelta(days=30))
    env = {"DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1", **CREDENTIALS,
           "PUSHADMIN_ARTIFACTS_S3_BUCKET": BUCKET, "PUSHADMIN_ARTIFACTS_S3_PREFIX": "three",
           "PUSHADMIN_ARTIFACTS_S3_ENDPOINT": s3_server, "PUSHADMIN_ARTIFACTS_S3_REGION": "us-east-1"}
    trainer_var, server_var = tmp_path / "trainer", tmp_path / "server"
    trainer = _worker("trainer", "ml", trainer_var, env)
    server = _worker("server", "default,sends", server_var, env)
    workers = [trainer, server]
    try:
        training_run_request(client=client_a, kind=ModelKind.MF, reason="test")
        mf = _wait("the trainer's MF version", lambda: ModelVersion.objects.filter(
            client=client_a, kind=ModelKind.MF, is_active=True).first(), workers)
        assert (trainer_var / "artifacts" / mf.artifact_path / artifacts.MANIFEST).exists()
        assert f"three/{mf.artifact_path}/{artifacts.MANIFEST}" in _keys(s3_server, "three/")
        assert not (server_var / "artifacts" / mf.artifact_path).exists()

        fresh = content_factory(client_a, "fresh", category="sports", created_at=now - timedelta(minutes=45))
        # its early readers: the look-alike seed the trained model ranks from
        events_ingest(client=client_a, now=now, items=[
            {"event_id": f"fresh-{i}", "type": "read", "subscriber": f"a{i}", "content": "fresh",
             "occurred_at": (now - timedelta(minutes=40 - i)).isoformat()} for i in range(10)])
        app.send_task("apps.orchestration.tasks.sweep", queue="default")
        campaign = _wait("the fresh content's campaign", lambda: Campaign.objects.filter(content=fresh).first(), workers)
        wave = campaign.waves.get(number=1)
        assert wave.ranker.startswith(f"model:mf v{mf.version}"), wave.ranker
        assert wave.model_versions.get(ModelKind.MF) == mf.version, wave.model_versions
        _wait("the first wave's pushes sent", lambda: Send.objects.filter(wave=wave, state=Send.State.SENT).exists(), workers)
        # the server planned with the trainer's model, fetched from the store into its own folder
        fetched = server_var / "artifacts" / mf.artifact_path
        assert (fetched / artifacts.MANIFEST).exists() and (fetched / "ids.npz").exists()
        assert not (fetched / artifacts.TRAINER_ONLY).exists()
    finally:
        for w in workers:
            stop_process(w)


@pytest.mark.django_db
def test_versions_trained_before_the_store_are_uploaded_by_the_command_and_then_load_elsewhere(
        client_a, content_factory, now, settings, tmp_path, s3_server):
    from django.core.management import CommandError, call_command

    from apps.mlops import artifacts
    from apps.mlops.selectors import load_mf
    from apps.mlops.training import train_mf
    from tests.mlops.test_per_client import _tribes

    # trained while the artifacts lived in the local folder only
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "old"}
    _tribes(client_a, content_factory, now, flip=False, prefix="a", seed=1)
    version = train_mf(client=client_a, now=now)
    _, subs_here, _ = load_mf(version)
    with pytest.raises(CommandError, match="PUSHADMIN_ARTIFACTS_S3_BUCKET is not set"):
        call_command("artifacts_publish")
    # the installation moves to the bucket: another machine cannot load the version yet
    _use_store(settings, s3_server, "four", tmp_path / "elsewhere")
    _forget_loaded()
    with pytest.raises(FileNotFoundError, match="not in the store"):
        load_mf(version)
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "old"}
    out = io.StringIO()
    call_command("artifacts_publish", stdout=out)
    assert "1 versions uploaded, 0 already in the store, 0 missing" in out.getvalue()
    call_command("artifacts_publish", stdout=out)  # again: nothing to do
    assert "0 versions uploaded, 1 already in the store" in out.getvalue()
    assert not any(artifacts.TRAINER_ONLY in k for k in _keys(s3_server, "four/"))
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "elsewhere"}
    _forget_loaded()
    _, subs, _ = load_mf(version)
    assert np.array_equal(subs, subs_here)
    assert (tmp_path / "elsewhere" / version.artifact_path / artifacts.MANIFEST).exists()
    # a version in neither place is named, and the command fails
    ModelVersion.objects.filter(pk=version.pk).update(artifact_path="client-1/mf/v9-gone")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 versions are in neither place"):
        call_command("artifacts_publish", stdout=io.StringIO(), stderr=err)
    assert "mf v1: not in" in err.getvalue()
