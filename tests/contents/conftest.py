"""Fixtures of the editorial workflow: a clock that starts 35 minutes ago (so the pages, which
use the real clock, see live contents) and moves by ``now=`` arguments; real reads through the
events service; candidates ready for review."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def t0():
    from apps.core import clock

    return clock.now().replace(microsecond=0) - timedelta(minutes=35)


@pytest.fixture
def register(t0):
    from apps.contents.services import content_upsert

    def make(client, external_id, *, at=None, **data):
        at = at or t0
        data.setdefault("title", f"Story {external_id}")
        data.setdefault("created_at", at)
        return content_upsert(client=client, external_id=external_id, data=data, now=at).content

    return make


@pytest.fixture
def reads(subscriber_factory):
    """``reads(content, n, at=..., inactive=True)``: n organic reads by n distinct subscribers."""
    from apps.events.services import events_ingest

    made = {"n": 0}

    def add(content, n, *, at=None, prefix=None):
        made["n"] += 1
        prefix = prefix or f"r{made['n']}-"
        subs = subscriber_factory(content.client, n, prefix=prefix)
        at = at or content.created_at + timedelta(minutes=10)
        items = [{"event_id": f"{prefix}{s.pk}", "type": "read", "subscriber": s.external_id,
                  "content": content.external_id, "occurred_at": at.isoformat()} for s in subs]
        result = events_ingest(client=content.client, items=items, now=at)
        assert result["accepted"] == n, result
        return subs

    return add


@pytest.fixture
def candidate(client_a, register, reads, t0):
    """An English news content of client_a, evaluated into a candidate with title variants."""
    from apps.orchestration.evaluation import contents_evaluate_due

    def make(external_id="cand-1", *, client=None, title="Central bank raises interest rates to curb inflation",
             body="The central bank raised its benchmark interest rate by half a point on Thursday, citing stubborn inflation.",
             category="economy", language="en", n_reads=60, at=None):
        client = client or client_a
        at = at or t0
        c = register(client, external_id, at=at, title=title, body=body, category=category, language=language)
        if n_reads:
            reads(c, n_reads)
        contents_evaluate_due(now=at + client.policy.evaluation_delay)
        c.refresh_from_db()
        assert c.status == "candidate", (c.status, c.push_score, c.rejection_reason)
        return c

    return make


@pytest.fixture(autouse=True)
def _no_quiet_hours(request):
    """These tests run on the real clock (the pages use it): with the default quiet hours
    (22:00-08:00 in the subscribers' UTC) their campaigns would depend on the hour they run at."""
    names = [n for n in ("client_a", "client_b") if n in request.fixturenames]
    if names:
        from apps.core.models import Policy

        for name in names:
            Policy.objects.filter(client=request.getfixturevalue(name)).update(quiet_hours_start=0, quiet_hours_end=0)
