"""The time-respecting replay: nothing after a decision reaches any strategy, and ``product`` is
the product's own ranker."""

import json

import numpy as np
import pytest

import recsys.audience as audience
from recsys.replay import main as replay_main
from recsys.synthetic import make_synthetic
from recsys.temporal import STRATEGIES, TemporalConfig, _Models, index_data, make_plan, run_temporal, score_case

from .conftest import SMALL_EMBEDDING, SMALL_MF

DAY = 86400.0
CFG = TemporalConfig(ks=(20,), seed_events=3, horizon_days=7.0, test_from=0.4, snapshots=4, mf=SMALL_MF,
                     embedding=SMALL_EMBEDDING, bootstrap=200, random_draws=20)


@pytest.fixture(scope="module")
def stream():
    """The synthetic readers, with contents released one after another over 60 days."""
    d = make_synthetic(n_users=300, n_items=120, n_topics=4, seed=1)
    rng = np.random.default_rng(1)
    release = rng.uniform(0, 60 * DAY, d.n_items)
    ts = release[d.event_item] + rng.exponential(4 * DAY, len(d.event_item))
    return d, index_data(d.event_user, d.event_item, ts, np.ones(len(ts)), d.n_users, d.n_items, d.texts,
                         [[c] for c in d.categories])


def test_plan_respects_time(stream):
    _, data = stream
    plan = make_plan(data, CFG)
    assert len(plan.cases) >= 10
    assert [c.t for c in plan.cases] == sorted(c.t for c in plan.cases)
    for c in plan.cases:
        assert plan.test_start <= c.t <= plan.test_end and plan.snapshot_times[c.snapshot] <= c.t
        assert plan.snapshot_times[c.snapshot] >= plan.test_start  # a test period snapshot
        readers = data.u[(data.i == c.item) & (data.ts <= c.t)]
        assert len(c.seed) == CFG.seed_events and set(c.seed) <= set(readers)
    # the validation window: decided before the test period, on snapshots of their own
    assert len(plan.validation_cases) >= 10
    for c in plan.validation_cases:
        assert plan.validation_start <= c.t < plan.test_start
        assert plan.snapshot_times[c.snapshot] <= c.t and plan.snapshot_times[c.snapshot] < plan.test_start
    assert not {c.item for c in plan.cases} & {c.item for c in plan.validation_cases}


def test_default_test_period_starts_as_early_as_a_fair_test_allows(stream):
    """By default the test period starts at the first interaction once a full popularity window
    and one full horizon of history lie behind it: the most test items the data allows without
    truncating the popularity baseline or the usual rates' history."""
    import dataclasses

    _, data = stream
    cfg = dataclasses.replace(CFG, test_from=None, popularity_days=10.0)
    plan = make_plan(data, cfg)
    earliest = data.ts[0] + 10.0 * DAY  # max(popularity 10 days, horizon 7 days)
    assert plan.test_start >= earliest and not np.any((data.ts >= earliest) & (data.ts < plan.test_start))
    later = make_plan(data, CFG)  # test_from 0.4 starts later here: fewer test items
    assert later.test_start > plan.test_start and len(plan.cases) > len(later.cases)
    assert all(c.t >= plan.test_start for c in plan.cases)


