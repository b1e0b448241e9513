"""A large wave's ranking split by subscriber ranges (apps.mlops.shards): the same audience as one
process ranking the whole set, whether this process does every shard, Celery workers in other
processes do them, or a worker dies holding one."""

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import transaction

from apps.audience.selectors import Segment
from apps.delivery.models import Send
from apps.delivery.selectors import eligible_candidates
from apps.mlops import shards
from apps.mlops.ranking import ranker_for
from apps.mlops.training import train_click
from apps.orchestration.engine import campaign_launch
from tests.campaigns.test_click_model_loop import STEP, launch_and_click, world  # noqa: F401 (a fixture)
from tests.processes import database_url_for_subprocess, stop_process, subprocess_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def trained(world, approved_content, now):  # noqa: F811
    """The click-model loop's world with its MF and click models trained, and a fresh content
    with three early readers: (client, ranker, content, its candidates, its seed, the time)."""
    client, subs = world
    for j in range(16):
        launch_and_click(client, subs, approved_content, now, j)
    at = now + 15 * STEP + timedelta(hours=26)
    assert train_click(client=client, now=at - timedelta(hours=1), min_follow_up_hours=24.0).is_active
    content = approved_content(external_id="judge", created_at=at - timedelta(minutes=40))
    seed = np.array(sorted(s.pk for s in subs.values() if s.external_id in ("p1", "p3", "p5")))
    cands = eligible_candidates(client=client, content_id=content.pk, now=at,
                                segment=Segment(activity="any", inactive_days=7), cap_window=timedelta(minutes=20),
                                quiet_start=0, quiet_end=0).without(seed)
    ranker = ranker_for(client)
    assert ranker.click_version is not None
    return client, ranker, content, cands, seed, at


def _shards(settings, **kw):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "SHARDS": {**settings.PUSHADMIN["SHARDS"], **kw}}


def _rank(ranker, content, cands, seed, at, k=120):
    return ranker.rank(candidates=cands, content=content, seed_ids=seed, k=k, now=at, rng=np.random.default_rng(0))


@pytest.mark.django_db
def test_a_wave_ranked_in_shards_gets_the_audience_one_process_gives(trained, settings):
    client, ranker, content, cands, seed, at = trained
    whole = _rank(ranker, content, cands, seed, at)
    _shards(settings, MIN_CANDIDATES=1, SUBSCRIBERS=45, WORKERS=0)
    parts = _rank(ranker, content, cands, seed, at)
    job = shards.recent_jobs(1)[0]
    assert job["kind"] == "rank" and job["shards"] >= 8 and job["done"] == job["shards"] and job["ended"]
    assert job["workers"] == [shards._owner()]  # no worker asked for: this process did every shard
    np.testing.assert_array_equal(parts.ids, whole.ids)
    np.testing.assert_allclose(parts.total, whole.total, rtol=1e-5)
    assert parts.calibrated and parts.ranker == whole.ranker
    for name in whole.components:
        np.testing.assert_allclose(parts.components[name], whole.components[name], rtol=1e-4, atol=1e-6)
    # what a wave keeps for the click model: the same rows, ranked people or not
    ask = np.concatenate([whole.ids[:30], cands.ids[::7]])
    ids_a, x_a, names = whole.features_of(ask)
    ids_b, x_b, _ = parts.features_of(ask)
    np.testing.assert_array_equal(ids_a, ids_b)
    np.testing.assert_allclose(x_b, x_a, rtol=1e-4, atol=1e-6)
    # and again: the same job, the same answer, bit for bit
    again = _rank(ranker, content, cands, seed, at)
    np.testing.assert_array_equal(again.ids, parts.ids)
    np.testing.assert_array_equal(again.total, parts.total)


def _prices(client):
    from apps.audience.models import Subscriber

    return dict(Subscriber.objects.filter(client=client).values_list("pk", "slot_price"))


@pytest.mark.django_db
def test_slot_prices_refreshed_in_shards_are_the_prices_one_process_sets(trained, settings):
    from apps.core.services import policy_set
    from apps.mlops.slots import slot_prices_refresh

    client, ranker, content, cands, seed, at = trained
    policy_set(client=client, cap_window=timedelta(days=7), slot_objective="clicks")  # a week of contents priced on
    whole = slot_prices_refresh(client=client, now=at)
    assert whole["priced"] >= 300 and whole["contents"] >= 1 and "shards" not in whole, whole
    before = _prices(client)
    assert sum(p > 0 for p in before.values()) > 100
    from apps.audience.models import Subscriber

    Subscriber.objects.filter(client=client).update(slot_price=0.0)
    _shards(settings, MIN_CANDIDATES=1, SUBSCRIBERS=45, WORKERS=0)
    parts = slot_prices_refresh(client=client, now=at)
    assert parts["shards"] >= 8 and parts["priced"] == whole["priced"] and parts["contents"] == whole["contents"]
    assert parts["median"] == pytest.approx(whole["median"], rel=1e-5)
    after = _prices(client)
    ids = sorted(before)
    np.testing.assert_allclose([after[i] for i in ids], [before[i] for i in ids], rtol=1e-5, atol=1e-9)
    job = shards.recent_jobs(1)[0]
    assert job["kind"] == "price" and job["done"] == job["shards"] == parts["shards"]


class _Undo(Exception):
    pass


