"""Benchmark of the product's MF training at newsroom scale, against raw implicit on the same data.

Fills a throwaway PostgreSQL (bench/bench_training.sh) with one client's 30 days: subscribers
with log-normal activity, contents whose reads follow a power law (the top 1% of contents hold
about 30% of the reads), each content read mostly in the hours after it appeared; the events
stored in the order they happened, each received seconds later. Then, each in its own process
(so that peak memory is its own):

- ``first``: the product's ``train_mf`` for a client with no model, a day before the end (it also
  trains a model on a time split, to judge the first version);
- ``refresh``: ``train_mf`` at the end, with that version active (the nightly run: the active
  version is judged on the day's new contents, no extra model; the rows the first version read
  through its settled event id come from its kept file, the day's newer ones from the database,
  ``apps.mlops.kept``);
- ``refresh_cold``: the same refresh without the kept rows (a worker that has not trained this
  client before): every event read from the database;
- ``refresh_one`` (not in the default runs): the cold refresh with the events read over one
  connection (the product reads a large table over ``ML_THREADS`` connections side by side);
- ``raw``: implicit's ALS with the same settings on the same interactions, from arrays already in
  memory: only the matrix build (ids to positions, the same confidence weights) and the fit.

Times are split into read, build, fit, evaluate and save; peak memory is the process's high-water
mark above its size before the work. Each side imports the modules it uses before its clock
starts (as a long-lived ML worker has them); the import time is reported apart. Prints one JSON
object per size.

    BENCH_EVENTS=1000000,20000000 BENCH_RUNS=3 bench/bench_training.sh
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings.local")

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
DAYS = 30


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _setup_django():
    import django

    django.setup()


def build(n_events: int, data_dir: str) -> dict:
    """The world, written by COPY; the interactions also saved as arrays for the raw run."""
    import numpy as np

    _setup_django()
    from django.db import connection

    from apps.core.services import client_create

    rng = np.random.default_rng(0)
    n_subs, n_contents = max(n_events // 20, 1000), max(n_events // 200, 100)
    client = client_create(slug=f"train{n_events}", name="Bench")
    start = NOW - timedelta(days=DAYS)

    def copy(table, columns, lines):
        buf = io.StringIO()
        buf.writelines(lines)
        buf.seek(0)
        with connection.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
            while chunk := buf.read(1 << 22):
                cp.write(chunk)

    iso = NOW.isoformat()
    copy("audience_subscriber", "client_id, external_id, push_opt_in, timezone, platform, push_token, locale, "
         "last_activity_at, last_content_push_at, push_sends, push_clicks, created_at, updated_at",
         (f"{client.pk}\tu{k}\tt\tUTC\tandroid\t\t\t{iso}\t\\N\t0\t0\t{iso}\t{iso}\n" for k in range(n_subs)))
    created = np.sort(rng.uniform(0, DAYS * 86400.0, n_contents))
    copy("contents_content", "client_id, external_id, title, body, url, category, language, created_at, expires_at, "
         "registered_at, updated_at, text_hash, status, evaluate_at, score_reasons, early_reads, rejection_reason",
         (f"{client.pk}\tc{k}\tT{k}\t\t\tnews\ten\t{(start + timedelta(seconds=float(c))).isoformat()}\t"
          f"{(start + timedelta(seconds=float(c) + 4 * 3600)).isoformat()}\t{iso}\t{iso}\th\texpired\t"
          f"{(start + timedelta(seconds=float(c) + 1800)).isoformat()}\t[]\t0\t\n" for k, c in enumerate(created)))
    with connection.cursor() as cur:
        cur.execute("SELECT min(id) FROM audience_subscriber WHERE client_id = %s", [client.pk])
        sub0 = cur.fetchone()[0]
        cur.execute("SELECT min(id) FROM contents_content WHERE client_id = %s", [client.pk])
        con0 = cur.fetchone()[0]
    # power law over contents (Zipf 1.1 on a shuffled rank), log-normal activity over people
    rank = rng.permutation(n_contents) + 1
    pop = rank ** -0.9
    pop /= pop.sum()
    act = rng.lognormal(0, 1.2, n_subs)
    act /= act.sum()
    con = rng.choice(n_contents, n_events, p=pop)
    sub = rng.choice(n_subs, n_events, p=act)
    at = np.minimum(created[con] + rng.exponential(6 * 3600.0, n_events), DAYS * 86400.0 - 1)
    kind = np.where(rng.random(n_events) < 0.05, "click", "read")
    # stored as they arrive: in the order they happened, each received seconds after it happened
    order = np.argsort(at, kind="stable")
    con, sub, at, kind = con[order], sub[order], at[order], kind[order]
    late = rng.exponential(20.0, n_events)
    top = np.sort(np.bincount(con, minlength=n_contents))[::-1]
    share_top1 = float(top[: max(1, n_contents // 100)].sum() / n_events)
    step = 2_000_000
    for lo in range(0, n_events, step):
        hi = min(lo + step, n_events)
        copy("events_event", "client_id, event_id, type, subscriber_id, content_id, occurred_at, received_at",
             (f"{client.pk}\te{k}\t{kind[k]}\t{sub0 + sub[k]}\t{con0 + con[k]}\t"
              f"{(start + timedelta(seconds=float(at[k]))).isoformat()}\t"
              f"{(start + timedelta(seconds=float(at[k] + late[k]))).isoformat()}\n" for k in range(lo, hi)))
    # A table that has lived a while is vacuumed and its rows' hint bits set: without this the
    # first reads write every page and autovacuum runs into the measured runs.
    with connection.cursor() as cur:
        cur.execute("VACUUM (FREEZE, ANALYZE)")
    np.savez(os.path.join(data_dir, f"events-{n_events}.npz"), sub=sub0 + sub, con=con0 + con,
             w=np.where(kind == "click", 3.0, 1.0), t=start.timestamp() + at)
    return {"client": client.pk, "subscribers": n_subs, "contents": n_contents, "events": n_events,
            "top1pct_share": round(share_top1, 3)}


def measure(mode: str, client_id: int, n_events: int, data_dir: str) -> dict:
    import numpy as np

    _setup_django()
    from django.conf import settings

    threads = int(settings.PUSHADMIN["ML_THREADS"])
    base = _rss_kb("VmRSS")
    started = time.perf_counter()
    if mode == "raw":
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        from apps.mlops.training import MFConfig
        from recsys.mf import MFParams

        imports = time.perf_counter() - started
        data = np.load(os.path.join(data_dir, f"events-{n_events}.npz"))
        sub, con, w, t = data["sub"], data["con"], data["w"], data["t"]
        cfg, p = MFConfig(), MFParams()
        t0 = time.perf_counter()
        sub_ids, u = np.unique(sub, return_inverse=True)
        con_ids, i = np.unique(con, return_inverse=True)
        weight = w * np.exp2((t - NOW.timestamp()) / (cfg.half_life_days * 86400.0))
        m = sp.csr_matrix((weight, (u, i)), shape=(len(sub_ids), len(con_ids)))
        m.sum_duplicates()
        m.data = (1.0 + p.alpha * np.log1p(m.data / p.eps)).astype(np.float32)  # as recsys.mf
        t1 = time.perf_counter()
        factors = int(min(cfg.factors, max(4, min(m.shape) // 8)))
        with threadpool_limits(1, "blas"):
            als = AlternatingLeastSquares(factors=factors, regularization=cfg.regularization, iterations=p.iterations,
                                          random_state=p.seed, num_threads=threads)
            als.fit(m, show_progress=False)
        t2 = time.perf_counter()
        return {"mode": mode, "seconds": {"build": t1 - t0, "fit": t2 - t1}, "total": t2 - t0, "imports": imports,
                "peak_mb": (_rss_kb("VmHWM") - base) / 1024, "threads": threads}
    import implicit.cpu.als  # noqa: F401
    import recsys.holdout  # noqa: F401
    import recsys.mf  # noqa: F401
    from apps.core.models import Client
    from apps.mlops.models import ModelVersion
    from apps.mlops.training import train_mf

    # The modules the training uses are imported before the clock starts, as the raw run's are
    # (and as a long-lived ML worker has them); their import time is reported apart.
    imports = time.perf_counter() - started

    import shutil

    from apps.mlops import kept
    from apps.mlops.artifacts import artifacts_root

    client = Client.objects.get(pk=client_id)
    saved = os.path.join(data_dir, f"kept-{n_events}")  # the first version's kept rows, as it left them
    if mode == "refresh_one":  # the cold refresh reading over one connection (the read before streams)
        from apps.core import pgcopy

        pgcopy.STREAM_MIN_ROWS = float("inf")
    if mode in ("refresh_cold", "refresh_one"):  # the same refresh on a worker without the kept rows: everything read
        kept.newest = lambda client: None
    if mode in ("refresh", "refresh_one", "refresh_cold"):  # every refresh starts from the same state
        ModelVersion.objects.filter(client=client, kind="mf").exclude(version=1).delete()
        ModelVersion.objects.filter(client=client, kind="mf", version=1).update(is_active=True)
        first = ModelVersion.objects.get(client=client, kind="mf", version=1)
        folder = artifacts_root() / first.artifact_path / kept.KEPT
        if not folder.exists():  # the last refresh forgot them (only the newest version keeps its rows)
            shutil.copytree(saved, folder)
    at = NOW - timedelta(days=1) if mode == "first" else NOW
    t0 = time.perf_counter()
    version = train_mf(client=client, now=at, min_interactions=1)
    total = time.perf_counter() - t0
    if mode == "first":
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(artifacts_root() / version.artifact_path / kept.KEPT, saved)
    return {"mode": mode, "seconds": version.metrics["seconds"], "total": total, "imports": imports, "version": version.version,
            "active": version.is_active, "promotion": version.metrics.get("promotion"), "read": version.metrics.get("read"),
            "peak_mb": (_rss_kb("VmHWM") - base) / 1024, "threads": threads}


def _child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True, text=True, check=False)
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"{args[0]} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    data_dir = os.environ.get("BENCH_DATA", "/tmp")
    runs = int(os.environ.get("BENCH_RUNS", 3))
    for n in [int(x) for x in os.environ.get("BENCH_EVENTS", "1000000,20000000").split(",")]:
        t0 = time.perf_counter()
        world = _child("build", n, data_dir)
        world["fill_seconds"] = round(time.perf_counter() - t0, 1)
        first = _child("measure", "first", world["client"], n, data_dir)
        product, raw, cold = [], [], []
        for _ in range(runs):
            raw.append(_child("measure", "raw", world["client"], n, data_dir))
            product.append(_child("measure", "refresh", world["client"], n, data_dir))
            cold.append(_child("measure", "refresh_cold", world["client"], n, data_dir))
        med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
        steps = {k: round(statistics.median(r["seconds"][k] for r in product), 2) for k in product[0]["seconds"]}
        raw_steps = {k: round(statistics.median(r["seconds"][k] for r in raw), 2) for k in raw[0]["seconds"]}
        print(json.dumps({
            "world": world, "runs": runs, "threads": raw[0]["threads"],
            "raw": {"seconds": raw_steps, "total": round(med(raw, "total"), 2), "peak_mb": round(med(raw, "peak_mb")),
                    "imports": round(med(raw, "imports"), 2), "totals": [round(r["total"], 2) for r in raw]},
            "product_refresh": {"seconds": steps, "total": round(med(product, "total"), 2),
                                "peak_mb": round(med(product, "peak_mb")), "promotion": product[-1]["promotion"],
                                "read": product[-1]["read"],
                                "imports": round(med(product, "imports"), 2), "totals": [round(r["total"], 2) for r in product],
                                "peaks_mb": [round(r["peak_mb"]) for r in product]},
            # the same refresh without the kept rows (a new worker, or after they were removed), in the same runs
            "product_refresh_cold": {"seconds": {k: round(statistics.median(r["seconds"][k] for r in cold), 2)
                                                 for k in cold[0]["seconds"]},
                                     "total": round(med(cold, "total"), 2), "peak_mb": round(med(cold, "peak_mb")),
                                     "totals": [round(r["total"], 2) for r in cold],
                                     "ratio_time": round(med(cold, "total") / med(raw, "total"), 3),
                                     "ratio_time_pairs": [round(p["total"] / r["total"], 3) for p, r in zip(cold, raw)],
                                     "promotion": cold[-1]["promotion"]},
            "product_first": {"seconds": {k: round(v, 2) for k, v in first["seconds"].items()}, "total": round(first["total"], 2),
                              "peak_mb": round(first["peak_mb"]), "promotion": first["promotion"]},
            "ratio_time_refresh": round(med(product, "total") / med(raw, "total"), 3),
            "ratio_time_first": round(first["total"] / med(raw, "total"), 3),
            "ratio_memory_refresh": round(med(product, "peak_mb") / med(raw, "peak_mb"), 3),
            # each refresh against the raw run just before it (same minute, same neighbours)
            "ratio_time_refresh_pairs": [round(p["total"] / r["total"], 3) for p, r in zip(product, raw)],
        }), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "build":
        print(json.dumps(build(int(sys.argv[2]), sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])))
    else:
        main()
