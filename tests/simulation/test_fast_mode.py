"""The fast mode runs the product's own services against the simulated world, in process."""

import json

import pytest
from django.core.management import call_command


@pytest.mark.slow
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
    for key in ("click_improvement", "clicks_per_1000", "inactive_back_per_1000", "wau"):
        assert key in product
    assert {"expanded_share_below_floor", "expanded_share_above_target"} <= set(first["ramp"])
    assert "wau_lift" in first["holdout"]
    assert not Client.objects.filter(slug__startswith="sim-").exists() and not Campaign.objects.exists()


@pytest.mark.django_db
def test_bad_strategy_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="strategies"):
        call_command("simulate", "--strategies", "magic")
