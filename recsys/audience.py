"""Audience selection: for a content, rank every eligible candidate and keep the top k.

Each candidate gets component scores, each a dot product of a candidate-side matrix with a
content-side vector, so one matrix product scores everyone (no Python loop per subscriber):

==============  ================================================  ===========================
component       candidate side                                    content side
==============  ================================================  ===========================
``content``     profile vector (``recsys.embedding``)             text vector
``mf``          MF user factors (``recsys.mf``)                   item factors (fold-in/projection)
``lookalike``   unit MF user factors                              seed centroid (``recsys.lookalike``)
``neighbors``   unit history rows (what each one read)            the seed's history centroid
``category``    long-horizon mix of reads per category (unit)     indicator of its categories
``ctr``         usual push CTR                                    (same for every content)
``recency``     -log1p(days since last activity)                  (same for every content)
``activity``    log1p(decayed distinct active days, 180 days)     (same for every content)
==============  ================================================  ===========================

The linear total is ``sum(weight * z)`` with each component standardised over the candidates
of that content (z-score), so components on different scales mix. A component the content
cannot have (no seed yet, no text) drops out. With a ``ClickModel`` as ``reranker``, the best
``rerank_depth`` candidates by the linear total are re-scored by the model and re-ordered by
``rerank_by``: ``"click"`` (default), the click probability (the clicks a push brings, what a
slot is valued by); ``"improvement"``, the probability over the person's usual push CTR
(``Candidates.baseline_ctr``): the click improvement the push is expected to bring, which
favours people who rarely click (docs/recsys.md: the temporal replay's trade-off between the
two). The calibrated click probability becomes the total either way. The caller filters
eligibility (opt-in, frequency cap, quiet hours) before; ``Content.exclude_ids`` (the seed,
earlier recipients) are never returned.

Memory: candidates are scored in chunks, so beyond the inputs only a few float32 arrays of
one chunk are alive; no normalised copy of the factor matrix is made.

Public API::

    Candidates(ids, factors, profiles=None, baseline_ctr=None, days_inactive=None,
               category_affinity=None, history=None, factor_norms=None, reads_decayed=None,
               active_days_decayed=None)
    Content(factors=None, text_vector=None, seed_factors=None, seed_weights=None,
            categories=None, seed_history=None, exclude_ids=(), age_hours=0.0, hour=12)
    BlendWeights(content=0.5, mf=1.0, lookalike=1.0, neighbors=1.0, category=0.5, ctr=1.0,
                 recency=0.5, activity=0.0)
    PRODUCT_WEIGHTS, SINGLE_RANKINGS   # the waves' affinity blend; each single component's weights
    select_audience(candidates, content, k, weights=BlendWeights(), reranker=None,
                    rerank_depth=5000, rerank_by="click") -> Audience(ids, total, components)
    select_audience_batch(candidates, contents, k, ...) -> list[Audience]
    product_rank(model, candidate_ids, candidate_factors, *, seed_rows, k, item_factors=None,
                 exclude_ids=None, user_factors=None, click_model=None, baseline_ctr=None,
                 days_inactive=None, age_hours=0.0, hour=12, reads_decayed=None,
                 active_days_decayed=None, weights=PRODUCT_WEIGHTS, category_affinity=None,
                 categories=None) -> Audience | None   # what waves run
    category_inputs(profiles, rows, column) -> dict   # product_rank's category component of one content
    product_features(model, candidate_ids, candidate_factors, *, seed_rows, ...) -> X | None
                                                   # the click model's rows, as product_rank sees them
    component_scores(candidates, content, moments=None, rows=None) -> (raw, z): dicts of (n,) arrays
    # one set of candidates split in parts (subscriber ranges), ranked as one:
    audience_moments(part, content) -> Moments; Moments.merge(parts' moments)
    audience_best(part, content, moments=merged, depth=...) -> (ids, linear)
    merge_best(parts' bests, depth) -> (ids, linear)     # the whole set's shortlist
    audience_rescore(its rows, content, linear, k, moments=merged, reranker=...) -> Audience
    product_moments(...), product_best(...), product_rescore(...)   # the same for product_rank
    click_features(candidates, content, raw, z, rows=None, names=CLICK_FEATURES) -> (r, len(names)) array
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import scipy.sparse as sp

from .click import CLICK_FEATURES
from .ids import tie_order
from .lookalike import row_norms, seed_centroid

__all__ = [
    "Candidates",
    "Content",
    "BlendWeights",
    "Audience",
    "COMPONENTS",
    "select_audience",
    "select_audience_batch",
    "component_scores",
    "click_features",
    "click_features_without_model",
    "PRODUCT_WEIGHTS",
    "SINGLE_RANKINGS",
    "product_rank",
    "product_features",
    "category_inputs",
    "Moments",
    "audience_moments",
    "audience_best",
    "merge_best",
    "audience_rescore",
    "product_moments",
    "product_best",
    "product_rescore",
    "product_item",
]

# content-specific components (a matrix product each) and candidate-only ones
_PER_CONTENT = ("content", "mf", "lookalike", "neighbors", "category")
_PER_CANDIDATE = ("ctr", "recency", "activity")
COMPONENTS = _PER_CONTENT + _PER_CANDIDATE


def _f32(x, ndim: int, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    return a


@dataclass(frozen=True)
class Candidates:
    """Eligible subscribers of one send, one row each, all arrays aligned with ``ids``."""

    ids: np.ndarray
    factors: np.ndarray
    profiles: np.ndarray | None = None
    baseline_ctr: np.ndarray | None = None
    days_inactive: np.ndarray | None = None
    category_affinity: np.ndarray | None = None
    history: sp.csr_matrix | None = None  # (n, items) what each one read, e.g. idf-weighted
    factor_norms: np.ndarray | None = None  # cache of row norms, reused across sends
    reads_decayed: np.ndarray | None = None  # long-horizon activity (recsys.activity), click-model inputs only
    active_days_decayed: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.ids)
        object.__setattr__(self, "ids", np.asarray(self.ids))
        object.__setattr__(self, "factors", _f32(self.factors, 2, "factors"))
        if self.history is not None:
            object.__setattr__(self, "history", sp.csr_matrix(self.history, dtype=np.float32))
        for f in fields(self)[2:]:
            v = getattr(self, f.name)
            if v is None or f.name == "history":
                continue
            v = _f32(v, 2 if f.name in ("profiles", "category_affinity") else 1, f.name)
            object.__setattr__(self, f.name, v)
        for f in fields(self)[1:]:
            v = getattr(self, f.name)
            if v is not None and v.shape[0] != n:
                raise ValueError(f"{f.name} has {v.shape[0]} rows, ids has {n}")

    def __len__(self) -> int:
        return len(self.ids)

    def with_norms(self) -> Candidates:
        """A copy carrying the factor row norms, to score many contents without recomputing."""
        if self.factor_norms is not None:
            return self
        from dataclasses import replace

        return replace(self, factor_norms=row_norms(self.factors))


@dataclass(frozen=True)
class Content:
    """What is known of one content at decision time."""

    factors: np.ndarray | None = None  # item factors: fold-in from early readers, or text projection
    text_vector: np.ndarray | None = None  # recsys.embedding content vector
    seed_factors: np.ndarray | None = None  # MF factors of the seed (early readers / clickers)
    seed_weights: np.ndarray | None = None
    categories: np.ndarray | None = None  # column indices into Candidates.category_affinity
    seed_history: sp.spmatrix | None = None  # (seed, items) the seed's history rows
    exclude_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    age_hours: float = 0.0
    hour: int = 12
    push_score: float | None = None  # predicted click improvement at its evaluation (the click model's input)
    tie_salt: int = 0  # which people win ties between equal scores (recsys.ids.tie_order), e.g. its id


@dataclass(frozen=True)
class BlendWeights:
    content: float = 0.5
    mf: float = 1.0
    lookalike: float = 1.0
    neighbors: float = 1.0
    category: float = 0.5
    ctr: float = 1.0
    recency: float = 0.5
    activity: float = 0.0

    def get(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True)
class Audience:
    """The chosen top k, best first: ``components[name][i]`` is ``ids[i]``'s raw score."""

    ids: np.ndarray
    total: np.ndarray
    components: dict[str, np.ndarray]


