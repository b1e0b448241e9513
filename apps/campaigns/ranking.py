"""Who gets a wave: the audience ranking behind one small interface.

``rank_audience`` returns the top-k eligible candidates with each component's score. Until the
product's models are trained for a client (an active ``mf`` ModelVersion), the clearly named
``InterimRanker`` ranks by category affinity from recent reads and by co-reading with the
content's seed (early readers and clickers), with a seeded random tie-break.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.db import connection

from apps.audience.selectors import CandidateRows


@dataclass(frozen=True)
class Ranked:
    ids: np.ndarray
    total: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)
    ranker: str = ""


class InterimRanker:
    """Rule-based ranking used until the models are trained: category affinity + seed co-reading."""

    name = "interim:category+coreading"

    def rank(self, *, candidates: CandidateRows, content, seed_ids: np.ndarray, k: int, now, rng: np.random.Generator) -> Ranked:
        n = len(candidates)
        if n == 0 or k <= 0:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), {}, self.name)
        affinity = _category_affinity(content, candidates.ids, now)
        coread = _coreading(content, seed_ids, candidates.ids, now)
        jitter = rng.random(n) * 1e-3
        total = affinity + coread + jitter
        k = min(k, n)
        top = np.argpartition(-total, k - 1)[:k]
        top = top[np.argsort(-total[top], kind="stable")]
        return Ranked(candidates.ids[top], total[top],
                      {"category_affinity": affinity[top], "coreading": coread[top]}, self.name)


def _read_counts(sql: str, params: list, ids: np.ndarray) -> np.ndarray:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    out = np.zeros(len(ids))
    if rows:
        sub, cnt = np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=float)
        pos = np.searchsorted(ids, sub)
        ok = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == sub)
        out[pos[ok]] = cnt[ok]
    return out


def _category_affinity(content, ids: np.ndarray, now) -> np.ndarray:
    """Share of each candidate's reads in the last 30 days that were in this content's category."""
    if not content.category:
        return np.zeros(len(ids))
    from apps.contents.models import Content
    from apps.events.models import Event

    ev, co = Event._meta.db_table, Content._meta.db_table
    since = connection.ops.adapt_datetimefield_value(now - timedelta(days=30))
    base = f"FROM {ev} e JOIN {co} c ON c.id = e.content_id WHERE c.client_id = %s AND e.type = 'read' AND e.occurred_at >= %s"
    in_cat = _read_counts(f"SELECT e.subscriber_id, COUNT(*) {base} AND c.category = %s GROUP BY e.subscriber_id",
                          [content.client_id, since, content.category], ids)
    total = _read_counts(f"SELECT e.subscriber_id, COUNT(*) {base} GROUP BY e.subscriber_id", [content.client_id, since], ids)
    return (in_cat + 0.1) / (total + 1.0)


def _coreading(content, seed_ids: np.ndarray, ids: np.ndarray, now) -> np.ndarray:
    """How many of the seed's recently read contents each candidate also read (look-alike by history)."""
    if len(seed_ids) == 0:
        return np.zeros(len(ids))
    from apps.events.models import Event

    ev = Event._meta.db_table
    since = connection.ops.adapt_datetimefield_value(now - timedelta(days=14))
    seeds = ",".join(str(int(s)) for s in seed_ids[:500])
    sql = (f"SELECT e.subscriber_id, COUNT(DISTINCT e.content_id) FROM {ev} e WHERE e.type = 'read' AND e.occurred_at >= %s "
           f"AND e.content_id IN (SELECT DISTINCT s.content_id FROM {ev} s WHERE s.subscriber_id IN ({seeds}) "
           f"AND s.occurred_at >= %s AND s.content_id <> %s) GROUP BY e.subscriber_id")
    counts = _read_counts(sql, [since, since, content.pk], ids)
    return np.log1p(counts) / np.log1p(max(counts.max(), 1.0))


def get_ranker(client):
    """The ranker for a client: the trained models when there are, else the interim one."""
    return InterimRanker()
