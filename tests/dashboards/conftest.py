"""Fixtures of the dashboards' tests: the simulated world, and small worlds of known numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def world(people, client_a):
    from tests.dashboards.world import build_world

    return build_world(client=client_a, editor=people["editor"])


@pytest.fixture
def now():
    """Wednesday noon UTC: a fixed point for the known-data tests."""
    from datetime import datetime, timezone

    return datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def make_campaign(content_factory):
    """A campaign with waves and sends of known numbers, written as rows (no engine), so that
    the selectors' arithmetic can be checked against numbers stated in the test.

    ``waves``: dicts with ``sends``, ``clicks``, ``expected`` (the wave's totals), optional
    ``delivered``, ``failed``, ``state``, ``decision``, ``numbers``, ``created_at``, ``planned``
    (the planned size, default ``sends``), ``plan`` (what planning counted). With
    ``subscribers`` given, one Send row per recipient: the first ``clicks`` of each wave clicked.
    """
    from django.db.models import F

    from apps.audience.models import Subscriber
    from apps.campaigns.models import Campaign, Wave
    from apps.delivery.models import Send

    counter = {"n": 0}

    def make(client, *, created_at, waves=(), state="done", category="economy", title=None, push_score=2.0,
             subscribers=None, ctr=0.01, **fields):
        counter["n"] += 1
        content = content_factory(client, f"k{counter['n']}", title=title or f"Story {counter['n']}", category=category,
                                  created_at=created_at - timedelta(minutes=40))
        type(content).objects.filter(pk=content.pk).update(push_score=push_score, status="done")
        content.refresh_from_db()
        c = Campaign.objects.create(client=client, content=content, state=state, created_at=created_at,
                                    sends=sum(w["sends"] for w in waves), clicks=sum(w["clicks"] for w in waves),
                                    expected_clicks=sum(w["expected"] for w in waves), **fields)
        used = 0
        for i, w in enumerate(waves, start=1):
            at = w.get("created_at", created_at + timedelta(minutes=25 * (i - 1)))
            wave = Wave.objects.create(
                campaign=c, number=i, planned_size=w.get("planned", w["sends"]), plan_numbers=w.get("plan", {}),
                state=w.get("state", "decided"), created_at=at,
                sent_at=at, sends=w["sends"], delivered=w.get("delivered", w["sends"]), failed=w.get("failed", 0),
                clicks=w["clicks"], expected_clicks=w["expected"], decision=w.get("decision", ""),
                decision_numbers=w.get("numbers", {}), decision_reason=w.get("reason", ""),
                allocation=w.get("allocation", {}), decided_at=at + timedelta(minutes=20) if w.get("decision") else None)
            if subscribers is not None:
                rows = []
                for k in range(w["sends"]):
                    sub = subscribers[used + k]
                    rows.append(Send(campaign=c, wave=wave, subscriber=sub, state="sent", baseline_ctr=ctr, created_at=at,
                                     sent_at=at, provider="log", title_variant_id=(w.get("variants") or [None] * w["sends"])[k],
                                     clicked_at=at + timedelta(minutes=3) if k < w["clicks"] else None))
                Send.objects.bulk_create(rows)
                Subscriber.objects.filter(pk__in=[r.subscriber_id for r in rows]).update(
                    push_sends=F("push_sends") + 1, last_content_push_at=at)
                used += w["sends"]
        return c

    return make
