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
def test_with_both_shares_at_zero_every_send_is_ranked_and_nobody_is_held_out(approved_content, population, now):
    population(500)  # the tests' clients have both shares at zero
    campaign = campaign_launch(content=approved_content(), now=now)
    assert set(Send.objects.filter(campaign=campaign).values_list("chosen_by", "state")) == {("probed", "pending")}
    numbers = Decision.objects.get(campaign=campaign, action="wave_plan").numbers
    assert "explored" not in numbers and "held_out" not in numbers


@pytest.mark.django_db
def test_a_new_client_explores_a_tenth_of_wave_one_and_holds_out_a_twentieth(population, client_a, people, now,
                                                                              approved_content):
    from apps.core.policy import DEFAULTS

    policy_set(client=client_a, user=people["admin"], exploration_share=DEFAULTS.exploration_share,
               holdout_share=DEFAULTS.holdout_share, first_wave_size=1000)
    population(3000)
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=ranker_for)
    rows = Send.objects.filter(campaign=campaign)
    assert rows.count() == 1000 and rows.filter(chosen_by="explored").count() == 100
    assert 25 <= rows.filter(state="held_out").count() <= 80  # 5% of 1,000, at random


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
    # The probes: 150 drawn from the window of 750 best-ranked (the 750 lowest ids), 30 per rank
    # block of 150; the explored: 50 at random among everyone eligible not probed.
    window = {s.pk for s in subs[:750]}
    probed = set(rows.filter(chosen_by="probed").values_list("subscriber_id", flat=True))
    explored = set(rows.filter(chosen_by="explored").values_list("subscriber_id", flat=True))
    assert len(probed) == 150 and probed <= window and explored and not explored & probed
    assert not rows.filter(chosen_by="ranked").exists()
    ranks = sorted(rows.filter(chosen_by="probed").values_list("rank", flat=True))
    assert [sum(1 for r in ranks if 150 * b < r <= 150 * (b + 1)) for b in range(5)] == [30] * 5
    assert rows.filter(chosen_by="explored", state="pending", score__isnull=True).count() == \
        rows.filter(chosen_by="explored", state="pending").count()
    # What chose each one: its chance of being in the wave, known. A probe's is its block's draw
    # (30 of 150) or else the exploration's; an explored one's the same inside the window, the
    # exploration's alone outside it. The wave keeps the ranker and the model versions.
    q = 50 / 1850
    for rank, sid, propensity in rows.filter(chosen_by="probed").values_list("rank", "subscriber_id", "propensity"):
        assert subs[rank - 1].pk == sid and propensity == pytest.approx(0.2 + 0.8 * q)
    assert set(rows.filter(chosen_by="explored").values_list("rank", flat=True)) == {None}
    for sid, propensity in rows.filter(chosen_by="explored").values_list("subscriber_id", "propensity"):
        assert propensity == pytest.approx(0.2 + 0.8 * q if sid in window else q)
    assert campaign.waves.get().model_versions == {"ranker": "test:by-id"}
    # the wave keeps its pool as the ranker saw it: who, their usual CTR, push history, days inactive
    from apps.campaigns.selectors import wave_pool

    pool = wave_pool(wave_id=campaign.waves.get().pk)
    assert len(pool["ids"]) == 2000 and set(pool["ids"].tolist()) == {s.pk for s in subs}
    np.testing.assert_allclose(pool["days_inactive"], 10.0, atol=1e-3)  # the population idles for 10 days
    assert not pool["push_sends"].any() and np.all((pool["ctr"] > 0) & (pool["ctr"] < 0.2))
    held = rows.filter(state="held_out")
    assert held.count() == numbers["held_out"] and 5 <= held.count() <= 40  # 10% of 200, at random
    # each keeps what chose it, as a recipient would: its usual CTR, how, its chance of being chosen
    assert all(c > 0 and how in ("probed", "explored") and p is not None and (r is not None) == (how == "probed")
               for c, how, p, r in held.values_list("baseline_ctr", "chosen_by", "propensity", "rank"))
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


