"""Training push-worthiness per client: two challengers (LightGBM, and the interim rule at the
level the client's campaigns reached), judged on the latest campaigns by squared log error. A
campaign's label is a handful of clicks, so the better one is promoted only when its error is
surely lower than the scorer in use (a paired bootstrap interval below 0; the same kind on newer
campaigns: as low is enough), and never when it cannot rank at all (one score for everything
would stop every push below the threshold)."""

from datetime import timedelta

import numpy as np
import pytest
from django.test import Client as HttpClient

from apps.campaigns.models import Campaign
from apps.contents.models import Content
from apps.core.models import Decision
from apps.events.models import Event
from apps.mlops.models import ModelKind
from apps.mlops.scoring import active_scorer
from apps.mlops.training import train_push_worthiness

pytestmark = pytest.mark.django_db

SECTIONS = ["sports", "economy", "culture", "politics"]


def _finished_campaigns(client, content_factory, now, improvement_of, n=80, *, start_days=60, prefix="pw",
                        reads_of=None, readers=None):
    """``n`` campaigns 12 hours apart from ``start_days`` ago, ended two days ago, each 10
    expected clicks and the clicks ``improvement_of(section, i)`` gives. Without ``reads_of`` no
    early reads (the interim rule scores them all alike); with it, content i gets
    ``reads_of(i)`` reads in its first half hour beside 50 of another fresh content (so its
    share of the site's reads grows with them)."""
    events = []
    # from a Monday's midnight: the creation hours and weekdays (model inputs) must not depend on
    # the time of day the test runs
    start = (now - timedelta(days=start_days)).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=start.weekday())
    for i in range(n):
        section = SECTIONS[i % len(SECTIONS)]
        created = start + timedelta(hours=12 * i)
        content = content_factory(client, f"{prefix}{i}", title=f"Story {prefix}{i}", category=section, created_at=created)
        Content.objects.filter(pk=content.pk).update(status="done", evaluated_at=created + timedelta(minutes=30))
        Campaign.objects.create(client=client, content=content, state="done", created_at=created + timedelta(minutes=31),
                                ended_at=now - timedelta(days=2), sends=1000, expected_clicks=10.0,
                                clicks=round(10 * improvement_of(section, i)))
        if reads_of is not None:
            other = content_factory(client, f"{prefix}bg{i}", title=f"Other {prefix}{i}", created_at=created - timedelta(hours=1))
            Content.objects.filter(pk=other.pk).update(status="rejected")
            for c, k in ((content, reads_of(i)), (other, 50)):
                events += [Event(client=client, event_id=f"{prefix}-{c.pk}-{j}", type="read", subscriber=readers[j],
                                 content=c, occurred_at=created + timedelta(minutes=5), received_at=created + timedelta(minutes=5))
                           for j in range(k)]
    Event.objects.bulk_create(events)


def test_a_model_that_learns_what_the_rule_cannot_see_is_promoted(client_a, content_factory, now, settings, tmp_path):
    """The sections decide and nothing is read early: the rule scores every content alike (at
    0.1), the calibrated rule too (at the campaigns' mean); LightGBM learns the sections."""
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    lift = {"sports": 3.0, "economy": 0.7, "culture": 1.6, "politics": 1.1}
    _finished_campaigns(client_a, content_factory, now, lambda section, i: lift[section] * (1 + 0.05 * (i % 3)))
    version = train_push_worthiness(client=client_a, now=now)
    assert version is not None and version.is_active, version.metrics
    promotion = version.metrics["promotion"]
    assert promotion["challenger"] == "model" and promotion["spearman"] > 0.6 and promotion["active_spearman"] == 0.0
    assert promotion["diff_ci"][1] < 0 and promotion["errors"]["model"] < promotion["errors"]["calibrated rule"]
    assert promotion["compared_with"] == "interim scorer" and promotion["window"]["test_campaigns"] == 16
    assert active_scorer(client_a).model_version == version


