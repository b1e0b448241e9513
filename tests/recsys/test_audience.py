"""Audience selection, MF cold start, look-alike and the replay CLI on the synthetic data set."""

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import recsys.audience as audience_mod
from recsys.audience import BlendWeights, Candidates, Content, component_scores, select_audience, select_audience_batch
from recsys.click import CLICK_FEATURES
from recsys.embedding import profile_vectors
from recsys.lookalike import lookalike_scores
from recsys.replay import main as replay_main


def _seed_rows(users, n_users):
    return sp.csr_matrix((np.ones(len(users)), (np.zeros(len(users), int), users)), shape=(1, n_users))


def _candidates(data, mf, embedding):
    vecs = embedding.content_vectors(list(data.texts))
    profiles = profile_vectors(data.event_user, vecs[data.event_item], data.event_ts, n_users=data.n_users, now=data.now, half_life=14 * 86400)
    return Candidates(
        ids=np.arange(data.n_users) + 1000,
        factors=mf.user_factors,
        profiles=profiles,
        baseline_ctr=np.bincount(data.event_user, minlength=data.n_users) / 100.0,
        days_inactive=data.days_inactive(),
        history=data.user_items(),
    )


def _content(data, mf, embedding, topic, seed_users):
    text_vec = embedding.content_vectors(["football match striker goal league"] if topic == 0 else [data.texts[int(np.flatnonzero(data.item_topic == topic)[0])]])[0]
    factors = mf.fold_in_items(_seed_rows(seed_users, data.n_users), prior=mf.project_text(text_vec[None]))[0]
    return Content(
        factors=factors,
        text_vector=text_vec,
        seed_factors=mf.user_factors[seed_users],
        seed_history=data.user_items()[seed_users],
        exclude_ids=seed_users + 1000,
    )


def test_fold_in_matches_implicit_and_finds_the_topic(data, mf):
    topic_users = np.flatnonzero(data.user_topic == 1)[:5]
    rows = _seed_rows(topic_users, data.n_users)
    ours = mf.fold_in_items(rows)[0]
    from recsys.mf import confidence_matrix

    theirs = mf._als.recalculate_item(0, confidence_matrix(rows, mf.params))
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
    scores = mf.user_factors @ ours
    assert (data.user_topic[np.argsort(-scores)[:50]] == 1).mean() > 0.8


def test_text_projection_places_unread_content_near_its_topic(data, mf, embedding):
    vec = embedding.content_vectors(["election minister parliament vote policy"])
    scores = mf.user_factors @ mf.project_text(vec)[0]
    assert (data.user_topic[np.argsort(-scores)[:50]] == 1).mean() > 0.6


def test_new_subscriber_folds_in_without_retrain(data, mf):
    items = np.flatnonzero(data.item_topic == 2)[:8]
    row = sp.csr_matrix((np.ones(len(items)), (np.zeros(len(items), int), items)), shape=(1, data.n_items))
    before = mf.user_factors.shape[0]
    model = type(mf).load(mf.save(Path(__import__("tempfile").mkdtemp()) / "m"))
    model.partial_fit_users(np.array([before]), row)
    assert model.user_factors.shape[0] == before + 1
    scores = model.item_factors @ model.user_factors[before]
    assert (data.item_topic[np.argsort(-scores)[:20]] == 2).mean() > 0.8


def test_lookalike_finds_seed_topic_and_excludes_seed(data, mf):
    seed = np.flatnonzero(data.user_topic == 3)[:5]
    s = lookalike_scores(mf.user_factors, mf.user_factors[seed], exclude=seed)
    assert np.all(np.isneginf(s[seed]))
    top = np.argsort(-s)[:50]
    assert not set(top) & set(seed)
    assert (data.user_topic[top] == 3).mean() > 0.8


def test_select_audience_picks_topic_and_reports_components(data, mf, embedding):
    cands = _candidates(data, mf, embedding)
    seed = np.flatnonzero(data.user_topic == 0)[:5]
    aud = select_audience(cands, _content(data, mf, embedding, 0, seed), k=40)
    assert len(aud.ids) == 40 and np.all(np.diff(aud.total) <= 0)
    assert not set(aud.ids) & set(seed + 1000)
    assert (data.user_topic[aud.ids - 1000] == 0).mean() > 0.8
    assert set(aud.components) == {"content", "mf", "lookalike", "neighbors", "category", "ctr", "recency", "activity"}
    assert all(len(v) == 40 for v in aud.components.values())


