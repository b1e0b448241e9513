"""Comparing two matrix-factorization configurations on data neither trained on: a time split.

Both configurations are trained on the interactions at or before ``split``; they are judged on the
contents that first appeared after it, each as the product would have met it: at its decision
time ``t`` (its first interaction plus ``delay``) the seed is who had read it by then, the
candidates are the users with an interaction before ``t`` who had not, and the hits are the
candidates who read it in ``(t, t + horizon]``. Each model ranks the candidates with
``recsys.audience.product_rank`` (the waves' ranking without a click model: MF affinity of the
content folded in from its seed, plus the seed look-alike) and scores ``lift@k``: the hit rate of
its top ``k`` over the candidates' base rate, averaged over contents (1 = random). The two
configurations' lifts are paired by content; a bootstrap over contents gives the difference's
interval.

Public API::

    cases = split_cases(u, i, ts, split=..., delay=..., horizon=..., end=...)
    lift = lift_at_k(model, cases, u, i, ts, k=...)      # (n_cases,) lifts
    rankings_check(model, cases, k=..., activity=..., rates=...)
                   -> {ranking: {"lift": (n_cases,), "improvement": (n_cases,)}}
    usual_rates(u, i, ts, n_users=..., until=..., delay=..., horizon=...) -> (n_users,)
    paired_difference(a, b, rng, weights=None) -> (mean diff, (lo, hi))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audience import product_rank

__all__ = ["SplitCase", "split_cases", "lift_at_k", "rankings_check", "usual_rates", "paired_difference"]


@dataclass(frozen=True)
class SplitCase:
    item: int  # position of the content
    t: float  # decision time
    seed: np.ndarray  # user positions who had read it by t
    later: np.ndarray  # user positions who read it in (t, t + horizon]
    # each user's first interaction time, shared by the cases: the candidates are made from it
    # when asked for (a case's candidates can be most of the users; 200 of them at once are
    # 200 arrays of that size)
    first_activity: np.ndarray = field(repr=False, compare=False)

    def candidates_and_hits(self) -> tuple[np.ndarray, np.ndarray]:
        """The user positions active before t who had not read it, and for each whether they
        read it in (t, t + horizon]."""
        candidates = self.candidates
        return candidates, np.isin(candidates, self.later, assume_unique=True)

    @property
    def candidates(self) -> np.ndarray:
        """The user positions active before t who had not read it, ascending."""
        active = self.first_activity <= self.t
        active[self.seed] = False
        return np.flatnonzero(active)

    @property
    def hits(self) -> np.ndarray:
        return self.candidates_and_hits()[1]


def split_cases(u: np.ndarray, i: np.ndarray, ts: np.ndarray, *, n_users: int, split: float, delay: float,
                horizon: float, end: float, min_seed: int = 1, min_hits: int = 1,
                max_cases: int = 200) -> list[SplitCase]:
    """The contents first seen after ``split`` whose decision and horizon are over by ``end``
    (at most ``max_cases``, the latest kept), with at least ``min_seed`` seed readers and
    ``min_hits`` hits. ``u``/``i``/``ts``: interactions as user and content positions (any
    integer type: int32 positions are used as they are, not copied) and times."""
    u, i, ts = np.asarray(u), np.asarray(i), np.asarray(ts, float)
    if not (np.issubdtype(u.dtype, np.integer) and np.issubdtype(i.dtype, np.integer)):
        u, i = u.astype(np.int64), i.astype(np.int64)
    if not (len(u) == len(i) == len(ts)):
        raise ValueError("u, i and ts must have the same length")
    if len(ts) == 0:
        return []
    n_items = int(i.max()) + 1
    first_seen = np.full(n_items, np.inf)
    np.minimum.at(first_seen, i, ts)
    items = np.flatnonzero((first_seen > split) & (first_seen + delay + horizon <= end))
    if not len(items):
        return []
    first_activity = np.full(n_users, np.inf)
    np.minimum.at(first_activity, u, ts)
    activity_order = np.sort(first_activity)
    # the interactions of the chosen items only, grouped by item (one sort, not one scan per item)
    mine = np.isin(i, items)
    iu, ii, it = u[mine], i[mine], ts[mine]
    order = np.lexsort((it, ii))
    iu, ii, it = iu[order], ii[order], it[order]
    starts = np.searchsorted(ii, items, side="left")
    ends = np.searchsorted(ii, items, side="right")
    cases = []
    for k in np.argsort(first_seen[items], kind="stable")[::-1]:  # the latest first
        item = int(items[k])
        t = first_seen[item] + delay
        readers_u, readers_t = iu[starts[k]:ends[k]], it[starts[k]:ends[k]]
        seed = np.unique(readers_u[readers_t <= t]).astype(np.int64)
        if len(seed) < min_seed:
            continue
        later = np.unique(readers_u[(readers_t > t) & (readers_t <= t + horizon)]).astype(np.int64)
        if len(later) < min_hits:
            continue
        if np.searchsorted(activity_order, t, side="right") - len(seed) <= 0:
            continue
        # the hits: later readers active before t who are not in the seed
        if np.count_nonzero((first_activity[later] <= t) & ~np.isin(later, seed)) < min_hits:
            continue
        cases.append(SplitCase(item, float(t), seed, later, first_activity))
        if len(cases) >= max_cases:
            break
    return cases[::-1]


def lift_at_k(model, cases: list[SplitCase], *, k: int, max_share: float = 0.1, user_factors: np.ndarray | None = None,
              max_candidates: int = 20_000) -> np.ndarray:
    """Each case's lift@k of ``model`` (an ``recsys.mf.ALSModel`` trained before the split).
    ``user_factors`` (default the model's) are its rows in the cases' user positions; users
    without a row have zero factors. ``k`` is at most ``max_share`` of a case's candidates (a top
    that takes everyone is random); a case with more than ``max_candidates`` candidates is judged
    on a random sample of them (seeded by the content), which keeps lift's expectation."""
    got = rankings_check(model, cases, k=k, max_share=max_share, user_factors=user_factors,
                         max_candidates=max_candidates, names=("affinity",))
    return got["affinity"]["lift"]


