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