def test_total_is_the_weighted_sum_of_standardised_components(data, mf, embedding):
    cands = _candidates(data, mf, embedding)
    content = _content(data, mf, embedding, 2, np.flatnonzero(data.user_topic == 2)[:5])
    w = BlendWeights(content=0.3, mf=0.7, lookalike=1.1, neighbors=0.4, category=0.0, ctr=0.2, recency=0.1)
    raw, z = component_scores(cands, content)
    total = sum(w.get(c) * z[c] for c in z)
    total[np.isin(cands.ids, content.exclude_ids)] = -np.inf
    expected = np.lexsort((np.arange(len(total)), -total))[:25]
    aud = select_audience(cands, content, 25, weights=w)
    np.testing.assert_array_equal(aud.ids, cands.ids[expected])
    np.testing.assert_allclose(aud.total, total[expected], rtol=1e-4, atol=1e-4)


def test_batch_and_chunking_agree_with_single(data, mf, embedding, monkeypatch):
    cands = _candidates(data, mf, embedding)
    contents = [_content(data, mf, embedding, t, np.flatnonzero(data.user_topic == t)[:5]) for t in range(4)]
    single = [select_audience(cands, c, 30) for c in contents]
    monkeypatch.setattr(audience_mod, "_chunk_size", lambda n, m: 37)  # many ragged chunks
    batch = select_audience_batch(cands, contents, 30)
    for a, b in zip(single, batch):
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_allclose(a.total, b.total, rtol=1e-4, atol=1e-4)


class _SigmoidClick:
    """A click model: the probability grows with the MF affinity's z-score and the usual CTR."""

    feature_names = CLICK_FEATURES

    def predict_raw(self, x):
        return 1.0 / (1.0 + np.exp(-x[:, CLICK_FEATURES.index("mf_z")])) * x[:, CLICK_FEATURES.index("baseline_ctr")]

    def predict_proba(self, x):
        return self.predict_raw(x)


@pytest.mark.parametrize("reranker", [None, _SigmoidClick()])
@pytest.mark.parametrize("parts", [1, 3, 7])
@pytest.mark.parametrize("ties", [False, True])
def test_a_set_ranked_in_parts_is_ranked_as_one(data, mf, embedding, reranker, parts, ties):
    """What a sharded ranking does (apps.mlops.shards): each part's moments, merged, standardise
    every part's shortlist; the parts' shortlists merged give the whole set's audience. With
    ``ties``, most people have no factors and the affinity alone ranks: they tie, and the cut
    goes to the same people (``recsys.ids.tie_order``) however the set is split."""
    from recsys.audience import Moments, audience_best, audience_moments, audience_rescore, merge_best

    base = _candidates(data, mf, embedding)
    rng = np.random.default_rng(parts)
    days = base.days_inactive.astype(float).copy()
    days[rng.random(len(days)) < 0.2] = np.nan  # never active: counted as the whole set's longest inactive
    factors = base.factors.copy()
    if ties:
        factors[rng.random(len(factors)) < 0.7] = 0.0
    cands = dataclasses.replace(base, factors=factors, profiles=None, history=None, days_inactive=days,
                                active_days_decayed=rng.exponential(3, len(days)).astype(np.float32))
    content = dataclasses.replace(_content(data, mf, embedding, 2, np.flatnonzero(data.user_topic == 2)[:5]),
                                  text_vector=None, seed_history=None, tie_salt=parts)
    weights = BlendWeights(content=0.0, neighbors=0.0, ctr=0.0, recency=0.0 if ties else 0.5,
                           activity=0.0 if ties else 0.3)
    k, depth = (300, 400) if ties else (40, 120)
    whole = select_audience(cands, content, k, weights=weights, reranker=reranker, rerank_depth=depth)
    edges = np.linspace(0, len(cands), parts + 1).astype(int)
    pieces = [audience_mod._subset(cands, np.arange(a, b)) for a, b in zip(edges[:-1], edges[1:])]
    moments = Moments.merge([audience_moments(p, content) for p in pieces])
    assert moments.n == len(cands)
    for name in ("mf", "lookalike", "recency", "activity"):
        np.testing.assert_allclose(moments.mean_std(name), audience_mod._moments(
            cands, audience_mod._content_side(cands, [content]), len(cands))[0].mean_std(name), rtol=1e-6)
    cut = max(k, depth) if reranker else k
    bests = [audience_best(p, content, moments=moments, depth=cut, weights=weights) for p in pieces]
    ids, linear = merge_best(bests, cut, tie_salt=parts)
    assert cut - len(content.exclude_ids) <= len(ids) <= cut and np.all(np.diff(ids) > 0)  # in id order
    rows = audience_mod._subset(cands, np.searchsorted(cands.ids, ids))
    merged = audience_rescore(rows, content, linear, k, moments=moments, reranker=reranker)
    np.testing.assert_array_equal(merged.ids, whole.ids)
    np.testing.assert_allclose(merged.total, whole.total, rtol=1e-5)
    assert merged.components.keys() == whole.components.keys()
    for name in whole.components:
        np.testing.assert_allclose(merged.components[name], whole.components[name], rtol=1e-4, atol=1e-6)
    if ties:  # not simply the lowest ids: another content's ties go to other people
        other = select_audience(dataclasses.replace(cands), dataclasses.replace(content, tie_salt=parts + 100), k,
                                weights=weights, reranker=reranker, rerank_depth=depth)
        assert set(other.ids) != set(whole.ids)
    # the parts' order does not matter
    again = merge_best(bests[::-1], cut, tie_salt=parts)
    np.testing.assert_array_equal(again[0], ids)


