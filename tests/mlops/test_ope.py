"""``manage.py ope`` on a client's logs: how much of the estimate rests on explored sends."""

import numpy as np
import pytest

from apps.core.services import policy_set
from apps.delivery.models import Send
from apps.delivery.services import sends_dispatch_batch
from apps.events.services import events_ingest
from apps.orchestration.engine import campaign_launch
from tests.campaigns.conftest import approved_content, now, population  # noqa: F401 - fixtures


class TopByExternalId:
    """A ranker whose choice is known: the lowest ids first."""

    name = "test:by-id"

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        from apps.mlops.ranking import Ranked

        order = np.argsort(candidates.ids)[:k]
        return Ranked(candidates.ids[order], np.linspace(1.0, 0.5, len(order)), {}, self.name)


@pytest.mark.django_db
def test_an_estimate_whose_explored_sends_never_clicked_says_so_and_stays_open_above(
        approved_content, population, client_a, people, now):  # noqa: F811
    from datetime import timedelta

    from apps.mlops.ope import ope_estimate

    population(3000)
    policy_set(client=client_a, user=people["admin"], first_wave_size=600, exploration_share=0.3, holdout_share=0.0)
    for n in range(3):
        campaign = campaign_launch(content=approved_content(f"c{n}"), now=now, ranker_for=lambda client: TopByExternalId())
        while sends_dispatch_batch(limit=1000, now=now).get("claimed"):
            pass
        ranked = list(Send.objects.filter(campaign=campaign, state="sent", chosen_by="ranked").order_by("pk"))
        events_ingest(client=client_a, now=now + timedelta(minutes=30), items=[  # only ranked sends click
            {"event_id": f"c{n}k{s.pk}", "type": "click", "send_id": s.pk,
             "occurred_at": (now + timedelta(minutes=5)).isoformat()} for s in ranked[::15]])
    uniform = ope_estimate(ranker="uniform", client_id=client_a.pk, n_boot=500)
    # Uniform's picks fall mostly outside the ranked top: most of its expected clicks stand on the
    # explored sends, and none of those clicked.
    assert uniform["waves"] == 3 and uniform["explored_clicks"] == 0 and uniform["explored_share"] > 0.5
    lo, hi = uniform["interval"]
    # The estimate counts the ranked sends' clicks over everything expected. Had the explored picks
    # clicked at their usual rate instead, it would be ``explored_share`` higher: with about one click
    # expected there, seeing none is not unusual, so the interval keeps that open (a redraw of
    # zero counts as zero, the method before, ruled it out).
    assert lo <= uniform["estimate"] < uniform["estimate"] + uniform["explored_share"] < hi
