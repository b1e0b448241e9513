"""More audiences on the same simulated world: the long-horizon activity ranking, the denoising
autoencoder and text similarity to what people read; and every strategy's first waves against the truth-ranked window from the same pool."""

import json

import pytest
from django.core.management import call_command

from tests.simulation.conftest import SIMULATOR_ONCE


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_activity_and_dae_rank_waves_and_first_waves_are_held_to_the_truth(capsys, settings, tmp_path):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    call_command("simulate", "--subscribers", "12000", "--days", "1", "--seed", "3", "--strategies",
                 "oracle_first_come,activity,dae,content", "--json")
    report = json.loads(capsys.readouterr().out)["strategies"]
    # the truth-ranked audience (by true improvement, first-come: the yardstick of a first wave)
    oracle, activity, dae, content = (report[n] for n in ("oracle_first_come", "activity", "dae", "content"))
    assert set(oracle["rankers"]) == {"oracle"} and set(dae["rankers"]) == {"dae"} and sum(dae["rankers"].values()) > 0
    assert set(content["rankers"]) == {"content"} and sum(content["rankers"].values()) > 0
    # with the client's MF versions (trained at the start on the reading history), by activity alone
    assert activity["rankers"] and all(r.endswith("(activity alone)") for r in activity["rankers"])
    for s in (oracle, activity, dae, content):
        first = s["wave1_vs_truth_ranked"]
        assert first["waves"] > 0 and first["ratio"] == pytest.approx(
            first["true_improvement"] / first["truth_ranked_true_improvement"], abs=2e-3)
        assert first["ratio_ci95"][0] <= first["ratio"] <= first["ratio_ci95"][1]
        assert first["random_window_true_improvement"] <= first["truth_ranked_true_improvement"]
        assert 0 < first["window_share_of_pool"] <= 1 and 0 <= first["waves_window_below_pool"] <= first["waves"]
    # The reference is the truth's own window from the same pool: the truth-ranked strategy's
    # windows are exactly it (all of the gain over a random window); the others' are below it.
    assert oracle["wave1_vs_truth_ranked"]["ratio"] == pytest.approx(1.0, abs=1e-6)
    assert oracle["wave1_vs_truth_ranked"]["share_of_attainable_gain"] == pytest.approx(1.0, abs=1e-6)
    for s in (activity, dae, content):
        assert 0 < s["wave1_vs_truth_ranked"]["ratio"] < 1
    # The ranking on every first wave's whole pool (the cap leaves most windows their whole pool):
    # each ranker's top tenth against the truth's top tenth of the same pool; the truth's is it.
    for s in (oracle, activity, dae, content):
        top = s["pool_top_tenth_vs_truth"]
        assert top["waves"] > 0 and top["waves_window_below_pool"] == top["waves"], top
        assert top["random_window_true_improvement"] < top["truth_ranked_true_improvement"]
    assert oracle["pool_top_tenth_vs_truth"]["share_of_attainable_gain"] == pytest.approx(1.0, abs=1e-6)
    for s in (activity, dae, content):
        assert s["pool_top_tenth_vs_truth"]["ratio"] < 1
    # apart by the order that ranked each pool: they add up to the whole
    assert set(oracle["pool_top_tenth_by_ranking"]) == {"oracle"} and set(dae["pool_top_tenth_by_ranking"]) == {"dae"}
    assert set(activity["pool_top_tenth_by_ranking"]) == {"activity alone"}
    for s in (oracle, activity, dae, content):
        assert sum(r["waves"] for r in s["pool_top_tenth_by_ranking"].values()) == s["pool_top_tenth_vs_truth"]["waves"]


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_oracle_quality_judges_every_content_by_its_true_quality_and_nothing_else(settings, tmp_path):
    """The diagnostic yardstick: the product's own engine, models and prices, with the true
    quality as each content's push-worthiness score (scorer_for, the sweep's seam for it)."""
    from apps.contents.models import Content, ContentStatus
    from apps.core.models import Decision
    from apps.simulation.runner import run_strategy
    from recsys.simulate.world import World, WorldConfig

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    report = run_strategy("oracle_quality", subscribers=3000, days=1, seed=5, difficulty="default")
    world = World(WorldConfig(n_subscribers=3000, seed=5))
    world.advance(86400)
    quality = {c.external_id: c.quality for c in world.contents}
    judged = list(Content.objects.filter(push_score__isnull=False).values_list("external_id", "push_score", "status",
                                                                               "score_model_version"))
    assert len(judged) >= 10 and report["push_score_vs_quality"]["all"] == {
        "contents": len(judged), "spearman": 1.0, **{k: report["push_score_vs_quality"]["all"][k]
                                                     for k in ("early_reads_spearman", "early_read_share_spearman")}}
    for external_id, score, status, version in judged:
        assert score == pytest.approx(quality[external_id], rel=1e-6) and version is None
    # judged against the client's threshold (1.0) like any score: the weaker ones are rejected
    evaluations = list(Decision.objects.filter(action="content_evaluate").values_list("actor_name", "after"))
    assert len(evaluations) == len(judged) and {actor for actor, _ in evaluations} == {"evaluator (truth)"}
    verdicts = {after["status"] for _, after in evaluations}
    assert verdicts == {ContentStatus.CANDIDATE, ContentStatus.REJECTED}
    for _, after in evaluations:
        assert (after["status"] == ContentStatus.REJECTED) == (after["push_score"] < 1.0), after
    assert report["campaigns"] > 0 and report["pushes"] > 0