def rankings_check(model, cases: list[SplitCase], *, k: int, names=None, activity: np.ndarray | None = None,
                   rates: np.ndarray | None = None, max_share: float = 0.1, user_factors: np.ndarray | None = None,
                   max_candidates: int = 20_000, category_profiles: np.ndarray | None = None,
                   item_category: np.ndarray | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Each ranking of ``recsys.audience.SINGLE_RANKINGS`` (``names``, default all) on the same
    cases, as ``lift_at_k`` judges the affinity blend: per ranking, ``lift`` (one per case) and,
    with ``rates`` (each user position's usual rate, ``usual_rates``), ``improvement``: the
    hits of the top k over the hits their usual rates expect (1: the top reads as it always
    does). ``activity`` (per user position, ``recsys.activity``'s decayed active days) feeds the
    ``activity`` ranking; without it that ranking is as good as random. ``category_profiles``
    (per user position, ``recsys.activity.category_profiles``) and ``item_category`` (each item
    position's column in them, -1 for none) feed the ``category`` component."""
    from .audience import SINGLE_RANKINGS, category_inputs
    from .lookalike import row_norms
    from .mf import ALSModel, FixedUsers

    names = tuple(SINGLE_RANKINGS) if names is None else tuple(names)
    users = np.asarray(model.user_factors if user_factors is None else user_factors, dtype=np.float32)
    if isinstance(model, ALSModel) and cases:  # every case's fold-in is against the same users: F'F once
        model = FixedUsers(model, users)
    out = {name: {"lift": np.ones(len(cases)), "improvement": np.full(len(cases), np.nan)} for name in names}
    # every row's norm once (the look-alike divides by them), not once per case and step
    norms = row_norms(users) if cases else None
    read_later = np.zeros(len(cases[0].first_activity) if cases else 0, bool)  # a case's hits, marked by position
    for n, case in enumerate(cases):
        cand = case.candidates  # ascending, none of them in the seed
        if len(cand) > max_candidates:
            # the same draw as ever, in ascending order by a mask rather than a sort (not an
            # unshuffled choice: above about 400,000 candidates numpy draws another set then)
            chosen = np.zeros(len(cand), bool)
            chosen[np.random.default_rng(case.item).choice(len(cand), max_candidates, replace=False)] = True
            cand = cand[chosen]
        read_later[case.later] = True
        hits = read_later[cand]  # as case.hits, for the sampled ones only
        read_later[case.later] = False
        known = cand < len(users)
        if known.all():  # one gather (a masked assignment of rows costs ten times more)
            rows = np.take(users, cand, axis=0)
            row_norm = norms[cand]
        else:
            rows = np.zeros((len(cand), users.shape[1]), np.float32)
            rows[known] = users[cand[known]]
            row_norm = np.zeros(len(cand), np.float32)
            row_norm[known] = norms[cand[known]]
        seed = case.seed[case.seed < len(users)]
        base = hits.mean()
        if base == 0:
            continue  # nothing to find: as good as random
        top_k = max(1, min(k, int(max_share * len(cand))))
        act = None if activity is None else np.asarray(activity, np.float64)[cand]
        category = category_inputs(category_profiles, cand,
                                   -1 if item_category is None else int(item_category[case.item]))
        for name in names:
            # (the candidates exclude the seed already: nothing for the ranking to exclude)
            aud = product_rank(model, cand, rows, seed_rows=seed, k=top_k, user_factors=users, factor_norms=row_norm,
                               active_days_decayed=act, weights=SINGLE_RANKINGS[name], **category)
            if aud is None:
                continue  # nothing to rank with: as good as random
            top = np.zeros(len(cand), bool)
            top[np.searchsorted(cand, aud.ids)] = True  # the top's ids are candidates, which ascend
            if not top.any():
                continue
            out[name]["lift"][n] = hits[top].mean() / base
            if rates is not None:
                expected = float(np.asarray(rates)[cand[top]].sum())
                out[name]["improvement"][n] = hits[top].sum() / expected if expected > 0 else np.nan
    return out


def usual_rates(u: np.ndarray, i: np.ndarray, ts: np.ndarray, *, n_users: int, until: float, delay: float,
                horizon: float, prior_strength: float = 50.0) -> np.ndarray:
    """Each user's usual rate as of ``until``, from the contents whose decision (first read +
    ``delay``) and horizon were over by then: the share of those they could have been sent
    (active before the decision, not a reader by it) that they read within the horizon,
    Beta-smoothed toward the pooled rate with ``prior_strength`` pseudo-contents. The sum over a
    top is the hits it would give for an average content (the replay's improvement@k, the
    product's usual push CTR)."""
    u, i, ts = np.asarray(u, np.int64), np.asarray(i, np.int64), np.asarray(ts, float)
    past = ts <= until
    u, i, ts = u[past], i[past], ts[past]
    if not len(ts):
        return np.zeros(n_users)
    n_items = int(i.max()) + 1
    first_seen = np.full(n_items, np.inf)
    np.minimum.at(first_seen, i, ts)
    decided = first_seen + delay
    done = decided + horizon <= until
    start = np.full(n_users, np.inf)
    np.minimum.at(start, u, ts)
    t_done = np.sort(decided[done])
    exposed = (len(t_done) - np.searchsorted(t_done, start, side="left")).astype(float)  # decided after they came
    mine = done[i]
    key = u[mine] * n_items + i[mine]
    order = np.argsort(key, kind="stable")
    key, pt = key[order], ts[mine][order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    first = np.minimum.reduceat(pt, starts) if len(starts) else pt
    pu, pi = key[starts] // n_items, key[starts] % n_items
    d = decided[pi]
    exposed -= np.bincount(pu[first <= d], minlength=n_users)  # readers by the decision: the seed
    came = start[pu] <= d  # a candidate at the decision (a later newcomer's read is not a hit)
    hits = np.bincount(pu[came & (first > d) & (first <= d + horizon)], minlength=n_users).astype(float)
    exposed = np.maximum(exposed, 0.0)
    prior = hits.sum() / max(exposed.sum(), 1.0)
    return (hits + prior_strength * prior) / (exposed + prior_strength)


def paired_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, draws: int = 2000,
                      level: float = 0.95, weights: np.ndarray | None = None) -> tuple[float, tuple[float, float]]:
    """Mean of ``a - b`` over paired cases and its bootstrap interval (resampling cases);
    ``weights`` make it the weighted mean (e.g. two models' errors on the same held-out campaigns,
    weighted by exposure)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    w = np.ones_like(d) if weights is None else np.asarray(weights, float)
    if len(d) == 0 or w.sum() <= 0:
        return float("nan"), (float("nan"), float("nan"))
    idx = rng.integers(0, len(d), size=(draws, len(d)))
    ws = w[idx]
    means = np.sum(ws * d[idx], axis=1) / np.maximum(ws.sum(axis=1), 1e-300)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(np.sum(w * d) / w.sum()), (float(lo), float(hi))
