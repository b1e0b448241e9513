"""Before a client's click model is trained, its waves are ordered by the ranking its own held-out
contents chose (the affinity blend, or MF, look-alike or long-horizon activity alone)."""

from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.mlops.models import ModelKind, ModelVersion
from apps.mlops.selectors import active_version
from recsys.audience import SINGLE_RANKINGS
from tests.mlops.test_per_client import _rank, _tribes


@pytest.fixture
def now(now):
    """Noon yesterday: the reads are spread over hours, so how many distinct days each person read
    on (the activity ranking) hangs on the clock; the same day boundaries on every run."""
    return (now - timedelta(days=1)).replace(hour=12, minute=0, second=0)


@pytest.fixture
def tribes(client_a, content_factory, now, settings, tmp_path):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    _tribes(client_a, content_factory, now, flip=False, prefix="a", seed=1)
    return client_a


@pytest.mark.django_db
def test_training_checks_every_ranking_and_the_waves_use_the_one_chosen(tribes, content_factory, now):
    from apps.mlops.ranking import ModelRanker, ranker_for
    from apps.mlops.training import train_mf

    version = train_mf(client=tribes, now=now)
    check = version.metrics["rankings"]
    assert set(check["by"]) == set(SINGLE_RANKINGS) and check["cases"] >= 5
    assert all(v["lift"] > 0 and v["improvement"] is not None for v in check["by"].values())
    # the rule: another ranking replaces the blend only with a paired interval above 0, the best such
    established = {n: v["diff"] for n, v in check["by"].items() if n != "affinity" and v["diff_ci"][0] > 0}
    assert check["chosen"] == (max(established, key=established.get) if established else "affinity")
    # two tribes with different tastes: who resembles the seed decides, not how much one reads
    assert max(check["by"]["lookalike"]["lift"], check["by"]["mf"]["lift"]) > check["by"]["activity"]["lift"]
    ranker = ranker_for(tribes)
    assert isinstance(ranker, ModelRanker) and ranker.ranking == check["chosen"]
    assert ranker.weights == SINGLE_RANKINGS[check["chosen"]]
    ranked = _rank(tribes, content_factory(tribes, "new-a", created_at=now - timedelta(minutes=30)), ["a3", "a7", "a11"], now)
    assert ranked.ranker == ranker.name and (check["chosen"] == "affinity") == ("alone" not in ranked.ranker)

    # the next night's refresh carries the check (it stands for a week); after a week it is redone
    # on the contents that came since
    again = train_mf(client=tribes, now=now + timedelta(days=1))
    assert again.metrics["rankings"]["checked_at"] == check["checked_at"]
    _tribes(tribes, content_factory, now + timedelta(days=8), flip=False, prefix="a", seed=3, batch="x")
    judged = active_version(tribes, ModelKind.MF)  # the refresh judges the active version
    later = train_mf(client=tribes, now=now + timedelta(days=8))
    assert later.metrics["rankings"]["checked_at"] == (now + timedelta(days=8)).timestamp()
    assert later.metrics["rankings"]["split"] == judged.params["trained_until"]


@pytest.mark.django_db
def test_with_a_click_model_the_blend_is_reranked_and_nothing_is_checked(tribes, now):
    from apps.mlops.ranking import ModelRanker, ranker_for
    from apps.mlops.training import train_mf

    ModelVersion.objects.create(client=tribes, kind=ModelKind.CLICK, version=1, artifact_path="x", created_at=now,
                                is_active=True)
    version = train_mf(client=tribes, now=now)
    assert "rankings" not in version.metrics
    ranker = ModelRanker(version, None)
    assert ranker.ranking == "affinity"  # a version without a check: the blend
    with pytest.raises(ValueError, match="ranking"):
        ModelRanker(version, None, ranking="popularity")
    assert ranker_for(tribes).ranking == "affinity"


