"""Pausing is scoped: an operator's pause holds their client's pushes while every other client's
keep leaving; only every client's switch (a superuser's) holds them all."""

from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.contents.models import ContentStatus, TitleVariant
from apps.core.services import sending_pause_set
from apps.delivery.models import Send
from apps.delivery.services import sends_dispatch_batch
from apps.orchestration.engine import campaign_launch


def dispatch_all(now):
    total = 0
    while (n := sends_dispatch_batch(limit=500, now=now).get("claimed")):
        total += n
    return total


@pytest.fixture
def two_campaigns(approved_content, population, client_b, content_factory, now):
    from apps.contents.services import content_transition

    population(400)
    Subscriber.objects.bulk_create([Subscriber(client=client_b, external_id=f"b{i}", timezone="UTC",
                                               last_activity_at=now - timedelta(days=10)) for i in range(400)])
    theirs = content_factory(client_b, "b-push", category="sports", created_at=now - timedelta(minutes=40))
    content_transition(content=theirs, to=ContentStatus.CANDIDATE)
    content_transition(content=theirs, to=ContentStatus.APPROVED)
    TitleVariant.objects.create(content=theirs, text="Now: B", source="template", review="approved")
    return campaign_launch(content=approved_content(), now=now), campaign_launch(content=theirs, now=now)


@pytest.mark.django_db
def test_one_clients_pause_holds_its_pushes_and_not_the_others(two_campaigns, client_a, people, now):
    mine, theirs = two_campaigns
    assert Send.objects.filter(campaign=mine, state="pending").count() > 0
    assert Send.objects.filter(campaign=theirs, state="pending").count() > 0
    sending_pause_set(paused=True, client=client_a, user=people["operator"], now=now)

    dispatch_all(now)
    assert not Send.objects.filter(campaign=mine).exclude(state="pending").exists()  # held, every one
    assert not Send.objects.filter(campaign=theirs, state="pending").exists()  # the other client's left
    assert Send.objects.filter(campaign=theirs, state="sent").count() > 0

    sending_pause_set(paused=False, client=client_a, user=people["operator"], now=now + timedelta(minutes=1))
    assert dispatch_all(now + timedelta(minutes=1)) > 0
    assert not Send.objects.filter(campaign=mine, state="pending").exists()


@pytest.mark.django_db
def test_every_clients_switch_holds_them_all(two_campaigns, people, now):
    mine, theirs = two_campaigns
    sending_pause_set(paused=True, client=None, user=people["admin"], now=now)
    assert dispatch_all(now) == 0
    assert not Send.objects.exclude(state="pending").exists()
