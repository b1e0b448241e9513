"""Replay: backtest the audience strategies on logged interactions before sending anything.

    python -m recsys.replay --interactions FILE --items FILE [--protocol temporal|random]
        [--k 100] [--seed-events 5] [--horizon-days 30] [--candidates all|inactive]
        [--inactive-days 7] [--test-from SHARE] [--random-state 0] [--candidate-users FILE] [--json]

``--protocol temporal`` (the default) is ``recsys.temporal``: every strategy, the product's own
ranker among them, sees only what was known at each item's decision time. ``--protocol random``
is the older protocol below (``--test-share``; ``--k`` defaults to 50,100,200 there). It leaks
the future: test items are drawn at random and the models train on every non-test interaction
whenever it happened (on MovieLens-100k 92% of those come after the moment the audience would
have been chosen, with 5 seed readers; 97% with 1), so its figures are optimistic; it is kept to compare with earlier numbers.

``interactions.csv``: ``user_id,item_id,timestamp[,weight]`` (timestamp: unix seconds or
ISO-8601; other columns are ignored). ``items.csv``: ``item_id,title[,body][,category]
[,created_at]`` (categories joined by ``|``).

Random protocol. Test items are a random share of the items with at least 30 interactions. For each,
only its first ``seed-events`` interactions by time are visible (the seed); everything of the
non-test items is training data. Candidates are all users minus the seed (only those listed in
``--candidate-users`` when given); a hit is a candidate who interacted with the item. The blend
is tuned on *validation* items, drawn from the non-test items and replayed the same way
against models trained without them: nothing is tuned on the test items.

Strategies: ``random``, ``popularity`` (most active first), ``content`` (profile x text
vector), ``mf_projection`` (item factors from the text alone), ``mf_foldin`` (item factors
folded in from the seed, text projection as prior), ``lookalike`` (seed centroid in factor
space), ``linear`` (untrained default weights of ``recsys.audience``) and ``blend`` (the
product's selection: ``select_audience`` re-ranked by the LightGBM click model).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import scipy.sparse as sp

from .audience import Candidates, Content, click_features, component_scores, select_audience
from .click import ClickModel, ClickParams
from .embedding import EmbeddingParams, TextEmbedding, profile_vectors
from .metrics import mean_ci, ranking_metrics
from .mf import ALSModel, MFParams

__all__ = ["ReplayConfig", "Interactions", "Items", "load_interactions", "load_items", "run_replay", "main"]

STRATEGIES = (
    "random", "popularity", "content", "mf_projection", "mf_foldin", "lookalike", "neighbors", "linear", "blend"
)
DAY = 86400.0


# ------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Interactions:
    user: np.ndarray  # str ids
    item: np.ndarray
    ts: np.ndarray  # float seconds
    weight: np.ndarray


@dataclass(frozen=True)
class Items:
    id: np.ndarray
    title: list
    body: list
    categories: list  # list[list[str]]
    created_at: np.ndarray  # float seconds, nan when unknown


def _time(value: str) -> float:
    value = value.strip()
    if not value:
        return float("nan")
    try:
        return float(value)
    except ValueError:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()


def _rows(path: str, required: tuple[str, ...]):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            yield line, row


def load_interactions(path: str) -> Interactions:
    users, items, ts, w = [], [], [], []
    for line, row in _rows(path, ("user_id", "item_id", "timestamp")):
        try:
            users.append(row["user_id"])
            items.append(row["item_id"])
            ts.append(_time(row["timestamp"]))
            w.append(float(row["weight"]) if row.get("weight") not in (None, "") else 1.0)
        except ValueError as e:
            raise SystemExit(f"{path}:{line}: {e}") from None
    return Interactions(np.array(users), np.array(items), np.array(ts, float), np.array(w, float))


def load_items(path: str) -> Items:
    ids, titles, bodies, cats, created = [], [], [], [], []
    for line, row in _rows(path, ("item_id", "title")):
        ids.append(row["item_id"])
        titles.append(row["title"] or "")
        bodies.append(row.get("body") or "")
        cats.append([c for c in (row.get("category") or "").split("|") if c])
        try:
            created.append(_time(row.get("created_at") or ""))
        except ValueError as e:
            raise SystemExit(f"{path}:{line}: created_at: {e}") from None
    return Items(np.array(ids), titles, bodies, cats, np.array(created, float))


# ------------------------------------------------------------------------------ the models


@dataclass(frozen=True)
class ReplayConfig:
    ks: tuple[int, ...] = (50, 100, 200)
    seed_events: int = 5
    test_share: float = 0.2
    validation_folds: int = 3  # the eligible non-test items, replayed fold by fold
    min_interactions: int = 30
    random_state: int = 0
    # MF settings tried; the one whose click model does best on held-out validation items wins
    mf_grid: tuple[MFParams, ...] = (
        MFParams(factors=64, regularization=0.05, alpha=4.0),
        MFParams(factors=32, regularization=0.1, alpha=10.0),
        MFParams(factors=32, regularization=0.05, alpha=4.0),
    )
    embedding: EmbeddingParams = EmbeddingParams(dim=48, epochs=30, min_count=1, bucket=50_000)
    click: ClickParams = ClickParams(n_estimators=400, num_leaves=15, min_child_samples=200)
    half_life_days: float = 30.0
    prior_weight: float = 1.0


@dataclass
class _Stage:
    """Everything learned from one training set, and the per-user arrays built from it."""

    mf: ALSModel
    profiles: np.ndarray
    activity: np.ndarray
    ctr: np.ndarray
    affinity: np.ndarray
    ev_user: np.ndarray  # training events sorted by (user, time)
    ev_ts: np.ndarray
    ev_start: np.ndarray  # first event position per user (len n_users + 1)
    history: sp.csr_matrix  # users x items, idf-weighted


def _train_stage(mask, u, i, ts, w, n_users, n_items, text_vecs, cat_matrix, mf_params, cfg) -> _Stage:
    u, i, ts, w = u[mask], i[mask], ts[mask], w[mask]
    ui = sp.csr_matrix((w, (u, i)), shape=(n_users, n_items))
    mf = ALSModel(mf_params).fit(ui)
    trained = np.unique(i)
    mf.fit_text_projection(text_vecs[trained], trained, l2=1.0)
    binary = ui.copy()
    binary.data[:] = 1.0
    activity = np.asarray(binary.sum(axis=1)).ravel()
    # usual "CTR": share of the catalogue a user engages with, Beta-smoothed towards the mean
    rate = activity / max(len(trained), 1)
    prior = rate.mean()
    ctr = (activity + 2.0 * prior) / (len(trained) + 2.0)
    cat_counts = (binary @ cat_matrix).toarray()
    affinity = cat_counts / np.maximum(activity, 1.0)[:, None]
    profiles = profile_vectors(u, text_vecs[i], ts, w, n_users=n_users, now=ts.max(), half_life=cfg.half_life_days * DAY)
    order = np.lexsort((ts, u))
    start = np.searchsorted(u[order], np.arange(n_users + 1))
    readers = np.asarray(binary.sum(axis=0)).ravel()
    history = (binary @ sp.diags(np.log1p(n_users / np.maximum(readers, 1.0)))).tocsr()
    return _Stage(
        mf, profiles, activity, ctr.astype(np.float32), affinity.astype(np.float32), u[order], ts[order], start, history
    )


def _days_inactive(stage: _Stage, t: float, n_users: int) -> np.ndarray:
    """Days from each user's last training event before ``t`` to ``t`` (nan: none before)."""
    before = np.where(stage.ev_ts < t, stage.ev_ts, -np.inf)
    last = np.full(n_users, -np.inf)
    has = stage.ev_start[1:] > stage.ev_start[:-1]
    last[has] = np.maximum.reduceat(before, stage.ev_start[:-1][has])
    out = (t - last) / DAY
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


