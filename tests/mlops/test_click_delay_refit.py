"""The nightly click-delay refit reads real Send rows and corrects for sends too young to have all
their clicks (right truncation)."""

import math
from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign, Wave
from apps.delivery.models import Send
from apps.mlops.models import ModelKind
from apps.mlops.selectors import click_delay_model
from apps.mlops.training import train_click_delay
from recsys.ramp import ClickDelayModel, PlatformDelays

TRUE_MEDIAN_S = 3600.0


@pytest.mark.django_db
def test_refit_uses_truncation_and_recovers_the_median(client_a, content_factory, now):
    rng = np.random.default_rng(7)
    n = 3000
    content = content_factory(client_a, "delays", created_at=now - timedelta(days=2))
    campaign = Campaign.objects.create(client=client_a, content=content, created_at=now - timedelta(days=1), state="running")
    wave = Wave.objects.create(campaign=campaign, number=1, planned_size=n, created_at=now - timedelta(days=1))
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"d{i}") for i in range(n)])
    subs = list(Subscriber.objects.filter(client=client_a, external_id__startswith="d").order_by("id"))
    sent_ago = rng.uniform(0, 24 * 3600.0, n)  # sends over the last day
    delay = np.exp(rng.normal(math.log(TRUE_MEDIAN_S), 1.5, n))
    rows = []
    for s, ago, d in zip(subs, sent_ago, delay):
        sent_at = now - timedelta(seconds=float(ago))
        clicked = sent_at + timedelta(seconds=float(d))
        rows.append(Send(campaign=campaign, wave=wave, subscriber=s, baseline_ctr=0.05, state=Send.State.SENT,
                         created_at=sent_at, sent_at=sent_at, clicked_at=clicked if clicked <= now else None))
    Send.objects.bulk_create(rows)
    seen = Send.objects.filter(clicked_at__isnull=False).values_list("sent_at", "clicked_at")
    observed = np.array([(c - s).total_seconds() for s, c in seen])
    assert len(observed) < 0.92 * n  # many clicks not in yet

    version = train_click_delay(client=campaign.client, now=now, min_clicks=100)
    assert version is not None and version.is_active
    assert version.metrics["fit"] == "lynden_bell" and version.metrics["clicks"] == len(observed)
    model = click_delay_model(campaign.client)
    assert model == PlatformDelays.from_dict(version.params) and model.platforms == ("android",)
    naive = float(ClickDelayModel.fit(observed).quantile(0.5))
    fitted = float(model.quantile(0.5))
    assert naive < 0.92 * TRUE_MEDIAN_S
    assert abs(math.log(fitted / TRUE_MEDIAN_S)) < 0.12
    assert fitted > naive


@pytest.mark.django_db
def test_refit_ignores_clicks_after_now(client_a, content_factory, now):
    content = content_factory(client_a, "late", created_at=now - timedelta(days=2))
    campaign = Campaign.objects.create(client=client_a, content=content, created_at=now - timedelta(days=1), state="running")
    wave = Wave.objects.create(campaign=campaign, number=1, planned_size=5, created_at=now - timedelta(days=1))
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"l{i}") for i in range(5)])
    for i, s in enumerate(Subscriber.objects.filter(external_id__startswith="l").order_by("id")):
        sent_at = now - timedelta(hours=3)
        Send.objects.create(campaign=campaign, wave=wave, subscriber=s, baseline_ctr=0.05, state=Send.State.SENT,
                            created_at=sent_at, sent_at=sent_at, clicked_at=sent_at + timedelta(hours=1 + 3 * (i % 2)))
    assert train_click_delay(client=client_a, now=now, min_clicks=3) is not None  # 3 clicks before now, 2 after
    assert train_click_delay(client=client_a, now=now, min_clicks=4) is None


@pytest.mark.django_db
def test_a_send_at_the_moment_of_the_refit_is_a_send_with_no_follow_up_yet(client_a, content_factory, now):
    """SQLite's epoch (Julian days) can put a send made at ``now`` microseconds after it: the refit
    counts it as just sent, it does not fail on a "send from the future"."""
    content = content_factory(client_a, "now", created_at=now - timedelta(days=2))
    campaign = Campaign.objects.create(client=client_a, content=content, created_at=now - timedelta(days=1), state="running")
    wave = Wave.objects.create(campaign=campaign, number=1, planned_size=40, created_at=now - timedelta(days=1))
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"n{i}") for i in range(40)])
    subs = list(Subscriber.objects.filter(external_id__startswith="n").order_by("id"))
    earlier = now - timedelta(hours=5)
    Send.objects.bulk_create([Send(campaign=campaign, wave=wave, subscriber=s, baseline_ctr=0.05, state=Send.State.SENT,
                                   created_at=earlier, sent_at=earlier, clicked_at=earlier + timedelta(minutes=10 + i))
                              for i, s in enumerate(subs[:20])])
    # sends made at the refit's own moment, at microseconds where the Julian day rounds either way
    moments = [now + timedelta(microseconds=us) for us in range(7919, 1_000_000, 7919 * 9)]
    for s, at in zip(subs[20:], moments):
        Send.objects.create(campaign=campaign, wave=wave, subscriber=s, baseline_ctr=0.05, state=Send.State.SENT,
                            created_at=at, sent_at=at)
    for at in moments:
        version = train_click_delay(client=client_a, now=at, min_clicks=20, platform_min_clicks=20)
        assert version is not None and version.metrics["clicks"] == 20
        assert version.metrics["sends"] == 20 + sum(m <= at for m in moments)