def test_reranker_orders_by_the_models_score_and_reports_calibrated_probability(data, mf, embedding):
    class Fake:
        def predict_raw(self, x):
            return x[:, 1]  # the "mf" column

        def predict_proba(self, x):
            # a calibration map is monotone but flat in steps: many candidates tie on it
            return np.round(1.0 / (1.0 + np.exp(-x[:, 1])), 1)

    cands = _candidates(data, mf, embedding)
    content = _content(data, mf, embedding, 1, np.flatnonzero(data.user_topic == 1)[:5])
    aud = select_audience(cands, content, 20, reranker=Fake(), rerank_depth=100)
    assert np.all(np.diff(aud.total) <= 0) and np.all((aud.total >= 0) & (aud.total <= 1))
    assert len(np.unique(aud.total)) < 20  # the reported probabilities tie...
    assert "linear" in aud.components
    # ...the order does not: it follows the model's own score
    np.testing.assert_array_equal(np.argsort(-aud.components["mf"], kind="stable"), np.arange(20))


def test_reranker_orders_by_probability_over_usual_ctr_when_asked(data, mf, embedding):
    class Fake:  # a click model whose probability grows with the usual CTR and the MF affinity
        def predict_raw(self, x):
            return x[:, CLICK_FEATURES.index("baseline_ctr")] / (1.0 + np.exp(-x[:, CLICK_FEATURES.index("mf")]))

        def predict_proba(self, x):
            return self.predict_raw(x)

    cands = dataclasses.replace(_candidates(data, mf, embedding),
                                baseline_ctr=np.random.default_rng(0).uniform(0.01, 0.2, data.n_users).astype(np.float32))
    content = _content(data, mf, embedding, 1, np.flatnonzero(data.user_topic == 1)[:5])
    by_improvement = select_audience(cands, content, 30, reranker=Fake(), rerank_depth=300, rerank_by="improvement")
    by_click = select_audience(cands, content, 30, reranker=Fake(), rerank_depth=300)
    ratio = lambda aud: aud.total / aud.components["ctr"]  # noqa: E731
    # the probability over the person's usual CTR (here sigmoid(mf)): the MF
    # affinity alone decides, whatever the person's usual CTR
    assert np.all(np.diff(by_improvement.components["mf"]) <= 1e-6)
    assert ratio(by_improvement).mean() > ratio(by_click).mean()
    assert by_click.total.mean() > by_improvement.total.mean()
    with pytest.raises(ValueError, match="rerank_by"):
        select_audience(cands, content, 30, reranker=Fake(), rerank_by="clicks")


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), f=st.integers(1, 6), k=st.integers(1, 80), n_excl=st.integers(0, 10), seed=st.integers(0, 10**6))
def test_select_audience_invariants(n, f, k, n_excl, seed):
    rng = np.random.default_rng(seed)
    ids = rng.permutation(10 * n)[:n]
    cands = Candidates(ids=ids, factors=rng.standard_normal((n, f)), baseline_ctr=rng.random(n), days_inactive=rng.random(n) * 9)
    excl = rng.choice(ids, size=min(n_excl, n), replace=False)
    content = Content(factors=rng.standard_normal(f), seed_factors=rng.standard_normal((2, f)), exclude_ids=excl)
    aud = select_audience(cands, content, k)
    assert len(aud.ids) == min(k, n - len(excl))
    assert len(set(aud.ids)) == len(aud.ids) and set(aud.ids) <= set(ids) - set(excl)
    assert np.all(np.diff(aud.total) <= 1e-6)


