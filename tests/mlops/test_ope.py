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
def test_an_estimate_whose_explored_sends_never_clicked_says_so_and_keeps_an_upper_bound(
        approved_content, population, client_a, people, now):  # noqa: F811
    from datetime import timedelta

    from apps.mlops.ope import ope_estimate

    population(3000)
    policy_set(client=client_a, user=people["admin"], first_wave_size=600, exploration_share=0.3, holdout_share=0.0)
    for n in range(3):
        campaign = campaign_launch(content=approved_content(f"c{n}"), now=now, ranker_for=lambda client: TopByExternalId())
        while sends_dispatch_batch(limit=1000, now=now).get("claimed"):
            pass
        # Wave 1 probes a window of ranks at random (docs/ramp.md 2.6), so every send of it is
        # explored (propensity < 1); none of them clicks.
        assert not Send.objects.filter(campaign=campaign, state="sent", propensity=1.0).exists()
    uniform = ope_estimate(ranker="uniform", client_id=client_a.pk, n_boot=500)
    assert uniform["waves"] == 3 and uniform["explored_clicks"] == 0 and uniform["explored_share"] > 0.5
    lo, hi = uniform["interval"]
    # No click seen: the estimate is 0, and the interval still reaches above it (each group's count
    # is redrawn from its Jeffreys posterior; a redraw of zero as zero, the method before, gave
    # [0, 0]). How far above depends on the clicks expected: here hundreds of explored sends.
    assert uniform["estimate"] == 0.0 and lo < 0.01 and hi > 0.1, (uniform["estimate"], lo, hi)
