"""Benchmark of the work split by subscriber ranges (apps.mlops.shards) on PostgreSQL: a wave of
100,000 planned among BENCH_SUBSCRIBERS (default 10,000,000) with the MF + click-model ranker,
in one process without shards (the reference), and in shards with 1, 2 and 4 processes (this
one and 0, 1 or 3 Celery pool processes of a worker on the ``shards`` queue); then every
subscriber's slot price from BENCH_PRICE_CONTENTS contents of the last week, the same way.
Every configuration plans the same contents on the same data (each launch rolled back), so the
sends of the sharded runs must be identical, and so must the prices; each first plans another
content, not timed, as a warm-up of its processes. Prints one JSON object.
Run through bench/bench_shards.sh (throwaway PostgreSQL and Redis).

The click model is a stand-in: LightGBM (``recsys.click.ClickModel``, the product's) fitted on
200,000 people's real click-model rows with clicks drawn from a known law (the bench world has
no sends to learn from), with ``ML_THREADS`` threads as the product's training gives it; it costs
what a trained one of its size costs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign_world as cw
import numpy as np
from django.conf import settings
from django.db import connection, transaction

from apps.audience.selectors import Segment
from apps.delivery.models import Send
from apps.delivery.selectors import eligible_candidates
from apps.events.services import events_ingest
from apps.orchestration.engine import campaign_launch

RUNS = int(os.environ.get("BENCH_RUNS", 2))
PRICE_CONTENTS = int(os.environ.get("BENCH_PRICE_CONTENTS", 5))
PROCESSES = [int(p) for p in os.environ.get("BENCH_PROCESSES", "1,2,4").split(",") if p]
PRICE_PROCESSES = [int(p) for p in os.environ.get("BENCH_PRICE_PROCESSES", "1,2").split(",") if p]  # none: no pricing
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def stand_in_click(client, at):
    """A click model fitted on real rows with a known click law, registered and active."""
    from apps.contents.models import Content
    from apps.mlops.models import ModelKind
    from apps.mlops.ranking import ModelRanker
    from apps.mlops.selectors import active_version
    from apps.mlops.services import model_version_activate, model_version_register
    from apps.mlops.training import ml_threads
    from recsys.audience import product_features
    from recsys.click import CLICK_FEATURES, ClickModel, ClickParams

    rng = np.random.default_rng(1)
    ranker = ModelRanker(active_version(client, ModelKind.MF))
    cands = eligible_candidates(client=client, content_id=None, now=at, segment=Segment(activity="any", inactive_days=7),
                                cap_window=timedelta(0), quiet_start=0, quiet_end=0)
    sample = cands.take(np.sort(rng.choice(len(cands), min(200_000, len(cands)), replace=False)))
    content = Content.objects.get(client=client, external_id="old1")
    from apps.events.selectors import readers_of

    seed = np.array(sorted(readers_of(content_id=content.pk, until=at)), dtype=np.int64)[:500]
    model, factors, inputs = ranker._inputs(sample, content, seed, at)
    x = product_features(model, sample.ids, factors, **inputs)
    col = {n: i for i, n in enumerate(CLICK_FEATURES)}
    z = lambda n: np.nan_to_num(x[:, col[n]])
    logit = -4.2 + 0.9 * z("mf_z") + 0.6 * z("lookalike_z") + 0.4 * z("category_z") \
        + np.log(np.maximum(z("baseline_ctr"), 1e-4) / 0.02)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(float)
    click = ClickModel(ClickParams(num_threads=ml_threads())).fit(x, y, groups=np.arange(len(x)) // 2000)
    version = model_version_register(client=client, kind=ModelKind.CLICK, build=lambda d: click.save(d / "model"),
                                     metrics={"stand_in": True, "rows": len(x), "clicks": int(y.sum())}, now=at)
    model_version_activate(version=version, now=at)
    return version, int(click._require().num_trees())


def with_readers(client, name, at, n=200):
    content = cw.approved(client, name, at)
    subs = list(cw.Subscriber.objects.filter(client=client).order_by("id").values_list("external_id", flat=True)[:n * 50:50])
    events_ingest(client=client, now=at, items=[
        {"event_id": f"{name}-{i}", "type": "read", "subscriber": s, "content": name,
         "occurred_at": (at - timedelta(minutes=20)).isoformat()} for i, s in enumerate(subs)])
    return content


class Undo(Exception):
    pass


def launch_rolled_back(content, at):
    """(seconds to launch and plan wave 1, its sends), the launch rolled back afterwards."""
    try:
        with transaction.atomic():
            t = time.perf_counter()
            campaign = campaign_launch(content=content, now=at, initial_size=cw.WAVE, max_sends=cw.WAVE)
            seconds = time.perf_counter() - t
            sends = sorted(Send.objects.filter(campaign=campaign).values_list("subscriber_id", "chosen_by", "rank"))
            ranker = campaign.waves.get().ranker
            raise Undo
    except Undo:
        return seconds, sends, ranker


def workers(pool: int):
    """A Celery worker on the ``shards`` queue with ``pool`` processes (None for 0)."""
    if pool <= 0:
        return None
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "pushadmin", "worker", "-Q", "shards", "-c", str(pool),
                             "-n", f"shards{pool}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    from apps.core import health

    deadline = time.time() + 60
    while not any(w["hostname"].startswith(f"shards{pool}@") and w["alive"] for w in health.workers_status(now=time.time())):
        if time.time() > deadline or proc.poll() is not None:
            raise RuntimeError("the shards worker did not start")
        time.sleep(0.5)
    time.sleep(2)  # its pool processes up
    return proc


def stop(proc):
    import signal

    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def configure(sharded: bool, extra: int):
    settings.PUSHADMIN["SHARDS"].update(MIN_CANDIDATES=1 if sharded else 10 ** 12, WORKERS=extra,
                                        LEAVE_SECONDS=0)


def prices_digest() -> tuple[str, int]:
    with connection.cursor() as cur:
        cur.execute("SELECT md5(string_agg(slot_price::text, ',' ORDER BY id)), count(*) FILTER (WHERE slot_price > 0) "
                    "FROM audience_subscriber")
        return cur.fetchone()


def main():
    from apps.mlops.training import train_mf

    out = {"subscribers": cw.N_SUBS, "wave": cw.WAVE, "runs": RUNS, "machine_cores": os.cpu_count(),
           "shard_subscribers": settings.PUSHADMIN["SHARDS"]["SUBSCRIBERS"]}
    t = time.perf_counter()
    client = cw.build_world()
    out["world_s"] = round(time.perf_counter() - t, 1)
    log(f"world {out['world_s']} s")
    t = time.perf_counter()
    mf = train_mf(client=client, now=cw.NOW, min_interactions=10)
    out["mf_s"] = round(time.perf_counter() - t, 1)
    version, trees = stand_in_click(client, cw.NOW)
    out["click_trees"] = trees
    log(f"mf v{mf.version} {out['mf_s']} s; click v{version.version} ({trees} trees)")

    # Planning: the same contents, every configuration, each launch rolled back
    contents = [with_readers(client, f"plan{r}", cw.NOW + timedelta(minutes=r)) for r in range(RUNS)]
    # one plan per configuration before the timed ones, not timed: the processes it starts load
    # the models and learn the client's time zones, as long-running workers have done already
    warm = with_readers(client, "warm", cw.NOW)
    configs = [("one process, no shards", False, 1)] + [(f"shards, {p} process{'es' if p > 1 else ''}", True, p)
                                                        for p in PROCESSES]
    plan = {}
    sends = {}
    for label, sharded, procs in configs:
        pool = workers(procs - 1) if sharded else None
        try:
            configure(sharded, procs - 1)
            launch_rolled_back(warm, cw.NOW)
            times = []
            for r, content in enumerate(contents):
                seconds, got, ranker = launch_rolled_back(content, cw.NOW + timedelta(minutes=r))
                times.append(seconds)
                sends.setdefault(label, []).append(got)
                log(f"plan [{label}] {content.external_id}: {seconds:.2f} s, {len(got)} sends, {ranker}")
        finally:
            stop(pool)
        plan[label] = {"seconds": [round(s, 2) for s in times], "median_s": round(statistics.median(times), 2),
                       "processes": procs, "sharded": sharded}
    ref = plan["shards, 1 process"]["median_s"] if "shards, 1 process" in plan else None
    for label, row in plan.items():
        if ref:
            row["vs_sharded_1"] = round(row["median_s"] / ref, 3)
    sharded_labels = [c[0] for c in configs if c[1]]
    out["plan"] = plan
    out["sharded_sends_identical"] = all(sends[label] == sends[sharded_labels[0]] for label in sharded_labels)
    whole, first = sends[configs[0][0]], sends[sharded_labels[0]]
    out["same_recipients_as_unsharded"] = [round(len({s[0] for s in a} & {s[0] for s in b}) / max(len(a), 1), 4)
                                           for a, b in zip(whole, first)]
    out["sends_identical_to_unsharded"] = [a == b for a, b in zip(whole, first)]

    # Pricing: a week of contents, every subscriber priced
    from apps.campaigns import services as campaigns
    from apps.core.services import policy_set
    from apps.mlops.slots import slot_prices_refresh

    at = cw.NOW + timedelta(days=1)
    policy_set(client=client, slot_objective="clicks", cap_window=timedelta(days=7))
    for j in range(PRICE_CONTENTS if PRICE_PROCESSES else 0):
        when = at - timedelta(hours=6 + 30 * j)
        c = with_readers(client, f"price{j}", when, n=50)
        campaigns.campaign_create(content=c, now=when, segment={"activity": "any", "inactive_days": 7})
    price = {}
    digests = {}
    for procs in PRICE_PROCESSES:
        label = f"shards, {procs} process{'es' if procs > 1 else ''}"
        pool = workers(procs - 1)
        try:
            configure(True, procs - 1)
            t = time.perf_counter()
            done = slot_prices_refresh(client=client, now=at)
            seconds = time.perf_counter() - t
        finally:
            stop(pool)
        digests[label] = prices_digest()
        price[label] = {"seconds": round(seconds, 1), "contents": done["contents"], "priced": done["priced"],
                        "shards": done.get("shards"), "median_price": round(done["median"], 5),
                        "us_per_person_content": round(seconds / max(done["priced"] * done["contents"], 1) * 1e6, 3)}
        log(f"price [{label}]: {seconds:.1f} s, {done}")
    out["price"] = price
    out["prices_identical"] = len({d for d in digests.values()}) == 1 if digests else None
    out["priced_positive"] = next(iter(digests.values()))[1] if digests else None
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
