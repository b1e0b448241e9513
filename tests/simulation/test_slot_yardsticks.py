"""The weekly slot's yardsticks in ``manage.py simulate``: every strategy's expected clicks and
reactivations by the truth, as a share of the hindsight optimum's on the same world."""

import json

import pytest
from django.core.management import call_command

from tests.simulation.conftest import SIMULATOR_ONCE


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_every_strategy_is_measured_against_the_hindsight_optimum(capsys, settings, tmp_path):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    call_command("simulate", "--subscribers", "3000", "--days", "1", "--seed", "4", "--no-retrain", "--strategies",
                 "random,hindsight,universal", "--json")
    report = json.loads(capsys.readouterr().out)["strategies"]
    random, hindsight, universal = (report[n] for n in ("random", "hindsight", "universal"))
    for s in report.values():
        assert {"expected_clicks", "expected_reactivations", "share_of_hindsight", "share_of_hindsight_steady", "wau"} <= set(s)
        assert 0 <= s["expected_reactivations"] <= s["expected_clicks"]
        # a run of a day has no steady state (from day 14): nothing to share
        assert s["expected_clicks_steady"] == 0 and s["share_of_hindsight_steady"] == {"clicks": None, "reactivations": None}
    assert hindsight["share_of_hindsight"]["clicks"] == 1.0
    assert 0.9 <= hindsight["share_of_hindsight"]["reactivations"] <= 1.0
    assert hindsight["reactivations_objective"]["expected_reactivations"] > 0
    for s in (random, universal):
        assert 0 < s["share_of_hindsight"]["clicks"] < 1 and 0 < s["share_of_hindsight"]["reactivations"] < 1
        assert s["share_of_hindsight"]["clicks"] == pytest.approx(s["expected_clicks"] / hindsight["expected_clicks"], abs=1e-4)
    # per slot spent, each person's best content of the week is worth far more than a random push
    assert hindsight["expected_clicks"] / hindsight["pushes"] > 2 * random["expected_clicks"] / random["pushes"]
    # the broadcast: one content, to everyone eligible
    assert universal["contents"] == 1 and len(universal["broadcasts"]) == 1
    assert universal["pushes"] == hindsight["pushes"]  # the same people, each pushed once
    assert universal["broadcasts"][0]["quality_percentile"] > 90

    call_command("simulate", "--subscribers", "2000", "--days", "0.5", "--seed", "4", "--no-retrain", "--strategies",
                 "hindsight,universal")
    table = capsys.readouterr().out
    assert "of hindsight: clicks" in table and "universal" in table and "hindsight" in table
