"""32 workers try to claim one subscriber's 7-day slot for 32 different contents at once:
exactly one wins, every round (1,000 rounds on PostgreSQL)."""

import threading
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection, connections, transaction

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.delivery.models import Send
from apps.core.policy import DEFAULTS
from apps.delivery.services import sends_create_with_slots

THREADS = 32


@pytest.mark.django_db(transaction=True)
def test_exactly_one_claim_wins_every_round(client_a, content_factory, now):
    rounds = 1000 if connection.vendor == "postgresql" else 30
    sub = Subscriber.objects.create(client=client_a, external_id="contested")
    targets = []
    for i in range(THREADS):
        content = content_factory(client_a, f"race-{i}")
        campaign = Campaign.objects.create(client=client_a, content=content, created_at=now)
        targets.append((campaign, Wave.objects.create(campaign=campaign, number=1, planned_size=1, created_at=now)))

    start, end = threading.Barrier(THREADS + 1), threading.Barrier(THREADS + 1)
    wins = np.zeros((rounds, THREADS), dtype=int)
    errors = []

    def worker(t):
        campaign, wave = targets[t]
        try:
            for r in range(rounds):
                start.wait()
                try:
                    with transaction.atomic():
                        got = sends_create_with_slots(campaign=campaign, wave=wave, subscriber_ids=[sub.pk],
                                                      baseline_ctr=[0.01], scores=[1.0], variant_ids=[0], cap_window=DEFAULTS.cap_window, now=now)
                    wins[r, t] = len(got["subscriber_ids"])
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))
                end.wait()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for r in range(rounds):
        start.wait()
        end.wait()
        # Next round: the slot is free again (as if 7 days had passed) and no send exists.
        Send.objects.all().delete()
        Subscriber.objects.filter(pk=sub.pk).update(last_content_push_at=now - timedelta(days=8))
    for th in threads:
        th.join()
    assert not errors, errors[:3]
    per_round = wins.sum(axis=1)
    assert (per_round == 1).all(), f"rounds with {sorted(set(per_round.tolist()))} winners"
    assert len(set(np.argmax(wins, axis=1).tolist())) > 1  # different threads won: a real race
