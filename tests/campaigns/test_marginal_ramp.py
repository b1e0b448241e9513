"""The ramp in production judges the people an expansion would reach (the window's probes), and
waits for late clicks when the evidence is immature and nothing more may be sent."""

from datetime import timedelta

import numpy as np
import pytest

from apps.campaigns.models import Wave
from apps.campaigns.selectors import wave_window
from apps.contents.models import Content
from apps.core.models import Decision
from apps.core.services import policy_set
from apps.delivery.models import Send
from apps.delivery.services import sends_dispatch_batch
from apps.events.services import events_ingest
from apps.orchestration.engine import campaign_launch, campaigns_advance_due


class ById:
    """A ranker whose order is known: the lowest ids first."""

    name = "test:by-id"

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        order = np.argsort(candidates.ids)[:k]
        return Ranked(candidates.ids[order], np.linspace(1.0, 0.5, len(order)), {}, self.name)


def by_id(client):
    return ById()


def dispatch_all(now):
    while sends_dispatch_batch(limit=1000, now=now).get("claimed"):
        pass


def click(client, sends, at, clicked_at):
    events_ingest(client=client, now=at, items=[
        {"event_id": f"k{s.pk}", "type": "click", "send_id": s.pk, "occurred_at": clicked_at.isoformat()} for s in sends])