def _planned(content, at):
    """What launching ``content`` at ``at`` sends (rolled back afterwards)."""
    try:
        with transaction.atomic():
            campaign = campaign_launch(content=content, now=at)
            got = sorted(Send.objects.filter(campaign=campaign).values_list("subscriber_id", "chosen_by", "rank", "state",
                                                                            "score", "value", "slot_price"))
            raise _Undo
    except _Undo:
        return got


@pytest.mark.django_db
def test_a_wave_planned_with_sharded_ranking_sends_what_one_process_sends(trained, settings):
    client, ranker, content, cands, seed, at = trained
    from apps.events.services import events_ingest

    events_ingest(client=client, now=at, items=[  # the seed the planner finds: the early readers
        {"event_id": f"judge-{i}", "type": "read", "subscriber": s, "content": content.external_id,
         "occurred_at": (at - timedelta(minutes=20)).isoformat()} for i, s in enumerate(("p1", "p3", "p5"))])
    whole = _planned(content, at)
    _shards(settings, MIN_CANDIDATES=1, SUBSCRIBERS=60, WORKERS=0)
    sharded = _planned(content, at)
    assert shards.recent_jobs(1)[0]["done"] >= 6
    assert len(whole) > 20 and [r[:4] for r in sharded] == [r[:4] for r in whole]
    numbers = lambda rows: np.array([[np.nan if v is None else v for v in r[4:]] for r in rows], dtype=float)
    np.testing.assert_allclose(numbers(sharded), numbers(whole), rtol=1e-5)


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pushadmin", "worker", "-Q", "shards", "-c", "4", "-n", "shards@%h",
         "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=ROOT, env=subprocess_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)




@pytest.fixture
def roles_back(transactional_db):
    """The roles the data migrations write, back after an earlier transactional test emptied the
    tables (the world's people need them)."""
    from importlib import import_module

    from django.apps import apps

    import_module("apps.core.migrations.0002_roles_and_append_only_log").create_roles(apps, None)


@pytest.mark.django_db(transaction=True)
def test_four_worker_processes_rank_a_wave_as_one_process_does_and_a_dead_one_is_replaced(roles_back, trained, settings):
    client, ranker, content, cands, seed, at = trained
    _shards(settings, MIN_CANDIDATES=1, SUBSCRIBERS=45, WORKERS=0, LEASE_SECONDS=2)
    alone = _rank(ranker, content, cands, seed, at)
    env = {"DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1",
           "PUSHADMIN_ARTIFACTS_DIR": str(settings.PUSHADMIN["ARTIFACTS_DIR"])}
    worker = _worker(env)
    try:
        # the workers take the shards (this process leaves them the free ones for a while)
        _shards(settings, WORKERS=4, LEAVE_SECONDS=60)
        many = _rank(ranker, content, cands, seed, at)
        job = shards.recent_jobs(1)[0]
        assert worker.poll() is None, stop_process(worker)
        assert job["done"] == job["shards"] and shards._owner() not in job["workers"], job
        np.testing.assert_array_equal(many.ids, alone.ids)
        np.testing.assert_array_equal(many.total, alone.total)  # bit for bit
        for name in alone.components:
            np.testing.assert_array_equal(many.components[name], alone.components[name])
        # the nightly prices too: the same as this process alone sets, bit for bit
        from apps.core.services import policy_set
        from apps.mlops.slots import slot_prices_refresh

        policy_set(client=client, cap_window=timedelta(days=7), slot_objective="clicks")
        _shards(settings, WORKERS=0, LEAVE_SECONDS=0)
        assert slot_prices_refresh(client=client, now=at)["contents"] > 0
        alone_prices = _prices(client)
        _shards(settings, WORKERS=4, LEAVE_SECONDS=60)
        slot_prices_refresh(client=client, now=at)
        job = shards.recent_jobs(1)[0]
        assert job["kind"] == "price" and job["done"] == job["shards"] and shards._owner() not in job["workers"], job
        assert _prices(client) == alone_prices
    finally:
        log = stop_process(worker, warm=True)  # a task may still be seeing the job finished
    assert "Traceback" not in log, log

    # a worker that claimed a shard and died: its claim lapses and the coordinator does the shard
    from recsys.ramp import fit_population_prior

    _shards(settings, WORKERS=0, LEAVE_SECONDS=0, LEASE_SECONDS=2)
    prior = fit_population_prior(cands.push_clicks, cands.push_sends)
    spec = {"source": cands.source, "mf": ranker.version.pk, "click": ranker.click_version.pk, "ranking": ranker.ranking,
            "content": content.pk, "now": at.isoformat(), "prior": list(prior), "k": 120, "depth": 5000}
    from apps.mlops.selectors import load_mf
    from recsys.audience import product_item
    from recsys.ids import positions

    model, sub_ids, _ = load_mf(ranker.version)
    rows = positions(sub_ids, seed)
    item = product_item(model, rows[rows >= 0])
    bounds = shards.shard_bounds(int(cands.ids[0]), int(cands.ids[-1]), len(cands))
    job = shards.publish("rank", spec=spec, arrays={"seed": seed, "item": np.asarray(item, np.float32)}, bounds=bounds)
    r = shards._redis()
    assert r.set(shards._key(job.id, "claim", 0), "dead-worker", nx=True, px=1500)
    started = time.monotonic()
    _, results = shards.coordinate(job)
    assert time.monotonic() - started >= 1.0  # it waited for the claim to lapse, then took the shard
    assert len(results) == len(bounds) and all("ids" in res for res in results)
    assert sum(len(res["ids"]) for res in results) >= 120
