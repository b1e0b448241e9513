"""Prepare (or count) the benchmark world: a client, its key, 5,000 subscribers, 200 contents;
``prefill N``: N more events of that client already stored (``old-*``), spread over the last 360
days, as a year of running leaves the table (every month of the retention holds some); ``count``
and ``clear`` leave them out."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushadmin.settings.local")
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
    ran = Event.objects.exclude(event_id__startswith="old-")
    n = ran.count()
    distinct = ran.values("client_id", "event_id").distinct().count()
    print(f"{n} {distinct}")
elif sys.argv[1] == "clear":
    Event.objects.exclude(event_id__startswith="old-").delete()
elif sys.argv[1] == "prefill":
    client_id = Subscriber.objects.values_list("client_id", flat=True).first()
    now = clock.now()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO events_event (client_id, event_id, type, subscriber_id, content_id, occurred_at, received_at) "
            "SELECT %s, 'old-' || g, 'read', s.ids[1 + g %% array_length(s.ids, 1)], c.ids[1 + g %% array_length(c.ids, 1)], "
            "%s - (g::float8 / %s) * interval '360 days', %s "
            "FROM generate_series(1, %s) g, (SELECT array_agg(id) ids FROM audience_subscriber WHERE client_id = %s) s, "
            "(SELECT array_agg(id) ids FROM contents_content WHERE client_id = %s) c",
            [client_id, now, int(sys.argv[2]), now, int(sys.argv[2]), client_id, client_id])
        cur.execute("VACUUM ANALYZE events_event")  # (outside a transaction: the script autocommits)
    print(Event.objects.filter(event_id__startswith="old-").count())
elif sys.argv[1] == "baseline":
    # The same rows inserted straight into PostgreSQL with the API's own statements (the look-up
    # of the batch's event_ids 30 days either side, then the insert), one transaction per batch,
    # without HTTP, validation or the other lookups:
    # the physical reference for the API's throughput on this machine in this run.
    import time

    client_id = Subscriber.objects.values_list("client_id", flat=True).first()
    sub_ids = list(Subscriber.objects.values_list("id", flat=True)[:5000])
    con_ids = list(__import__("apps.contents.models", fromlist=["Content"]).Content.objects.values_list("id", flat=True))
    n_batches, batch = int(sys.argv[2]), 1000
    now = clock.now()
    t = time.perf_counter()
    import psycopg

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    for b in range(n_batches):
        ids = [f"base-{b}-{i}" for i in range(batch)]
        raw.execute("SELECT event_id FROM events_event WHERE client_id = %b AND occurred_at >= %b AND occurred_at <= %b "
                    "AND event_id = ANY(%b::varchar[])",
                    [client_id, now - timedelta(days=30), now + timedelta(days=30), ids])
        raw.fetchall()
        raw.execute(
            "INSERT INTO events_event (client_id, event_id, type, subscriber_id, content_id, send_id, occurred_at, received_at) "
            "SELECT %b, u.e, u.t, u.s, u.c, u.d, u.o, %b FROM unnest(%b::varchar[], %b::varchar[], %b::bigint[], %b::bigint[], "
            "%b::bigint[], %b::timestamptz[]) AS u(e, t, s, c, d, o) "
            "ON CONFLICT (client_id, event_id, occurred_at) DO NOTHING RETURNING event_id",
            [client_id, now, ids, ["read"] * batch, [sub_ids[i % len(sub_ids)] for i in range(batch)],
             [con_ids[i % len(con_ids)] for i in range(batch)], [None] * batch, [now] * batch])
        raw.fetchall()
        connection.commit()
    dt = time.perf_counter() - t
    Event.objects.filter(event_id__startswith="base-").delete()
    print(round(n_batches * batch / dt))