@pytest.mark.django_db
@pytest.mark.parametrize("clicks,decision", [(40, "expand"), (4, "resend")])
def test_the_decision_judges_the_window_an_expansion_would_reach(approved_content, population, client_a, people, now,
                                                                  clicks, decision):
    subs = population(4000)
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=by_id)
    wave = campaign.waves.get()
    window, _ = wave_window(wave=wave)
    assert window.tolist() == [s.pk for s in subs[:1500]]  # it and its expansion: 300 x (1 + 4)
    probes = Send.objects.filter(wave=wave, chosen_by="probed")
    assert probes.count() == 300
    # Every rank block of the window is probed alike: the clicks speak for all of it.
    blocks = np.bincount((np.array(probes.values_list("rank", flat=True)) - 1) // 300, minlength=5)
    assert blocks.tolist() == [60] * 5
    dispatch_all(now)
    campaigns_advance_due(now=now + timedelta(minutes=1), ranker_for=by_id)
    # Only the best-ranked block clicks, a lot: wave 1's top ranks look great, the rest do nothing.
    top = list(probes.filter(rank__lte=300).order_by("pk"))
    click(client_a, top[:clicks], now + timedelta(minutes=10), now + timedelta(minutes=3))
    campaigns_advance_due(now=now + timedelta(minutes=21), ranker_for=by_id)
    wave.refresh_from_db()
    n = wave.decision_numbers
    strata = n["marginal"]["strata"]
    assert wave.decision == decision, wave.decision_reason
    assert [s["probes"] for s in strata] == [60] * 5 and strata[0]["clicks"] == clicks
    assert all(s["clicks"] == 0 for s in strata[1:]) and strata[0]["improvement"] > 1.5
    assert n["marginal"]["audience"] == 1200 and n["all_sends"]["clicks"] == clicks
    # The window as a whole is what the decision is about: its probes' improvement is a fifth of
    # the best block's, the interval the decision used is the probes' one.
    assert n["improvement"] == pytest.approx(clicks / sum(s["expected_clicks"] for s in strata), rel=1e-3)
    assert n["improvement"] < strata[0]["improvement"] / 4
    assert Decision.objects.filter(campaign=campaign, action=f"wave_{wave.decision}").get().numbers["marginal"]["window"] == 1500
    if decision == "expand":  # everything the expansion sends to was in the window it judged
        fill = set(Send.objects.filter(wave__number=2, campaign=campaign, chosen_by="ranked")
                   .values_list("subscriber_id", flat=True))
        assert fill and fill <= set(window.tolist())
    else:  # a re-send probes the same window, grown by 300 ranks
        wave2 = Wave.objects.get(campaign=campaign, number=2)
        window2, _ = wave_window(wave=wave2)
        assert window2.tolist() == [s.pk for s in subs[:1800]] and wave2.stage == 1
        got = np.array(Send.objects.filter(wave=wave2).values_list("rank", flat=True))
        assert len(got) == 300 and np.sum(got > 1500) == 100  # pi = 600 / 1800 for the 300 new ranks
    from django.test import Client as WebClient

    web = WebClient()
    web.force_login(people["operator"])
    page = web.get(f"/dashboards/campaigns/{campaign.pk}/").content.decode()
    assert 'id="marginal-test"' in page and "What an expansion would reach" in page and "1–300" in page


@pytest.mark.django_db
def test_out_of_budget_with_late_clicks_to_come_it_waits_then_decides(approved_content, population, client_a, people, now):
    population(2000)
    policy_set(client=client_a, user=people["admin"], max_waves=1)
    content = approved_content()
    Content.objects.filter(pk=content.pk).update(expires_at=now + timedelta(hours=12))
    campaign = campaign_launch(content=content, now=now, ranker_for=by_id)
    wave = campaign.waves.get()
    dispatch_all(now)
    campaigns_advance_due(now=now + timedelta(minutes=1), ranker_for=by_id)
    sent = list(Send.objects.filter(wave=wave, state="sent").order_by("pk"))
    click(client_a, sent[:6], now + timedelta(minutes=15), now + timedelta(minutes=5))
    # 21 minutes: undecided, the budget is used, the evidence 38% mature: wait, send nothing.
    got = campaigns_advance_due(now=now + timedelta(minutes=21), ranker_for=by_id)
    assert (got["waves_decided"], got["waves_waiting"]) == (0, 1)
    wave.refresh_from_db()
    assert wave.state == "observing" and not wave.decision and wave.waiting_since == now + timedelta(minutes=21)
    assert wave.decision_numbers["code"] == "immature" and wave.decision_numbers["maturity"] < 0.9
    assert wave.observe_until == now + timedelta(minutes=26) and "late clicks" in wave.decision_reason
    assert campaign.waves.count() == 1
    # Looked at again: still waiting, and no second decision row for the same wait.
    assert campaigns_advance_due(now=now + timedelta(minutes=26), ranker_for=by_id)["waves_waiting"] == 1
    assert Decision.objects.filter(campaign=campaign, action="wave_wait").count() == 1
    from django.test import Client as WebClient

    web = WebClient()
    web.force_login(people["operator"])
    page = web.get(f"/dashboards/campaigns/{campaign.pk}/").content.decode()
    assert "waiting for late clicks" in page
    # Seven hours on, the wait is over: it stops on the budget, with one decision row.
    later = now + timedelta(hours=7)
    assert campaigns_advance_due(now=later, ranker_for=by_id)["waves_decided"] == 1
    wave.refresh_from_db()
    campaign.refresh_from_db()
    assert (wave.decision, wave.decision_numbers["code"], campaign.state) == ("stop", "budget", "done")
    assert wave.waiting_since == now + timedelta(minutes=21)  # kept: how long it waited
    assert Decision.objects.filter(campaign=campaign, action="wave_stop").count() == 1


class CalibratedById(ById):
    """The same order, its scores calibrated click probabilities (a click model's)."""

    name = "test:calibrated"

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        order = np.argsort(candidates.ids)[:k]
        return Ranked(candidates.ids[order], np.linspace(0.2, 0.05, len(order)), {}, self.name, calibrated=True)


def calibrated_by_id(client):
    return CalibratedById()


@pytest.mark.django_db
def test_a_priced_campaign_reaches_everyone_its_content_is_worth_the_slot_to(approved_content, population, client_a,
                                                                              people, now):
    """With prices, the window is every person the content is worth their slot to (not the 1,500
    best-ranked an unpriced first wave would cover); once the first wave's clicks are at least
    what its probes usually click (the point estimate: the e-value is far from confident), the
    next wave sends to all the rest of them, and then the campaign ends: nobody else is worth it."""
    from apps.audience.models import Subscriber

    policy_set(client=client_a, user=people["admin"], holdout_share=0.0)
    subs = population(4000)
    odd = [s.pk for s in subs if s.pk % 2]
    Subscriber.objects.filter(pk__in=odd).update(slot_price=1.0)  # no content is worth a click probability of 1
    worth = [s.pk for s in subs if not s.pk % 2]  # their price is 0
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=calibrated_by_id)
    wave = campaign.waves.get()
    window, _ = wave_window(wave=wave)
    assert wave.plan_numbers["priced"] is True
    assert window.tolist() == worth  # all 2,000, in the ranker's order: more than 300 x (1 + 4)
    probes = list(Send.objects.filter(wave=wave, chosen_by="probed").order_by("pk"))
    assert len(probes) == 300 and {s.subscriber_id for s in probes} <= set(worth)
    dispatch_all(now)
    campaigns_advance_due(now=now + timedelta(minutes=1), ranker_for=calibrated_by_id)
    click(client_a, probes[:6], now + timedelta(minutes=10), now + timedelta(minutes=3))
    campaigns_advance_due(now=now + timedelta(minutes=21), ranker_for=calibrated_by_id)
    wave.refresh_from_db()
    n = wave.decision_numbers
    assert wave.decision == "expand", wave.decision_reason
    assert n["expand_on"] == "estimate" and n["improvement"] >= 1
    assert n["e_value_above_floor"] < n["e_value_threshold"]  # the unpriced rule would not have expanded
    assert "worth their slot" in wave.decision_reason
    wave2 = Wave.objects.get(campaign=campaign, number=2)
    chosen = set(Send.objects.filter(campaign=campaign).exclude(chosen_by="explored").values_list("subscriber_id", flat=True))
    assert chosen == set(worth)  # wave 1's probes and wave 2's audience: the whole priced window
    assert wave2.plan_numbers["probes"] == 0 and wave2.plan_numbers["expansion_audience"] == 2000 - 300
    dispatch_all(now + timedelta(minutes=21))
    campaigns_advance_due(now=now + timedelta(minutes=22), ranker_for=calibrated_by_id)
    campaigns_advance_due(now=now + timedelta(minutes=43), ranker_for=calibrated_by_id)
    campaign.refresh_from_db()
    wave2.refresh_from_db()
    assert campaign.state == "done" and wave2.decision_numbers["code"] == "nobody_left"



