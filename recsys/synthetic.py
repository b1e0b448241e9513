"""One shared synthetic data set with known structure, for contract tests and model checks.

Every subscriber follows one topic; every content belongs to one topic, and its text is drawn
from that topic's vocabulary. Reads are mostly within the subscriber's topic, in numbers set by
a per-subscriber activity level. So a working model must: cluster texts by topic
(embedding), put same-topic users and items together (MF), find the seed's topic-mates
(look-alike), rank same-topic active users first (audience), and so on. ``simulate_sends`` and
``simulate_campaigns`` add labels drawn from known click and improvement laws, standing in for
the product simulator until it lands.

Public API::

    make_synthetic(n_users=400, n_items=200, n_topics=4, seed=0) -> SyntheticData
    content_text(topic, rng) -> str
    simulate_sends(data, mf, embedding, n_contents, recipients, seed) -> (X, y, groups)
    simulate_campaigns(data, embedding, n_campaigns, seed) -> (features, improvements)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["SyntheticData", "make_synthetic", "content_text", "simulate_sends", "simulate_campaigns", "TOPICS"]

TOPICS = {
    "sports": "football match goal striker league coach stadium season player referee championship tournament",
    "politics": "election minister parliament vote policy senate campaign governor debate reform coalition ballot",
    "technology": "software startup smartphone chip cloud algorithm robot battery network laptop browser database",
    "food": "recipe restaurant chef kitchen dessert noodles bakery flavour spice dinner vegetarian menu",
    "weather": "storm rain forecast typhoon snow heatwave flood temperature wind drought cyclone humidity",
    "music": "concert album singer band guitar festival chart tour orchestra melody lyrics drummer",
}
_COMMON = "today people city report new week year local official said time day".split()
DAY = 86400.0


@dataclass(frozen=True)
class SyntheticData:
    n_topics: int
    user_topic: np.ndarray
    user_activity: np.ndarray  # expected reads over the period
    item_topic: np.ndarray
    texts: tuple[str, ...]
    categories: tuple[str, ...]
    event_user: np.ndarray
    event_item: np.ndarray
    event_ts: np.ndarray
    now: float

    @property
    def n_users(self) -> int:
        return len(self.user_topic)

    @property
    def n_items(self) -> int:
        return len(self.item_topic)

    def user_items(self) -> sp.csr_matrix:
        ones = np.ones(len(self.event_user), np.float32)
        m = sp.csr_matrix((ones, (self.event_user, self.event_item)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        return m

    def days_inactive(self) -> np.ndarray:
        last = np.full(self.n_users, -np.inf)
        np.maximum.at(last, self.event_user, self.event_ts)
        d = (self.now - last) / DAY
        return np.where(np.isfinite(d), d, np.nan).astype(np.float32)


def _topic_names(n_topics: int) -> list[str]:
    if not 1 <= n_topics <= len(TOPICS):
        raise ValueError(f"n_topics must be in 1..{len(TOPICS)}")
    return list(TOPICS)[:n_topics]


def content_text(topic: int, rng: np.random.Generator, n_words: int = 10) -> str:
    vocab = TOPICS[list(TOPICS)[topic]].split()
    words = list(rng.choice(vocab, size=n_words - 3)) + list(rng.choice(_COMMON, size=3))
    rng.shuffle(words)
    return " ".join(words)


def make_synthetic(n_users: int = 400, n_items: int = 200, n_topics: int = 4, seed: int = 0) -> SyntheticData:
    rng = np.random.default_rng(seed)
    names = _topic_names(n_topics)
    user_topic = rng.integers(0, n_topics, n_users)
    activity = np.exp(rng.normal(np.log(12), 0.8, n_users))
    item_topic = np.arange(n_items) % n_topics
    rng.shuffle(item_topic)
    texts = tuple(content_text(int(t), rng) for t in item_topic)
    by_topic = [np.flatnonzero(item_topic == t) for t in range(n_topics)]
    now = 30 * DAY
    eu, ei, et = [], [], []
    for u in range(n_users):  # data generation only: the models never loop per subscriber
        n = max(1, rng.poisson(activity[u]))
        own = rng.random(n) < 0.85
        items = np.where(own, rng.choice(by_topic[user_topic[u]], n), rng.integers(0, n_items, n))
        items = np.unique(items)
        # each user is active in a window ending some days ago: inactive users are a real group
        end = now - rng.exponential(4 * DAY)
        eu.append(np.full(len(items), u))
        ei.append(items)
        et.append(end - rng.uniform(0, 20 * DAY, len(items)))
    return SyntheticData(
        n_topics,
        user_topic,
        activity,
        item_topic,
        texts,
        tuple(names[t] for t in item_topic),
        np.concatenate(eu),
        np.concatenate(ei),
        np.concatenate(et),
        now,
    )


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def true_click_logit(data: SyntheticData, users: np.ndarray, topic: int, hour: int, days_inactive: np.ndarray):
    """The known click law of ``simulate_sends``."""
    match = (data.user_topic[users] == topic).astype(float)
    act = np.log(data.user_activity[users] / np.median(data.user_activity))
    evening = 0.3 if 18 <= hour <= 22 else 0.0
    return -3.4 + 2.0 * match + 0.5 * act - 0.04 * np.nan_to_num(days_inactive, nan=30.0) + evening


def simulate_sends(data: SyntheticData, mf, embedding, n_contents: int, recipients: int, seed: int = 0):
    """Past sends of new contents with clicked labels, as click-model rows.

    Each content is new (no MF factors yet): its factors are folded in from five early
    readers of its topic, with the text projection as prior. ``mf`` must be fitted on
    ``data.user_items()`` with a text projection; ``embedding`` trained on ``data.texts``.
    Returns (X with ``CLICK_FEATURES`` columns, y, content id per row).
    """
    from .audience import Candidates, Content, click_features, component_scores
    from .embedding import profile_vectors

    rng = np.random.default_rng(seed)
    days = data.days_inactive()
    item_vecs = embedding.content_vectors(list(data.texts))
    profiles = profile_vectors(
        data.event_user, item_vecs[data.event_item], data.event_ts, n_users=data.n_users, now=data.now, half_life=14 * DAY
    )
    base = _sigmoid(true_click_logit(data, np.arange(data.n_users), -1, 12, days))
    counts = np.bincount(data.event_user, minlength=data.n_users)
    observed_ctr = (rng.binomial(counts + 5, base) + 1.0) / (counts + 5 + 30.0)  # Beta-smoothed history
    cat = np.zeros((data.n_users, data.n_topics), np.float32)
    np.add.at(cat, (data.event_user, data.item_topic[data.event_item]), 1.0)
    cat /= np.maximum(cat.sum(axis=1, keepdims=True), 1.0)
    xs, ys, gs = [], [], []
    for c in range(n_contents):
        topic = int(rng.integers(data.n_topics))
        hour = int(rng.integers(24))
        text_vec = embedding.content_vectors([content_text(topic, rng)])[0]
        fans = np.flatnonzero(data.user_topic == topic)
        seed_users = rng.choice(fans, size=min(5, len(fans)), replace=False)
        seed_rows = sp.csr_matrix((np.ones(len(seed_users)), (np.zeros(len(seed_users), int), seed_users)), shape=(1, data.n_users))
        factors = mf.fold_in_items(seed_rows, prior=mf.project_text(text_vec[None]))[0]
        pool = np.setdiff1d(np.arange(data.n_users), seed_users)
        users = rng.choice(pool, size=min(recipients, len(pool)), replace=False)
        cands = Candidates(
            ids=users,
            factors=mf.user_factors[users],
            profiles=profiles[users],
            baseline_ctr=observed_ctr[users],
            days_inactive=days[users],
            category_affinity=cat[users],
        )
        content = Content(
            factors=factors,
            text_vector=text_vec,
            seed_factors=mf.user_factors[seed_users],
            categories=np.array([topic]),
            exclude_ids=seed_users,
            age_hours=float(rng.uniform(0, 3)),
            hour=hour,
        )
        raw, z = component_scores(cands, content)
        xs.append(click_features(cands, content, raw, z))
        ys.append(rng.random(len(users)) < _sigmoid(true_click_logit(data, users, topic, hour, days[users])))
        gs.append(np.full(len(users), c))
    return np.vstack(xs), np.concatenate(ys).astype(np.float32), np.concatenate(gs)


def simulate_campaigns(data: SyntheticData, embedding, n_campaigns: int, seed: int = 0):
    """Past campaigns with achieved click improvement from a known law.

    log(improvement) = topic appeal + 0.35 log1p(early reads per hour / 10) - 0.4 [quiet hours]
    + 0.6 inactive share of early readers + noise; early reads themselves grow with the appeal.
    """
    from .selection import PushWorthinessFeatures

    rng = np.random.default_rng(seed)
    names = _topic_names(data.n_topics)
    appeal = np.linspace(-0.4, 0.5, data.n_topics)
    feats, imps = [], []
    for _ in range(n_campaigns):
        topic = int(rng.integers(data.n_topics))
        hour = int(rng.integers(24))
        age = float(rng.uniform(10, 60))
        latent = appeal[topic] + rng.normal(0, 0.3)
        reads = int(rng.poisson(np.exp(2.0 + latent) * age / 60.0))
        inactive = float(rng.beta(2, 5))
        per_hour = reads * 60.0 / age
        log_imp = latent + 0.35 * np.log1p(per_hour / 10) - 0.4 * (hour < 7) + 0.6 * inactive + rng.normal(0, 0.2)
        feats.append(
            PushWorthinessFeatures(
                text_vector=embedding.content_vectors([content_text(topic, rng)])[0],
                categories=(names[topic],),
                created_hour=hour,
                weekday=int(rng.integers(7)),
                age_minutes=age,
                early_reads=reads,
                early_readers_inactive_share=inactive,
                early_readers_mean_ctr=float(rng.uniform(0.01, 0.1)),
            )
        )
        imps.append(float(np.exp(log_imp)))
    return feats, np.array(imps)
