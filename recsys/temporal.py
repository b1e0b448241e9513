"""Time-respecting replay: each strategy sees only what was known when the audience was chosen.

For a test item the decision time ``t`` is the time of its ``seed_events``-th reader. Every
input of every strategy comes from interactions at or before ``t`` (training matrices,
popularity, activity, profiles, usual rates), plus the item's seed readers, its text and its
category. Candidates are the users with an interaction at or before ``t`` who have not read the
item by then (with ``candidates="inactive"``: only those idle for ``inactive_days`` or more);
hits are the candidates who read it in ``(t, t + horizon]``.

Models are retrained on snapshots: ``snapshots`` evenly spaced times across the test period,
each model trained on the interactions at or before its time and used for the items decided
after it, up to the next one. Users active between the snapshot and ``t`` are re-solved in
closed form (an ALS half-step against the snapshot's item factors, on their interactions up to
``t``). The text embedding is trained on the texts of the items read before the test period.

Test items: those whose decision time falls in the test period, from the time by which
``test_from`` of all interactions had happened to ``horizon`` before the last interaction (so
each hit window is fully observed), with at least ``min_hits`` hits among their candidates.

Metrics per strategy, over the test items (``k`` cut-offs):

- ``lift@k``: precision@k over the item's base rate (hits / candidates), averaged over items;
- ``improvement@k``: hits in the top k over the hits those users would produce for an average
  item, from their own past only (``usual_rates``: the share of the past items, decided and
  with their horizon over by ``t``, that a user became a hit of while a candidate,
  Beta-smoothed toward the population with ``usual_prior`` pseudo-items), summed over the top
  k; a ratio of sums over items. 1 means "no more than these users usually read"; choosing
  heavy readers scores about 1;
- 95% bootstrap intervals over items, and the paired difference (same resamples) of each
  strategy from ``popularity`` (reads in the last ``popularity_days``) and ``popularity_all``
  (all past reads).

Long-horizon strategies (reads of the last ``long_window_days``, 180, each weighing
``0.5 ** (age / long_half_life_days)``, 60 days; recsys.activity's defaults, see docs/recsys.md):
``reads_decayed`` and ``active_days_decayed`` (``recsys.activity``: the decayed count of reads and of
distinct days with a read), ``mf_decayed`` (MF on those decayed confidences), ``profile_180``
(the decayed profile in that model's item space, by cosine), ``content_knn`` (text similarity
summed over the decayed reads). ``dae`` is ``recsys.dae.LinearDAE`` fitted on the snapshot's
reads: the seed readers' indicator regressed on everyone's histories through the autoencoder's
weights (a new item's column); ``dae_cat`` the same autoencoder's item and category heads
compared by cosine (``LinearDAE.cosine_scores``). Each of the two picks its (l2, dropout) among
``dae_grid`` at every snapshot, on the items decided before it (labels censored there), as the
click model is trained: no test item's outcome chooses it. ``pairs`` in the output are further
paired differences (text over plain activity, the cosine DAE over co-reading, the product over
its strongest single inputs).

``product`` is ``recsys.audience.product_rank``: the function the product's waves call (with
the users re-solved since the snapshot, as for every model strategy), given each candidate's
long-horizon activity (``reads_decayed``, ``active_days_decayed``) as production computes it from
its events; ``product_snapshot`` is the same call on the snapshot's user factors alone, as the
product between two retrains; ``product_by_improvement`` the same call as ``product`` with the
click model's order by its probability over each candidate's usual rate
(``rerank_by="improvement"``), where the product orders by the probability.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from . import audience
from .activity import decay_weights, long_horizon_activity
from .audience import Candidates, Content, component_scores, select_audience
from .click import ClickModel, ClickParams
from .dae import LinearDAE, head_cosines
from .embedding import EmbeddingParams, TextEmbedding, profile_vectors
from .mf import ALSModel, MFParams

__all__ = ["TemporalConfig", "TemporalData", "Case", "Plan", "STRATEGIES", "index_data", "make_plan", "score_case",
           "run_temporal", "format_temporal"]

DAY = 86400.0
COMPONENT_STRATEGIES = ("content", "mf", "lookalike", "neighbors", "category", "ctr", "recency")
# long-horizon representations (recsys.activity's window and half-life): MF on decayed
# confidences, a decayed profile in its item space, text similarity summed over decayed reads,
# and the denoising autoencoder twice (its new-item column; its heads compared by cosine)
EXTRA_STRATEGIES = ("reads_decayed", "active_days_decayed", "mf_decayed", "profile_180", "content_knn", "dae", "dae_cat")
MODEL_STRATEGIES = ("linear", "product", "product_snapshot", "product_by_improvement")
STRATEGIES = ("random", "popularity", "popularity_all") + COMPONENT_STRATEGIES + EXTRA_STRATEGIES + MODEL_STRATEGIES
BASELINES = ("popularity", "popularity_all")
# further paired differences reported (lift and improvement): does text add to the activity it
# is summed over, does the autoencoder's cosine add to plain co-reading, does the product beat
# its strongest single inputs, what ordering by click probability over the usual rate (instead
# of the probability) gains and loses
PAIRS = (("content_knn", "reads_decayed"), ("dae_cat", "neighbors"), ("mf_decayed", "mf"),
         ("product", "active_days_decayed"), ("product", "ctr"), ("product", "product_by_improvement"))


@dataclass(frozen=True)
class TemporalConfig:
    ks: tuple[int, ...] = (100,)
    seed_events: int = 5
    horizon_days: float = 30.0
    # share of all interactions that happened before the test period; None: as early as the data
    # allows a fair test, i.e. once a full popularity window and one full horizon lie behind it
    test_from: float | None = None
    validation_from: float = 0.0  # the validation window starts when this share of interactions has happened
    validation_snapshots: int = 5
    min_hits: int = 1
    snapshots: int = 20
    candidates: str = "all"  # or "inactive"
    inactive_days: float = 7.0
    popularity_days: float = 30.0
    mf: MFParams = MFParams(factors=32, regularization=0.1, alpha=10.0)
    embedding: EmbeddingParams = EmbeddingParams(dim=48, epochs=30, min_count=1, bucket=50_000)
    half_life_days: float = 30.0
    prior_weight: float = 1.0
    usual_prior: float = 50.0  # pseudo-items of the Beta prior on a user's usual rate
    bootstrap: int = 2000
    random_draws: int = 100
    random_state: int = 0
    click: ClickParams = ClickParams()
    min_click_items: int = 10  # fewer validation items with a hit than this: no click model
    min_click_hits: int = 30
    # long-horizon representations: reads of the last long_window_days, each weighing
    # 0.5 ** (age / long_half_life_days) (recsys.activity's defaults)
    long_window_days: float = 180.0
    long_half_life_days: float = 60.0
    # the linear denoising autoencoder (recsys.dae): (l2, dropout) for ``dae`` and ``dae_cat``,
    # each picked among dae_grid on the validation window (mean per-item AUC over every active
    # non-reader, labels censored at the test start) unless dae_setting fixes it
    dae_grid: tuple[tuple[float, float], ...] = ((20.0, 0.0), (200.0, 0.25), (1000.0, 0.5))
    dae_setting: tuple[float, float] | None = None

    def __post_init__(self):
        if self.candidates not in ("all", "inactive"):
            raise ValueError("candidates must be 'all' or 'inactive'")
        if self.seed_events < 1 or self.snapshots < 1 or not (self.test_from is None or 0 <= self.test_from < 1):
            raise ValueError("seed_events and snapshots must be positive, test_from in [0, 1) or None")
        if not 0 <= self.validation_from <= (1.0 if self.test_from is None else self.test_from) or self.validation_snapshots < 1:
            raise ValueError("validation_from must be in [0, test_from], validation_snapshots positive")


@dataclass(frozen=True)
class TemporalData:
    """Interactions as positions, sorted by time, and what is known of each item."""

    u: np.ndarray
    i: np.ndarray
    ts: np.ndarray
    w: np.ndarray
    n_users: int
    n_items: int
    texts: tuple[str, ...]
    item_cats: tuple[np.ndarray, ...]
    cat_matrix: sp.csr_matrix  # items x categories

    def upto(self, t: float) -> TemporalData:
        """The same universe with only the interactions at or before ``t``."""
        n = int(np.searchsorted(self.ts, t, side="right"))
        return TemporalData(self.u[:n], self.i[:n], self.ts[:n], self.w[:n], self.n_users, self.n_items, self.texts,
                            self.item_cats, self.cat_matrix)


def index_data(u, i, ts, w, n_users: int, n_items: int, texts, categories) -> TemporalData:
    """``u``/``i``: user and item positions; ``categories``: a list of category names per item."""
    order = np.argsort(ts, kind="stable")
    names = sorted({c for cs in categories for c in cs})
    pos = {c: n for n, c in enumerate(names)}
    item_cats = tuple(np.array([pos[c] for c in cs], np.int64) for cs in categories)
    rows = np.concatenate([np.full(len(c), n) for n, c in enumerate(item_cats)] + [np.zeros(0)]).astype(np.int64)
    cols = np.concatenate(list(item_cats) + [np.zeros(0)]).astype(np.int64)
    cat_matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_items, max(len(names), 1)))
    return TemporalData(np.asarray(u, np.int64)[order], np.asarray(i, np.int64)[order], np.asarray(ts, float)[order],
                        np.asarray(w, float)[order], n_users, n_items, tuple(texts), item_cats, cat_matrix)


# ------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Case:
    item: int
    t: float  # decision time: the seed_events-th distinct reader
    seed: np.ndarray  # user positions of the first seed_events distinct readers
    snapshot: int


@dataclass(frozen=True)
class Plan:
    """The experiment's design: validation window, test period, snapshot times, the items of
    each and their seeds. ``snapshot_times`` holds the validation window's snapshots, then the
    test period's; a case's ``snapshot`` indexes it."""

    test_start: float
    test_end: float
    snapshot_times: np.ndarray
    text_items: np.ndarray  # items whose text trains the embedding (read before the test period)
    cases: tuple[Case, ...]
    skipped: dict = field(default_factory=dict)
    validation_start: float = float("nan")
    validation_cases: tuple[Case, ...] = ()  # decided in [validation_start, test_start): train the click model


def make_plan(data: TemporalData, cfg: TemporalConfig) -> Plan:
    n = len(data.ts)
    if n == 0:
        raise ValueError("no interactions")
    if cfg.test_from is None:  # the earliest fair start: a popularity window and a horizon of history
        first = data.ts[0] + max(cfg.popularity_days, cfg.horizon_days) * DAY
        start = float(data.ts[min(n - 1, int(np.searchsorted(data.ts, first)))])
    else:
        start = float(data.ts[min(n - 1, int(cfg.test_from * n))])
    end = float(data.ts[-1] - cfg.horizon_days * DAY)
    if end <= start:
        raise ValueError("the timeline is shorter than the horizon after the test start")
    val_start = min(float(data.ts[min(n - 1, int(cfg.validation_from * n))]), start)
    val_snaps = (val_start + (start - val_start) * np.arange(cfg.validation_snapshots) / cfg.validation_snapshots
                 if start > val_start else np.zeros(0))
    snaps = np.concatenate([val_snaps, start + (end - start) * np.arange(cfg.snapshots) / cfg.snapshots])
    text_items = np.unique(data.i[data.ts < start])
    order = np.lexsort((data.ts, data.i))
    ii, uu, tt = data.i[order], data.u[order], data.ts[order]
    bounds = np.searchsorted(ii, np.arange(data.n_items + 1))
    cases, val_cases, skipped = [], [], {"fewer readers than the seed": 0, "decided before the test period": 0,
                                         "decided too late for a full horizon": 0}
    for item in range(data.n_items):
        lo, hi = bounds[item], bounds[item + 1]
        users, first = np.unique(uu[lo:hi], return_index=True)
        if len(users) < cfg.seed_events:
            skipped["fewer readers than the seed"] += 1
            continue
        first = np.sort(first)[: cfg.seed_events]
        t = float(tt[lo:hi][first[-1]])
        if t < start:
            skipped["decided before the test period"] += 1
            if t >= val_start and len(val_snaps):
                snap = int(np.searchsorted(val_snaps, t, side="right") - 1)
                val_cases.append(Case(item, t, uu[lo:hi][first], snap))
            continue
        if t > end:
            skipped["decided too late for a full horizon"] += 1
            continue
        snap = int(np.searchsorted(snaps, t, side="right") - 1)
        cases.append(Case(item, t, uu[lo:hi][first], snap))
    cases.sort(key=lambda c: (c.t, c.item))  # time order: one snapshot model alive at a time
    val_cases.sort(key=lambda c: (c.t, c.item))
    return Plan(start, end, snaps, text_items, tuple(cases), skipped, val_start, tuple(val_cases))


# ----------------------------------------------------------------------- state at time t


class _Models:
    """Snapshot models and the text embedding, trained lazily, each on its own past only."""

    def __init__(self, data: TemporalData, plan: Plan, cfg: TemporalConfig):
        self.data, self.plan, self.cfg = data, plan, cfg
        self._mf: dict[int, tuple[ALSModel, np.ndarray, np.ndarray]] = {}
        texts = [data.texts[j] for j in plan.text_items] or list(data.texts[:1])
        self.embedding = TextEmbedding.train(texts, cfg.embedding)
        self.text_vecs = self.embedding.content_vectors(list(data.texts))
        self._rows: dict[int, tuple] = {}  # item -> (candidates, X, first read after t) for the click model
        self._click: tuple[int, ClickModel | None, dict] | None = None
        self.click_infos: list[dict] = []

    def case_rows(self, case: Case):
        """The product's click-model rows of a case's candidates (``product_features``, from
        what was known at its decision) and when each candidate first read the item after it
        (inf: not in the data given). Labels are cut from the latter at each snapshot's time."""
        if case.item not in self._rows:
            every = replace(self.cfg, candidates="all") if self.cfg.candidates != "all" else self.cfg
            st = _state(self.data, self.plan, case, every, self)
            _, kwargs = _product_calls(st, case)[0]
            x = audience.product_features(st.model, st.cand, **kwargs) if len(st.cand) else None
            m = (self.data.i == case.item) & (self.data.ts > case.t)
            first = np.full(self.data.n_users, np.inf)
            np.minimum.at(first, self.data.u[m], self.data.ts[m])
            self._rows[case.item] = (st.cand, x, first[st.cand])
        return self._rows[case.item]

    def click(self, snap: int) -> ClickModel | None:
        """The product's click model as retrained at snapshot ``snap``: on every item decided
        before the snapshot's time (validation window and earlier test items), labelled with
        reads within the horizon and before that time (see ``train_click_model``)."""
        if self._click is None or self._click[0] != snap:
            model, info = train_click_model(self, float(self.plan.snapshot_times[snap]))
            info["snapshot"] = snap
            self._click = (snap, model, info)
            self.click_infos.append(info)
        return self._click[1]

    def dae(self, snap: int, setting: tuple[float, float]) -> tuple[LinearDAE, np.ndarray, np.ndarray]:
        """The linear denoising autoencoder (``setting``: l2, dropout) fitted on the snapshot's
        past reads, with its category head, and every user's item and category heads from their
        reads at the snapshot (users who read since are recomputed per case)."""
        if getattr(self, "_dae", None) is None or self._dae[0] != snap:
            self._dae = (snap, {})
        fitted = self._dae[1]
        if setting not in fitted:
            past = self.data.upto(float(self.plan.snapshot_times[snap]))
            x = sp.csr_matrix((np.ones(len(past.u)), (past.u, past.i)), shape=(past.n_users, past.n_items))
            dae = LinearDAE(*setting).fit(x, self.data.cat_matrix)
            fitted[setting] = (dae, dae.item_head(x), dae.category_head(x))
        return fitted[setting]

    def dae_rows(self, case: Case):
        """Every DAE setting's ``dae`` and ``dae_cat`` scores of the case's active non-readers at
        its decision (the autoencoders of its own snapshot), and when each first read the item
        after it: the rows ``dae_setting`` judges the settings on."""
        rows = self.__dict__.setdefault("_dae_rows", {})
        if case.item not in rows:
            past = self.data.upto(case.t)
            nu, ni = self.data.n_users, self.data.n_items
            binary = sp.csr_matrix((np.ones(len(past.u), np.float32), (past.u, past.i)), shape=(nu, ni))
            binary.data[:] = 1.0
            cand = np.setdiff1d(np.unique(past.u), past.u[past.i == case.item])
            changed = np.unique(past.u[past.ts > self.plan.snapshot_times[case.snapshot]])
            scores = {}
            for g in self.cfg.dae_grid:
                dot, cos = _dae_scores(self, case, tuple(g), binary, cand, changed)
                scores["dae", tuple(g)], scores["dae_cat", tuple(g)] = dot, cos
            m = (self.data.i == case.item) & (self.data.ts > case.t)
            first = np.full(nu, np.inf)
            np.minimum.at(first, self.data.u[m], self.data.ts[m])
            rows[case.item] = (cand, scores, first[cand])
        return rows[case.item]

    def dae_setting(self, name: str, snap: int) -> tuple[float, float]:
        """(l2, dropout) of ``dae`` or ``dae_cat`` at snapshot ``snap``: ``cfg.dae_setting``, else
        the one of ``cfg.dae_grid`` with the best mean per-item AUC on the items decided before
        the snapshot's time (validation window, then earlier test items, as the click model),
        every active non-reader a row, labelled with reads in ``(t, min(t + horizon, snapshot)]``:
        nothing after the snapshot is seen. Before any such item: the grid's last setting."""
        if self.cfg.dae_setting is not None:
            return tuple(self.cfg.dae_setting)
        picks = self.__dict__.setdefault("dae_picks", {})
        if snap not in picks:
            from .metrics import auc

            until, h = float(self.plan.snapshot_times[snap]), self.cfg.horizon_days * DAY
            grid = [tuple(g) for g in self.cfg.dae_grid]
            aucs = {(n, g): [] for n in ("dae", "dae_cat") for g in grid}
            for case in self.plan.validation_cases + self.plan.cases:
                if case.t >= until:
                    continue
                _, scores, first = self.dae_rows(case)
                y = first <= min(case.t + h, until)
                if 0 < y.sum() < len(y):
                    for key, found in aucs.items():
                        found.append(auc(y, scores[key]))
            picks[snap] = {}
            for n in ("dae", "dae_cat"):
                means = {g: float(np.mean(aucs[n, g])) if aucs[n, g] else float("nan") for g in grid}
                ok = [g for g in grid if np.isfinite(means[g])]
                picks[snap][n] = {"setting": max(ok, key=lambda g: means[g]) if ok else grid[-1],
                                  "items": len(aucs[n, grid[0]]), "auc": means}
        return picks[snap][name]["setting"]

    def long_mf(self, snap: int) -> tuple[ALSModel, np.ndarray]:
        """MF on the snapshot's reads of the last ``long_window_days``, each read's weight decayed
        by its age at the snapshot (confidence ``1 + alpha log1p(w)``), with the text projection;
        and which items it knows."""
        if getattr(self, "_long", None) is None or self._long[0] != snap:
            t_snap = float(self.plan.snapshot_times[snap])
            past = self.data.upto(t_snap)
            w = past.w * decay_weights(past.ts, now=t_snap, window_days=self.cfg.long_window_days,
                                       half_life_days=self.cfg.long_half_life_days)
            keep = w > 0
            ui = sp.csr_matrix((w[keep], (past.u[keep], past.i[keep])), shape=(past.n_users, past.n_items))
            model = ALSModel(self.cfg.mf).fit(ui)
            trained = np.unique(past.i[keep])
            if len(trained):
                model.fit_text_projection(self.text_vecs[trained], trained, l2=1.0)
            known = np.zeros(past.n_items, bool)
            known[trained] = True
            self._long = (snap, model, known)
        return self._long[1], self._long[2]

    def mf(self, snap: int) -> tuple[ALSModel, np.ndarray, np.ndarray]:
        """The snapshot's model and which items and users it was trained on."""
        if snap not in self._mf:
            past = self.data.upto(float(self.plan.snapshot_times[snap]))
            ui = sp.csr_matrix((past.w, (past.u, past.i)), shape=(past.n_users, past.n_items))
            model = ALSModel(self.cfg.mf).fit(ui)
            trained = np.unique(past.i)
            model.fit_text_projection(self.text_vecs[trained], trained, l2=1.0)
            known = np.zeros(past.n_items, bool)
            known[trained] = True
            known_users = np.zeros(past.n_users, bool)
            known_users[past.u] = True
            # cases come in time order: the current snapshot and the one before it (whose items'
            # rows the click model's retraining may still need) are the only ones kept
            keep = {k: v for k, v in self._mf.items() if k == snap - 1}
            self._mf = {**keep, snap: (model, known, known_users)}
        return self._mf[snap]


