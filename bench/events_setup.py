"""Prepare (or count) the benchmark world: a client, its key, 5,000 subscribers, 200 contents."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from datetime import timedelta  # noqa: E402

from django.db import connection  # noqa: E402

from apps.audience.models import Subscriber  # noqa: E402
from apps.contents.services import content_upsert  # noqa: E402
from apps.core import clock  # noqa: E402
from apps.core.services import api_key_create, client_create  # noqa: E402
from apps.events.models import Event  # noqa: E402

if sys.argv[1] == "setup":
    client = client_create(slug="bench", name="Bench", api_rate="100000/min")
    Subscriber.objects.bulk_create([Subscriber(client=client, external_id=f"s{i}") for i in range(5000)])
    now = clock.now()
    for i in range(200):
        content_upsert(client=client, external_id=f"c{i}", data={"title": f"t{i}", "created_at": now - timedelta(minutes=1)}, now=now)
    print(api_key_create(client=client)[1])
elif sys.argv[1] == "count":
    n = Event.objects.count()
    distinct = Event.objects.values("client_id", "event_id").distinct().count()
    print(f"{n} {distinct}")
elif sys.argv[1] == "baseline":
    # The same rows inserted straight into PostgreSQL with the same statement, no HTTP/Django:
    # the physical reference for the API's throughput on this machine in this run.
    import time

    client_id = Subscriber.objects.values_list("client_id", flat=True).first()
    sub_ids = list(Subscriber.objects.values_list("id", flat=True)[:5000])
    con_ids = list(__import__("apps.contents.models", fromlist=["Content"]).Content.objects.values_list("id", flat=True))
    n_batches, batch = int(sys.argv[2]), 1000
    ts = connection.ops.adapt_datetimefield_value(clock.now())
    t = time.perf_counter()
    with connection.cursor() as cur:
        for b in range(n_batches):
            params = []
            for i in range(batch):
                params += [client_id, f"base-{b}-{i}", "read", sub_ids[i % len(sub_ids)], con_ids[i % len(con_ids)], None, ts, ts]
            cur.execute("INSERT INTO events_event (client_id, event_id, type, subscriber_id, content_id, send_id, occurred_at, received_at) VALUES "
                        + ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s)"] * batch) + " ON CONFLICT (client_id, event_id) DO NOTHING RETURNING event_id", params)
            cur.fetchall()
    dt = time.perf_counter() - t
    Event.objects.filter(event_id__startswith="base-").delete()
    print(round(n_batches * batch / dt))
