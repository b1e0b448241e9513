"""Training runs, versions and promotion, and the model-based audience ranking."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.core.models import Decision
from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
from apps.mlops.selectors import active_version
from apps.mlops.services import model_version_activate, training_run_execute, training_run_request


@pytest.fixture
def two_tribes(client_a, content_factory, now, settings, tmp_path):
    """Subscribers 0-99 read the 'a' contents, 100-199 the 'b' contents."""
    from apps.events.services import events_ingest

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"t{i}", last_activity_at=now - timedelta(days=9))
                                    for i in range(200)])
    rng = np.random.default_rng(1)
    events = []
    for j in range(20):
        for tribe in "ab":
            c = content_factory(client_a, f"{tribe}{j}", created_at=now - timedelta(days=3, hours=j))
            members = range(0, 100) if tribe == "a" else range(100, 200)
            for i in rng.choice(list(members), 25, replace=False):
                events.append({"event_id": f"{tribe}{j}-{i}", "type": "read", "subscriber": f"t{i}", "content": c.external_id,
                               "occurred_at": (now - timedelta(days=3, hours=j) + timedelta(minutes=int(rng.integers(1, 600)))).isoformat()})
    events_ingest(client=client_a, items=events, now=now)
    return client_a


def _day_of_reads(client, at, tag="d1"):
    """The day before ``at``: a new 'a' and 'b' content every two hours, read by their tribes."""
    from apps.contents.services import content_upsert
    from apps.events.services import events_ingest

    rng = np.random.default_rng(len(tag))
    events = []
    for j in range(9):
        created = at - timedelta(hours=22 - 2 * j)
        for tribe in "ab":
            ext = f"{tag}-{tribe}{j}"
            content_upsert(client=client, external_id=ext, data={"title": ext, "created_at": created}, now=at)
            members = range(0, 100) if tribe == "a" else range(100, 200)
            for i in rng.choice(list(members), 25, replace=False):
                events.append({"event_id": f"{ext}-{i}", "type": "read", "subscriber": f"t{i}", "content": ext,
                               "occurred_at": (created + timedelta(minutes=int(rng.integers(1, 180)))).isoformat()})
    events_ingest(client=client, items=events, now=at)


@pytest.mark.django_db
def test_mf_run_trains_activates_and_logs(two_tribes, now, people):
    client = two_tribes
    run = training_run_request(client=client, kind=ModelKind.MF, user=people["admin"], now=now)
    assert run.state == "queued"
    run = training_run_execute(run_id=run.pk, now=now)
    assert run.state == "succeeded" and run.progress == 1.0, run.error
    v1 = active_version(client, ModelKind.MF)
    # judged on the contents after a time split, which neither its training nor the split model saw
    promotion = v1.metrics["promotion"]
    assert v1.version == 1 and promotion["window"]["cases"] >= 5 and v1.metrics["lift_at_k"] > 1.2, v1.metrics
    assert v1.metrics["subscriber_coverage"] == 1.0  # 180 days: everyone with a read has a vector
    assert Decision.objects.filter(client=client, action="model_activate", subject="model:mf:v1").exists()
    # Trained again at once, nothing came after v1: no held-out evidence for the refresh, v1 stays.
    run2 = training_run_execute(run_id=training_run_request(client=client, kind=ModelKind.MF, now=now).pk, now=now)
    v2 = ModelVersion.objects.get(client=client, kind=ModelKind.MF, version=2)
    assert run2.state == "succeeded" and not v2.is_active
    assert "no held-out contents" in Decision.objects.get(client=client, action="model_keep", subject="model:mf:v2").note
    # A day of new contents later (a nightly refresh): v1 is judged on the contents it never saw,
    # its configuration still ranks them better than random, so the refresh with the newest events goes live.
    later = now + timedelta(days=1)
    _day_of_reads(client, later)
    run3 = training_run_execute(run_id=training_run_request(client=client, kind=ModelKind.MF, now=later).pk, now=later)
    v3 = ModelVersion.objects.get(client=client, kind=ModelKind.MF, version=3)
    assert run3.state == "succeeded" and v3.is_active, v3.metrics
    promotion = v3.metrics["promotion"]
    assert promotion["window"]["refresh"] and promotion["window"]["cases"] >= 5 and promotion["lift_at_k"] > 1.2
    assert promotion["window"]["split"] == pytest.approx(now.timestamp())  # after v1's training
    # An admin can roll back to any version and pin it: training then leaves it in place.
    model_version_activate(version=v1, user=people["admin"], pin=True, now=now)
    assert active_version(client, ModelKind.MF).version == 1
    _day_of_reads(client, later + timedelta(days=1), tag="d2")
    training_run_execute(run_id=training_run_request(client=client, kind=ModelKind.MF, now=later + timedelta(days=1)).pk,
                         now=later + timedelta(days=1))
    assert active_version(client, ModelKind.MF).version == 1
    assert "pinned" in Decision.objects.get(client=client, action="model_keep", subject="model:mf:v4").note


@pytest.mark.django_db
def test_mf_promotion_follows_the_held_out_contents(two_tribes, now):
    """A challenger configuration that ranks the contents after the split worse than the champion
    is kept out; one that ranks them better is promoted."""
    from apps.mlops.training import MFConfig, train_mf

    client = two_tribes
    weak = MFConfig(factors=4, regularization=500.0)  # shrunk to nothing: no affinity left
    strong = MFConfig(factors=8)
    first = train_mf(client=client, now=now, config=strong)
    assert first.is_active
    worse = train_mf(client=client, now=now, config=weak)
    assert not worse.is_active
    promotion = worse.metrics["promotion"]
    assert promotion["lift_at_k"] < promotion["active_lift_at_k"] and promotion["diff"] < 0, promotion
    assert active_version(client, ModelKind.MF).pk == first.pk
    # the weak one active (an admin's choice), the strong configuration comes back by the rule
    from apps.mlops.services import model_version_activate as activate

    activate(version=worse, now=now)
    better = train_mf(client=client, now=now, config=strong)
    assert better.is_active and better.metrics["promotion"]["diff"] > 0, better.metrics


@pytest.mark.django_db
def test_model_ranker_finds_the_seeds_tribe(two_tribes, approved_content_for_ranking, now):
    from apps.audience.selectors import Segment
    from apps.core.policy import DEFAULTS
    from apps.delivery.selectors import eligible_candidates
    from apps.mlops.ranking import ModelRanker, ranker_for

    training_run_execute(run_id=training_run_request(client=two_tribes, kind=ModelKind.MF, now=now).pk, now=now)
    ranker = ranker_for(two_tribes)
    assert isinstance(ranker, ModelRanker)
    content = approved_content_for_ranking
    seed = np.array(sorted(Subscriber.objects.filter(external_id__in=["t3", "t7", "t11"]).values_list("pk", flat=True)))
    cands = eligible_candidates(client=two_tribes, content_id=content.pk, now=now, cap_window=DEFAULTS.cap_window,
                                segment=Segment(activity="any", inactive_days=7), quiet_start=0, quiet_end=0)
    ranked = ranker.rank(candidates=cands, content=content, seed_ids=seed, k=50, now=now, rng=np.random.default_rng(0))
    chosen = Subscriber.objects.filter(pk__in=ranked.ids.tolist()).values_list("external_id", flat=True)
    tribe_a = sum(int(x[1:]) < 100 for x in chosen)
    assert tribe_a >= 45, tribe_a  # look-alikes of an 'a' seed are 'a' readers
    assert not set(seed.tolist()) & set(ranked.ids.tolist())
    assert ranked.ranker.startswith("model:mf")


@pytest.mark.django_db
def test_model_ranker_is_recsys_product_rank(two_tribes, approved_content_for_ranking, now, monkeypatch):
    """The wave ranking is ``recsys.audience.product_rank`` with ``PRODUCT_WEIGHTS``: the function
    the replay's ``product`` strategy measures. Were either side to rank by its own code or
    weights, this fails."""
    import recsys.audience as audience
    from apps.audience.selectors import Segment
    from apps.core.policy import DEFAULTS
    from apps.delivery.selectors import eligible_candidates
    from apps.mlops.ranking import _category_inputs, prefer_language, ranker_for
    from apps.mlops.selectors import load_mf
    from recsys.ids import positions

    training_run_execute(run_id=training_run_request(client=two_tribes, kind=ModelKind.MF, now=now).pk, now=now)
    ranker = ranker_for(two_tribes)
    calls = []
    real = audience.product_rank

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(audience, "product_rank", spy)
    seed = np.array(sorted(Subscriber.objects.filter(external_id__in=["t3", "t7", "t11"]).values_list("pk", flat=True)))
    cands = eligible_candidates(client=two_tribes, content_id=approved_content_for_ranking.pk, now=now,
                                cap_window=DEFAULTS.cap_window, segment=Segment(activity="any", inactive_days=7),
                                quiet_start=0, quiet_end=0)
    ranked = ranker.rank(candidates=cands, content=approved_content_for_ranking, seed_ids=seed, k=40, now=now,
                         rng=np.random.default_rng(0))
    assert len(calls) == 1
    # the same inputs, given straight to recsys, give the same ranking and scores
    model, sub_ids, _ = load_mf(ranker.version)
    wave = prefer_language(cands, approved_content_for_ranking, 40)
    rows = positions(sub_ids, wave.ids)
    factors = np.where((rows >= 0)[:, None], model.user_factors[rows], 0.0)
    from recsys.ramp import fit_population_prior, smoothed_ctr

    a, b = fit_population_prior(wave.push_clicks, wave.push_sends)
    direct = real(model, wave.ids, factors, seed_rows=positions(sub_ids, seed), k=40, exclude_ids=seed,
                  baseline_ctr=smoothed_ctr(wave.push_clicks, wave.push_sends, a, b), days_inactive=wave.days_inactive,
                  age_hours=0.5, hour=now.hour, click_model=None,
                  **_category_inputs(ranker.version, sub_ids, rows, approved_content_for_ranking))
    assert calls[0][1]["click_model"] is None  # no click model trained yet
    np.testing.assert_array_equal(calls[0][1]["days_inactive"], wave.days_inactive)
    assert calls[0][1]["age_hours"] == pytest.approx(0.5) and calls[0][1]["hour"] == now.hour
    np.testing.assert_array_equal(ranked.ids, direct.ids)
    np.testing.assert_allclose(ranked.total, direct.total, rtol=1e-6)
    assert audience.PRODUCT_WEIGHTS.mf == audience.PRODUCT_WEIGHTS.lookalike == audience.PRODUCT_WEIGHTS.category == 1.0
    assert sum(audience.PRODUCT_WEIGHTS.get(c) for c in audience.COMPONENTS) == 3.0


@pytest.fixture
def approved_content_for_ranking(client_a, content_factory, now):
    return content_factory(client_a, "new-a", created_at=now - timedelta(minutes=30))


@pytest.mark.django_db
def test_too_little_data_is_not_a_failure(client_a, now, settings, tmp_path):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    run = training_run_execute(run_id=training_run_request(client=client_a, kind=ModelKind.MF, now=now).pk, now=now)
    assert run.state == "succeeded" and "need" in TrainingRun.objects.get(pk=run.pk).message
    assert active_version(client_a, ModelKind.MF) is None
    # the click model can be trained from the Models page too; with no logged wave it says so
    run = training_run_execute(run_id=training_run_request(client=client_a, kind=ModelKind.CLICK, now=now).pk, now=now)
    assert run.state == "succeeded" and "no wave with features" in run.message
    assert active_version(client_a, ModelKind.CLICK) is None


@pytest.mark.django_db
def test_unknown_kind_is_refused(client_a):
    from apps.core.errors import ApiError

    with pytest.raises(ApiError, match="Cannot train"):
        training_run_request(client=client_a, kind="embeddings")