# ------------------------------------------------------------------------------ internals


@dataclass(frozen=True)
class _Side:
    """Content-side matrices of a batch: one column per content, and which ones apply."""

    mats: dict[str, np.ndarray]  # name -> (dim, m) float32
    present: dict[str, np.ndarray]  # name -> (m,) bool


def _content_side(cands: Candidates, contents: Sequence[Content]) -> _Side:
    m = len(contents)
    f = cands.factors.shape[1]
    dims = {
        "mf": f,
        "lookalike": f,
        "content": None if cands.profiles is None else cands.profiles.shape[1],
        "category": None if cands.category_affinity is None else cands.category_affinity.shape[1],
        "neighbors": None if cands.history is None else cands.history.shape[1],
    }
    mats = {k: np.zeros((d, m), np.float32) for k, d in dims.items() if d is not None}
    present = {k: np.zeros(m, bool) for k in _PER_CONTENT}
    for j, c in enumerate(contents):
        if c.factors is not None:
            v = np.asarray(c.factors, np.float32).reshape(-1)
            if len(v) != f:
                raise ValueError(f"content {j}: factors have {len(v)} dims, candidates {f}")
            mats["mf"][:, j], present["mf"][j] = v, True
        if c.seed_factors is not None and np.size(c.seed_factors):
            mats["lookalike"][:, j] = seed_centroid(np.asarray(c.seed_factors).reshape(-1, f), c.seed_weights)
            present["lookalike"][j] = True
        if c.text_vector is not None and "content" in mats:
            v = np.asarray(c.text_vector, np.float32).reshape(-1)
            if len(v) != dims["content"]:
                raise ValueError(f"content {j}: text vector has {len(v)} dims, profiles {dims['content']}")
            mats["content"][:, j], present["content"][j] = v, bool(np.any(v))
        if c.seed_history is not None and c.seed_history.shape[0] and "neighbors" in mats:
            h = sp.csr_matrix(c.seed_history, dtype=np.float32)
            hn = np.sqrt(np.asarray(h.multiply(h).sum(axis=1)).ravel())
            v = np.asarray((sp.diags(1.0 / np.maximum(hn, 1e-12)) @ h).sum(axis=0)).ravel()
            nv = float(np.linalg.norm(v))
            if nv > 0:
                mats["neighbors"][:, j], present["neighbors"][j] = v / nv, True
        if c.categories is not None and len(c.categories) and "category" in mats:
            mats["category"][np.asarray(c.categories, np.int64), j] = 1.0
            present["category"][j] = True
    return _Side(mats, present)


def _chunk_raw(cands: Candidates, side: _Side, rows) -> dict[str, np.ndarray]:
    """Raw content components for candidate ``rows`` (slice or index array): (b, m) each."""
    u = cands.factors[rows]
    out = {}
    if "mf" in side.mats:
        out["mf"] = u @ side.mats["mf"]
    norms = row_norms(u) if cands.factor_norms is None else cands.factor_norms[rows]
    out["lookalike"] = (u @ side.mats["lookalike"]) / np.maximum(norms, 1e-12)[:, None]
    if "content" in side.mats:
        out["content"] = cands.profiles[rows] @ side.mats["content"]
    if "category" in side.mats:
        out["category"] = cands.category_affinity[rows] @ side.mats["category"]
    if "neighbors" in side.mats:
        h = cands.history[rows]
        hn = np.sqrt(np.asarray(h.multiply(h).sum(axis=1)).ravel()).astype(np.float32)
        out["neighbors"] = np.asarray(h @ side.mats["neighbors"]) / np.maximum(hn, 1e-12)[:, None]
    return out


