"""Events are kept for the retention (``PUSHADMIN_EVENT_RETENTION_DAYS``): an event that occurred
earlier is refused at ingestion, naming ``occurred_at`` and why, and the others of its batch are
stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.events.models import Event
from apps.events.services import events_ingest
from tests.events.conftest import DAYS, read


@pytest.mark.django_db
def test_an_event_older_than_the_retention_is_rejected_naming_occurred_at(client_a, reader, retention, now):
    cutoff = now - retention
    answer = events_ingest(client=client_a, now=now, items=[
        read("old", cutoff - timedelta(seconds=1)), read("edge", cutoff), read("new", now - timedelta(days=3))])
    old, edge, new = answer["results"]
    assert old["status"] == "rejected" and old["field"] == "events[0].occurred_at"
    assert "retention" in old["reason"] and f"{cutoff:%Y-%m-%dT%H:%M:%SZ}" in old["reason"] and f"{DAYS} days" in old["reason"]
    assert (edge["status"], new["status"]) == ("accepted", "accepted")
    assert set(Event.objects.filter(client=client_a).values_list("event_id", flat=True)) == {"edge", "new"}


@pytest.mark.django_db
def test_the_api_rejects_an_event_older_than_the_retention(api, client_a, reader, retention, now):
    r = api.post("/api/v1/events/", {"events": [read("ok", now), read("old", now - retention - timedelta(days=1))]},
                 format="json")
    assert r.status_code == 200 and r.data["accepted"] == 1
    assert r.data["results"][1]["field"] == "events[1].occurred_at" and "retention" in r.data["results"][1]["reason"]