@pytest.mark.parametrize("candidates", ["all", "inactive"])
def test_no_strategy_sees_after_its_decision(stream, candidates):
    """Deleting every interaction after t changes no strategy's scores for that item."""
    import dataclasses

    _, data = stream
    cfg = dataclasses.replace(CFG, candidates=candidates, inactive_days=2.0)
    plan = make_plan(data, cfg)
    full = _Models(data, plan, cfg)
    sample = plan.cases[:: max(1, len(plan.cases) // 4)][:4]
    for case in sample:
        a = score_case(data, plan, case, cfg, full)
        cut = data.upto(case.t)
        assert len(cut.ts) < len(data.ts)  # something was deleted
        b = score_case(cut, plan, case, cfg, _Models(cut, plan, cfg))
        np.testing.assert_array_equal(a.candidates, b.candidates)
        assert len(a.candidates) > 0
        past = data.upto(case.t)
        assert set(a.candidates) <= set(past.u) - set(past.u[past.i == case.item])
        if candidates == "inactive":
            last = np.full(data.n_users, -np.inf)
            np.maximum.at(last, past.u, past.ts)
            assert np.all(case.t - last[a.candidates] >= 2.0 * DAY)
        np.testing.assert_allclose(a.usual, b.usual)
        assert set(a.scores) == set(STRATEGIES)
        for name in STRATEGIES:
            np.testing.assert_allclose(a.scores[name], b.scores[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_click_model_sees_nothing_after_its_snapshot(stream):
    """The product's click model retrained at a snapshot is the same whether or not anything
    after the snapshot's time exists: its rows come from each decision's past and its labels
    are cut at the snapshot."""
    _, data = stream
    plan = make_plan(data, CFG)
    snap = int(plan.cases[len(plan.cases) // 2].snapshot)
    until = float(plan.snapshot_times[snap])
    full = _Models(data, plan, CFG).click(snap)
    cut = _Models(data.upto(until), plan, CFG).click(snap)
    assert full is not None and cut is not None  # trained, or this test shows nothing
    rows = np.vstack([x for c in plan.validation_cases[:5] if (x := _Models(data, plan, CFG).case_rows(c)[1]) is not None])
    np.testing.assert_allclose(full.predict_proba(rows), cut.predict_proba(rows))
    # and it is retrained: a later snapshot has more items and labels behind it
    models = _Models(data, plan, CFG)
    models.click(snap)
    models.click(len(plan.snapshot_times) - 1)
    first, last = models.click_infos
    assert last["items"] > first["items"] and last["hits"] > first["hits"]


def test_product_strategy_is_the_product_ranker(stream, monkeypatch):
    """The replay's ``product`` ranks by ``recsys.audience.product_rank``, the function the
    product's ModelRanker calls (tests/mlops pins that side), with the same weights."""
    _, data = stream
    plan = make_plan(data, CFG)
    models = _Models(data, plan, CFG)
    calls = []
    real = audience.product_rank

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(audience, "product_rank", spy)
    case = plan.cases[len(plan.cases) // 2]
    s = score_case(data, plan, case, CFG, models)
    assert len(calls) == 3  # product, product_snapshot and product_by_improvement
    # with the click model of the case's snapshot, and the inputs it takes
    assert calls[0][1]["click_model"] is models.click(case.snapshot) is not None
    assert {"baseline_ctr", "days_inactive", "age_hours", "hour", "reads_decayed", "active_days_decayed"} <= set(calls[0][1])
    # the long-horizon activity is what production computes from the reads up to the decision
    from recsys.activity import long_horizon_activity

    past = data.upto(case.t)
    reads, days = long_horizon_activity(past.u, past.ts, n_users=data.n_users, now=case.t)
    np.testing.assert_allclose(calls[0][1]["reads_decayed"], reads[s.candidates])
    np.testing.assert_allclose(calls[0][1]["active_days_decayed"], days[s.candidates])
    assert "rerank_by" not in calls[0][1] and calls[2][1]["rerank_by"] == "improvement"
    assert all(calls[2][1][key] is value for key, value in calls[0][1].items())  # otherwise the same call
    for (args, kwargs), name in zip(calls, ("product", "product_snapshot", "product_by_improvement")):
        again = real(*args, **kwargs)
        order = np.argsort(-s.scores[name], kind="stable")
        np.testing.assert_array_equal(s.candidates[order], again.ids)
    np.testing.assert_array_equal(calls[1][1]["user_factors"], models.mf(case.snapshot)[0].user_factors)
    assert set(calls[1][1]["seed_rows"]) <= set(case.seed)
    # the linear shortlist is PRODUCT_WEIGHTS: MF, look-alike and category (absent here: no profiles given)
    assert {c for c in audience.COMPONENTS if audience.PRODUCT_WEIGHTS.get(c)} == {"mf", "lookalike", "category"}


def test_the_dae_settings_are_judged_on_earlier_items_only(stream):
    """Each snapshot's DAE settings are picked on items decided before it, labels censored at
    its time: the pick is the same with everything after the snapshot deleted."""
    _, data = stream
    plan = make_plan(data, CFG)
    snap = int(plan.cases[len(plan.cases) // 2].snapshot)
    until = float(plan.snapshot_times[snap])
    full, cut = _Models(data, plan, CFG), _Models(data.upto(until), plan, CFG)
    for name in ("dae", "dae_cat"):
        assert full.dae_setting(name, snap) == cut.dae_setting(name, snap)
        assert tuple(full.dae_setting(name, snap)) in {tuple(g) for g in CFG.dae_grid}
    assert full.dae_picks[snap] == cut.dae_picks[snap]
    assert full.dae_picks[snap]["dae"]["items"] > 0


def test_run_reports_paired_differences(stream):
    _, data = stream
    res = run_temporal(data, CFG)
    assert res["protocol"] == "temporal" and res["n_test_items"] >= 5
    assert sum(res["skipped"].values()) + res["n_test_items"] == data.n_items
    s = res["strategies"]
    assert abs(s["random"]["lift@20"] - 1.0) < 0.25
    assert s["mf"]["lift@20"] > s["random"]["lift@20"] + 0.5
    for name in STRATEGIES:
        e = s[name]
        assert e["lift@20_ci"][0] <= e["lift@20"] <= e["lift@20_ci"][1]
        assert e["improvement@20_ci"][0] <= e["improvement@20"] <= e["improvement@20_ci"][1]
        for base in ("popularity", "popularity_all"):
            if base == name:
                continue
            d = e["vs"][base]["lift@20"]
            assert d["diff"] == pytest.approx(e["lift@20"] - s[base]["lift@20"], abs=1e-3)
            assert d["ci"][0] <= d["diff"] + 1e-9 and d["diff"] <= d["ci"][1] + 1e-9
    assert res["attainable"]["lift@20"] >= max(e["lift@20"] for e in s.values())


def test_cli_defaults_to_temporal(stream, tmp_path, capsys):
    d, data = stream
    with open(tmp_path / "interactions.csv", "w") as f:
        f.write("user_id,item_id,timestamp\n")
        for u, i, t in zip(data.u, data.i, data.ts):
            f.write(f"u{u},i{i},{t:.0f}\n")
    with open(tmp_path / "items.csv", "w") as f:
        f.write("item_id,title,category\n")
        for i, (text, cat) in enumerate(zip(d.texts, d.categories)):
            f.write(f"i{i},{text},{cat}\n")
    args = ["--interactions", str(tmp_path / "interactions.csv"), "--items", str(tmp_path / "items.csv"),
            "--k", "20", "--seed-events", "3", "--horizon-days", "7", "--test-from", "0.4"]
    assert replay_main(args + ["--json", "--candidates", "inactive", "--inactive-days", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "temporal" and out["candidates"] == "inactive" and "base_rate" in out
    assert {"random", "popularity", "popularity_all", "mf", "lookalike", "content", "product"} <= set(out["strategies"])
    e = out["strategies"]["product"]
    assert {"lift@20", "lift@20_ci", "precision@20", "improvement@20", "improvement@20_ci", "vs"} <= set(e)
    assert set(e["vs"]) == {"popularity", "popularity_all"}
    assert {"diff", "ci"} <= set(e["vs"]["popularity"]["improvement@20"])
    assert replay_main(args) == 0
    text = capsys.readouterr().out
    assert "test items used" in text and "product" in text


def test_usual_rate_counts_past_items_a_user_was_a_candidate_for():
    """u1 was a candidate for item 0 at its decision and read it within the horizon; u2 was a
    candidate and did not; u0 was its first reader (never a candidate). Item 1 was decided
    before anyone else was active. Rates are Beta-smoothed toward the pooled rate (1/2)."""
    import dataclasses

    from recsys.temporal import usual_rates

    u = [0, 1, 1, 2]
    i = [0, 1, 0, 1]
    ts = np.array([0.0, -1.0, 0.5, -0.5]) * DAY
    data = index_data(u, i, ts, np.ones(4), 3, 2, ("a", "b"), [[], []])
    cfg = dataclasses.replace(CFG, seed_events=1, horizon_days=1.0, usual_prior=2.0)
    np.testing.assert_allclose(usual_rates(data, 2.0 * DAY, cfg), [1 / 2, 2 / 3, 1 / 3])
    # before item 0's horizon is over, nothing is known yet
    np.testing.assert_allclose(usual_rates(data.upto(0.9 * DAY), 0.9 * DAY, cfg), [0, 0, 0])