def test_the_rule_at_the_campaigns_level_is_promoted_when_the_reads_decide(client_a, content_factory, subscriber_factory,
                                                                            people, now, settings, tmp_path):
    """What decides is how much a content is read early, as the rule assumes, but campaigns
    reached a third of what its score says: the calibrated rule wins, and scores a third of the
    bare rule (its order kept), so the client's threshold compares an estimate of improvement."""
    from recsys.selection import CalibratedRule, InterimPushWorthinessScorer

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    readers = subscriber_factory(client_a, 90, prefix="reader")
    reads = np.random.default_rng(7).integers(5, 90, size=80)
    noise = np.random.default_rng(8).lognormal(0, 0.1, size=80)
    # the bare rule on these contents: sqrt(reads per hour / 20) (no typical share yet)
    _finished_campaigns(client_a, content_factory, now, lambda section, i: (reads[i] * 2 / 20) ** 0.5 / 3 * noise[i],
                        reads_of=lambda i: int(reads[i]), readers=readers)
    version = train_push_worthiness(client=client_a, now=now)
    assert version.is_active, version.metrics
    promotion = version.metrics["promotion"]
    assert promotion["challenger"] == "calibrated rule" and promotion["diff_ci"][1] < 0
    assert promotion["errors"]["calibrated rule"] < promotion["errors"]["interim scorer"]
    scorer = active_scorer(client_a)
    assert isinstance(scorer.impl, CalibratedRule) and scorer.impl.level == pytest.approx(np.log(1 / 3), abs=0.1)
    from apps.mlops.features import evaluation_inputs

    content = Content.objects.get(client=client_a, external_id="pw79")
    f = evaluation_inputs(contents=[content], now=content.evaluated_at)[content.pk]
    assert scorer.score(f)[0] == pytest.approx(InterimPushWorthinessScorer().score(f)[0] * np.exp(scorer.impl.level))
    # the Models page says which challenger the active version is, and the error that promoted it
    browser = HttpClient()
    browser.force_login(people["admin"])
    page = browser.get(f"/dashboards/models/?client={client_a.pk}").content.decode()
    assert "the interim rule at the campaigns&#x27; level" in page and "squared log error (held out)" in page


def test_a_model_that_cannot_rank_is_kept_out(client_a, content_factory, now, settings, tmp_path):
    """Every campaign did the same: nothing can rank them, and a score alike for every content,
    promoted, would put every content below the threshold forever."""
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    _finished_campaigns(client_a, content_factory, now, lambda section, i: 0.9)
    version = train_push_worthiness(client=client_a, now=now)
    assert version is not None and not version.is_active
    assert version.metrics["promotion"]["spearman"] == 0.0
    keep = Decision.objects.get(action="model_keep", subject=f"model:{ModelKind.PUSH_WORTHINESS}:v{version.version}")
    assert "does not rank" in keep.note
    assert active_scorer(client_a).interim


def test_a_challenger_not_surely_better_than_the_active_version_is_kept_out(client_a, content_factory, now, settings,
                                                                            tmp_path):
    """v1 learnt the sections from 80 campaigns. Then 40 more whose clicks are mostly noise
    around the same sections: the new challenger's error on the latest 24 is higher than v1's
    by a point, within noise either way, and v1 stays."""
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    lift = {"sports": 3.0, "economy": 0.7, "culture": 1.6, "politics": 1.1}
    _finished_campaigns(client_a, content_factory, now - timedelta(days=30), lambda section, i: lift[section])
    v1 = train_push_worthiness(client=client_a, now=now - timedelta(days=30))
    assert v1.is_active
    noise = np.random.default_rng(4).lognormal(0, 0.8, size=40)
    _finished_campaigns(client_a, content_factory, now, lambda section, i: lift[section] * noise[i], n=40,
                        start_days=25, prefix="new")
    v2 = train_push_worthiness(client=client_a, now=now)
    v1.refresh_from_db()
    assert v1.is_active and not v2.is_active
    promotion = v2.metrics["promotion"]
    assert promotion["compared_with"] == "push_worthiness v1" and promotion["diff"] > 0
    assert promotion["diff_ci"][0] < 0 < promotion["diff_ci"][1]
    keep = Decision.objects.get(action="model_keep", subject=f"model:{ModelKind.PUSH_WORTHINESS}:v{v2.version}")
    assert "not surely lower" in keep.note
