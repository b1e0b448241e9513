"""The policy's measurement shares: wave 1's exploration slice, drawn at random outside the ranked
top, and each wave's holdout, people ranked in and kept from the content at random."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.core.models import Decision
from apps.core.services import policy_set
from apps.delivery.models import Send
from apps.delivery.services import sends_dispatch_batch
from apps.events.services import events_ingest
from apps.orchestration.engine import campaign_launch, campaigns_advance_due


class TopByExternalId:
    """A ranker whose choice is known: the lowest ids first."""

    name = "test:by-id"

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        order = np.argsort(candidates.ids)[:k]
        return Ranked(candidates.ids[order], np.linspace(1.0, 0.5, len(order)), {}, self.name)


def ranker_for(client):
    return TopByExternalId()


@pytest.mark.django_db
def test_off_by_default_every_send_is_ranked_and_nobody_is_held_out(approved_content, population, now):
    population(500)
    campaign = campaign_launch(content=approved_content(), now=now)
    assert set(Send.objects.filter(campaign=campaign).values_list("chosen_by", "state")) == {("ranked", "pending")}
    numbers = Decision.objects.get(campaign=campaign, action="wave_plan").numbers
    assert "explored" not in numbers and "held_out" not in numbers


@pytest.mark.django_db
def test_wave_one_explores_outside_the_ranked_top_and_the_holdout_is_never_pushed(
        approved_content, population, client_a, people, now):
    subs = population(2000)
    policy_set(client=client_a, user=people["admin"], first_wave_size=200, exploration_share=0.25, holdout_share=0.1)
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=ranker_for)
    assert (campaign.exploration_share, campaign.holdout_share) == (0.25, 0.1)
    rows = Send.objects.filter(campaign=campaign)
    numbers = Decision.objects.get(campaign=campaign, action="wave_plan").numbers
    assert numbers["explored"] == 50 and numbers["exploration_probability"] == pytest.approx(50 / 1850, abs=1e-6)
    ranked_top = {s.pk for s in subs[:150]}  # what the ranker chose: the 150 lowest ids
    explored = set(rows.filter(chosen_by="explored").values_list("subscriber_id", flat=True))
    assert explored and not explored & ranked_top
    assert set(rows.filter(chosen_by="ranked").values_list("subscriber_id", flat=True)) <= ranked_top
    assert rows.filter(chosen_by="explored", state="pending", score__isnull=True).count() == \
        rows.filter(chosen_by="explored", state="pending").count()
    held = rows.filter(state="held_out")
    assert held.count() == numbers["held_out"] and 5 <= held.count() <= 40  # 10% of 200, at random
    assert rows.count() == 200 and rows.filter(state="pending").count() == 200 - held.count() == campaign.waves.get().sends
    # The held out keep their slot and their history; nobody sends them anything.
    held_ids = list(held.values_list("subscriber_id", flat=True))
    assert Subscriber.objects.filter(pk__in=held_ids, last_content_push_at__isnull=True, push_sends=0).count() == len(held_ids)
    while sends_dispatch_batch(limit=500, now=now).get("claimed"):
        pass
    assert held.count() == len(held_ids)  # still held out, never claimed
    # A click reported for one of them (by subscriber and content) is not a click on a push.
    someone = Subscriber.objects.get(pk=held_ids[0])
    events_ingest(client=client_a, now=now + timedelta(minutes=5), items=[
        {"event_id": "hc", "type": "click", "subscriber": someone.external_id, "content": campaign.content.external_id}])
    assert not held.filter(clicked_at__isnull=False).exists()
    campaign.refresh_from_db()
    assert campaign.clicks == 0
    # Many clicks: the ramp expands. Wave 2 explores nothing and chooses nobody of wave 1 (held out or not).
    sent = list(rows.filter(state="sent").order_by("pk")[:60])
    events_ingest(client=client_a, now=now + timedelta(minutes=10), items=[
        {"event_id": f"k{s.pk}", "type": "click", "send_id": s.pk, "occurred_at": (now + timedelta(minutes=2)).isoformat()}
        for s in sent])
    campaigns_advance_due(now=now + timedelta(minutes=25), ranker_for=ranker_for)
    wave2 = campaign.waves.get(number=2)
    second = Send.objects.filter(wave=wave2)
    assert wave2.sends > 0 and not second.filter(chosen_by="explored").exists()
    assert not set(second.values_list("subscriber_id", flat=True)) & set(rows.filter(wave__number=1)
                                                                           .values_list("subscriber_id", flat=True))
