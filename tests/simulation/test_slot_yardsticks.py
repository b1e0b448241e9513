"""The weekly slot's yardsticks in ``manage.py simulate``: every strategy's expected clicks and
reactivations by the truth, as a share of the hindsight optimum's on the same world."""

import json
from datetime import timedelta

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
        # the optimum that may push at night is larger: the share against it smaller
        assert s["share_of_hindsight_any_hour"]["clicks"] < s["share_of_hindsight"]["clicks"]
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


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_the_oracle_is_the_allocator_fed_the_truth(settings, tmp_path):
    """``oracle``: the product's engine with true click probabilities as its values and slot
    prices set by the product's rule on the true values of the last week's contents; everyone
    opted in may be pushed (the clicks objective). ``oracle_first_come`` stays unpriced."""
    import numpy as np

    from apps.audience.models import Subscriber
    from apps.campaigns.models import Wave
    from apps.delivery.models import Send
    from apps.simulation.runner import run_strategy

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    # a slot a day, so that the prices set after the first night meet free slots on the second day
    report = run_strategy("oracle", subscribers=3000, days=2, seed=2, difficulty="default", retrain=False,
                          policy={"cap_window": timedelta(days=1)})
    assert report["pushes"] > 0 and set(report["rankers"]) == {"oracle"}
    prices = np.array(Subscriber.objects.filter(client__slug="sim-oracle-2", push_opt_in=True)
                      .values_list("slot_price", flat=True))
    assert (prices > 0).mean() > 0.5  # priced after the first night, from the first day's contents
    sends = Send.objects.filter(campaign__client__slug="sim-oracle-2")
    valued = list(sends.filter(value__isnull=False).values_list("value", "slot_price", "chosen_by"))
    assert valued and all(p is not None and v >= p for v, p, _ in valued)  # nobody valued below their price
    assert any(p > 0 for _, p, _ in valued)
    # the explored are drawn at random, not valued
    assert not sends.filter(chosen_by=Send.ChosenBy.EXPLORED, value__isnull=False).exists()
    held = sum((w.plan_numbers or {}).get("held_back_by_price", 0) for w in Wave.objects.filter(
        campaign__client__slug="sim-oracle-2"))
    assert held > 0  # the truth's prices passed people over
    # everyone opted in may be pushed (the active too)
    from apps.campaigns.models import Campaign

    assert {tuple(sorted(c.items())) for c in Campaign.objects.filter(client__slug="sim-oracle-2")
            .values_list("segment", flat=True)} == {(("activity", "any"), ("inactive_days", 7))}