@dataclass
class _Case:
    item: int
    seed: np.ndarray  # user indices
    hits: np.ndarray  # bool over users
    t: float  # decision time: the last seed event


def _cases(items_idx, u, i, ts, seed_events, n_users) -> list[_Case]:
    out = []
    for it in items_idx:
        m = i == it
        uu, tt = u[m], ts[m]
        order = np.lexsort((uu, tt))
        uu, tt = uu[order], tt[order]
        _, first = np.unique(uu, return_index=True)
        first = np.sort(first)
        seed_pos = first[:seed_events]
        hits = np.zeros(n_users, bool)
        hits[uu] = True
        out.append(_Case(int(it), uu[seed_pos], hits, float(tt[seed_pos[-1]])))
    return out


def _content(stage: _Stage, case: _Case, text_vecs, item_cats, created, cfg, n_users) -> tuple[Content, Candidates]:
    seed_rows = sp.csr_matrix((np.ones(len(case.seed)), (np.zeros(len(case.seed), int), case.seed)), shape=(1, n_users))
    prior = stage.mf.project_text(text_vecs[case.item][None, :])
    factors = stage.mf.fold_in_items(seed_rows, prior=prior, prior_weight=cfg.prior_weight)[0]
    age = (case.t - created[case.item]) / 3600.0 if np.isfinite(created[case.item]) else 0.0
    content = Content(
        factors=factors,
        text_vector=text_vecs[case.item],
        seed_factors=stage.mf.user_factors[case.seed],
        seed_history=stage.history[case.seed],
        categories=item_cats[case.item],
        exclude_ids=case.seed,
        age_hours=float(age),
        hour=int(datetime.fromtimestamp(case.t, timezone.utc).hour),
    )
    return content, prior[0]


