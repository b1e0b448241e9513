"""Evaluation by the sweep: timing with a moved clock, early reads, thresholds, idempotency,
re-evaluation of changed text, the scorer recorded, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.contents.models import Content, ContentStatus, TitleVariant
from apps.contents.services import content_upsert
from apps.orchestration.evaluation import contents_evaluate_due
from apps.orchestration.expiry import contents_expire_due
from apps.core.models import Decision

pytestmark = pytest.mark.django_db


def test_evaluated_when_the_delay_has_passed_not_before(client_a, register, t0):
    c = register(client_a, "n1")
    assert c.evaluate_at == t0 + timedelta(minutes=30)
    assert contents_evaluate_due(now=t0 + timedelta(minutes=29, seconds=59)) == 0
    assert Content.objects.get(pk=c.pk).status == ContentStatus.REGISTERED
    assert contents_evaluate_due(now=t0 + timedelta(minutes=30)) == 1
    c.refresh_from_db()
    assert c.status in (ContentStatus.CANDIDATE, ContentStatus.REJECTED)
    assert c.evaluated_at == t0 + timedelta(minutes=30)


def test_delay_is_per_client_and_can_be_zero(make_client, register, t0):
    instant = make_client("instant", evaluation_delay=timedelta(0))
    slow = make_client("slow", evaluation_delay=timedelta(minutes=10))
    a, b = register(instant, "a"), register(slow, "b")
    assert contents_evaluate_due(now=t0) == 1
    assert Content.objects.get(pk=a.pk).evaluated_at == t0
    assert Content.objects.get(pk=b.pk).status == ContentStatus.REGISTERED
    assert contents_evaluate_due(now=t0 + timedelta(minutes=10)) == 1
    assert Content.objects.get(pk=b.pk).status != ContentStatus.REGISTERED


def test_early_reads_make_a_candidate_and_none_a_rejection(client_a, register, reads, t0):
    hot, cold = register(client_a, "hot"), register(client_a, "cold")
    reads(hot, 60, at=t0 + timedelta(minutes=12))
    reads(cold, 3, at=t0 + timedelta(minutes=50))  # after the evaluation time: not seen by it
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    hot.refresh_from_db()
    cold.refresh_from_db()
    assert hot.status == ContentStatus.CANDIDATE and hot.early_reads == 60
    assert hot.push_score >= client_a.policy.candidate_threshold
    assert cold.status == ContentStatus.REJECTED and cold.early_reads == 0
    assert cold.push_score < client_a.policy.candidate_threshold
    assert "below the client's threshold 1.50" in cold.rejection_reason
    # The numbers the decision saw are in the log.
    d = Decision.objects.get(content=hot, action="content_evaluate")
    assert d.numbers["early_reads"] == 60 and d.numbers["threshold"] == 1.5
    assert d.before == {"status": "registered", "push_score": None} and d.after["status"] == "candidate"


def test_inactive_early_readers_raise_the_score(client_a, register, reads, t0):
    """The same number of reads scores higher when the readers had been away (interim rule)."""
    from apps.events.services import events_ingest

    away, regulars = register(client_a, "away"), register(client_a, "regulars")
    reads(away, 20)
    subs = reads(regulars, 20)
    # the regulars read something else two days before
    other = register(client_a, "older", at=t0 - timedelta(days=2))
    events_ingest(client=client_a, now=t0 - timedelta(days=2), items=[
        {"event_id": f"old-{s.pk}", "type": "read", "subscriber": s.external_id, "content": other.external_id,
         "occurred_at": (t0 - timedelta(days=2)).isoformat()} for s in subs])
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    away.refresh_from_db()
    regulars.refresh_from_db()
    assert away.push_score == pytest.approx(regulars.push_score * 1.5)
    d = Decision.objects.get(content=away, action="content_evaluate")
    assert d.numbers["early_readers_inactive_share"] == 1.0
    assert Decision.objects.get(content=regulars, action="content_evaluate").numbers["early_readers_inactive_share"] == 0.0


def test_threshold_is_per_client(make_client, register, reads, t0):
    strict = make_client("strict", candidate_threshold=5.0)
    lenient = make_client("lenient", candidate_threshold=0.5)
    s, l = register(strict, "x"), register(lenient, "x")
    reads(s, 30)
    reads(l, 30)
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    s.refresh_from_db()
    l.refresh_from_db()
    assert s.push_score == pytest.approx(l.push_score)
    assert (s.status, l.status) == (ContentStatus.REJECTED, ContentStatus.CANDIDATE)


def test_evaluation_is_idempotent(client_a, candidate, t0):
    c = candidate()
    variants = list(c.title_variants.values_list("pk", "text"))
    assert contents_evaluate_due(now=t0 + timedelta(minutes=31)) == 0
    assert contents_evaluate_due(now=t0 + timedelta(hours=1)) == 0
    assert Decision.objects.filter(content=c, action="content_evaluate").count() == 1
    assert list(c.title_variants.values_list("pk", "text")) == variants
    # The same PUT again changes nothing either.
    content_upsert(client=client_a, external_id=c.external_id, now=t0 + timedelta(minutes=40),
                   data={"title": c.title, "body": c.body, "category": c.category, "language": c.language, "created_at": c.created_at})
    assert contents_evaluate_due(now=t0 + timedelta(minutes=41)) == 0
    assert Content.objects.get(pk=c.pk).status == ContentStatus.CANDIDATE


def test_changed_text_is_evaluated_again_with_new_titles(client_a, candidate, t0):
    c = candidate()
    editor_title = TitleVariant.objects.create(content=c, text="An editor's own line", source="editor", review="approved")
    later = t0 + timedelta(minutes=45)
    content_upsert(client=client_a, external_id=c.external_id, now=later,
                   data={"title": "Central bank holds rates steady as inflation cools", "body": c.body,
                         "category": c.category, "language": "en", "created_at": c.created_at})
    assert Content.objects.get(pk=c.pk).status == ContentStatus.REGISTERED
    assert contents_evaluate_due(now=later) == 1
    c.refresh_from_db()
    assert Decision.objects.filter(content=c, action="content_evaluate").count() == 2
    texts = set(c.title_variants.values_list("text", flat=True))
    assert "Central bank holds rates steady as inflation cools" in texts
    assert "Central bank raises interest rates to curb inflation" not in texts
    editor_title.refresh_from_db()
    assert editor_title.review == "pending"  # kept, but to be approved again for the new text


def test_pushed_content_is_not_evaluated_again(client_a, candidate, t0):
    c = candidate()
    Content.objects.filter(pk=c.pk).update(status=ContentStatus.SENDING)
    content_upsert(client=client_a, external_id=c.external_id, now=t0 + timedelta(minutes=50),
                   data={"title": "A new title after the push", "created_at": c.created_at})
    assert contents_evaluate_due(now=t0 + timedelta(minutes=51)) == 0
    assert Content.objects.get(pk=c.pk).status == ContentStatus.SENDING


def test_interim_scorer_is_recorded_as_such(candidate):
    c = candidate()
    assert c.score_model_version is None
    assert c.score_reasons[0]["feature"] == "scorer" and "interim scorer" in c.score_reasons[0]["label"]
    assert {r["feature"] for r in c.score_reasons[1:]} >= {"early_reads_per_hour"}
    d = Decision.objects.get(content=c, action="content_evaluate")
    assert d.actor_name == "evaluator (interim scorer)" and d.after["model_version"] == "interim scorer"


def test_active_model_version_scores_and_is_recorded(client_a, register, reads, t0, settings, tmp_path):
    import numpy as np

    from apps.mlops import scoring
    from apps.mlops.models import ModelVersion
    from recsys.selection import PushWorthinessFeatures, PushWorthinessModel, PushWorthinessParams

    rng = np.random.default_rng(0)
    feats, y = [], []
    for _ in range(200):
        r = int(rng.integers(0, 120))
        feats.append(PushWorthinessFeatures(categories=("economy",), created_hour=12, age_minutes=30.0, early_reads=r))
        y.append(0.5 + r / 20.0)  # more early reads, more improvement
    model = PushWorthinessModel(PushWorthinessParams(n_estimators=30, min_child_samples=5)).fit(feats, np.array(y))
    model.save(tmp_path / "pw" / "v1")
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path}
    scoring._cache.clear()
    mv = ModelVersion.objects.create(client=client_a, kind="push_worthiness", version=1, artifact_path="pw/v1", created_at=t0, is_active=True)

    hot = register(client_a, "hot", category="economy")
    reads(hot, 100)
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    hot.refresh_from_db()
    assert hot.score_model_version == mv
    assert hot.push_score == pytest.approx(model.score(PushWorthinessFeatures(
        categories=("economy",), created_hour=t0.hour, weekday=t0.weekday(), age_minutes=30.0, early_reads=100,
        early_readers_inactive_share=1.0, early_readers_mean_ctr=1 / 50))[0])
    assert hot.push_score > 4.0 and hot.status == ContentStatus.CANDIDATE
    assert all(r["feature"] != "scorer" for r in hot.score_reasons)
    assert Decision.objects.get(content=hot, action="content_evaluate").actor_name == "evaluator (push_worthiness v1)"


def test_broken_artifact_falls_back_to_the_interim_scorer(client_a, register, t0, settings, tmp_path):
    from apps.mlops import scoring
    from apps.mlops.models import ModelVersion

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path}
    scoring._cache.clear()
    ModelVersion.objects.create(client=client_a, kind="push_worthiness", version=9, artifact_path="missing", created_at=t0, is_active=True)
    c = register(client_a, "x")
    assert contents_evaluate_due(now=t0 + timedelta(minutes=30)) == 1
    c.refresh_from_db()
    assert c.score_model_version is None and c.score_reasons[0]["feature"] == "scorer"


def test_expired_contents_are_never_evaluated_and_leave_the_queue(client_a, register, t0):
    from apps.contents.selectors import queue_page
    from apps.core.services import person_create
    from apps.core.permissions import Role

    late = register(client_a, "late", at=t0 - timedelta(hours=5))  # lifetime 4 h: already past it
    assert contents_evaluate_due(now=t0) == 0
    assert contents_expire_due(now=t0) == 1
    assert Content.objects.get(pk=late.pk).status == ContentStatus.EXPIRED

    admin = person_create(username="boss", password="pw-boss-12345", role=Role.ADMIN)
    c = register(client_a, "fresh", at=t0)
    Content.objects.filter(pk=c.pk).update(status=ContentStatus.CANDIDATE, push_score=3.0)
    assert queue_page(user=admin, now=t0 + timedelta(hours=3, minutes=59))["count"] == 1
    # At its expiry it is gone from the queue even before the sweep marks it.
    assert queue_page(user=admin, now=t0 + timedelta(hours=4))["count"] == 0


def test_evaluation_works_through_batches(client_a, register, t0, monkeypatch):
    from apps.contents import services

    monkeypatch.setattr(services, "EVALUATION_BATCH", 3)
    for i in range(7):
        register(client_a, f"b{i}")
    assert contents_evaluate_due(now=t0 + timedelta(minutes=30)) == 7
    assert not Content.objects.filter(status=ContentStatus.REGISTERED).exists()


def test_the_minute_sweep_evaluates(client_a, register, t0):
    from apps.orchestration.sweep import sweep

    register(client_a, "s1")
    assert sweep(now=t0 + timedelta(minutes=30))["evaluated"] == 1


def test_the_read_share_divides_out_the_hours_traffic(client_a, register, reads, t0):
    """A content's early reads are read as its share of everyone's reads of fresh contents
    (published within 72 hours before it) over the same window; once the client has five
    contents evaluated in the last week, the interim rule scores that share against their median."""
    for k, share in enumerate([0.1, 0.2, 0.2, 0.3, 0.4]):
        past = register(client_a, f"past{k}", at=t0 - timedelta(days=3, hours=k))
        Content.objects.filter(pk=past.pk).update(status=ContentStatus.REJECTED, early_read_share=share,
                                                  evaluated_at=past.created_at + timedelta(minutes=30))
    x = register(client_a, "x")
    fresh = register(client_a, "fresh", at=t0 - timedelta(hours=2))
    old = register(client_a, "old", at=t0 - timedelta(days=4))  # not fresh: its reads are not the hour's news
    Content.objects.filter(pk__in=[fresh.pk, old.pk]).update(status=ContentStatus.REJECTED)
    reads(x, 40, at=t0 + timedelta(minutes=5))
    reads(fresh, 60, at=t0 + timedelta(minutes=20))
    reads(fresh, 500, at=t0 - timedelta(minutes=30))  # before x existed
    reads(old, 100, at=t0 + timedelta(minutes=10))
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    x.refresh_from_db()
    assert x.early_reads == 40 and x.early_read_share == pytest.approx(0.4)
    d = Decision.objects.get(content=x, action="content_evaluate")
    assert d.numbers["early_read_share"] == pytest.approx(0.4) and d.numbers["early_read_share_typical"] == pytest.approx(0.2)
    # twice a typical share: sqrt(2), times 1.5 for early readers who had all been away
    assert x.push_score == pytest.approx(1.5 * 2 ** 0.5)
    assert "early_read_share_relative" in {r["feature"] for r in x.score_reasons}


def test_without_a_typical_share_the_reads_per_hour_stand_in(client_a, register, reads, t0):
    """A new client has no typical share yet: the early reads per hour decide, whatever the hour."""
    night = register(client_a, "night", at=t0.replace(hour=3))
    day = register(client_a, "day", at=t0.replace(hour=12))
    for c in (night, day):
        reads(c, 20, at=c.created_at + timedelta(minutes=5))
        contents_evaluate_due(now=c.created_at + timedelta(minutes=30))
        c.refresh_from_db()
        assert c.early_read_share == pytest.approx(1.0)
    assert night.push_score == pytest.approx(day.push_score)
    assert "early_reads_per_hour" in {r["feature"] for r in night.score_reasons}
