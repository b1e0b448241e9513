"""Training the push-worthiness model per client: promoted only when it ranks the latest
campaigns better than the scorer in use (the interim rule before any version), and never when it
cannot rank at all (one score for everything would stop every push below the threshold)."""

from datetime import timedelta

import pytest

from apps.campaigns.models import Campaign
from apps.contents.models import Content
from apps.core.models import Decision
from apps.mlops.models import ModelKind
from apps.mlops.scoring import active_scorer
from apps.mlops.training import train_push_worthiness

pytestmark = pytest.mark.django_db


def _finished_campaigns(client, content_factory, now, improvement_of, n=40):
    """``n`` campaigns of the last weeks, ended two days ago, each 10 expected clicks and the
    clicks ``improvement_of(section, i)`` gives; no early reads (the interim rule scores them all
    alike)."""
    sections = ["sports", "economy", "culture", "politics"]
    for i in range(n):
        section = sections[i % len(sections)]
        created = now - timedelta(days=30) + timedelta(hours=12 * i)
        content = content_factory(client, f"pw{i}", title=f"Story {i}", category=section, created_at=created)
        Content.objects.filter(pk=content.pk).update(status="done", evaluated_at=created + timedelta(minutes=30))
        Campaign.objects.create(client=client, content=content, state="done", created_at=created + timedelta(minutes=31),
                                ended_at=now - timedelta(days=2), sends=1000, expected_clicks=10.0,
                                clicks=int(round(10 * improvement_of(section, i))))


def test_a_model_that_ranks_better_than_the_interim_rule_is_promoted(client_a, content_factory, now, settings, tmp_path):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    lift = {"sports": 3.0, "economy": 0.7, "culture": 1.6, "politics": 1.1}
    _finished_campaigns(client_a, content_factory, now, lambda section, i: lift[section] * (1 + 0.05 * (i % 3)))
    version = train_push_worthiness(client=client_a, now=now)
    assert version is not None and version.is_active, version.metrics
    promotion = version.metrics["promotion"]
    assert promotion["spearman"] > 0.6 and promotion["active_spearman"] == 0.0  # the rule cannot tell them apart
    assert promotion["compared_with"] == "interim scorer"
    assert active_scorer(client_a).model_version == version


def test_a_model_that_cannot_rank_is_kept_out(client_a, content_factory, now, settings, tmp_path):
    """Every campaign did the same: the model has nothing to learn and scores every content
    alike. Promoted, it would put every content below the threshold forever."""
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    _finished_campaigns(client_a, content_factory, now, lambda section, i: 0.9)
    version = train_push_worthiness(client=client_a, now=now)
    assert version is not None and not version.is_active
    assert version.metrics["promotion"]["spearman"] == 0.0
    keep = Decision.objects.get(action="model_keep", subject=f"model:{ModelKind.PUSH_WORTHINESS}:v{version.version}")
    assert "not above" in keep.note
    assert active_scorer(client_a).interim
