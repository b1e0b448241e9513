"""The editors' queue with 5,000 live candidates: time to render the page, and its queries.

    .venv/bin/python bench/bench_queue.py [--candidates 5000] [--repeats 31] [--write]

Uses a fresh SQLite database in a temporary directory, or the (throwaway!) PostgreSQL database
named by ``DATABASE_URL``: it migrates it and adds a client, an editor and the candidates. Each
page is requested through Django's test client (the whole stack: middleware, session, auth,
permissions, selectors, templates), after two warm-up requests. Times are medians over
``--repeats`` requests, each also as a ratio to a baseline measured in the same run: the same
page for a category with no candidates (everything but the rows). ``--write`` appends the table
to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--write", action="store_true", help="append the results to docs/benchmarks.md")
    a = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-queue-")
    os.environ.setdefault("PUSHADMIN_VAR_DIR", tmp.name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client as WebClient
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)

    from apps.contents.models import Content
    from apps.core import clock
    from apps.core.models import Client
    from apps.core.permissions import Role
    from apps.core.services import client_create, person_create

    now = clock.now()
    suffix = str(int(time.time()))
    client = client_create(slug=f"bench-{suffix}", name="Bench News")
    other = client_create(slug=f"bench-other-{suffix}", name="Bench Other")
    editor = person_create(username=f"bench-ed-{suffix}", password="bench-pw-123456", role=Role.EDITOR, clients=[client])
    admin = person_create(username=f"bench-adm-{suffix}", password="bench-pw-123456", role=Role.ADMIN)
    cats = ["politics", "economy", "society", "world", "sports", "culture", "weather", "tech"]
    reasons = [{"feature": "scorer", "label": "interim scorer: rule-based, no trained model is active", "contribution": 0.0},
               {"feature": "early_reads_per_hour", "label": "early reads per hour", "contribution": 0.62},
               {"feature": "early_readers_inactive_share", "label": "inactive early readers", "contribution": 0.31}]
    rows = []
    for i in range(a.candidates):
        created = now - timedelta(minutes=30 + (i * 7) % 200)
        rows.append(Content(
            client=client if i % 5 else other, external_id=f"bench-{i}",
            title=f"Bench story {i}: 서울 지하철 요금 인상 and the latest on interest rates", body="",
            category=cats[i % len(cats)], language="en", created_at=created, expires_at=created + timedelta(hours=4),
            evaluate_at=created + timedelta(minutes=30), evaluated_at=created + timedelta(minutes=30), text_hash="x",
            status="candidate", push_score=1.5 + (i * 37 % 400) / 100, score_reasons=reasons, early_reads=i % 90))
    Content.objects.bulk_create(rows, batch_size=1000)
    live = Content.objects.filter(client__in=[client, other], status="candidate", expires_at__gt=now).count()

    def timed(web, url: str) -> tuple[float, int]:
        for _ in range(2):
            assert web.get(url).status_code == 200
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            r = web.get(url)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200
        with CaptureQueriesContext(connection) as q:
            web.get(url)
        return statistics.median(times), len(q.captured_queries)

    ed, adm = WebClient(), WebClient()
    ed.force_login(editor)
    adm.force_login(admin)
    base, base_q = timed(ed, "/contents/?category=none-such")
    cases = [
        ("editor, first page (default order)", ed, "/contents/"),
        ("editor, least time left first", ed, "/contents/?sort=expiry"),
        ("editor, category filter", ed, "/contents/?category=economy"),
        ("editor, last page", ed, "/contents/?page=1000"),
        ("admin, all clients", adm, "/contents/"),
    ]
    results = [(name, *timed(web, url)) for name, web, url in cases]

    vendor = connection.vendor
    if vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0].split()[0]
    else:
        import sqlite3

        version = sqlite3.sqlite_version
    lines = [
        f"`bench/bench_queue.py --candidates {a.candidates} --repeats {a.repeats}` on {vendor} {version}: "
        f"{live:,} live candidates ({a.candidates * 4 // 5:,} of the editor's client), 50 per page.",
        "",
        "| page | median | ratio to baseline | queries |",
        "|---|---|---|---|",
        f"| baseline: the same page, a category with no candidates | {base * 1000:.1f} ms | 1x | {base_q} |",
    ]
    for name, t, q in results:
        lines.append(f"| {name} | {t * 1000:.1f} ms | {t / base:.2f}x | {q} |")
    machine = (f"Machine: {platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}, "
               f"Django {django.get_version()}, DEBUG={'on' if settings.DEBUG else 'off'} (queries are recorded).")
    text = "\n".join(lines + ["", machine])
    print(text)
    if a.write:
        doc = ROOT / "docs" / "benchmarks.md"
        body = doc.read_text()
        header = "## Editors' queue"
        if header not in body:
            body = body.rstrip() + f"\n\n{header}\n\n" + (
                "Target: the queue with 5,000 candidates renders in under 300 ms, with a number of queries that\n"
                "does not grow with the candidates. Each run below is appended by `--write`.\n")
        doc.write_text(body.rstrip() + "\n\n" + text + "\n")
    if vendor == "postgresql":
        Content.objects.filter(client__in=[client, other]).delete()


if __name__ == "__main__":
    main()