@pytest.mark.django_db
def test_the_holdout_tells_how_many_came_back_because_of_the_push(approved_content, population, client_a, people, now):
    from django.test import Client as WebClient

    from apps.dashboards.selectors import contents_table
    from apps.dashboards.services import campaign_reach_compute

    population(2000)  # inactive for 10 days
    policy_set(client=client_a, user=people["admin"], first_wave_size=1000, holdout_share=0.3)
    campaign = campaign_launch(content=approved_content(), now=now)
    while sends_dispatch_batch(limit=1000, now=now).get("claimed"):
        pass
    sent = list(Send.objects.filter(campaign=campaign, state="sent").order_by("pk"))
    held = list(Send.objects.filter(campaign=campaign, state="held_out").order_by("pk"))
    assert 200 < len(held) < 400
    # A fifth of the recipients come back within the week, a tenth of the held out.
    back = [s.subscriber for s in sent[: len(sent) // 5]] + [h.subscriber for h in held[: len(held) // 10]]
    events_ingest(client=client_a, now=now + timedelta(days=3), items=[
        {"event_id": f"r{sub.pk}", "type": "read", "subscriber": sub.external_id, "content": campaign.content.external_id,
         "occurred_at": (now + timedelta(days=2)).isoformat()} for sub in back])
    reach = campaign_reach_compute(campaign=campaign, now=now + timedelta(days=3))
    assert (reach.held_out, reach.held_out_inactive, reach.held_out_reactivated) == (len(held), len(held), len(held) // 10)
    assert (reach.inactive_recipients, reach.reactivated) == (len(sent), len(sent) // 5)
    table = contents_table(user=people["operator"], now=now + timedelta(days=3))
    [row] = [r for r in table["rows"] if r["campaign_id"] == campaign.pk]
    inc = row["incremental"]
    p1, p0 = (len(sent) // 5) / len(sent), (len(held) // 10) / len(held)
    assert inc["value"] == pytest.approx(len(sent) * (p1 - p0))
    assert inc["lo"] < inc["value"] < inc["hi"] and inc["lo"] > 0  # 20% against 10%: clearly more
    web = WebClient()
    web.force_login(people["operator"])
    page = web.get(f"/dashboards/campaigns/{campaign.pk}/").content.decode()
    assert "Because of the push" in page and f"{inc['value']:,.0f}" in page
    csv = b"".join(web.get("/dashboards/contents.csv").streaming_content).decode()
    assert f"{inc['value']:.1f}" in csv


@pytest.mark.django_db
def test_another_ranker_is_judged_on_the_waves_that_explored(approved_content, population, client_a, people, now, capsys):
    from django.core.management import call_command

    from apps.campaigns.models import WavePool
    from apps.mlops.ope import ope_estimate

    population(3000)
    policy_set(client=client_a, user=people["admin"], first_wave_size=600, exploration_share=0.3, holdout_share=0.0)
    for n in range(3):
        campaign = campaign_launch(content=approved_content(f"c{n}"), now=now, ranker_for=ranker_for)
        while sends_dispatch_batch(limit=1000, now=now).get("claimed"):
            pass
        pool = WavePool.objects.get(wave__campaign=campaign)
        plan = Decision.objects.get(campaign=campaign, action="wave_plan").numbers
        assert pool.size == plan["eligible"] > 600
        sent = list(Send.objects.filter(campaign=campaign, state="sent").order_by("pk"))
        events_ingest(client=client_a, now=now + timedelta(minutes=30), items=[
            {"event_id": f"c{n}k{s.pk}", "type": "click", "send_id": s.pk,
             "occurred_at": (now + timedelta(minutes=5)).isoformat()} for s in sent[::15]])
    uniform = ope_estimate(ranker="uniform", client_id=client_a.pk, n_boot=300)
    assert uniform["waves"] == 3 and uniform["estimate"] is not None
    lo, hi = uniform["interval"]
    assert lo <= uniform["estimate"] <= hi and uniform["logged_improvement"] > 0
    # Without an MF version recorded on the waves, the model ranker cannot be replayed: skipped, said so.
    assert ope_estimate(ranker="model", client_id=client_a.pk)["skipped"] == 3
    call_command("ope", "--ranker", "interim", "--client", client_a.slug, "--boot", "200")
    assert "estimated click improvement" in capsys.readouterr().out


class PricedTable:
    """Calibrated click probabilities, 0.3 for the first ``worth`` people by id and 0.01 for the
    others (a click model's scores, so that slot prices apply)."""

    name = "test:priced"

    def __init__(self, worth_ids):
        self.worth = set(worth_ids)

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        p = np.array([0.3 if int(i) in self.worth else 0.01 for i in candidates.ids])
        order = np.lexsort((candidates.ids, -p))[:k]
        return Ranked(candidates.ids[order], p[order], {}, self.name, calibrated=True)


@pytest.mark.django_db
def test_when_the_price_lets_few_through_wave_one_explores_its_share_of_what_goes_out(
        approved_content, population, client_a, people, now):
    """The exploration slice is a share of the wave that goes out: a priced wave whose content is
    worth the slot to 18 people probes those 18 and explores 2 at random (10% of 20), not 10% of
    the 300 planned (30 at random beside 18 probes would spend most of the wave's slots by chance)."""
    subs = population(2000)
    Subscriber.objects.filter(client=client_a).update(slot_price=0.1)
    policy_set(client=client_a, user=people["admin"], first_wave_size=300, exploration_share=0.1, holdout_share=0.0)
    worth = [s.pk for s in subs[:18]]
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=lambda client: PricedTable(worth))
    rows = Send.objects.filter(campaign=campaign)
    probed = set(rows.filter(chosen_by="probed").values_list("subscriber_id", flat=True))
    explored = rows.filter(chosen_by="explored")
    assert probed <= set(worth) and len(probed) >= 5  # a window's probes among the 18 worth it
    x = 0.1 / 0.9 * len(probed)
    assert int(x) <= explored.count() <= int(x) + 1
    numbers = Decision.objects.get(campaign=campaign, action="wave_plan").numbers
    assert numbers["explored"] == explored.count() and numbers["held_back_by_price"] > 0
    # unpriced (the same wave with every price 0): the planned slice, 30 of 300
    Subscriber.objects.filter(client=client_a).update(slot_price=0.0)
    other = campaign_launch(content=approved_content(external_id="c-unpriced"), now=now,
                            ranker_for=lambda client: PricedTable(worth))
    assert Send.objects.filter(campaign=other, chosen_by="explored").count() == 30
    assert Send.objects.filter(campaign=other).count() == 300


@pytest.mark.django_db
def test_a_content_worth_nobodys_slot_ends_saying_so(approved_content, population, client_a, people, now):
    """Eligible people there were, but the content beat none of their slot prices: nothing is sent
    (the slice of what goes out is 0 of 0) and the campaign ends with that reason, not "nobody
    left"; with nobody eligible at all it still says nobody was left."""
    from apps.campaigns.models import Campaign
    from apps.orchestration.engine import NOBODY_LEFT, PRICED_OUT

    subs = population(500)
    Subscriber.objects.filter(client=client_a).update(slot_price=0.5)  # above every probability here
    policy_set(client=client_a, user=people["admin"], first_wave_size=100, exploration_share=0.1, holdout_share=0.05)
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=lambda client: PricedTable([s.pk for s in subs[:50]]))
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DONE and campaign.sends == 0
    assert not Send.objects.filter(campaign=campaign).exists()
    end = Decision.objects.get(campaign=campaign, action="campaign_end")
    assert end.numbers["code"] == "priced_out" and end.note == PRICED_OUT
    wave = campaign.waves.get()
    assert wave.decision_reason == PRICED_OUT and wave.plan_numbers["held_back_by_price"] > 0
    # nobody eligible (everyone opted out): nobody left, as before
    Subscriber.objects.filter(client=client_a).update(push_opt_in=False)
    other = campaign_launch(content=approved_content(external_id="c-none"), now=now,
                            ranker_for=lambda client: PricedTable([]))
    end = Decision.objects.get(campaign=other, action="campaign_end")
    assert end.numbers["code"] == "nobody_left" and end.note == NOBODY_LEFT
