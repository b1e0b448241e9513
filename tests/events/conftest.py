"""A client with three subscribers and a content, events as the API takes them, and a retention
of ``DAYS`` (the product's default is 365)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

DAYS = 200


@pytest.fixture
def retention(settings):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "EVENT_RETENTION_DAYS": DAYS}
    return timedelta(days=DAYS)


@pytest.fixture
def reader(client_a, content_factory, subscriber_factory):
    """u0, u1, u2 and the content c1 of ``client_a``."""
    subscriber_factory(client_a, 3)
    return content_factory(client_a, "c1")


def read(event_id: str, at: datetime, sub: str = "u0") -> dict:
    return {"event_id": event_id, "type": "read", "subscriber": sub, "content": "c1", "occurred_at": at.isoformat()}
