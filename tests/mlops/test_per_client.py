"""Models belong to their client: trained on its rows only, serving it only; and the schedule that
trains them."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.mlops.models import ModelKind, ModelVersion, TrainingRun
from apps.mlops.selectors import active_version, load_mf


def _tribes(client, content_factory, now, *, flip: bool, prefix: str, seed: int, rounds: int = 20, batch: str = ""):
    """Subscribers 0-99 read the 'a' contents and 100-199 the 'b' ones (``flip``: the other way);
    a later ``batch`` adds contents and reads for the same subscribers."""
    from apps.events.services import events_ingest

    if not batch:
        Subscriber.objects.bulk_create([Subscriber(client=client, external_id=f"{prefix}{i}",
                                                   last_activity_at=now - timedelta(days=9)) for i in range(200)])
    rng = np.random.default_rng(seed)
    events = []
    for j in range(rounds):
        for tribe in "ab":
            c = content_factory(client, f"{prefix}{batch}-{tribe}{j}", created_at=now - timedelta(days=3, hours=j))
            members = range(0, 100) if (tribe == "a") != flip else range(100, 200)
            for i in rng.choice(list(members), 25, replace=False):
                events.append({"event_id": f"{prefix}{batch}-{tribe}{j}-{i}", "type": "read", "subscriber": f"{prefix}{i}",
                               "content": c.external_id,
                               "occurred_at": (now - timedelta(days=3, hours=j)
                                               + timedelta(minutes=int(rng.integers(1, 600)))).isoformat()})
    events_ingest(client=client, items=events, now=now)


def _rank(client, content, seed_ext, now):
    from apps.audience.selectors import Segment
    from apps.delivery.selectors import eligible_candidates
    from apps.mlops.ranking import ranker_for

    seed = np.array(sorted(Subscriber.objects.filter(client=client, external_id__in=seed_ext).values_list("pk", flat=True)))
    cands = eligible_candidates(client=client, content_id=content.pk, now=now, cap_window=timedelta(days=7),
                                segment=Segment(activity="any", inactive_days=7), quiet_start=0, quiet_end=0)
    return ranker_for(client).rank(candidates=cands, content=content, seed_ids=seed, k=40, now=now,
                                   rng=np.random.default_rng(0))


@pytest.mark.django_db
def test_each_client_ranks_with_its_own_models_and_another_clients_data_changes_nothing(
        client_a, client_b, content_factory, now, settings, tmp_path):
    from apps.mlops.scoring import active_scorer
    from apps.mlops.training import train_mf

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    _tribes(client_a, content_factory, now, flip=False, prefix="a", seed=1)
    _tribes(client_b, content_factory, now, flip=True, prefix="b", seed=2)
    va, vb = train_mf(client=client_a, now=now), train_mf(client=client_b, now=now)
    assert va.is_active and vb.is_active and va.client == client_a and vb.client == client_b
    # each model knows its own client's subscribers only, and lives in its own folder
    _, subs_b, _ = load_mf(vb)
    assert set(subs_b.tolist()) == set(Subscriber.objects.filter(client=client_b).values_list("pk", flat=True))
    assert va.artifact_path.startswith(f"client-{client_a.pk}/") and vb.artifact_path.startswith(f"client-{client_b.pk}/")

    # The same question to both: who is like readers 3, 7 and 11? Their tastes differ, so do the answers.
    new_b = content_factory(client_b, "b-new", created_at=now - timedelta(minutes=30))
    new_a = content_factory(client_a, "a-new", created_at=now - timedelta(minutes=30))
    before = _rank(client_b, new_b, ["b3", "b7", "b11"], now)
    assert before.ranker.startswith(f"model:mf v{vb.version}")
    in_first_tribe = lambda ranked: sum(int(s[1:]) < 100 for s in Subscriber.objects.filter(  # noqa: E731
        pk__in=ranked.ids.tolist()).values_list("external_id", flat=True))
    assert in_first_tribe(before) >= 36 and in_first_tribe(_rank(client_a, new_a, ["a3", "a7", "a11"], now)) >= 36
    scorer_before = active_scorer(client_b)

    # Client A's world changes (its tribes swap tastes, with many more reads) and A retrains.
    _tribes(client_a, content_factory, now + timedelta(days=2), flip=True, prefix="a", seed=3, rounds=30, batch="x")
    va2 = train_mf(client=client_a, now=now + timedelta(hours=1))
    assert va2.client == client_a and va2.version == 2
    after = _rank(client_b, new_b, ["b3", "b7", "b11"], now)
    np.testing.assert_array_equal(after.ids, before.ids)
    np.testing.assert_allclose(after.total, before.total)
    assert active_version(client_b, ModelKind.MF) == vb and after.ranker == before.ranker
    assert active_scorer(client_b).name == scorer_before.name
    assert not ModelVersion.objects.filter(client=client_b).exclude(pk=vb.pk).exists()


@pytest.mark.django_db
def test_the_schedule_trains_first_versions_then_nightly_and_after_campaigns(client_a, now, settings, content_factory):
    from apps.core.services import policy_set
    from apps.mlops.services import TRAINABLE
    from apps.orchestration.training import training_reasons, trainings_schedule

    settings.PUSHADMIN = {**settings.PUSHADMIN, "TRAINING": {**settings.PUSHADMIN["TRAINING"], "FIRST_RETRY_MINUTES": 60,
                                                             "CAMPAIGNS": 3}}
    # nothing trained yet: every kind is due, once; a queued or running run is not queued again
    queued = trainings_schedule(now=now)
    runs = TrainingRun.objects.filter(pk__in=queued)
    assert sorted(runs.values_list("kind", flat=True)) == sorted(TRAINABLE)
    assert set(runs.values_list("reason", flat=True)) == {"first"} and set(runs.values_list("client", flat=True)) == {client_a.pk}
    assert trainings_schedule(now=now + timedelta(minutes=5)) == []
    # the runs finished without data enough: retried once FIRST_RETRY has passed
    runs.update(state=TrainingRun.State.SUCCEEDED)
    assert training_reasons(client=client_a, now=now + timedelta(minutes=30)) == {}
    assert set(training_reasons(client=client_a, now=now + timedelta(minutes=61)).values()) == {"first"}

    # with an active MF version, MF waits for the client's quiet hours (subscribers in Seoul, 22-7 local)
    policy_set(client=client_a, user=None, quiet_hours_start=22, quiet_hours_end=7)
    Subscriber.objects.bulk_create([Subscriber(client=client_a, external_id=f"s{i}", timezone="Asia/Seoul") for i in range(3)]
                                   + [Subscriber(client=client_a, external_id="u0", timezone="UTC")])
    day = now.replace(hour=3, minute=0, second=0, microsecond=0)  # 12:00 in Seoul
    ModelVersion.objects.create(client=client_a, kind="mf", version=1, artifact_path="x", created_at=day, is_active=True)
    TrainingRun.objects.filter(client=client_a, kind="mf").update(created_at=day - timedelta(hours=21))
    assert "mf" not in training_reasons(client=client_a, now=day)
    assert training_reasons(client=client_a, now=day + timedelta(hours=10))["mf"] == "nightly"  # 22:00 in Seoul
    TrainingRun.objects.filter(client=client_a, kind="mf").update(created_at=day + timedelta(hours=9))
    assert "mf" not in training_reasons(client=client_a, now=day + timedelta(hours=10))  # ran an hour ago
    # three campaigns ended since the last run: due whatever the hour
    from apps.campaigns.models import Campaign

    for n in range(3):
        Campaign.objects.create(client=client_a, content=content_factory(client_a, f"done{n}"), state="done",
                                created_at=day, ended_at=day + timedelta(hours=10, minutes=n))
    assert training_reasons(client=client_a, now=day + timedelta(hours=11))["mf"] == "campaigns"


@pytest.mark.django_db
def test_a_rolled_back_version_never_lends_its_files_to_the_next(client_a, content_factory, now, settings, tmp_path):
    """The simulator rolls every run back and starts the next on the same simulated clock: the
    next client can get the same row ids and version numbers at the same created_at. A process
    that loaded the first run's model must load the second's, not serve the first from its cache."""
    from django.db import transaction

    from apps.mlops.artifacts import artifacts_root
    from apps.mlops.selectors import load_categories
    from apps.mlops.training import train_mf
    from recsys.mf import ALSModel

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    with transaction.atomic():
        _tribes(client_a, content_factory, now, flip=False, prefix="a", seed=1)
        first = train_mf(client=client_a, now=now)
        mf_first, subs_first, _ = load_mf(first)
        transaction.set_rollback(True)
    assert not ModelVersion.objects.exists()
    _tribes(client_a, content_factory, now, flip=True, prefix="z", seed=5, rounds=12)
    second = train_mf(client=client_a, now=now)
    assert second.version == first.version and second.artifact_path != first.artifact_path
    mf_second, subs_second, _ = load_mf(second)
    on_disk = ALSModel.load(artifacts_root() / second.artifact_path / "model")
    assert mf_second is not mf_first and np.array_equal(mf_second.user_factors, on_disk.user_factors)
    assert set(subs_second.tolist()) <= set(Subscriber.objects.filter(client=client_a).values_list("pk", flat=True))
    profiles, names = load_categories(second)
    assert profiles.shape == (len(subs_second), len(names))
