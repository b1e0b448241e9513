"""The operators' pages with 1,000 campaigns and 1,000,000 sends on PostgreSQL.

    bench/bench_dashboards.sh            (throwaway PostgreSQL and Redis; then this script)
    .venv/bin/python bench/bench_dashboards.py [--repeats 15] [--sends 1000000] [--campaigns 1000]

Needs ``DATABASE_URL`` of a throwaway PostgreSQL database: it migrates it and writes, with COPY,
a world of 12 weeks: 300,000 subscribers, 1,000 pushed contents and campaigns (10 still
running) whose sizes follow a long-tailed distribution, their waves (300 then 4x) with the
ramp's decision numbers, 1,000,000 sends (2% failed, clicks at about twice the recipients'
usual CTR), the events (opens and clicks of the sends, 1,000,000 organic reads), the decision
log, model versions and training runs. Then it runs the dashboards' roll-up (timed: first run
over everything, then a run as beat would make it) and requests every page through Django's
test client as an operator (the whole stack: middleware, session, permissions, selectors,
templates), after two warm-up requests. Prints a JSON object and a markdown table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings.local")

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAYS = 84


def copy(table: str, columns: str, rows) -> None:
    from django.db import connection

    buf = io.StringIO()
    for r in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in r))
        buf.write("\n")
    buf.seek(0)
    with connection.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        while chunk := buf.read(1 << 22):
            cp.write(chunk)


def next_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cur.fetchone()[0]


def build(n_campaigns: int, n_sends: int, n_subs: int, n_reads: int, seed: int = 1) -> dict:
    import numpy as np
    from django.db import connection

    from apps.core.permissions import Role
    from apps.core.services import client_create, person_create
    from recsys.ramp import RampConfig, WaveStats, decide

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    client = client_create(slug="bench", name="Bench News")
    person_create(username="bench-op", password="bench-op-pw-123", role=Role.OPERATOR, clients=[client])
    iso = lambda t: t.isoformat()  # noqa: E731

    # Subscribers
    sub0 = next_id("audience_subscriber")
    platforms = np.array(["android", "ios", "web"])[rng.choice(3, n_subs, p=[0.55, 0.35, 0.10])]
    copy("audience_subscriber", "client_id, external_id, push_opt_in, timezone, platform, push_token, locale, "
         "last_activity_at, last_content_push_at, push_sends, push_clicks, created_at, updated_at",
         ((client.pk, f"b{i}", "t" if rng.random() > 0.03 else "f", "Asia/Seoul", platforms[i], "", "", None, None, 0, 0,
           iso(NOW - timedelta(days=120)), iso(NOW - timedelta(days=120))) for i in range(n_subs)))
    sub_ids = np.arange(sub0, sub0 + n_subs)

    # Campaign sizes: long-tailed, summing to n_sends; the last 10 are running.
    raw = rng.lognormal(mean=0.0, sigma=1.1, size=n_campaigns)
    sizes = np.maximum((raw / raw.sum() * n_sends).astype(int), 50)
    sizes[np.argmax(sizes)] += n_sends - sizes.sum()
    created = sorted(NOW - timedelta(days=float(d)) for d in rng.uniform(0.2, DAYS, n_campaigns - 10))
    created += [NOW - timedelta(minutes=20 + 20 * k) for k in range(10)][::-1]
    categories = ["politics", "economy", "society", "sports", "weather", "tech", "culture", "world"]

    content0, tv0, camp0 = next_id("contents_content"), next_id("contents_titlevariant"), next_id("campaigns_campaign")
    copy("contents_content", "client_id, external_id, title, body, url, category, language, created_at, expires_at, registered_at, "
         "updated_at, text_hash, status, evaluate_at, evaluated_at, push_score, score_reasons, early_reads, rejection_reason",
         ((client.pk, f"n{k}", f"Bench story number {k}: what happened today", "", "", categories[k % 8], "en",
           iso(c - timedelta(minutes=40)), iso(c + timedelta(hours=3, minutes=20)), iso(c - timedelta(minutes=40)), iso(c),
           "x" * 64, "sending" if k >= n_campaigns - 10 else "done", iso(c - timedelta(minutes=10)), iso(c - timedelta(minutes=10)),
           round(float(rng.uniform(1.2, 4.5)), 3), "[]", int(rng.integers(5, 200)), "")
          for k, c in enumerate(created)))
    copy("contents_titlevariant", "content_id, text, source, template_name, review, created_at, sends, clicks",
         ((content0 + k, f"Title {j} of {k}", "template", "", "approved", iso(c), 0, 0)
          for k, c in enumerate(created) for j in range(2)))

    # Waves: 300, then 4x, the last one takes the remainder; decisions with the ramp's numbers.
    config = RampConfig()
    wave_rows, send_blocks, decisions = [], [], []
    wave_id = next_id("campaigns_wave")
    camp_rows = []
    cursor = 0
    true_lift = rng.lognormal(mean=0.5, sigma=0.5, size=n_campaigns)
    for k, (c, total) in enumerate(zip(created, sizes)):
        running = k >= n_campaigns - 10
        plan, left, size = [], int(total), 300
        while left > 0:
            plan.append(min(size, left))
            left -= plan[-1]
            size *= 4
        stats, clicks_c, exp_c = [], 0, 0.0
        for number, n in enumerate(plan, start=1):
            at = c + timedelta(minutes=21 * (number - 1))
            ctr = rng.beta(2, 150, n)
            clicked = rng.random(n) < np.minimum(ctr * true_lift[k], 0.9)
            failed = rng.random(n) < 0.02
            clicked &= ~failed
            exp = float(ctr.sum())
            stats.append(WaveStats(sends=n, expected_clicks=exp, clicks=int(clicked.sum()), age_seconds=1300))
            last = number == len(plan)
            decision, numbers, reason = "", {}, ""
            if not (running and last):
                d = decide(stats, config)
                decision, numbers, reason = ("stop" if last and d.action != "stop" else d.action), {**d.numbers, "code": d.code}, d.reason
            wave_rows.append((wave_id, camp0 + k, number, n, "observing" if running and last else "decided", iso(at), iso(at), iso(at + timedelta(minutes=20)),
                              n, int((~failed).sum()), int(failed.sum()), int(clicked.sum()), exp, decision,
                              iso(at + timedelta(minutes=20)) if decision else None, json.dumps(numbers), reason[:500],
                              json.dumps({"recipients": {}, "prob_best": {}, "method": "thompson"}), "interim"))
            subs = sub_ids[(cursor + np.arange(n)) % n_subs]
            cursor += n
            send_blocks.append((camp0 + k, wave_id, subs, ctr, clicked, failed, at, tv0 + 2 * k + (np.arange(n) % 2)))
            decisions.append((c, camp0 + k, content0 + k, number, at, decision, numbers, reason))
            clicks_c += int(clicked.sum())
            exp_c += exp
            wave_id += 1
        camp_rows.append((client.pk, content0 + k, "running" if running else "done", iso(c), None if running else iso(c + timedelta(hours=3)),
                          "" if running else "content expired", int(total), clicks_c, exp_c))
    copy("campaigns_campaign", "client_id, content_id, state, created_at, ended_at, end_reason, initial_size, growth, max_sends, floor, "
         "target, alpha, observation_window, max_waves, segment, sends, clicks, expected_clicks",
         ((r[0], r[1], r[2], r[3], r[4], r[5], 300, 4.0, 100000, 1.5, 2.4, 0.05, "00:20:00", 16,
           '{"activity": "inactive", "inactive_days": 7}', r[6], r[7], r[8]) for r in camp_rows))
    copy("campaigns_wave", "id, campaign_id, number, planned_size, state, created_at, sent_at, observe_until, sends, delivered, failed, "
         "clicks, expected_clicks, decision, decided_at, decision_numbers, decision_reason, allocation, ranker", wave_rows)

    send0 = next_id("delivery_send")

    def send_rows():
        for camp, wave, subs, ctr, clicked, failed, at, variants in send_blocks:
            sent = iso(at + timedelta(seconds=5))
            click_at = iso(at + timedelta(minutes=4))
            for i in range(len(subs)):
                if failed[i]:
                    yield (camp, wave, subs[i], variants[i], "failed", round(ctr[i], 5), "fcm", "", 1, "UNREGISTERED", iso(at), iso(at),
                           None, iso(at), None, None)
                else:
                    yield (camp, wave, subs[i], variants[i], "sent", round(ctr[i], 5), "fcm", "m", 1, "", iso(at), iso(at),
                           sent, None, sent if clicked[i] else None, click_at if clicked[i] else None)

    copy("delivery_send", "campaign_id, wave_id, subscriber_id, title_variant_id, state, baseline_ctr, provider, provider_message_id, "
         "attempts, error, created_at, claimed_at, sent_at, failed_at, opened_at, clicked_at", send_rows())

    # Events: an open and a click for every clicked send, and organic reads over the 12 weeks.
    with connection.cursor() as cur:
        cur.execute("SELECT id, subscriber_id, campaign_id, clicked_at FROM delivery_send WHERE clicked_at IS NOT NULL AND id >= %s", [send0])
        clicked_rows = cur.fetchall()
    camp_content = {camp0 + k: content0 + k for k in range(n_campaigns)}
    read_subs = rng.choice(sub_ids[: int(n_subs * 0.6)], n_reads)  # 40% never read anything
    read_at = rng.uniform(0, DAYS * 86400, n_reads)
    read_content = rng.integers(content0, content0 + n_campaigns, n_reads)

    def event_rows():
        for sid, sub, camp, at in clicked_rows:
            yield (client.pk, f"o{sid}", "open", sub, camp_content[camp], sid, iso(at), iso(at))
            yield (client.pk, f"c{sid}", "click", sub, camp_content[camp], sid, iso(at), iso(at))
        for i in range(n_reads):
            at = iso(NOW - timedelta(seconds=float(read_at[i])))
            yield (client.pk, f"r{i}", "read", read_subs[i], read_content[i], None, at, at)

    copy("events_event", "client_id, event_id, type, subscriber_id, content_id, send_id, occurred_at, received_at", event_rows())
    with connection.cursor() as cur:
        cur.execute("""UPDATE audience_subscriber s SET last_activity_at = a.m FROM (
                         SELECT subscriber_id, MAX(occurred_at) m FROM events_event GROUP BY subscriber_id) a WHERE s.id = a.subscriber_id""")
        cur.execute("""UPDATE audience_subscriber s SET last_content_push_at = a.m, push_sends = a.n, push_clicks = a.c FROM (
                         SELECT subscriber_id, MAX(created_at) m, COUNT(*) n, COUNT(clicked_at) c FROM delivery_send GROUP BY subscriber_id) a
                       WHERE s.id = a.subscriber_id""")

    # The decision log: the plan and the decision of every wave.
    def decision_rows():
        for c, camp, content, number, at, decision, numbers, reason in decisions:
            yield (client.pk, iso(at), "system", None, "planner", "wave_plan", content, camp, f"wave:{number}", "{}", "{}",
                   json.dumps({"eligible": 250000, "created": 300}), "")
            if decision:
                yield (client.pk, iso(at + timedelta(minutes=20)), "system", None, "ramp", f"wave_{decision}", content, camp,
                       f"wave:{number}", "{}", json.dumps({"decision": decision}), json.dumps(numbers), reason[:500])

    copy("core_decision", "client_id, at, actor_type, actor_user_id, actor_name, action, content_id, campaign_id, subject, before, "
         "after, numbers, note", decision_rows())
    from apps.mlops.models import ModelVersion, TrainingRun

    for kind in ("mf", "click_delay", "push_worthiness"):
        for v in range(1, 6):
            ModelVersion.objects.create(client=client, kind=kind, version=v, artifact_path=f"{kind}/v{v}", metrics={"score": 0.5 + v / 100},
                                        created_at=NOW - timedelta(days=6 - v), is_active=v == 5)
        TrainingRun.objects.create(client=client, kind=kind, state="succeeded", progress=1.0, created_at=NOW - timedelta(hours=5))
    with connection.cursor() as cur:
        # What autovacuum does on a live database: statistics, and the visibility map that lets
        # counts be answered from indexes alone.
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT (SELECT COUNT(*) FROM campaigns_campaign), (SELECT COUNT(*) FROM delivery_send), "
                    "(SELECT COUNT(*) FROM events_event), (SELECT COUNT(*) FROM campaigns_wave), (SELECT COUNT(*) FROM core_decision)")
        counts = dict(zip(("campaigns", "sends", "events", "waves", "decisions"), cur.fetchone()))
    return {"client": client, "counts": counts, "build_s": round(time.perf_counter() - t0, 1), "camp0": camp0,
            "sizes": sizes}


def timed(client, url: str, repeats: int) -> dict:
    from django.db import connection

    def once():
        t = time.perf_counter()
        r = client.get(url)
        if hasattr(r, "streaming_content"):
            body = b"".join(r.streaming_content)
        else:
            body = r.content
        assert r.status_code == 200, (url, r.status_code)
        return time.perf_counter() - t, len(body)

    once(), once()
    seen = []

    def record(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((time.perf_counter() - t, sql))

    with connection.execute_wrapper(record):
        once()
    times = sorted(once()[0] for _ in range(repeats))
    return {"url": url, "median_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))] * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1), "queries": len(seen),
            "slowest_queries": [(round(d * 1000, 1), q[:160]) for d, q in sorted(seen, reverse=True)[:3]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--sends", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=1000)
    ap.add_argument("--subscribers", type=int, default=300_000)
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--reuse", action="store_true", help="measure the pages on the world an earlier run left in DATABASE_URL")
    a = ap.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("DATABASE_URL must name a throwaway PostgreSQL database (bench/bench_dashboards.sh starts one).")
    import django
    from django.conf import settings

    django.setup()
    from django.core.management import call_command
    from django.test import Client as HttpClient
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    from apps.campaigns.models import Campaign
    from apps.dashboards.services import dashboards_rollup

    if a.reuse and Campaign.objects.exists():  # a world built by an earlier run (times are then relative to it)
        global NOW
        NOW = Campaign.objects.order_by("-created_at").values_list("created_at", flat=True)[0] + timedelta(minutes=20)
        world, first, first_s = {"counts": {"reused": True}, "build_s": 0}, {}, 0.0
    else:
        world = build(a.campaigns, a.sends, a.subscribers, a.reads)
        t = time.perf_counter()
        first = dashboards_rollup(now=NOW)
        first_s = time.perf_counter() - t
    t = time.perf_counter()
    again = dashboards_rollup(now=NOW + timedelta(minutes=5))
    again_s = time.perf_counter() - t

    from django.contrib.auth import get_user_model

    largest = Campaign.objects.order_by("-sends").first()
    running = Campaign.objects.filter(state="running").order_by("-created_at").first()
    urls = [
        ("overview", "/dashboards/"),
        ("campaign, largest (%s sends)" % f"{largest.sends:,}", f"/dashboards/campaigns/{largest.pk}/"),
        ("campaign, running", f"/dashboards/campaigns/{running.pk}/"),
        ("campaigns list", "/dashboards/campaigns/"),
        ("contents, newest first", "/dashboards/contents/"),
        ("contents, by achieved improvement", "/dashboards/contents/?sort=achieved"),
        ("contents, category and dates, by reactivations",
         f"/dashboards/contents/?category=economy&from={(NOW - timedelta(days=30)).date()}&to={NOW.date()}&sort=reactivated"),
        ("contents CSV (all 1,000 rows)", "/dashboards/contents.csv"),
        ("models", "/dashboards/models/"),
        ("system", "/dashboards/system/"),
    ]
    client = HttpClient()
    client.force_login(get_user_model().objects.get(username="bench-op"))
    plain = {"default": settings.STORAGES["default"],
             "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(DEBUG=False, STORAGES=plain):
        results = [{"page": name, **timed(client, url, a.repeats)} for name, url in urls]
    out = {"counts": world["counts"], "subscribers": a.subscribers, "build_world_s": world["build_s"],
           "rollup_first_s": round(first_s, 1), "rollup_first": first, "rollup_incremental_s": round(again_s, 2),
           "rollup_incremental": again, "pages": results}
    print(json.dumps(out, indent=1, default=str))
    print()
    print("| page | median | p95 | max | queries |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['page']} | {r['median_ms']:.0f} ms | {r['p95_ms']:.0f} ms | {r['max_ms']:.0f} ms | {r['queries']} |")


if __name__ == "__main__":
    main()