def _candidates(stage: _Stage, pool: np.ndarray, case: _Case, n_users: int) -> Candidates:
    rows = pool[~np.isin(pool, case.seed)]
    return Candidates(
        ids=rows,
        factors=stage.mf.user_factors[rows],
        profiles=stage.profiles[rows],
        baseline_ctr=stage.ctr[rows],
        days_inactive=_days_inactive(stage, case.t, n_users)[rows],
        category_affinity=stage.affinity[rows],
        history=stage.history[rows],
    )


# ----------------------------------------------------------------------------- the replay


@dataclass
class ReplayResult:
    n_test_items: int
    n_validation_items: int
    n_users: int
    n_candidates_mean: float
    strategies: dict = field(default_factory=dict)
    click_model: dict = field(default_factory=dict)
    mf_selection: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "n_test_items": self.n_test_items,
            "n_validation_items": self.n_validation_items,
            "n_users": self.n_users,
            "n_candidates_mean": self.n_candidates_mean,
            "strategies": self.strategies,
            "click_model": self.click_model,
            "mf_selection": self.mf_selection,
        }


def run_replay(
    inter: Interactions, items: Items, cfg: ReplayConfig = ReplayConfig(), candidate_users=None, log=None
) -> ReplayResult:
    say = log or (lambda msg: None)
    rng = np.random.default_rng(cfg.random_state)
    known = np.isin(inter.item, items.id)
    if not known.all():
        say(f"ignoring {int((~known).sum())} interactions of items missing from the items file")
    user_ids, u = np.unique(inter.user[known], return_inverse=True)
    item_pos = {iid: n for n, iid in enumerate(items.id)}
    i = np.array([item_pos[x] for x in inter.item[known]], dtype=np.int64)
    ts, w = inter.ts[known], inter.weight[known]
    n_users, n_items = len(user_ids), len(items.id)

    # text: trained on every content's text (text exists before anyone reads it)
    texts = [" ".join([t, b, " ".join(c)]) for t, b, c in zip(items.title, items.body, items.categories)]
    say("training the text embedding")
    emb = TextEmbedding.train(texts, cfg.embedding)
    text_vecs = emb.content_vectors(texts)
    cat_names = sorted({c for cs in items.categories for c in cs})
    cat_index = {c: n for n, c in enumerate(cat_names)}
    item_cats = [np.array([cat_index[c] for c in cs], np.int64) for cs in items.categories]
    cm_rows = np.concatenate([np.full(len(c), n) for n, c in enumerate(item_cats)]).astype(np.int64)
    cat_matrix = sp.csr_matrix(
        (np.ones(len(cm_rows)), (cm_rows, np.concatenate(item_cats))), shape=(n_items, max(len(cat_names), 1))
    )

    # split: test and validation among the items with enough interactions
    pairs = np.unique(np.stack([i, u]), axis=1)
    per_item = np.bincount(pairs[0], minlength=n_items)
    eligible = np.flatnonzero(per_item >= cfg.min_interactions)
    shuffled = rng.permutation(eligible)
    n_test = int(round(len(eligible) * cfg.test_share))
    test_items = np.sort(shuffled[:n_test])
    valid_items = np.sort(shuffled[n_test:])
    if len(test_items) == 0 or len(valid_items) < cfg.validation_folds:
        raise SystemExit("not enough items with at least %d interactions" % cfg.min_interactions)

    pool = np.arange(n_users)
    if candidate_users is not None:
        pos = {uid: n for n, uid in enumerate(user_ids)}
        pool = np.array(sorted({pos[x] for x in candidate_users if x in pos}), dtype=np.int64)
        if len(pool) == 0:
            raise SystemExit("none of the candidate users occurs in the interactions")

    is_test = np.isin(i, test_items)

    # validation: each fold of the non-test items is replayed against models trained without
    # it (and without the test items); the click model learns from those replays, and the MF
    # setting is chosen by that click model's AUC on validation items it did not train on
    folds = np.array_split(rng.permutation(valid_items), cfg.validation_folds)
    best, selection = None, {}
    for mf_params in cfg.mf_grid:
        xs, ys, gs = [], [], []
        for fold in folds:
            stage_a = _train_stage(~is_test & ~np.isin(i, fold), u, i, ts, w, n_users, n_items, text_vecs, cat_matrix, mf_params, cfg)
            for case in _cases(np.sort(fold), u, i, ts, cfg.seed_events, n_users):
                content, _ = _content(stage_a, case, text_vecs, item_cats, items.created_at, cfg, n_users)
                cands = _candidates(stage_a, pool, case, n_users)
                raw, z = component_scores(cands, content)
                xs.append(click_features(cands, content, raw, z))
                ys.append(case.hits[cands.ids])
                gs.append(np.full(len(cands), case.item))
        click = ClickModel(cfg.click).fit(np.vstack(xs), np.concatenate(ys), np.concatenate(gs))
        label = f"factors={mf_params.factors} regularization={mf_params.regularization} alpha={mf_params.alpha}"
        selection[label] = round(click.metrics["holdout_auc"], 4)
        say(f"MF {label}: click model {click.metrics}")
        if best is None or click.metrics["holdout_auc"] > best[2].metrics["holdout_auc"]:
            best = (label, mf_params, click)
    mf_label, mf_params, click = best

    # stage B: every non-test interaction; evaluate on the test items
    say(f"stage B: {len(test_items)} test items")
    stage_b = _train_stage(~is_test, u, i, ts, w, n_users, n_items, text_vecs, cat_matrix, mf_params, cfg)
    kmax = max(cfg.ks)
    per_strategy: dict[str, list[dict]] = {s: [] for s in STRATEGIES}
    timing = {s: 0.0 for s in STRATEGIES}
    n_cands = []
    for case in _cases(test_items, u, i, ts, cfg.seed_events, n_users):
        content, projected = _content(stage_b, case, text_vecs, item_cats, items.created_at, cfg, n_users)
        cands = _candidates(stage_b, pool, case, n_users)
        hits = case.hits[cands.ids]
        n_rel = int(hits.sum())
        n_cands.append(len(cands))
        if n_rel == 0:
            continue
        for name in STRATEGIES:
            t0 = time.perf_counter()
            order = _rank(name, cands, content, projected, stage_b, click, kmax, rng)
            timing[name] += time.perf_counter() - t0
            ranked_hits = hits[order]
            row = {}
            for k in cfg.ks:
                row.update(ranking_metrics(ranked_hits, n_rel, len(cands), min(k, len(cands))) if k <= len(cands) else {})
            per_strategy[name].append(row)

    n_eval = len(per_strategy["blend"])
    result = ReplayResult(
        n_eval,
        len(valid_items),
        n_users,
        float(np.mean(n_cands)),
        click_model=click.metrics,
        mf_selection={"validation_auc": selection, "chosen": mf_label},
    )
    for name, rows in per_strategy.items():
        summary = {}
        for key in rows[0] if rows else []:
            mean, lo, hi = mean_ci([r.get(key, np.nan) for r in rows])
            summary[key] = round(mean, 4)
            summary[key + "_ci95"] = [round(lo, 4), round(hi, 4)]
        summary["scoring_ms_per_item"] = round(1000 * timing[name] / max(n_eval, 1), 3)
        result.strategies[name] = summary
    return result


