"""Benchmark of the campaign engine on PostgreSQL: plan a wave of 100,000 among 1,000,000
subscribers (rank, claim the 7-day slots, write the outbox rows), then dispatch it to the log
provider. Prints one JSON object. Run through bench/bench_campaigns.sh (throwaway PostgreSQL)."""

from __future__ import annotations

import io
import json
import logging
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings.local")
import django  # noqa: E402

django.setup()
logging.getLogger("apps.delivery").setLevel(logging.WARNING)

import numpy as np  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from apps.audience.models import Subscriber  # noqa: E402
from apps.campaigns.models import Campaign  # noqa: E402
from apps.orchestration.engine import campaign_launch  # noqa: E402
from apps.contents.models import ContentStatus, TitleVariant  # noqa: E402
from apps.contents.services import content_transition, content_upsert  # noqa: E402
from apps.core.services import client_create  # noqa: E402
from apps.delivery.models import Send  # noqa: E402
from apps.delivery.services import sends_dispatch_batch  # noqa: E402

N_SUBS = int(os.environ.get("BENCH_SUBSCRIBERS", 1_000_000))
WAVE = int(os.environ.get("BENCH_WAVE", 100_000))
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def build_world():
    client = client_create(slug="bench", name="Bench")
    rng = np.random.default_rng(0)
    zones = np.array(["UTC", "Asia/Seoul", "Europe/London", "America/New_York"])[rng.integers(0, 4, N_SUBS)]
    days = rng.exponential(20, N_SUBS)
    sends = rng.integers(0, 40, N_SUBS)
    clicks = np.minimum(rng.binomial(sends, 0.02), sends)
    buf = io.StringIO()
    for i in range(N_SUBS):
        buf.write(f"{client.pk}\tb{i}\tt\t{zones[i]}\tandroid\t\t\t{(NOW - timedelta(days=float(days[i]))).isoformat()}\t\\N\t{sends[i]}\t{clicks[i]}\t{NOW.isoformat()}\t{NOW.isoformat()}\n")
    buf.seek(0)
    with connection.cursor() as cur, cur.copy(
        "COPY audience_subscriber (client_id, external_id, push_opt_in, timezone, platform, push_token, locale, "
        "last_activity_at, last_content_push_at, push_sends, push_clicks, created_at, updated_at) FROM STDIN") as copy:
        while chunk := buf.read(1 << 20):
            copy.write(chunk)
    # Reading history: 200 contents in 6 categories, 300,000 reads over the last two weeks.
    contents = []
    for j in range(200):
        contents.append(content_upsert(client=client, external_id=f"old{j}", now=NOW - timedelta(days=3),
                                       data={"title": f"old {j}", "category": f"cat{j % 6}",
                                             "created_at": NOW - timedelta(days=3, hours=j % 48)}).content)
    sub_ids = np.array(Subscriber.objects.filter(client=client).order_by("id").values_list("id", flat=True))
    buf = io.StringIO()
    who = rng.choice(sub_ids, 300_000)
    what = rng.integers(0, 200, 300_000)
    for k in range(300_000):
        t = (NOW - timedelta(days=float(rng.uniform(0, 14)))).isoformat()
        buf.write(f"{client.pk}\tr{k}\tread\t{who[k]}\t{contents[what[k]].pk}\t\\N\t{t}\t{t}\n")
    buf.seek(0)
    with connection.cursor() as cur, cur.copy(
        "COPY events_event (client_id, event_id, type, subscriber_id, content_id, send_id, occurred_at, received_at) FROM STDIN") as copy:
        copy.write(buf.read())
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return client


def approved(client, name, at):
    c = content_upsert(client=client, external_id=name, now=at,
                       data={"title": f"Push {name}", "category": "cat1", "created_at": at - timedelta(minutes=35)}).content
    content_transition(content=c, to=ContentStatus.CANDIDATE)
    content_transition(content=c, to=ContentStatus.APPROVED)
    TitleVariant.objects.create(content=c, text=f"Push {name}", source="original", review="approved")
    TitleVariant.objects.create(content=c, text=f"Now: {name}", source="template", review="approved")
    return c


def baseline_seconds(client) -> float:
    """The least the database must do for a wave: claim 100,000 slots and write 100,000 rows,
    as two plain SQL statements with no ranking (rolled back)."""
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT id FROM audience_subscriber WHERE client_id = %s AND last_content_push_at IS NULL ORDER BY id LIMIT %s",
                    [client.pk, WAVE])
        ids = [r[0] for r in cur.fetchall()]
        cur.execute("UPDATE audience_subscriber SET last_content_push_at = %s, push_sends = push_sends + 1 WHERE id = ANY(%s)", [NOW, ids])
        cur.execute("CREATE TEMP TABLE t_send (LIKE delivery_send INCLUDING ALL) ON COMMIT DROP")
        cur.execute("INSERT INTO t_send (campaign_id, wave_id, subscriber_id, state, baseline_ctr, provider, provider_message_id, "
                    "attempts, error, created_at, chosen_by) SELECT 1, 1, u, 'pending', 0.01, '', '', 0, '', %s, 'ranked' FROM unnest(%s::bigint[]) u", [NOW, ids])
        transaction.set_rollback(True)
    return time.perf_counter() - t


def _dispatch_worker(at, queue):
    """One dispatcher process (as one Celery pool process of the ``sends`` queue would be)."""
    from django.db import connections

    connections.close_all()
    sent = 0
    while (got := sends_dispatch_batch(limit=2000, now=at))["claimed"]:
        sent += got["sent"]
    queue.put(sent)


