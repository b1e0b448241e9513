"""``manage.py ranking_ceilings``: what a first wave's ranking can attain in the simulated world,
reported as ``simulate`` reports its rankers' pools."""

import json

import pytest
from django.core.management import CommandError, call_command


def test_the_yardsticks_are_reported_per_seed_and_pooled(capsys):
    call_command("ranking_ceilings", "--subscribers", "2500", "--days", "0.5", "--seeds", "0,1", "--pool", "500", "--json")
    report = json.loads(capsys.readouterr().out)
    pooled = report["rankings"]
    assert set(pooled) == {"taste", "history_posterior", "category_history"} and set(report["seeds"]) == {"0", "1"}
    assert pooled["taste"]["waves"] == sum(report["seeds"][s]["taste"]["waves"] for s in ("0", "1")) > 0
    # knowing taste exactly gets most of the truth's top, the history's categories less, both beat random
    assert 1.0 > pooled["taste"]["ratio"] > pooled["history_posterior"]["ratio"] > pooled["category_history"]["ratio"]
    assert pooled["category_history"]["share_of_attainable_gain"] > 0
    call_command("ranking_ceilings", "--subscribers", "1000", "--days", "0.25", "--seeds", "2", "--pool", "200")
    assert "of the truth's" in capsys.readouterr().out


@pytest.mark.parametrize("args, field", [(["--seeds", "a"], "--seeds"), (["--seeds", ""], "--seeds"),
                                         (["--pool", "3"], "--pool")])
def test_bad_settings_name_the_option(args, field):
    with pytest.raises(CommandError, match=field):
        call_command("ranking_ceilings", "--subscribers", "500", *args)
