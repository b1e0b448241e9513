from datetime import timedelta

import pytest

from apps.campaigns.models import Campaign
from apps.contents.models import CONTENT_TRANSITIONS, Content, ContentStatus
from apps.contents.services import IllegalTransition, content_transition
from apps.orchestration.expiry import contents_expire_due
from apps.core.models import Decision


@pytest.mark.django_db
def test_transitions_follow_the_map(client_a, content_factory):
    c = content_factory(client_a)
    content_transition(content=c, to=ContentStatus.CANDIDATE)
    content_transition(content=c, to=ContentStatus.APPROVED)
    content_transition(content=c, to=ContentStatus.SENDING)
    with pytest.raises(IllegalTransition):
        content_transition(content=c, to=ContentStatus.CANDIDATE)
    content_transition(content=c, to=ContentStatus.DONE)
    for target in ContentStatus.values:
        if target != ContentStatus.DONE:
            with pytest.raises(IllegalTransition):
                content_transition(content=c, to=target)


def test_terminal_states_have_no_way_out():
    assert CONTENT_TRANSITIONS[ContentStatus.DONE] == frozenset()
    assert CONTENT_TRANSITIONS[ContentStatus.EXPIRED] == frozenset()
    assert all(ContentStatus.EXPIRED in CONTENT_TRANSITIONS[s] for s in ContentStatus.values
               if s not in (ContentStatus.DONE, ContentStatus.EXPIRED))


@pytest.mark.django_db
def test_sweep_expires_due_contents_and_ends_their_campaigns(client_a, content_factory, now):
    old = content_factory(client_a, "old", created_at=now - timedelta(hours=5))
    young = content_factory(client_a, "young", created_at=now - timedelta(hours=1))
    Content.objects.filter(pk=old.pk).update(status=ContentStatus.SENDING)
    campaign = Campaign.objects.create(client=client_a, content=old, created_at=now - timedelta(hours=4))

    assert contents_expire_due(now=now) == 1
    assert contents_expire_due(now=now) == 0  # idempotent
    old.refresh_from_db()
    campaign.refresh_from_db()
    assert old.status == ContentStatus.EXPIRED
    assert (campaign.state, campaign.end_reason) == ("done", "content expired")
    assert Content.objects.get(pk=young.pk).status == ContentStatus.REGISTERED
    assert set(Decision.objects.values_list("action", flat=True)) == {"content_expire", "campaign_end"}
    # Four hours later (moved clock, no sleeping) the young one goes too.
    assert contents_expire_due(now=now + timedelta(hours=4)) == 1


@pytest.mark.django_db
def test_constraints_hold_in_the_database(client_a, content_factory):
    from django.db import IntegrityError, transaction

    c = content_factory(client_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Content.objects.filter(pk=c.pk).update(status="bogus")
    with pytest.raises(IntegrityError), transaction.atomic():
        Content.objects.filter(pk=c.pk).update(expires_at=c.created_at)
