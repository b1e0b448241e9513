"""The off-policy check of the simulator: estimate from the product's logs against the world's truth."""

import numpy as np
import pytest

from tests.simulation.conftest import SIMULATOR_ONCE


@pytest.mark.slow
@SIMULATOR_ONCE
@pytest.mark.django_db(transaction=True)
def test_the_check_estimates_as_manage_py_ope_does_and_says_how_thin_the_evidence_is(settings, tmp_path):
    from apps.simulation.runner import OpeTruth, run_strategy

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    # the smallest world whose product launches campaigns early enough for a wave to be a day old
    report = run_strategy("product", subscribers=10_000, days=1.5, seed=5, difficulty="default", ope_check=True)
    check = report["ope_check"]
    assert set(check) == {"uniform", "interim"}
    for name, one in check.items():
        assert one["waves"] > 0, name  # waves that explored, a day old by the end
        # Re-ranked at the end as ``manage.py ope`` does (reads up to the wave's time, the same
        # seeded draw), each candidate chose the people it chose when the wave was planned: a
        # ranker that looked past the wave's time, or drew differently, would show here.
        assert one["picks_changed"] == 0, name
        lo, hi = one["interval"]
        assert lo <= one["estimate"] <= hi and one["truth"] > 0
        assert one["explored_clicks"] >= 0 and one["explored_clicks_expected"] >= 0
        assert 0 <= one["explored_share"] <= 1
    assert OpeTruth.__dataclass_fields__.keys() >= {"picks", "true_clicks", "expected", "explored_clicks"}
    assert np.isfinite(check["interim"]["explored_clicks_expected"])