def test_bad_inputs_are_rejected(data, mf):
    with pytest.raises(ValueError, match="rows"):
        Candidates(ids=np.arange(3), factors=np.zeros((4, 2)))
    cands = Candidates(ids=np.arange(3), factors=np.ones((3, 2)))
    with pytest.raises(ValueError, match="dims"):
        select_audience(cands, Content(factors=np.ones(5)), 2)
    with pytest.raises(ValueError, match="k must be positive"):
        select_audience(cands, Content(factors=np.ones(2)), 0)


def test_profiles_weight_recent_reads_more():
    vecs = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    p = profile_vectors(np.array([0, 0]), vecs, np.array([0.0, 100.0]), n_users=2, now=100.0, half_life=10.0)
    assert p[0, 1] > 0.99 and np.allclose(p[1], 0)


def _write_csvs(data, tmp: Path):
    rng = np.random.default_rng(0)
    with open(tmp / "interactions.csv", "w") as f:
        f.write("user_id,item_id,timestamp\n")
        for u, i, t in zip(data.event_user, data.event_item, data.event_ts):
            f.write(f"u{u},i{i},{int(t)}\n")
    with open(tmp / "items.csv", "w") as f:
        f.write("item_id,title,category,created_at\n")
        for i, (text, cat) in enumerate(zip(data.texts, data.categories)):
            f.write(f"i{i},{text},{cat}|x{rng.integers(2)},\n")


def test_replay_cli_json(data, tmp_path, capsys):
    _write_csvs(data, tmp_path)
    (tmp_path / "cands.txt").write_text("\n".join(f"u{u}" for u in range(0, data.n_users, 2)))
    args = ["--interactions", str(tmp_path / "interactions.csv"), "--items", str(tmp_path / "items.csv"), "--k", "20,40", "--json",
            "--protocol", "random"]
    assert replay_main(args + ["--candidate-users", str(tmp_path / "cands.txt")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_test_items"] > 0
    names = {"random", "popularity", "content", "mf_foldin", "lookalike", "blend"}
    assert names <= set(out["strategies"])
    blend = out["strategies"]["blend"]
    assert {"lift@20", "precision@40", "recall@40", "ndcg@20", "lift@40_ci95", "scoring_ms_per_item"} <= set(blend)
    assert blend["lift@40"] > out["strategies"]["random"]["lift@40"] + 0.5


def test_replay_cli_rejects_bad_files(tmp_path):
    (tmp_path / "i.csv").write_text("user,item\n1,2\n")
    (tmp_path / "t.csv").write_text("item_id,title\n2,x\n")
    with pytest.raises(SystemExit, match="missing column"):
        replay_main(["--interactions", str(tmp_path / "i.csv"), "--items", str(tmp_path / "t.csv")])


FORBIDDEN = {"django", "rest_framework", "celery", "apps", "pushadmin"}


def test_recsys_imports_no_django_or_project_code():
    root = Path(audience_mod.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