@pytest.mark.django_db
def test_activity_alone_orders_the_wave_by_decayed_active_days(tribes, content_factory, now):
    """The ``activity`` ranking on real rows: the subscribers' running sums, read at the wave's time."""
    from apps.mlops.ranking import ModelRanker
    from apps.mlops.training import train_mf
    from recsys.activity import decayed_at

    version = train_mf(client=tribes, now=now)
    rng = np.random.default_rng(5)
    subs = list(Subscriber.objects.filter(client=tribes).order_by("pk"))
    for s in subs:
        s.active_days_decayed = float(rng.exponential(1e3))
    Subscriber.objects.bulk_update(subs, ["active_days_decayed"])
    content = content_factory(tribes, "new-a", created_at=now - timedelta(minutes=30))
    from apps.audience.selectors import Segment
    from apps.delivery.selectors import eligible_candidates

    cands = eligible_candidates(client=tribes, content_id=content.pk, now=now, cap_window=timedelta(days=7),
                                segment=Segment(activity="any", inactive_days=7), quiet_start=0, quiet_end=0)
    seed = np.array(sorted(Subscriber.objects.filter(client=tribes, external_id__in=["a3", "a7"]).values_list("pk", flat=True)))
    ranked = ModelRanker(version, None, ranking="activity").rank(candidates=cands, content=content, seed_ids=seed, k=30,
                                                                 now=now, rng=np.random.default_rng(0))
    value = {s.pk: s.active_days_decayed for s in subs if s.pk not in set(seed.tolist())}
    expected = sorted(value, key=lambda pk: -value[pk])[:30]
    assert ranked.ids.tolist() == expected and ranked.ranker.endswith("(activity alone)")
    np.testing.assert_allclose(ranked.components["activity"],
                               np.log1p(decayed_at(np.array([value[pk] for pk in expected]), now.timestamp())), rtol=1e-5)


@pytest.mark.django_db
def test_each_readers_category_mix_ranks_a_new_content_of_that_category(client_a, content_factory, now, settings, tmp_path):
    """The MF version keeps each reader's long-horizon mix of categories: a new content's
    category finds the people who read that kind of content, whoever its early readers are."""
    from apps.mlops.ranking import ModelRanker
    from apps.mlops.selectors import load_categories, load_mf
    from apps.mlops.training import train_mf
    from recsys.ids import positions
    from tests.mlops.test_per_client import _rank

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}

    def sectioned(client, external_id, **data):  # "a-a3" is in section "sec-a", "a-b7" in "sec-b"
        return content_factory(client, external_id, category=f"sec-{external_id.split('-')[-1][0]}", **data)

    _tribes(client_a, sectioned, now, flip=False, prefix="a", seed=1)
    version = train_mf(client=client_a, now=now)
    by = version.metrics["rankings"]["by"]
    assert by["category"]["lift"] > 1.5 and by["category"]["lift"] > by["activity"]["lift"]
    profiles, names = load_categories(version)
    _, subs, _ = load_mf(version)
    assert names == ["sec-a", "sec-b"]
    pk = dict(Subscriber.objects.filter(client=client_a).values_list("external_id", "pk"))
    tribe_a = positions(subs, np.array([pk[f"a{i}"] for i in range(100)]))
    tribe_b = positions(subs, np.array([pk[f"a{i}"] for i in range(100, 200)]))
    tribe_a, tribe_b = tribe_a[tribe_a >= 0], tribe_b[tribe_b >= 0]  # (who read anything)
    assert len(tribe_a) > 90 and len(tribe_b) > 90
    np.testing.assert_allclose(profiles[tribe_a], [[1.0, 0.0]] * len(tribe_a))
    np.testing.assert_allclose(profiles[tribe_b], [[0.0, 1.0]] * len(tribe_b))

    # a new content of section b, read first by someone of tribe a: by category alone its
    # audience is tribe b
    ModelVersion.objects.filter(pk=version.pk).update(metrics={**version.metrics, "rankings": {
        **version.metrics["rankings"], "chosen": "category"}})
    version.refresh_from_db()
    new = sectioned(client_a, "new-b", created_at=now - timedelta(minutes=30))
    ranked = _rank(client_a, new, ["a3"], now)
    assert isinstance(ModelRanker(version), ModelRanker) and "(category alone)" in ranked.ranker
    assert set(ranked.ids.tolist()) <= {pk[f"a{i}"] for i in range(100, 200)}