@pytest.mark.django_db
def test_a_priced_wave_explores_its_share_of_what_the_price_let_through(approved_content, population, client_a,
                                                                        people, now):
    """Each random push takes someone's weekly slot: when the price lets 50 people through where
    the wave wanted 270 probes, its exploration slice is 30 x 50 / 270 people, not 30."""
    from apps.audience.models import Subscriber

    policy_set(client=client_a, user=people["admin"], holdout_share=0.0, exploration_share=0.1)
    subs = population(4000)
    worth = [s.pk for s in subs[:50]]
    Subscriber.objects.exclude(pk__in=worth).update(slot_price=1.0)
    campaign = campaign_launch(content=approved_content(), now=now, ranker_for=calibrated_by_id)
    wave = campaign.waves.get()
    how = dict(Send.objects.filter(wave=wave).values_list("subscriber_id", "chosen_by"))
    probed = {pk for pk, c in how.items() if c == "probed"}
    explored = {pk for pk, c in how.items() if c == "explored"}
    assert probed == set(worth) and len(explored) == round(30 * 50 / 270) == 6
    assert wave.plan_numbers["explored"] == 6 and not explored & probed
    # without prices (first come) the same wave explores its full slice
    policy_set(client=client_a, user=people["admin"], slot_objective="first_come")
    other = campaign_launch(content=approved_content(external_id="c-other"), now=now, ranker_for=calibrated_by_id)
    assert Send.objects.filter(wave__campaign=other, chosen_by="explored").count() == 30
