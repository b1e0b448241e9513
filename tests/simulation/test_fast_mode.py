"""The fast mode runs the product's own services against the simulated world, in process."""

import json

import pytest
from django.core.management import call_command

from tests.simulation.conftest import SIMULATOR_ONCE


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_fast_mode_is_deterministic_and_leaves_the_database_alone(capsys, settings, tmp_path):
    from apps.campaigns.models import Campaign
    from apps.core.models import Client

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    args = ["simulate", "--subscribers", "3000", "--days", "0.75", "--seed", "3", "--strategies", "product,random", "--json"]
    call_command(*args)
    first = json.loads(capsys.readouterr().out)
    call_command(*args)
    second = json.loads(capsys.readouterr().out)
    first.pop("seconds"), second.pop("seconds")
    assert first == second  # same seed, same numbers
    product, random = first["strategies"]["product"], first["strategies"]["random"]
    assert random["campaigns"] > 0 and random["pushes"] > 0  # the random newsroom pushes every content
    assert random["campaigns"] >= product["campaigns"]
    assert 0.7 < random["baseline_estimate_over_truth"] < 1.3  # the product's usual CTRs track the truth
    for key in ("click_improvement", "clicks_per_1000", "inactive_back_per_1000", "wau", "slot_values_vs_truth"):
        assert key in product
    assert {"expanded_share_below_floor", "expanded_share_above_target", "marginal_below_floor_share",
            "expansions"} <= set(first["ramp"])
    for name in ("product", "random"):  # each strategy's own ramp numbers
        assert {"expanded_share_above_target", "marginal_below_floor_share"} <= set(first["ramp"]["per_strategy"][name])
        assert first["strategies"][name]["ramp"]["expansions"] >= first["strategies"][name]["ramp"]["marginal_below_floor"]
    assert "wau_lift" in first["holdout"]
    # A fair comparison: every strategy retrained on the same schedule; improvement also against
    # the world's true usual CTRs; what one content took of the pushes.
    assert product["retraining_rounds"] == random["retraining_rounds"] == 1
    for s in (product, random):
        if s["pushes"]:
            assert s["click_improvement_true_ctr"] is not None and s["per_content"]["contents"] > 0
            assert 0 < s["per_content"]["top_content_push_share"] <= 1
    assert 0.6 < random["click_improvement_true_ctr"] < 1.6  # random people click at their usual rate
    # what the push-worthiness scores know of the contents' true quality, over the scored contents
    scored = product["push_score_vs_quality"]
    assert scored["all"]["contents"] >= scored["by_model"]["contents"] and scored["all"]["contents"] > 2
    assert -1 <= scored["all"]["spearman"] <= 1 and -1 <= scored["all"]["early_reads_spearman"] <= 1
    assert -1 <= scored["all"]["early_read_share_spearman"] <= 1  # every evaluated content has its read share
    assert first["seeds"]["seeds"] == [3] and first["seeds"]["runs"]["3"]["strategies"] == first["strategies"]
    assert not Client.objects.filter(slug__startswith="sim-").exists() and not Campaign.objects.exists()


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_several_seeds_report_each_and_their_mean_with_its_spread(capsys, settings, tmp_path):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    call_command("simulate", "--subscribers", "2000", "--days", "0.5", "--seeds", "1,2", "--strategies", "random",
                 "--no-retrain", "--ope-check", "--json")
    report = json.loads(capsys.readouterr().out)
    one, two = (report["seeds"]["runs"][k]["strategies"]["random"] for k in ("1", "2"))
    assert one != two  # two worlds
    mean = report["strategies"]["random"]
    assert mean["pushes"] == (one["pushes"] + two["pushes"]) / 2
    assert mean["clicks_per_1000"] == pytest.approx((one["clicks_per_1000"] + two["clicks_per_1000"]) / 2)
    spread = report["seeds"]["spread"]["random"]["pushes"]
    assert (spread["min"], spread["max"]) == (min(one["pushes"], two["pushes"]), max(one["pushes"], two["pushes"]))
    assert spread["sd"] == pytest.approx(abs(one["pushes"] - two["pushes"]) / 2 ** 0.5, abs=1e-3)
    # The off-policy check is reported per candidate ranker (no wave is a day old in half a day).
    assert set(one["ope_check"]) == {"uniform", "interim"} and one["ope_check"]["uniform"]["waves"] == 0


@pytest.mark.django_db
def test_bad_strategy_or_seeds_are_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="strategies"):
        call_command("simulate", "--strategies", "magic")
    with pytest.raises(CommandError, match="seeds"):
        call_command("simulate", "--seeds", "0,x")
