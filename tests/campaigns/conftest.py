from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.contents.models import ContentStatus, TitleVariant


@pytest.fixture
def approved_content(client_a, content_factory, now):
    """An approved content with two approved title variants, ready to launch."""

    def make(external_id="push-1", category="sports", **kw):
        from apps.contents.services import content_transition

        kw.setdefault("created_at", now - timedelta(minutes=40))
        c = content_factory(client_a, external_id, category=category, **kw)
        content_transition(content=c, to=ContentStatus.CANDIDATE)
        content_transition(content=c, to=ContentStatus.APPROVED)
        TitleVariant.objects.create(content=c, text=f"{c.title}!", source="original", review="approved")
        TitleVariant.objects.create(content=c, text=f"Now: {c.title}", source="template", review="approved")
        return c

    return make


@pytest.fixture
def population(client_a, now):
    """1,000 inactive, opted-in subscribers in UTC (no quiet hours at noon UTC)."""

    def make(n=1000, **fields):
        fields.setdefault("last_activity_at", now - timedelta(days=10))
        fields.setdefault("timezone", "UTC")
        Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"p{i}", **fields) for i in range(n)])
        return list(Subscriber.objects.filter(client=client_a).order_by("id"))

    return make


@pytest.fixture
def now():
    """Noon UTC: outside the default quiet hours (22-08) for subscribers in UTC."""
    from datetime import datetime, timezone

    return datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