@dataclass
class _Scored:
    candidates: np.ndarray  # user positions
    scores: dict  # strategy -> (n,) float64, higher first
    usual: np.ndarray  # each candidate's usual rate (expected hits for an average item)
    handed_over: tuple = ()  # product strategies with neither item factors nor a seed row


def _order(score: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(score)), -np.asarray(score, dtype=np.float64)))


@dataclass
class _State:
    """What is known at a case's decision time ``t``, shared by every strategy."""

    past: TemporalData
    cand: np.ndarray  # candidate user positions
    model: ALSModel  # the snapshot's
    known: np.ndarray  # items the snapshot was trained on
    known_users: np.ndarray
    users: np.ndarray  # the snapshot's user factors, users active since then re-solved
    usual: np.ndarray  # (n_users,) usual rates
    days: np.ndarray  # (n_users,) days since the last interaction (nan: none)
    last: np.ndarray
    active: np.ndarray
    binary: sp.csr_matrix
    age_hours: float  # since the item's first reader
    hour: int
    reads_decayed: np.ndarray  # (n_users,) long-horizon activity at t (recsys.activity)
    active_days_decayed: np.ndarray


def _state(data: TemporalData, plan: Plan, case: Case, cfg: TemporalConfig, models: _Models) -> _State:
    t = case.t
    past = data.upto(t)
    nu, ni = data.n_users, data.n_items
    binary = sp.csr_matrix((np.ones(len(past.u), np.float32), (past.u, past.i)), shape=(nu, ni))
    binary.data[:] = 1.0
    weighted = sp.csr_matrix((past.w, (past.u, past.i)), shape=(nu, ni))
    last = np.full(nu, -np.inf)
    np.maximum.at(last, past.u, past.ts)
    active = np.isfinite(last)
    read = np.zeros(nu, bool)
    mine = past.i == case.item
    read[past.u[mine]] = True
    cand = active & ~read
    if cfg.candidates == "inactive":
        cand &= (t - last) >= cfg.inactive_days * DAY
    cand = np.flatnonzero(cand)

    # user factors at t: the snapshot's, with users active since the snapshot re-solved
    model, known, known_users = models.mf(case.snapshot)
    users = np.array(model.user_factors, dtype=np.float32, copy=True)
    since = past.ts > plan.snapshot_times[case.snapshot]
    changed = np.unique(past.u[since])
    if len(changed):
        users[changed] = model.fold_in_users(weighted[changed])
    days = np.where(active, (t - last) / DAY, np.nan)
    first = float(past.ts[mine].min()) if mine.any() else t
    reads_decayed, active_days_decayed = long_horizon_activity(past.u, past.ts, n_users=nu, now=t)
    return _State(past, cand, model, known, known_users, users, usual_rates(past, t, cfg), days, last, active,
                  binary, (t - first) / 3600.0, int((t % DAY) // 3600), reads_decayed, active_days_decayed)


def _product_calls(st: _State, case: Case) -> list[tuple[str, dict]]:
    """The arguments of the product's ranker for this case (``product_rank``/``product_features``):
    the snapshot model's factors for an item it was trained on, else a fold-in from the seed.
    ``product`` gets the users re-solved since the snapshot, like every other model strategy
    here; ``product_snapshot`` the snapshot's user factors alone, as waves between two retrains
    see them: users new since then have zero factors and are no seed rows there;
    ``product_by_improvement`` the ``product`` call ordered by probability over the usual rate."""
    seed = np.asarray(case.seed, np.int64)
    item = st.model.item_factors[case.item] if st.known[case.item] else None
    c = st.cand
    common = dict(item_factors=item, baseline_ctr=st.usual[c], days_inactive=st.days[c], age_hours=st.age_hours,
                  hour=st.hour, reads_decayed=st.reads_decayed[c], active_days_decayed=st.active_days_decayed[c])
    product = dict(candidate_factors=st.users[c], seed_rows=seed, user_factors=st.users, **common)
    return [("product", product),
            ("product_snapshot", dict(candidate_factors=st.model.user_factors[c], seed_rows=seed[st.known_users[seed]],
                                      user_factors=st.model.user_factors, **common)),
            ("product_by_improvement", {**product, "rerank_by": "improvement"})]


def train_click_model(models: _Models, until: float) -> tuple[ClickModel | None, dict]:
    """The product's click model trained as the product trains it: rows built by
    ``product_features`` from what was known at each decision, for every item decided before
    ``until`` (validation window first, then the earlier test items), each labelled with reads
    in ``(t, min(t + horizon, until)]``: censored at ``until``, so nothing after it is seen.
    One click model whatever the test's candidates (the product has one, trained on whomever it
    sent to): every active non-reader at a decision is a row."""
    cfg, h = models.cfg, models.cfg.horizon_days * DAY
    xs, ys, gs = [], [], []
    for case in models.plan.validation_cases + models.plan.cases:
        if case.t >= until:
            continue
        cand, x, first = models.case_rows(case)
        if x is None:
            continue
        y = first <= min(case.t + h, until)
        if not y.any():
            continue
        xs.append(x)
        ys.append(y)
        gs.append(np.full(len(y), case.item))
    info = {"items": len(xs), "rows": int(sum(len(y) for y in ys)), "hits": int(sum(y.sum() for y in ys))}
    if info["items"] < cfg.min_click_items or info["hits"] < cfg.min_click_hits:
        return None, info
    model = ClickModel(cfg.click).fit(np.vstack(xs), np.concatenate(ys), np.concatenate(gs))
    info.update({k: model.metrics[k] for k in ("holdout_auc", "best_iteration")})
    return model, info


def score_case(data: TemporalData, plan: Plan, case: Case, cfg: TemporalConfig, models: _Models) -> _Scored:
    """Every strategy's scores for one test item, from what was known at its decision time."""
    t = case.t
    st = _state(data, plan, case, cfg, models)
    past, cand, users, usual, days, binary = st.past, st.cand, st.users, st.usual, st.days, st.binary
    nu = data.n_users
    seed = np.asarray(case.seed, np.int64)

    # activity and popularity
    reads_all = np.asarray(binary.sum(axis=1)).ravel()
    recent = past.ts > t - cfg.popularity_days * DAY
    reads_recent = np.bincount(past.u[recent], minlength=nu).astype(float)

    # profiles, history, category affinity
    vecs = models.text_vecs
    profiles = profile_vectors(past.u, vecs[past.i], past.ts, past.w, n_users=nu, now=t,
                               half_life=cfg.half_life_days * DAY)
    readers = np.asarray(binary.sum(axis=0)).ravel()
    history = (binary @ sp.diags(np.log1p(nu / np.maximum(readers, 1.0)).astype(np.float32))).tocsr()
    affinity = (binary @ data.cat_matrix).toarray() / np.maximum(reads_all, 1.0)[:, None]

    model = st.model
    text_vec = vecs[case.item]
    seed_rows = sp.csr_matrix((np.ones(len(seed)), (np.zeros(len(seed), np.int64), seed)), shape=(1, nu))
    item_f = model.fold_in_items(seed_rows, prior=model.project_text(text_vec[None, :]), prior_weight=cfg.prior_weight,
                                 user_factors=users)[0]
    cands = Candidates(ids=cand, factors=users[cand], profiles=profiles[cand], baseline_ctr=usual[cand],
                       days_inactive=days[cand], category_affinity=affinity[cand], history=history[cand])
    content = Content(factors=item_f, text_vector=text_vec, seed_factors=users[seed], seed_history=history[seed],
                      categories=data.item_cats[case.item], exclude_ids=seed)
    scores: dict[str, np.ndarray] = {}
    handed_over: list[str] = []
    n = len(cand)
    rng = np.random.default_rng([cfg.random_state, case.item])
    scores["random"] = rng.random(n)
    scores["popularity"] = reads_recent[cand]
    scores["popularity_all"] = reads_all[cand]
    if n:
        raw, _ = component_scores(cands, content)
        for name in COMPONENT_STRATEGIES:
            scores[name] = np.asarray(raw[name], np.float64)
        changed = np.unique(past.u[past.ts > plan.snapshot_times[case.snapshot]])
        scores["dae"] = _dae_scores(models, case, models.dae_setting("dae", case.snapshot), binary, cand, changed)[0]
        scores["dae_cat"] = _dae_scores(models, case, models.dae_setting("dae_cat", case.snapshot), binary, cand,
                                        changed)[1]
        models.dae_rows(case)  # while its snapshot's autoencoders are fitted: later snapshots judge on it
        scores.update(_long_scores(models, case, st, cand, changed))
        scores["reads_decayed"] = st.reads_decayed[cand]
        scores["active_days_decayed"] = st.active_days_decayed[cand]
        scores["linear"] = _ranked_scores(select_audience(cands, content, n), cand)
        # the product's ranker, the same call its waves make, with the click model trained on
        # the validation window; with no seed row and an item the model does not know, the
        # product would hand over to its rule-based ranker, which has no counterpart here: all
        # candidates tie (score 0)
        for name, kwargs in _product_calls(st, case):
            aud = audience.product_rank(model, cand, k=n, exclude_ids=seed, click_model=models.click(case.snapshot), **kwargs)
            scores[name] = _ranked_scores(aud, cand) if aud is not None else np.zeros(n)
            if aud is None:
                handed_over.append(name)
    else:
        for name in COMPONENT_STRATEGIES + EXTRA_STRATEGIES + MODEL_STRATEGIES:
            scores[name] = np.zeros(0)
    return _Scored(cand, scores, usual[cand], tuple(handed_over))


def _long_scores(models: _Models, case: Case, st: _State, cand: np.ndarray, changed: np.ndarray) -> dict[str, np.ndarray]:
    """The long-horizon strategies: reads of the last ``long_window_days`` before ``t``, each
    weighing ``0.5 ** (age / long_half_life_days)`` at ``t``.

    - ``mf_decayed``: the snapshot's MF on decayed confidences (``_Models.long_mf``), users who
      read since the snapshot re-solved on their decayed reads at ``t``, the item folded in from
      the seed with its text projection as prior (as ``mf``);
    - ``profile_180``: cosine between each candidate's decayed profile (the decayed sum of the
      item factors of what they read) and that item vector: a vector for everyone who read
      anything the model knows in the window, with no ALS shrinkage of light readers;
    - ``content_knn``: text similarity summed over the decayed reads,
      ``sum_j w_j max(0, cos(text_item, text_j))`` (item-to-item content filtering)."""
    cfg, data, past, t = models.cfg, models.data, st.past, case.t
    nu, ni = data.n_users, data.n_items
    w = past.w * decay_weights(past.ts, now=t, window_days=cfg.long_window_days, half_life_days=cfg.long_half_life_days)
    keep = w > 0
    decayed = sp.csr_matrix((w[keep], (past.u[keep], past.i[keep])), shape=(nu, ni))
    model, known = models.long_mf(case.snapshot)
    users = np.array(model.user_factors, dtype=np.float32, copy=True)
    if len(changed):
        users[changed] = model.fold_in_users(decayed[changed])
    seed = np.asarray(case.seed, np.int64)
    seed_rows = sp.csr_matrix((np.ones(len(seed)), (np.zeros(len(seed), np.int64), seed)), shape=(1, nu))
    text = models.text_vecs[case.item]
    prior = model.project_text(text[None, :]) if model.projection is not None else None
    item = model.fold_in_items(seed_rows, prior=prior, prior_weight=cfg.prior_weight, user_factors=users)[0]
    q = np.where(known[:, None], model.item_factors, 0.0).astype(np.float64)
    profiles = np.asarray(decayed[cand] @ q)
    norms = np.linalg.norm(profiles, axis=1) * max(float(np.linalg.norm(item)), 1e-12)
    sim = np.maximum(models.text_vecs @ text, 0.0).astype(np.float64)
    sim[case.item] = 0.0
    return {"mf_decayed": (users[cand] @ item).astype(np.float64),
            "profile_180": profiles @ item / np.maximum(norms, 1e-12),
            "content_knn": np.asarray(decayed[cand] @ sim).ravel()}


def _dae_scores(models: _Models, case: Case, setting: tuple[float, float], binary: sp.csr_matrix, cand: np.ndarray,
                changed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dae`` (the new item's column regressed from its seed, ``x_u . beta``) and ``dae_cat``
    (the heads compared by cosine, ``recsys.dae.head_cosines``) for the candidates ``cand``,
    from the reads in ``binary`` (at ``t``); ``changed``: users who read since the snapshot,
    whose heads are recomputed."""
    dae, items, cats = models.dae(case.snapshot, setting)
    seed = np.asarray(case.seed, np.int64)
    dot = dae.scores(binary[cand], dae.item_weights(binary[seed], exclude=case.item))
    r, h = items[cand].copy(), cats[cand].copy()
    fresh = np.flatnonzero(np.isin(cand, changed))
    if len(fresh):
        r[fresh] = dae.item_head(binary[cand[fresh]])
        h[fresh] = dae.category_head(binary[cand[fresh]])
    r[:, case.item] = 0.0  # candidates have not read it: only the output is left out
    cos = head_cosines(r, h, dae.item_head(binary[seed], exclude=case.item), models.data.item_cats[case.item])
    return dot, cos


def usual_rates(past: TemporalData, t: float, cfg: TemporalConfig) -> np.ndarray:
    """Each user's usual rate: the share of past items they became a hit of, Beta-smoothed.

    The past items are those whose decision (``seed_events``-th reader) and whole horizon lie
    at or before ``t``; a user was exposed to one when they were a candidate at its decision
    (active before it, not yet a reader) and is a hit when they read it within the horizon. The
    population's pooled rate is the prior mean, ``usual_prior`` pseudo-items its strength, like
    the product's usual push CTR. Expected hits of a top k for an average item = the sum.
    """
    nu, ni, h = past.n_users, past.n_items, cfg.horizon_days * DAY
    if len(past.ts) == 0:
        return np.zeros(nu)
    first = np.full((nu, ni), np.inf)
    np.minimum.at(first, (past.u, past.i), past.ts)
    ordered = np.sort(first, axis=0)  # per item: its distinct readers' first read times
    decided = ordered[cfg.seed_events - 1] if cfg.seed_events <= nu else np.full(ni, np.inf)
    done = np.flatnonzero(decided + h <= t)
    if not len(done):
        return np.zeros(nu)
    start = np.full(nu, np.inf)
    np.minimum.at(start, past.u, past.ts)
    tj = decided[done][None, :]
    f = first[:, done]
    exposed = (start[:, None] <= tj) & (f > tj)
    hit = exposed & (f <= tj + h)
    n_exp, n_hit = exposed.sum(axis=1), hit.sum(axis=1)
    prior = n_hit.sum() / max(n_exp.sum(), 1)
    return (n_hit + cfg.usual_prior * prior) / (n_exp + cfg.usual_prior)


def _ranked_scores(aud, cand: np.ndarray) -> np.ndarray:
    """Scores aligned with ``cand`` from an ``Audience`` (its order kept: rank as the score)."""
    out = np.full(len(cand), -np.inf)
    pos = np.searchsorted(cand, aud.ids)
    out[pos] = -np.arange(len(aud.ids), dtype=np.float64)
    return out


def hits_of(data: TemporalData, case: Case, candidates: np.ndarray, horizon_days: float) -> np.ndarray:
    """Which candidates read the item in ``(t, t + horizon]``."""
    m = (data.i == case.item) & (data.ts > case.t) & (data.ts <= case.t + horizon_days * DAY)
    return np.isin(candidates, data.u[m])


# ---------------------------------------------------------------------------- the replay


def run_temporal(data: TemporalData, cfg: TemporalConfig = TemporalConfig(), pool: np.ndarray | None = None,
                 log=None) -> dict:
    """Replay every test item; returns the JSON-ready summary (see the module docstring)."""
    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    plan = make_plan(data, cfg)
    models = _Models(data, plan, cfg)
    say(f"{len(plan.cases)} items decided in the test period; snapshots every "
        f"{(plan.test_end - plan.test_start) / cfg.snapshots / DAY:.1f} days")

    ks = tuple(sorted(cfg.ks))
    rows = {name: {k: [] for k in ks} for name in STRATEGIES}  # (hits, expected, k_eff)
    base, attain, n_cands, n_hits = {k: [] for k in ks}, {k: [] for k in ks}, [], []
    skipped = dict(plan.skipped)
    skipped["no hit among the candidates"] = 0
    handed: dict[str, int] = {}  # items a product strategy could not rank (all tied)
    for case in plan.cases:
        s = score_case(data, plan, case, cfg, models)
        keep = np.ones(len(s.candidates), bool) if pool is None else np.isin(s.candidates, pool)
        hits = hits_of(data, case, s.candidates, cfg.horizon_days)[keep]
        usual = s.usual[keep]
        n, n_rel = int(keep.sum()), int(hits.sum())
        if n_rel < cfg.min_hits or n == 0:
            skipped["no hit among the candidates"] += 1
            continue
        n_cands.append(n)
        n_hits.append(n_rel)
        for name in s.handed_over:
            handed[name] = handed.get(name, 0) + 1
        rng = np.random.default_rng([cfg.random_state, case.item, 1])
        for k in ks:
            ke = min(k, n)
            base[k].append(n_rel / n)
            attain[k].append(min(n_rel, ke) / ke / (n_rel / n))
            for name in STRATEGIES:
                if name == "random":
                    h = e = 0.0
                    for _ in range(cfg.random_draws):
                        top = rng.permutation(n)[:ke]
                        h += hits[top].sum()
                        e += usual[top].sum()
                    rows[name][k].append((h / cfg.random_draws, e / cfg.random_draws, ke))
                    continue
                top = _order(s.scores[name][keep])[:ke]
                rows[name][k].append((float(hits[top].sum()), float(usual[top].sum()), ke))
    n_items = len(n_cands)
    out = {
        "protocol": "temporal",
        "n_test_items": n_items,
        "skipped": skipped,
        "candidates": cfg.candidates,
        "seed_events": cfg.seed_events,
        "horizon_days": cfg.horizon_days,
        "test_period": [plan.test_start, plan.test_end],
        "test_from": round(float(np.searchsorted(data.ts, plan.test_start)) / max(len(data.ts), 1), 4),
        "n_candidates_mean": float(np.mean(n_cands)) if n_items else 0.0,
        "n_hits_mean": float(np.mean(n_hits)) if n_items else 0.0,
        "base_rate": float(np.mean(base[ks[0]])) if n_items else float("nan"),
        "unranked": handed,
        "click_model": _click_summary(models.click_infos),
        "dae_setting": _dae_summary(models),
        "attainable": {f"lift@{k}": float(np.mean(attain[k])) if n_items else float("nan") for k in ks},
        "strategies": {},
    }
    if n_items == 0:
        out["seconds"] = round(time.perf_counter() - t0, 1)
        return out
    boot = np.random.default_rng([cfg.random_state, 7]).integers(0, n_items, size=(cfg.bootstrap, n_items))
    stats = {}
    for name in STRATEGIES:
        for k in ks:
            a = np.array(rows[name][k])
            b = np.array(base[k])
            lift = (a[:, 0] / a[:, 2]) / b
            stats[name, k] = {
                "lift": (lift.mean(), lift[boot].mean(axis=1)),
                "improvement": (_ratio(a[:, 0].sum(), a[:, 1].sum()), _ratio(a[boot, 0].sum(axis=1), a[boot, 1].sum(axis=1))),
                "precision": float(np.mean(a[:, 0] / a[:, 2])),
            }
    ci = lambda x: [round(float(np.nanpercentile(x, 2.5)), 4), round(float(np.nanpercentile(x, 97.5)), 4)]  # noqa: E731
    for name in STRATEGIES:
        entry = {"n_items": n_items}
        vs = {b: {} for b in BASELINES if b != name}
        for k in ks:
            st = stats[name, k]
            entry[f"lift@{k}"] = round(float(st["lift"][0]), 4)
            entry[f"lift@{k}_ci"] = ci(st["lift"][1])
            entry[f"precision@{k}"] = round(st["precision"], 4)
            entry[f"improvement@{k}"] = round(float(st["improvement"][0]), 4)
            entry[f"improvement@{k}_ci"] = ci(st["improvement"][1])
            for b in vs:
                for metric in ("lift", "improvement"):
                    diff = st[metric][0] - stats[b, k][metric][0]
                    vs[b][f"{metric}@{k}"] = {"diff": round(float(diff), 4),
                                              "ci": ci(st[metric][1] - stats[b, k][metric][1])}
        entry["vs"] = vs
        out["strategies"][name] = entry
    out["pairs"] = {}
    for a, b in PAIRS:
        for k in ks:
            out["pairs"][f"{a} - {b}"] = {
                f"{metric}@{k}": {"diff": round(float(stats[a, k][metric][0] - stats[b, k][metric][0]), 4),
                                  "ci": ci(stats[a, k][metric][1] - stats[b, k][metric][1])}
                for metric in ("lift", "improvement")}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _ratio(num, den):
    """num / den, NaN where nothing was expected (no past item to learn a usual rate from)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.full(np.shape(num), np.nan), where=den > 0)


def _dae_summary(models: _Models) -> dict:
    """How often each DAE setting was picked across the test snapshots, per strategy."""
    if models.cfg.dae_setting is not None:
        return {"fixed": list(models.cfg.dae_setting)}
    picks = getattr(models, "dae_picks", {})
    out = {}
    for name in ("dae", "dae_cat"):
        count: dict[str, int] = {}
        for p in picks.values():
            key = "l2={:g} dropout={:g}".format(*p[name]["setting"])
            count[key] = count.get(key, 0) + 1
        out[name] = count
    return out


def _click_summary(infos: list[dict]) -> dict:
    trained = [i for i in infos if "holdout_auc" in i]
    out = {"retrains": len(infos), "trained": len(trained)}
    if infos:
        out["first"], out["last"] = infos[0], infos[-1]
    if trained:
        out["holdout_auc_median"] = round(float(np.median([i["holdout_auc"] for i in trained])), 4)
    return out


def _click_line(info: dict) -> str:
    if not info.get("trained"):
        return ("the product's click model: never trained (too few earlier items with a hit); product ranks by its "
                "linear shortlist")
    first, last = info["first"], info["last"]
    return (f"the product's click model: retrained at {info['retrains']} snapshots ({info['trained']} with enough data), "
            f"from {first['items']} items / {first['hits']} hits to {last['items']} / {last['hits']}, "
            f"labels censored at each snapshot; median held-out AUC {info['holdout_auc_median']:.3f}")


def format_temporal(res: dict) -> str:
    k = next((key.split("@")[1] for key in res["attainable"]), "100")
    lines = [
        f"temporal protocol: seed {res['seed_events']} readers, horizon {res['horizon_days']:g} days, "
        f"candidates: {res['candidates']}",
        f"test items used: {res['n_test_items']}; skipped: "
        + ", ".join(f"{v} {r}" for r, v in res["skipped"].items()),
        f"candidates per item: {res['n_candidates_mean']:.0f}, hits per item: {res['n_hits_mean']:.1f}, "
        f"base rate: {res['base_rate']:.4f}, attainable lift@{k}: {res['attainable'].get(f'lift@{k}', float('nan')):.2f}",
        *([f"items a product strategy could not rank (no seed row, unknown item; all tied): {res['unranked']}"]
          if res.get("unranked") else []),
        _click_line(res.get("click_model") or {}),
        "",
    ]
    if not res["strategies"]:
        return "\n".join(lines + ["no test item: nothing to report"])
    fmt = lambda v, c: f"{v:.2f} [{c[0]:.2f}, {c[1]:.2f}]"  # noqa: E731
    head = (f"{'strategy':<17}{'lift@' + k:>18}{'prec@' + k:>9}{'improvement@' + k:>20}"
            f"{'lift - popularity':>22}{'lift - pop_all':>22}{'impr - popularity':>22}{'impr - pop_all':>22}")
    lines.append(head)
    for name, s in res["strategies"].items():
        cells = [fmt(s[f"lift@{k}"], s[f"lift@{k}_ci"]), f"{s[f'precision@{k}']:.3f}",
                 fmt(s[f"improvement@{k}"], s[f"improvement@{k}_ci"])]
        for metric in ("lift", "improvement"):
            for b in BASELINES:
                d = s["vs"].get(b, {}).get(f"{metric}@{k}")
                cells.append(fmt(d["diff"], d["ci"]) if d else "-")
        lines.append(f"{name:<17}{cells[0]:>18}{cells[1]:>9}{cells[2]:>20}{cells[3]:>22}{cells[4]:>22}{cells[5]:>22}{cells[6]:>22}")
    if res.get("pairs"):
        lines += ["", "paired differences (same resamples):"]
        for pair, d in res["pairs"].items():
            lines.append(f"  {pair:<32} lift@{k} {fmt(d[f'lift@{k}']['diff'], d[f'lift@{k}']['ci']):>22}"
                         f"   improvement@{k} {fmt(d[f'improvement@{k}']['diff'], d[f'improvement@{k}']['ci']):>22}")
    lines.append(f"\n{res['seconds']:.0f} s")
    return "\n".join(lines)
