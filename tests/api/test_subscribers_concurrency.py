"""Concurrent upserts naming the same new subscribers never fail, and create each one once.

Every round, several threads post overlapping, shuffled subsets of the same new external_ids
through the API at once (a real PostgreSQL in CI; SQLite serializes writers, so fewer rounds).
Before ``ON CONFLICT DO NOTHING``, a batch that lost the race retried once and then, when a third
batch had meanwhile inserted another of its ids, answered 500 with a unique violation.
"""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.audience.models import Subscriber

THREADS = 6
IDS_PER_ROUND = 60


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_of_the_same_new_subscribers_never_fail(client_a):
    rounds = 40 if connection.vendor == "postgresql" else 8
    rng = random.Random(7)
    plans = [[rng.sample(range(IDS_PER_ROUND), k=rng.randint(IDS_PER_ROUND // 3, IDS_PER_ROUND)) for _ in range(THREADS)]
             for _ in range(rounds)]
    answers: list[list] = [[None] * THREADS for _ in range(rounds)]
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def worker(t: int):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {client_a.plain_key}")
        try:
            for r in range(rounds):
                items = [{"external_id": f"r{r}-s{i}", "locale": f"t{t}", "timezone": "Asia/Seoul"} for i in plans[r][t]]
                start.wait()
                try:
                    resp = api.post("/api/v1/subscribers/bulk/", {"subscribers": items}, format="json")
                    answers[r][t] = (resp.status_code, resp.json())
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert not errors, errors[:3]
    statuses = {a[0] for row in answers for a in row}
    assert statuses == {200}, [a for row in answers for a in row if a[0] != 200][:3]
    for r in range(rounds):
        named = {i for t in range(THREADS) for i in plans[r][t]}
        created = sum(a[1]["created"] for a in answers[r])
        assert created == len(named), f"round {r}: {created} created for {len(named)} new ids"
        for t in range(THREADS):
            a = answers[r][t][1]
            assert a["created"] + a["updated"] + a["unchanged"] == len(plans[r][t])
    assert Subscriber.objects.filter(client=client_a).count() == sum(len({i for p in plan for i in p}) for plan in plans)
    # Each subscriber ends with the values of one of the batches that named it (the last writer's).
    assert set(Subscriber.objects.values_list("locale", flat=True)) <= {f"t{t}" for t in range(THREADS)}
    assert set(Subscriber.objects.values_list("timezone", flat=True)) == {"Asia/Seoul"}
