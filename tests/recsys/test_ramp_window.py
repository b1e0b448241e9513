"""Marginal decisions: waves drawn from the window of ranks an expansion would reach, so that the
ramp's guarantee holds for the people an expansion actually sends to.

Run without Django:  python -m pytest -p no:django tests/recsys/test_ramp_window.py -q
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys import ramp
from recsys.ramp import (
    block_counts,
    probe_counts,
    simulate,
    strata_summary,
    stratified_pick,
    window_size,
)
from recsys.ramp.simulation import _pick_in_blocks


def test_window_and_block_counts():
    assert window_size(300, 4.0) == 1500 and window_size(0, 4.0) == 0
    starts, draws = block_counts(1500, 300, 5)
    assert starts.tolist() == [0, 300, 600, 900, 1200] and draws.tolist() == [60] * 5
    starts, draws = block_counts(7, 3, 5)
    assert draws.sum() == 3 and len(starts) == 5
    assert block_counts(3, 3, 5)[1].tolist() == [1, 1, 1]
    with pytest.raises(ValueError):
        block_counts(3, 4, 2)
    with pytest.raises(ValueError):
        window_size(10, 0.5)


@settings(max_examples=80, deadline=None)
@given(probed=st.integers(0, 3000), old=st.integers(0, 3000), new=st.integers(0, 3000), n=st.integers(0, 3000))
def test_probe_counts_stay_within_what_there_is(probed, old, new, n):
    c_old, c_new = probe_counts(probed=probed, old_unsent=old, new=new, n=n)
    assert 0 <= c_old <= old and 0 <= c_new <= new and c_old + c_new <= n
    assert c_old + c_new == min(n, old + new)


def test_every_member_of_a_growing_window_has_the_same_chance_of_being_probed():
    """Wave 1 then two re-sends, each growing the window by n: inclusion is the same for all."""
    rng = np.random.default_rng(0)
    n, g, reps = 30, 4.0, 3000
    w1 = window_size(n, g)
    size = w1 + 2 * n
    hits = np.zeros(size)
    for _ in range(reps):
        probed = np.zeros(size, dtype=bool)
        before = 0
        for j in (1, 2, 3):
            after = w1 + (j - 1) * n
            old = np.nonzero(~probed[:before])[0]
            c_old, c_new = probe_counts(probed=int(probed.sum()), old_unsent=len(old), new=after - before, n=n)
            pick_old, _ = stratified_pick(len(old), c_old, 5, rng)
            pick_new, prob = stratified_pick(after - before, c_new, 5, rng)
            probed[old[pick_old]] = True
            probed[before + pick_new] = True
            assert np.all((prob > 0) & (prob <= 1))
            before = after
        hits += probed
    share = hits / reps
    assert share.mean() == pytest.approx(3 * n / size, abs=1e-9)
    # per rank block of 30, the share probed is within sampling error of 3n / size = 0.4286
    blocks = share.reshape(-1, n).mean(axis=1)
    assert np.all(np.abs(blocks - 3 * n / size) < 0.02), blocks


def test_the_simulations_vectorized_draw_is_the_same_stratified_draw():
    rng = np.random.default_rng(1)
    cand = np.tile(np.arange(100, 200), (4000, 1))
    pos = _pick_in_blocks(rng, cand, 20, 5)
    assert pos.shape == (4000, 20)
    assert all(len(set(row.tolist())) == 20 for row in pos[:50])
    per_block = np.stack([((pos >= 100 + 20 * b) & (pos < 120 + 20 * b)).sum(axis=1) for b in range(5)], axis=1)
    assert np.all(per_block == 4)  # 4 from each rank block of 20, in every trial
    share = np.bincount((pos - 100).ravel(), minlength=100) / 4000
    assert np.all(np.abs(share - 0.2) < 0.03)


def test_strata_summary():
    pos = np.array([0, 1, 10, 11, 19])
    out = strata_summary(pos, 20, clicks=[1, 0, 1, 1, 0], expected=[0.5, 0.5, 0.25, 0.25, 0.5], strata=2)
    assert [s["ranks"] for s in out] == [[1, 10], [11, 20]]
    assert [s["probes"] for s in out] == [2, 3] and [s["clicks"] for s in out] == [1, 2]
    assert out[0]["improvement"] == pytest.approx(1.0) and out[1]["improvement"] == pytest.approx(2.0)
    assert strata_summary([], 0, [], []) == []


def test_ranked_waves_expand_into_people_below_the_floor_and_windows_do_not():
    # Wave 1's ranks at 3.0, the next ranks at 1.2: pooling the best ranks' clicks expands into the
    # next ones; probes of the window test the people the expansion reaches.
    t = 300
    old = simulate(None, 0.05, 300, t, seed=41, rank_profile=(3.0, 1.2), design="ranked")
    new = simulate(None, 0.05, 300, t, seed=41, rank_profile=(3.0, 1.2))
    assert old["expanded_below_floor_share"] > 0.3
    assert new["expanded_below_floor_share"] <= 0.05
    good = simulate(None, 0.05, 300, t, seed=42, rank_profile=(2.8, 2.5))
    assert good["expanded_share"] >= 0.8 and good["expanded_below_floor_share"] == 0.0
    assert 2.3 < good["expansion_true_improvement_mean"] < 2.8


def test_cli_rank_profile_and_the_keys_production_reads(capsys):
    rc = ramp.main(["simulate", "--rank-profile", "3.0,1.2", "--baseline-ctr", "0.05", "--wave-size", "300",
                    "--trials", "60", "--seed", "3", "--refit-every", "30", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("expanded_share", "mean_sends", "expanded_below_floor_share", "minutes_to_decision", "waited_share"):
        assert key in out
    assert out["settings"]["rank_profile"] == [3.0, 1.2] and out["settings"]["design"] == "window"
    assert out["settings"]["refit_every"] == 30 and out["delay_refits"]["count"] == 1
    assert out["minutes_to_decision"] >= out["mean_waves"] * 20
    with pytest.raises(SystemExit):
        ramp.main(["simulate", "--rank-profile", "3,x", "--baseline-ctr", "0.05", "--wave-size", "300"])
    with pytest.raises(SystemExit):
        ramp.main(["simulate", "--baseline-ctr", "0.05", "--wave-size", "300"])  # neither R nor a profile
    assert "profile=3,1.2" not in capsys.readouterr().out
    rc = ramp.main(["simulate", "--rank-profile", "3,1.2", "--baseline-ctr", "0.05", "--wave-size", "300",
                    "--trials", "20", "--design", "ranked"])
    assert rc == 0 and "profile=3,1.2" in capsys.readouterr().out