def dispatch_parallel(at, processes: int) -> int:
    import multiprocessing as mp

    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_dispatch_worker, args=(at, queue)) for _ in range(processes)]
    for p in procs:
        p.start()
    total = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return total


class ScoredRanker:
    """A stand-in for a click-model ranker: a calibrated-looking probability per person (fixed
    per content), top k by it. It costs next to nothing, so the runs that use it measure what the
    slot's price adds to planning (the deeper window, the value against the price), not the
    ranking."""

    name = "bench:scored"

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        p = np.random.default_rng(content.pk).random(len(candidates)) * 0.1
        k = min(int(k), len(candidates))
        top = np.argpartition(-p, k - 1)[:k] if k else np.zeros(0, np.int64)
        top = top[np.argsort(-p[top], kind="stable")]
        return Ranked(candidates.ids[top], p[top], {}, self.name, calibrated=True)


HELD_BACK: dict[str, list[int]] = {}


def plan_seconds(client, runs: range, *, objective: str) -> list[float]:
    """Plan a wave of WAVE with the stand-in ranker, ``runs`` a week apart (every slot free
    again), with the client's slot objective ``objective`` (first_come: no price looked at)."""
    from apps.core.services import policy_set

    policy_set(client=client, slot_objective=objective)
    out = []
    for run in runs:
        at = NOW + timedelta(days=8 * run)
        content = approved(client, f"bench-{objective}-{run}", at)
        t = time.perf_counter()
        campaign = campaign_launch(content=content, now=at, initial_size=WAVE, max_sends=WAVE,
                                   ranker_for=lambda _client: ScoredRanker())
        out.append(time.perf_counter() - t)
        held = campaign.waves.get().plan_numbers.get("held_back_by_price", 0)
        HELD_BACK.setdefault(objective, []).append(held)
        print(f"{objective} run {run}: plan {out[-1]:.2f} s, {Send.objects.filter(campaign=campaign).count()} sends, "
              f"{held} held back by their price", file=sys.stderr, flush=True)
        Send.objects.filter(campaign=campaign).delete()  # no dispatch: the next run's slots are free a week on
        Campaign.objects.filter(pk=campaign.pk).update(state="done")
    return out


def main():
    t = time.perf_counter()
    client = build_world()
    build_s = time.perf_counter() - t
    print(f"world built in {build_s:.0f} s", file=sys.stderr, flush=True)
    plans, bases, dispatch_rates = [], [], []
    for run in range(int(os.environ.get("BENCH_RUNS", 3))):
        bases.append(baseline_seconds(client))
        at = NOW + timedelta(days=8 * run)  # a week later: every slot is free again
        content = approved(client, f"bench-{run}", at)
        t = time.perf_counter()
        campaign = campaign_launch(content=content, now=at, initial_size=WAVE, max_sends=WAVE)
        plans.append(time.perf_counter() - t)
        n = Send.objects.filter(campaign=campaign).count()
        assert n == WAVE, n  # the campaign's holdout among them: held out, never sent
        to_send = Send.objects.filter(campaign=campaign, state="pending").count()
        t = time.perf_counter()
        workers = int(os.environ.get("BENCH_DISPATCHERS", 2))
        sent = dispatch_parallel(at, workers)
        dispatch_rates.append(sent / (time.perf_counter() - t))
        print(f"run {run}: plan {plans[-1]:.2f} s (baseline {bases[-1]:.2f} s), dispatch {dispatch_rates[-1]:.0f}/s "
              f"({workers} dispatcher processes)",
              file=sys.stderr, flush=True)
        assert sent == to_send and not Send.objects.filter(campaign=campaign, state="pending").exists(), (sent, to_send)
        Campaign.objects.filter(pk=campaign.pk).update(state="done")
    # The slot's price: the same stand-in ranker first-come and priced (everyone priced, about
    # half of the people the ranker would take below their price), interleaved, one week apart.
    prices = np.random.default_rng(1).uniform(0.0, 0.1, N_SUBS)
    with connection.cursor() as cur:
        cur.execute("UPDATE audience_subscriber s SET slot_price = p.v FROM (SELECT unnest(%s::bigint[]) id, "
                    "unnest(%s::float8[]) v) p WHERE s.id = p.id",
                    [list(Subscriber.objects.filter(client=client).order_by("pk").values_list("pk", flat=True)),
                     prices.tolist()])
    first_come, priced = [], []
    base = len(plans) + 1
    for n in range(int(os.environ.get("BENCH_RUNS", 3))):
        first_come += plan_seconds(client, range(base + 2 * n, base + 2 * n + 1), objective="first_come")
        priced += plan_seconds(client, range(base + 2 * n + 1, base + 2 * n + 2), objective="clicks")
    print(json.dumps({
        "priced_plan_s": [round(x, 2) for x in priced], "first_come_plan_s": [round(x, 2) for x in first_come],
        "priced_over_first_come": round(statistics.median(priced) / statistics.median(first_come), 2),
        "held_back_by_price": HELD_BACK,
        "subscribers": N_SUBS, "wave": WAVE, "build_world_s": round(build_s, 1),
        "plan_s": [round(x, 2) for x in plans], "plan_median_s": round(statistics.median(plans), 2),
        "baseline_claim_and_write_s": [round(x, 2) for x in bases], "baseline_median_s": round(statistics.median(bases), 2),
        "plan_over_baseline": round(statistics.median(plans) / statistics.median(bases), 2),
        "dispatch_per_s": [round(x) for x in dispatch_rates], "dispatch_median_per_s": round(statistics.median(dispatch_rates)),
        "dispatcher_processes": int(os.environ.get("BENCH_DISPATCHERS", 2)),
    }))


if __name__ == "__main__":
    main()
