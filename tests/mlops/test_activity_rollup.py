"""The subscribers' long-horizon activity kept as running sums by the sweep's roll-up equals the
replay's numbers on the same reads, and reaches the ranker's click-model inputs."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.events.services import events_ingest, subscribers_activity_rollup
from recsys.activity import decayed_at, long_horizon_activity


@pytest.mark.django_db
def test_running_sums_equal_the_replay_numbers(client_a, content_factory, now):
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"h{i}") for i in range(6)])
    contents = [content_factory(client_a, f"c{j}", created_at=now - timedelta(days=200)) for j in range(3)]
    rng = np.random.default_rng(2)
    subscriber_pk = dict(Subscriber.objects.filter(client=client_a).values_list("external_id", "pk"))
    batches = []
    for b in range(3):  # three sweeps' worth, in time order; one person reads twice a day
        batch = []
        for n in range(60):
            who = int(rng.integers(0, 5))  # h5 never reads
            at = now - timedelta(days=float(150 - 50 * b - rng.uniform(0, 45)))
            batch.append({"event_id": f"b{b}-{n}", "type": "read", "subscriber": f"h{who}",
                          "content": contents[n % 3].external_id, "occurred_at": at.isoformat()})
        batch.append({"event_id": f"b{b}-open", "type": "open", "subscriber": "h0", "occurred_at": now.isoformat()})
        batches.append(batch)
    for batch in batches:
        events_ingest(client=client_a, items=batch, now=now)
        subscribers_activity_rollup(settle=True)
    reads = [(subscriber_pk[e["subscriber"]], e["occurred_at"]) for batch in batches for e in batch if e["type"] == "read"]
    order = sorted(subscriber_pk.values())
    u = np.array([order.index(pk) for pk, _ in reads])
    from datetime import datetime

    ts = np.array([datetime.fromisoformat(at).timestamp() for _, at in reads])
    want_reads, want_days = long_horizon_activity(u, ts, n_users=len(order), now=now.timestamp())
    got = dict((pk, (r, d)) for pk, r, d in Subscriber.objects.filter(client=client_a).values_list(
        "pk", "reads_decayed", "active_days_decayed"))
    np.testing.assert_allclose(decayed_at([got[pk][0] for pk in order], now.timestamp()), want_reads, rtol=1e-9)
    np.testing.assert_allclose(decayed_at([got[pk][1] for pk in order], now.timestamp()), want_days, rtol=1e-9)
    assert want_days[order.index(subscriber_pk["h5"])] == 0 and want_reads.max() > want_days.max() > 0
    # ... and the eligible candidates carry them for the ranker
    from apps.audience.selectors import Segment
    from apps.delivery.selectors import eligible_candidates

    rows = eligible_candidates(client=client_a, content_id=None, now=now, cap_window=timedelta(days=7),
                               segment=Segment(activity="any", inactive_days=7), quiet_start=0, quiet_end=0)
    np.testing.assert_allclose(decayed_at(rows.active_days_decayed, now.timestamp()),
                               [want_days[order.index(pk)] for pk in rows.ids], rtol=1e-9)