def _recency(cands: Candidates, worst: float | None = None) -> np.ndarray:
    """-log1p(days inactive); the never active count as the longest inactive (``worst``: the
    largest known days of the whole candidate set, default this one's)."""
    n = len(cands)
    if cands.days_inactive is None:
        return np.zeros(n, np.float32)
    d = cands.days_inactive
    if worst is None:
        worst = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
    return -np.log1p(np.maximum(np.where(np.isfinite(d), d, worst), 0.0)).astype(np.float32)


def _candidate_components(cands: Candidates, worst: float | None = None) -> dict[str, np.ndarray]:
    n = len(cands)
    ctr = np.zeros(n, np.float32) if cands.baseline_ctr is None else cands.baseline_ctr
    a = cands.active_days_decayed
    act = np.zeros(n, np.float32) if a is None else np.log1p(np.maximum(np.nan_to_num(a), 0.0)).astype(np.float32)
    return {"ctr": ctr, "recency": _recency(cands, worst), "activity": act}


def _zscore(x: np.ndarray, mean, std) -> np.ndarray:
    return (x - mean) / np.where(std > 0, std, 1.0)


def _chunk_size(n: int, m: int) -> int:
    return int(max(4096, min(n, (1 << 21) // max(m, 1))))


@dataclass(frozen=True)
class Moments:
    """Sums of a candidate set's components (first and second powers, float64), from which the
    z-scores' means and standard deviations come. Additive over disjoint parts of the set:
    ``Moments.merge`` of the parts' moments (in a fixed order) stands for the whole set's, so
    candidates split by subscriber ranges (``apps.mlops.shards``) rank as one set.

    ``s1``/``s2``: per content component, one value per content; per candidate component, one
    value. Recency's sums cover the candidates with known days only: the ``days_missing`` others
    count as the set's longest inactive (``worst_days``), known only once the parts are merged."""

    n: int
    s1: dict[str, np.ndarray]
    s2: dict[str, np.ndarray]
    worst_days: float = -np.inf
    days_missing: int = 0

    @staticmethod
    def merge(parts: Sequence["Moments"]) -> "Moments":
        if not parts:
            raise ValueError("merge needs at least one part")
        names = parts[0].s1.keys()
        if any(p.s1.keys() != names for p in parts):
            raise ValueError("the parts' moments cover different components")
        s1 = {k: np.sum([p.s1[k] for p in parts], axis=0) for k in names}
        s2 = {k: np.sum([p.s2[k] for p in parts], axis=0) for k in names}
        return Moments(sum(p.n for p in parts), s1, s2, max(p.worst_days for p in parts),
                       sum(p.days_missing for p in parts))

    def worst(self) -> float:
        """The longest known inactivity (0 with none known): the never active's days."""
        return float(self.worst_days) if np.isfinite(self.worst_days) else 0.0

    def mean_std(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        s1, s2, n = self.s1[name], self.s2[name], max(self.n, 1)
        if name == "recency" and self.days_missing:
            r = -np.log1p(max(self.worst(), 0.0))
            s1, s2 = s1 + self.days_missing * r, s2 + self.days_missing * r * r
        mean = s1 / n
        return mean.astype(np.float32), np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0)).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """As named arrays (``np.savez``), for ``from_arrays`` in another process."""
        out = {"n": np.array(self.n), "worst_days": np.array(self.worst_days), "days_missing": np.array(self.days_missing)}
        out.update({f"s1.{k}": v for k, v in self.s1.items()})
        out.update({f"s2.{k}": v for k, v in self.s2.items()})
        return out

    @staticmethod
    def from_arrays(a) -> "Moments":
        names = [k[3:] for k in a if k.startswith("s1.")]
        return Moments(int(a["n"]), {k: np.asarray(a[f"s1.{k}"]) for k in names},
                       {k: np.asarray(a[f"s2.{k}"]) for k in names}, float(a["worst_days"]), int(a["days_missing"]))


def _candidate_sums(cands: Candidates) -> tuple[dict, dict, float, int]:
    comps = _candidate_components(cands, worst=0.0)
    d = cands.days_inactive
    known = np.ones(len(cands), bool) if d is None else np.isfinite(d)
    s1, s2 = {}, {}
    for k, v in comps.items():
        v = (v[known] if k == "recency" else v).astype(np.float64)
        s1[k], s2[k] = np.array([v.sum()]), np.array([np.dot(v, v)])
    worst = float(np.max(d[known])) if d is not None and known.any() else -np.inf
    return s1, s2, worst, int((~known).sum())


def _moments(cands: Candidates, side: _Side, chunk: int):
    """The candidates' ``Moments`` (every content component of ``side``, every candidate one),
    and the raw content components when one chunk held them all (else None)."""
    n = len(cands)
    s1 = {k: np.zeros(side.mats[k].shape[1]) for k in side.mats}
    s2 = {k: np.zeros(side.mats[k].shape[1]) for k in side.mats}
    first = None
    for lo in range(0, n, chunk):
        raw = _chunk_raw(cands, side, slice(lo, lo + chunk))
        if lo == 0 and chunk >= n:
            first = raw
        for k, v in raw.items():
            s1[k] = s1[k] + v.sum(axis=0, dtype=np.float64)
            s2[k] = s2[k] + np.einsum("ij,ij->j", v, v, dtype=np.float64)
    c1, c2, worst, missing = _candidate_sums(cands)
    return Moments(n, {**s1, **c1}, {**s2, **c2}, worst, missing), first


def _exclusion_sorted(contents: Sequence[Content]) -> list[np.ndarray]:
    return [np.unique(np.asarray(c.exclude_ids)) for c in contents]


def component_scores(cands: Candidates, content: Content, *, moments: Moments | None = None,
                     rows: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Raw and standardised components of one content for every candidate (``rows``: for the
    candidates at those positions only), (n,) arrays each. ``moments``: the set's
    (``audience_moments``; default computed from ``cands``), e.g. merged over shards.

    Components the content lacks (no seed, no text...) are zeros in both dicts.
    """
    side = _content_side(cands, [content])
    first = None
    if moments is None:
        moments, first = _moments(cands, side, len(cands) or 1)
    sel = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
    n = len(cands) if rows is None else len(sel)
    raw = {k: v[:, 0] for k, v in (first if first is not None and rows is None else _chunk_raw(cands, side, sel)).items()}
    z = {}
    for k in _PER_CONTENT:
        if k in raw and side.present[k][0]:
            mean, std = moments.mean_std(k)
            z[k] = _zscore(raw[k], mean[0], std[0])
        else:
            raw[k] = np.zeros(n, np.float32)
            z[k] = raw[k]
    for k, v in _candidate_components(cands, moments.worst()).items():
        mean, std = moments.mean_std(k)
        raw[k] = v[sel]
        z[k] = _zscore(raw[k], mean[0], std[0])
    return raw, z


def click_features(
    cands: Candidates,
    content: Content,
    raw: dict[str, np.ndarray],
    z: dict[str, np.ndarray],
    rows: np.ndarray | None = None,
    names: Sequence[str] = CLICK_FEATURES,
) -> np.ndarray:
    """Rows of ``CLICK_FEATURES`` for candidate ``rows`` (default all) of one content.

    ``names``: the columns, in order (default ``CLICK_FEATURES``); a click model trained on an
    older list gets the columns it was trained on. An input the candidates do not carry is NaN,
    which LightGBM treats as missing."""
    sel = slice(None) if rows is None else rows
    n = len(cands) if rows is None else len(rows)
    days = cands.days_inactive[sel] if cands.days_inactive is not None else np.full(n, np.nan, np.float32)
    ctr = cands.baseline_ctr[sel] if cands.baseline_ctr is not None else np.full(n, np.nan, np.float32)
    missing = np.full(n, np.nan, np.float32)
    cols = {
        "content": raw["content"][sel],
        "mf": raw["mf"][sel],
        "lookalike": raw["lookalike"][sel],
        "neighbors": raw["neighbors"][sel],
        "category": raw["category"][sel],
        "content_z": z["content"][sel],
        "mf_z": z["mf"][sel],
        "lookalike_z": z["lookalike"][sel],
        "neighbors_z": z["neighbors"][sel],
        "category_z": z["category"][sel],
        "baseline_ctr": ctr,
        "days_inactive": days,
        "content_age_h": np.full(n, content.age_hours, np.float32),
        "hour": np.full(n, content.hour, np.float32),
        "reads_decayed": cands.reads_decayed[sel] if cands.reads_decayed is not None else missing,
        "active_days_decayed": cands.active_days_decayed[sel] if cands.active_days_decayed is not None else missing,
        "push_score": np.full(n, np.nan if content.push_score is None else content.push_score, np.float32),
    }
    return np.column_stack([cols[name] for name in names]).astype(np.float32)


def click_features_without_model(
    n: int,
    *,
    baseline_ctr: np.ndarray | None = None,
    days_inactive: np.ndarray | None = None,
    age_hours: float = 0.0,
    hour: int = 12,
    reads_decayed: np.ndarray | None = None,
    active_days_decayed: np.ndarray | None = None,
    names: Sequence[str] = CLICK_FEATURES,
    push_score: float | None = None,
) -> np.ndarray:
    """Rows of ``CLICK_FEATURES`` for ``n`` people ranked without a trained model (the
    interim ranker): what is known of them without factors, the ten model components missing
    (NaN, which LightGBM treats as missing, not as an average score of 0). A client's first
    waves then teach its click model how usual CTR, inactivity, habit, the content's age and the
    hour bear on clicks before any factor exists."""
    missing = np.full(n, np.nan, np.float32)

    def given(v):
        return missing if v is None else np.asarray(v, dtype=np.float32)

    cols = {name: missing for name in names}
    cols.update({
        "baseline_ctr": given(baseline_ctr),
        "days_inactive": given(days_inactive),
        "content_age_h": np.full(n, age_hours, np.float32),
        "hour": np.full(n, hour, np.float32),
        "reads_decayed": given(reads_decayed),
        "active_days_decayed": given(active_days_decayed),
        "push_score": np.full(n, np.nan if push_score is None else push_score, np.float32),
    })
    return np.column_stack([cols[name] for name in names]).astype(np.float32) if names else np.zeros((n, 0), np.float32)


def _best(val: np.ndarray, ids: np.ndarray, depth: int, salt: int) -> np.ndarray:
    """Where the ``depth`` largest ``val`` are, ties at the cut going to the smallest
    ``recsys.ids.tie_order(ids, salt)`` (``ids``: the subscribers at those places): the same people
    however the candidates are chunked or split in parts (``merge_best`` cuts the same way), in
    linear time; the tie order is worked out for the tied only. In no particular order."""
    if len(val) <= depth:
        return np.arange(len(val))
    # the depth-th largest by a sort: introselect (argpartition) takes ten times as long on the
    # many equal totals of people without factors (180 ms against 17 ms at a million)
    cut = -np.sort(-val)[depth - 1]
    above = np.flatnonzero(val > cut)
    tied = np.flatnonzero(val == cut)
    need = depth - len(above)
    if need < len(tied):  # the ``need`` smallest keys (distinct for distinct ids: splitmix64 is a bijection)
        tied = tied[np.argpartition(tie_order(ids[tied], salt), need - 1)[:need]]
    return np.concatenate([above, tied])


def _merge_top(best_idx, best_val, idx, val, depth, ids, salt):
    if best_idx is not None:
        idx = np.concatenate([best_idx, idx])
        val = np.concatenate([best_val, val])
    keep = _best(val, ids[idx], depth, salt)
    return idx[keep], val[keep]


@dataclass(frozen=True)
class _Shortlist:
    """The candidates' best by the linear total, each with its order key (the click model's
    score, or the linear total), its reported total and components."""

    ids: np.ndarray
    linear: np.ndarray
    key: np.ndarray
    total: np.ndarray
    components: dict[str, np.ndarray]


def audience_moments(candidates: Candidates, content: Content) -> Moments:
    """The candidates' ``Moments`` for one content: a shard's part of the whole set's."""
    side = _content_side(candidates, [content])
    return _moments(candidates, side, _chunk_size(len(candidates), 1))[0]


def _standardisation(moments: Moments, side: _Side) -> tuple[dict, dict]:
    """Each content component's means and standard deviations (one per content) from ``moments``."""
    got = {c: moments.mean_std(c) for c in side.mats}
    return {c: m for c, (m, _) in got.items()}, {c: sd for c, (_, sd) in got.items()}


def _linear_best(cands: Candidates, contents: Sequence[Content], side: _Side, weights: BlendWeights,
                 moments: Moments, first, chunk: int, depth: int):
    """Each content's best ``depth`` candidates by the linear total (positions, totals: finite
    ones only), and the standardisation used (means, stds, per candidate components)."""
    n, m = len(cands), len(contents)
    per_cand = _candidate_components(cands, moments.worst())
    z_cand = np.zeros(n, np.float32)
    for c, v in per_cand.items():
        if weights.get(c):
            mean, std = moments.mean_std(c)
            z_cand = z_cand + weights.get(c) * _zscore(v, mean[0], std[0])
    mean, std = _standardisation(moments, side)
    w = {c: np.where(side.present[c], weights.get(c), 0.0).astype(np.float32) for c in side.mats}
    excl = _exclusion_sorted(contents)
    best: list = [(None, None)] * m
    for lo in range(0, n, chunk):
        rows = slice(lo, min(n, lo + chunk))
        raw = first if first is not None else _chunk_raw(cands, side, rows)
        total = np.repeat(z_cand[rows, None], m, axis=1)
        for c, v in raw.items():
            total += w[c] * _zscore(v, mean[c], std[c])
        ids = cands.ids[rows]
        for j in range(m):
            col = total[:, j]
            if len(excl[j]):
                col[np.isin(ids, excl[j], assume_unique=False)] = -np.inf
            part = _best(col, ids, depth, contents[j].tie_salt)
            best[j] = _merge_top(best[j][0], best[j][1], part + lo, col[part], depth, cands.ids, contents[j].tie_salt)
    out = []
    for idx, val in best:
        ok = np.isfinite(val)
        out.append((idx[ok], val[ok]))
    return out, mean, std, per_cand


def _shortlists(cands: Candidates, contents: Sequence[Content], k: int, weights: BlendWeights, reranker,
                rerank_depth: int, rerank_by: str) -> list:
    """Each content's (``_Shortlist``, the candidates' positions of its rows)."""
    n, m = len(cands), len(contents)
    if k <= 0:
        raise ValueError("k must be positive")
    if rerank_by not in RERANK_BY:
        raise ValueError(f"rerank_by: {rerank_by!r} is not one of {', '.join(RERANK_BY)}")
    if n == 0:
        empty = np.empty(0, np.float32)
        names = COMPONENTS + (("linear",) if reranker is not None else ())
        return [(_Shortlist(cands.ids[:0], empty, empty.astype(np.float64), empty, {c: empty for c in names}),
                 np.zeros(0, np.int64)) for _ in contents]
    side = _content_side(cands, contents)
    chunk = _chunk_size(n, m)
    moments, first = _moments(cands, side, chunk)
    depth = min(n, max(k, rerank_depth if reranker is not None else k))
    best, mean, std, per_cand = _linear_best(cands, contents, side, weights, moments, first, chunk, depth)
    return [_shortlist(cands, content, side, j, idx, val, mean, std, per_cand, reranker, rerank_by)
            for j, (content, (idx, val)) in enumerate(zip(contents, best))]


def _final(sl: _Shortlist, k: int, salt: int) -> Audience:
    """The shortlist's best ``k`` by its key, ties broken by ``tie_order`` (deterministic)."""
    order = np.lexsort((tie_order(sl.ids, salt), -sl.key))[:k]
    return Audience(sl.ids[order], sl.total[order], {c: v[order] for c, v in sl.components.items()})


def select_audience_batch(
    candidates: Candidates,
    contents: Sequence[Content],
    k: int,
    weights: BlendWeights = BlendWeights(),
    reranker=None,
    rerank_depth: int = 5000,
    rerank_by: str = "click",
) -> list[Audience]:
    """``select_audience`` for many contents at once over the same candidates.

    Candidates are scored in chunks against all contents with one matrix product per
    component; per content only a running top list is kept.
    """
    if not len(contents):
        if k <= 0:
            raise ValueError("k must be positive")
        return []
    lists = _shortlists(candidates, contents, k, weights, reranker, rerank_depth, rerank_by)
    # remaining ties broken by a fixed pseudo-random order of the ids: deterministic
    return [_final(sl, k, content.tie_salt) for (sl, _), content in zip(lists, contents)]


def audience_best(candidates: Candidates, content: Content, *, moments: Moments, depth: int,
                  weights: BlendWeights = BlendWeights()) -> tuple[np.ndarray, np.ndarray]:
    """A part of the candidates' contribution to the whole set's ``select_audience``: its best
    ``depth`` by the linear total standardised with the whole set's ``moments`` (ids, totals;
    in id order). ``merge_best`` of every part's is the whole set's best."""
    n = len(candidates)
    if n == 0:
        return candidates.ids[:0], np.zeros(0, np.float32)
    side = _content_side(candidates, [content])
    best = _linear_best(candidates, [content], side, weights, moments, None, _chunk_size(n, 1), min(n, depth))[0]
    idx, val = best[0]
    order = np.argsort(idx, kind="stable")
    return candidates.ids[idx[order]], val[order]


def merge_best(parts: Sequence[tuple[np.ndarray, np.ndarray]], depth: int, tie_salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The parts' union's best ``depth`` by the linear total (ids in order, totals), ties at the
    cut broken as ``select_audience`` breaks them (``Content.tie_salt``): the parts' order does
    not matter."""
    if not parts:
        raise ValueError("merge needs at least one part")
    ids = np.concatenate([np.asarray(p[0]) for p in parts])
    linear = np.concatenate([np.asarray(p[1], np.float32) for p in parts])
    top = _best(linear, ids, depth, tie_salt)
    order = np.argsort(ids[top], kind="stable")
    return ids[top][order], linear[top][order]


def audience_rescore(candidates: Candidates, content: Content, linear: np.ndarray, k: int, *, moments: Moments,
                     reranker=None, rerank_by: str = "click") -> Audience:
    """The whole set's audience from its best by the linear total (``merge_best``):
    ``candidates`` are those people, in id order, ``linear`` their totals; with the whole set's
    ``moments`` their components are standardised, the ``reranker`` orders them, the best ``k``
    come back, as ``select_audience`` of the whole set gives them."""
    if k <= 0:
        raise ValueError("k must be positive")
    if rerank_by not in RERANK_BY:
        raise ValueError(f"rerank_by: {rerank_by!r} is not one of {', '.join(RERANK_BY)}")
    side = _content_side(candidates, [content])
    mean, std = _standardisation(moments, side)
    per_cand = _candidate_components(candidates, moments.worst())
    sl, _ = _shortlist(candidates, content, side, 0, np.arange(len(candidates)), np.asarray(linear, np.float32),
                       mean, std, per_cand, reranker, rerank_by)
    return _final(sl, k, content.tie_salt)


RERANK_BY = ("improvement", "click")


def _shortlist(cands, content, side, j, idx, linear, mean, std, per_cand, reranker, rerank_by="click"):
    """(The shortlist at candidate positions ``idx``: its components, the optional re-ranking's
    key and total; ``idx``)."""
    sub = {c: v[:, j] for c, v in _chunk_raw(cands, side, idx).items()}
    raw, z = {}, {}
    for c in _PER_CONTENT:
        if c in sub and side.present[c][j]:
            raw[c] = sub[c]
            z[c] = _zscore(sub[c], mean[c][j], std[c][j])
        else:
            raw[c] = z[c] = np.zeros(len(idx), np.float32)
    for c, v in per_cand.items():
        raw[c] = v[idx]
    total = linear.astype(np.float32)
    comps = dict(raw)
    key = total.astype(np.float64)
    if reranker is not None:
        comps["linear"] = total
    if reranker is not None and len(idx):
        x = click_features(_subset(cands, idx), content, raw, z, names=getattr(reranker, "feature_names", CLICK_FEATURES))
        # ordered by the model's own score: the calibration map is monotone but flat in steps,
        # so it would tie many candidates; the total reported is the calibrated probability
        key = reranker.predict_raw(x).astype(np.float64)
        if rerank_by == "improvement" and cands.baseline_ctr is not None:
            # the click probability over the person's usual one: a wave's click improvement is
            # its clicks over the clicks its recipients' usual pushes would bring
            usual = np.asarray(cands.baseline_ctr[idx], dtype=np.float64)
            key = np.log(np.maximum(key, 1e-12)) - np.log(np.maximum(np.nan_to_num(usual, nan=1.0), 1e-12))
        total = reranker.predict_proba(x).astype(np.float32)
    return _Shortlist(cands.ids[idx], linear.astype(np.float32), key, total, comps), idx


def _subset(cands: Candidates, idx: np.ndarray) -> Candidates:
    take = lambda a: None if a is None else a[idx]  # noqa: E731
    return Candidates(
        ids=cands.ids[idx],
        factors=cands.factors[idx],
        profiles=take(cands.profiles),
        baseline_ctr=take(cands.baseline_ctr),
        days_inactive=take(cands.days_inactive),
        category_affinity=take(cands.category_affinity),
        history=take(cands.history),
        factor_norms=take(cands.factor_norms),
        reads_decayed=take(cands.reads_decayed),
        active_days_decayed=take(cands.active_days_decayed),
    )


def select_audience(
    candidates: Candidates,
    content: Content,
    k: int,
    weights: BlendWeights = BlendWeights(),
    reranker=None,
    rerank_depth: int = 5000,
    rerank_by: str = "click",
) -> Audience:
    """Top ``k`` candidates for one content, best first, with the total and every component."""
    return select_audience_batch(candidates, [content], k, weights, reranker, rerank_depth, rerank_by)[0]


# The product's wave ranking (apps.mlops.ranking.ModelRanker) and the replay's ``product``
# strategy both call ``product_rank``: one function, one set of weights, one click model. The
# linear shortlist is by affinity (MF, seed look-alike and the person's long-horizon category
# mix against the content's category, when the caller gives the profiles); usual CTR and
# recency get no linear weight. A trained click model (``ClickModel`` on ``CLICK_FEATURES``: the
# affinities, the usual CTR, days inactive, the content's age and the hour, and, when the caller
# passes them, the long-horizon activity of ``recsys.activity``) then re-ranks the shortlist by
# calibrated click probability: how much activity should count against affinity is learnt from
# the client's own sends and clicks, not set by hand. By probability, not probability over the
# usual CTR: on the temporal replay's inactive candidates the ratio order gains improvement@100
# (+0.16) but loses a third of the hits (lift@100 -0.89), and the people brought back are the
# product's goal (docs/recsys.md). The category weighs as much as the other
# two: in the simulated world the category alone finds people whose clicks beat their usual
# rate where MF and look-alike do not (docs/simulator.md), and the blend keeps both.
PRODUCT_WEIGHTS = BlendWeights(content=0.0, mf=1.0, lookalike=1.0, neighbors=0.0, category=1.0, ctr=0.0, recency=0.0)

# The rankings a client's waves can use before its click model is trained: the affinity blend
# above, or one component alone (MF affinity, seed look-alike, long-horizon activity: the
# decayed count of distinct days with a read, or the long-horizon category mix). Which one is
# judged per client on its own contents after a time split (``recsys.holdout.rankings_check``).
_NONE = dict(content=0.0, mf=0.0, lookalike=0.0, neighbors=0.0, category=0.0, ctr=0.0, recency=0.0, activity=0.0)
SINGLE_RANKINGS = {
    "affinity": PRODUCT_WEIGHTS,
    "mf": BlendWeights(**{**_NONE, "mf": 1.0}),
    "lookalike": BlendWeights(**{**_NONE, "lookalike": 1.0}),
    "activity": BlendWeights(**{**_NONE, "activity": 1.0}),
    "category": BlendWeights(**{**_NONE, "category": 1.0}),
}


def category_inputs(profiles: np.ndarray | None, rows: np.ndarray, column: int) -> dict:
    """``product_rank``'s ``category_affinity`` and ``categories`` for the candidates at ``rows``
    of ``profiles`` (``recsys.activity.category_profiles``; a row at or beyond its end, or -1,
    has none) and a content in category ``column``: one column, each one's cosine with it.
    Empty (the component drops out) without profiles or with ``column`` -1."""
    if profiles is None or column < 0:
        return {}
    rows = np.asarray(rows, dtype=np.int64)
    known = (rows >= 0) & (rows < len(profiles))
    affinity = np.zeros((len(rows), 1), np.float32)
    affinity[known, 0] = profiles[rows[known], column]
    return {"category_affinity": affinity, "categories": np.array([0])}


def product_item(model, seed_rows, *, item_factors=None, user_factors=None) -> np.ndarray | None:
    """The content's item factors ``product_rank`` ranks with: its own (``item_factors``) when
    the model knows it, else folded in from the seed's rows (None: neither)."""
    if item_factors is not None:
        return item_factors
    seed_rows = np.asarray(seed_rows, dtype=np.int64)
    if not len(seed_rows):
        return None
    users = model.user_factors if user_factors is None else user_factors
    # the CSR row as it is (a repeated seed row counts as often as it appears)
    cols, counts = np.unique(seed_rows, return_counts=True)
    row = sp.csr_matrix((counts.astype(np.float32), cols, np.array([0, len(cols)])), shape=(1, users.shape[0]))
    return model.fold_in_items(row, user_factors=users)[0]


def _product_inputs(model, candidate_ids, candidate_factors, *, seed_rows, item_factors=None, exclude_ids=None,
                    user_factors=None, baseline_ctr=None, days_inactive=None, age_hours=0.0, hour=12,
                    reads_decayed=None, active_days_decayed=None, category_affinity=None, categories=None,
                    factor_norms=None, push_score=None, tie_salt=0):
    """The ``Candidates`` and ``Content`` the product ranks with (None: no factors and no seed)."""
    users = model.user_factors if user_factors is None else user_factors
    seed_rows = np.asarray(seed_rows, dtype=np.int64)
    item = product_item(model, seed_rows, item_factors=item_factors, user_factors=users)
    if item is None:
        return None
    cands = Candidates(ids=candidate_ids, factors=candidate_factors, baseline_ctr=baseline_ctr,
                       days_inactive=days_inactive, reads_decayed=reads_decayed, active_days_decayed=active_days_decayed,
                       category_affinity=category_affinity, factor_norms=factor_norms)
    content = Content(
        factors=item,
        seed_factors=users[seed_rows] if len(seed_rows) else None,
        categories=None if categories is None else np.asarray(categories, np.int64),
        exclude_ids=np.empty(0, np.int64) if exclude_ids is None else np.asarray(exclude_ids),
        age_hours=float(age_hours),
        hour=int(hour),
        push_score=None if push_score is None else float(push_score),
        tie_salt=int(tie_salt),
    )
    return cands, content


def product_rank(
    model,
    candidate_ids: np.ndarray,
    candidate_factors: np.ndarray,
    *,
    seed_rows: np.ndarray,
    k: int,
    item_factors: np.ndarray | None = None,
    exclude_ids: np.ndarray | None = None,
    user_factors: np.ndarray | None = None,
    click_model=None,
    baseline_ctr: np.ndarray | None = None,
    days_inactive: np.ndarray | None = None,
    age_hours: float = 0.0,
    hour: int = 12,
    rerank_depth: int = 5000,
    reads_decayed: np.ndarray | None = None,
    active_days_decayed: np.ndarray | None = None,
    weights: BlendWeights = PRODUCT_WEIGHTS,
    category_affinity: np.ndarray | None = None,
    categories: np.ndarray | None = None,
    rerank_by: str = "click",
    factor_norms: np.ndarray | None = None,
    push_score: float | None = None,
    tie_salt: int = 0,
) -> Audience | None:
    """The product's ranking of one content's candidates.

    ``model`` is the active ``recsys.mf.ALSModel``; ``seed_rows`` are the seed's (early readers'
    and clickers') rows in its user factors; ``item_factors`` the content's own factors when the
    model knows it, otherwise they are folded in from the seed (no text prior). ``user_factors``
    (default: the model's) are the rows the seed is read from and folded in against, e.g. with
    users active since the training re-solved. The shortlist (``rerank_depth``) is by MF
    affinity plus seed look-alike; with a ``click_model`` it is re-ranked by the model's click
    probability (``rerank_by="improvement"``: the probability over the candidate's usual push
    CTR, ``baseline_ctr``). ``baseline_ctr``,
    ``days_inactive``, ``age_hours``, ``hour`` are the model's other inputs;
    ``product_features`` builds the same rows for training. ``reads_decayed`` and
    ``active_days_decayed`` (optional, aligned with ``candidate_ids``) are each candidate's
    long-horizon activity from ``recsys.activity.long_horizon_activity`` on their reads up to
    now; left out, the click model sees them as missing. ``category_affinity`` (candidates x
    columns, e.g. ``recsys.activity.category_profiles`` rows) with ``categories`` (the content's
    columns in it) give the ``category`` component: who reads this kind of content; left out,
    it drops out. ``factor_norms``: the candidates' factor row norms when the caller has them
    (``recsys.lookalike.row_norms`` of ``candidate_factors``), else computed here.
    ``push_score``: the content's predicted click improvement at its evaluation, the click
    model's one input that differs between contents for the same person (None: missing).
    ``tie_salt``: which people win ties between equal scores (``Content.tie_salt``).
    ``weights``: the linear ranking (the affinity blend, or one of ``SINGLE_RANKINGS`` while a
    client has no click model). Returns ``None`` when there is
    neither item factors nor a seed: the caller then ranks by other means.
    """
    inputs = _product_inputs(model, candidate_ids, candidate_factors, seed_rows=seed_rows, item_factors=item_factors,
                             exclude_ids=exclude_ids, user_factors=user_factors, baseline_ctr=baseline_ctr,
                             days_inactive=days_inactive, age_hours=age_hours, hour=hour, reads_decayed=reads_decayed,
                             active_days_decayed=active_days_decayed, category_affinity=category_affinity,
                             categories=categories, factor_norms=factor_norms, push_score=push_score,
                             tie_salt=tie_salt)
    if inputs is None:
        return None
    cands, content = inputs
    return select_audience(cands, content, min(k, len(cands)), weights=weights, reranker=click_model,
                           rerank_depth=rerank_depth, rerank_by=rerank_by)


def product_moments(model, candidate_ids, candidate_factors, *, seed_rows, **inputs) -> Moments | None:
    """A part of the candidates' ``Moments`` for ``product_rank`` (None when it could not rank;
    ``inputs`` as ``product_rank``'s): merged over the parts (``Moments.merge``), they are
    ``product_best``'s and ``product_rescore``'s ``moments``."""
    got = _product_inputs(model, candidate_ids, candidate_factors, seed_rows=seed_rows, **inputs)
    return None if got is None else audience_moments(*got)


def product_best(model, candidate_ids, candidate_factors, *, seed_rows, moments: Moments, depth: int,
                 weights: BlendWeights = PRODUCT_WEIGHTS, **inputs) -> tuple[np.ndarray, np.ndarray] | None:
    """A part of the candidates' best for ``product_rank`` of the whole set (its ``moments``;
    ``depth``: ``max(k, rerank_depth)`` with a click model, else ``k``): (ids, linear totals),
    None when it could not rank. ``merge_best`` of every part's, then ``product_rescore``, is the
    whole set's ranking. ``inputs``: as ``product_rank``'s."""
    got = _product_inputs(model, candidate_ids, candidate_factors, seed_rows=seed_rows, **inputs)
    if got is None:
        return None
    cands, content = got
    return audience_best(cands, content, moments=moments, depth=depth, weights=weights)


def product_rescore(model, candidate_ids, candidate_factors, linear, *, seed_rows, k: int, moments: Moments,
                    click_model=None, rerank_by: str = "click", **inputs) -> Audience | None:
    """``product_rank`` of a whole set from its best by the linear total (``merge_best``):
    ``candidate_ids`` those people in id order, ``linear`` their totals, the other inputs theirs."""
    got = _product_inputs(model, candidate_ids, candidate_factors, seed_rows=seed_rows, **inputs)
    if got is None:
        return None
    cands, content = got
    return audience_rescore(cands, content, linear, k, moments=moments, reranker=click_model, rerank_by=rerank_by)


def product_features(model, candidate_ids, candidate_factors, *, seed_rows, item_factors=None, user_factors=None,
                     baseline_ctr=None, days_inactive=None, age_hours=0.0, hour=12, reads_decayed=None,
                     active_days_decayed=None, category_affinity=None, categories=None,
                     push_score=None, rows: np.ndarray | None = None, moments: Moments | None = None,
                     tie_salt: int = 0) -> np.ndarray | None:
    """``CLICK_FEATURES`` rows of every candidate (``rows``: of the candidates at those
    positions only) exactly as ``product_rank`` computes them for its click model (None when it
    could not rank): what the click model trains on. ``moments``: the whole set's, when the
    candidates are a part of it (or known already)."""
    inputs = _product_inputs(model, candidate_ids, candidate_factors, seed_rows=seed_rows, item_factors=item_factors,
                             user_factors=user_factors, baseline_ctr=baseline_ctr, days_inactive=days_inactive,
                             age_hours=age_hours, hour=hour, reads_decayed=reads_decayed, active_days_decayed=active_days_decayed,
                             category_affinity=category_affinity, categories=categories, push_score=push_score)
    if inputs is None:
        return None
    cands, content = inputs
    raw, z = component_scores(cands, content, moments=moments, rows=rows)
    return click_features(cands if rows is None else _subset(cands, np.asarray(rows, dtype=np.int64)), content, raw, z)