def _rank(name, cands: Candidates, content: Content, projected, stage: _Stage, click, kmax, rng) -> np.ndarray:
    """Candidate positions, best first (at least ``kmax`` of them)."""
    n = len(cands)
    if name == "random":
        return rng.permutation(n)
    if name == "blend" or name == "linear":
        aud = select_audience(cands, content, kmax, reranker=click if name == "blend" else None, rerank_depth=n)
        pos = {uid: p for p, uid in enumerate(cands.ids)}
        return np.array([pos[x] for x in aud.ids], dtype=np.int64)
    if name == "popularity":
        score = stage.activity[cands.ids]
    elif name == "content":
        score = cands.profiles @ content.text_vector
    elif name == "mf_projection":
        score = cands.factors @ projected
    elif name == "mf_foldin":
        score = cands.factors @ content.factors
    elif name in ("lookalike", "neighbors"):
        raw, _ = component_scores(cands, content)
        score = raw[name]
    else:  # pragma: no cover
        raise ValueError(name)
    return np.lexsort((np.arange(n), -np.asarray(score, dtype=np.float64)))


# ----------------------------------------------------------------------------------- CLI


def _format_table(result: ReplayResult, ks) -> str:
    lines = [
        f"test items: {result.n_test_items}   validation items: {result.n_validation_items}   "
        f"users: {result.n_users}   candidates per item: {result.n_candidates_mean:.0f}",
        f"click model (validation items, held-out share): {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.click_model.items()})}",
        f"MF setting chosen on validation items: {result.mf_selection['chosen']} (click-model AUC per setting: {result.mf_selection['validation_auc']})",
        "",
    ]
    cols = [f"{m}@{k}" for k in ks for m in ("lift", "precision", "recall", "ndcg")]
    lines.append(f"{'strategy':<14}" + "".join(f"{c:>14}" for c in cols) + f"{'ms/item':>10}")
    for name, s in result.strategies.items():
        cells = "".join(f"{s.get(c, float('nan')):>14.3f}" for c in cols)
        lines.append(f"{name:<14}{cells}{s['scoring_ms_per_item']:>10.2f}")
    lines.append("")
    for k in ks:
        key = f"lift@{k}"
        lines.append(f"{key} with 95% interval: " + ", ".join(
            f"{n} {s[key]:.2f} [{s[key + '_ci95'][0]:.2f}, {s[key + '_ci95'][1]:.2f}]" for n, s in result.strategies.items() if key in s
        ))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recsys.replay", description=__doc__.split("\n\n")[0])
    ap.add_argument("--interactions", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--protocol", choices=("temporal", "random"), default="temporal",
                    help="temporal: nothing after each decision is seen; random: the older, leaking split")
    ap.add_argument("--k", default=None, help="comma-separated cut-offs (temporal: 100; random: 50,100,200)")
    ap.add_argument("--seed-events", type=int, default=5)
    ap.add_argument("--horizon-days", type=float, default=30.0, help="temporal: a hit reads within this after t")
    ap.add_argument("--candidates", choices=("all", "inactive"), default="all",
                    help="temporal: inactive keeps candidates idle for --inactive-days at t")
    ap.add_argument("--inactive-days", type=float, default=7.0)
    ap.add_argument("--test-from", type=float, default=None,
                    help="temporal: the test period starts when this share of the interactions has happened "
                         "(default: as early as a fair test allows, once a 30-day popularity window and one "
                         "horizon of history lie behind it)")
    ap.add_argument("--test-share", type=float, default=0.2, help="random protocol: share of items tested")
    ap.add_argument("--random-state", type=int, default=0)
    ap.add_argument("--candidate-users", help="file with one user id per line: the only candidates")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--verbose", action="store_true", help="progress on stderr")
    a = ap.parse_args(argv)
    try:
        k_arg = a.k or ("100" if a.protocol == "temporal" else "50,100,200")
        ks = tuple(sorted({int(x) for x in k_arg.split(",") if x.strip()}))
    except ValueError:
        ap.error("--k: comma-separated positive integers expected")
    if not ks or min(ks) <= 0:
        ap.error("--k: positive integers expected")
    if a.seed_events < 1:
        ap.error("--seed-events must be at least 1")
    if not 0 < a.test_share < 1:
        ap.error("--test-share must be in (0, 1)")
    cand = None
    if a.candidate_users:
        with open(a.candidate_users, encoding="utf-8") as f:
            cand = [line.strip() for line in f if line.strip()]
    _limit_threads()
    log = (lambda m: print(m, file=sys.stderr)) if a.verbose else None
    if a.protocol == "temporal":
        if a.horizon_days <= 0 or a.inactive_days < 0 or not (a.test_from is None or 0 <= a.test_from < 1):
            ap.error("--horizon-days must be positive, --inactive-days non-negative, --test-from in [0, 1)")
        from .temporal import TemporalConfig, format_temporal, run_temporal

        tcfg = TemporalConfig(ks=ks, seed_events=a.seed_events, horizon_days=a.horizon_days, test_from=a.test_from,
                              candidates=a.candidates, inactive_days=a.inactive_days, random_state=a.random_state)
        data, pool = _temporal_data(load_interactions(a.interactions), load_items(a.items), cand, log)
        try:
            res = run_temporal(data, tcfg, pool, log)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        print(json.dumps(res) if a.json else format_temporal(res))
        return 0
    cfg = ReplayConfig(ks=ks, seed_events=a.seed_events, test_share=a.test_share, random_state=a.random_state)
    result = run_replay(load_interactions(a.interactions), load_items(a.items), cfg, cand, log)
    if a.json:
        print(json.dumps(result.to_json()))
    else:
        print(_format_table(result, ks))
    return 0


def _temporal_data(inter: Interactions, items: Items, candidate_users, log):
    from .temporal import index_data

    known = np.isin(inter.item, items.id)
    if not known.all() and log:
        log(f"ignoring {int((~known).sum())} interactions of items missing from the items file")
    user_ids, u = np.unique(inter.user[known], return_inverse=True)
    item_pos = {iid: n for n, iid in enumerate(items.id)}
    i = np.array([item_pos[x] for x in inter.item[known]], dtype=np.int64)
    texts = [" ".join([t, b, " ".join(c)]) for t, b, c in zip(items.title, items.body, items.categories)]
    data = index_data(u, i, inter.ts[known], inter.weight[known], len(user_ids), len(items.id), texts, items.categories)
    pool = None
    if candidate_users is not None:
        pos = {uid: n for n, uid in enumerate(user_ids)}
        pool = np.array(sorted({pos[x] for x in candidate_users if x in pos}), dtype=np.int64)
        if len(pool) == 0:
            raise SystemExit("none of the candidate users occurs in the interactions")
    return data, pool


def _limit_threads() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


if __name__ == "__main__":
    sys.exit(main())
