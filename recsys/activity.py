"""Long-horizon reading activity: how much, and how habitually, each subscriber has read.

Who comes back matters as much as what they like when the candidates are idle: a person who
read on many different days in the past months is likely to read again, whatever the content.
Two numbers per subscriber from their reads with timestamps, each read (or day) weighing
``0.5 ** (age / half_life_days)`` (60 days: a read 180 days old keeps 1/8 of a fresh one's
weight; nothing is cut off):

- ``reads``: the decayed count of reads;
- ``active_days``: the decayed count of distinct days with a read (UTC calendar days), each
  day weighted by the age of its first read: the habit of returning, which a burst of many
  reads in one sitting does not inflate.

Both are sums of ``2 ** ((t - DECAY_EPOCH) / half_life)`` scaled down to ``now`` by
``2 ** (-(now - DECAY_EPOCH) / half_life)``, so production keeps them on each subscriber as
running sums (``decay_increment`` added as reads arrive, ``decayed_at`` to read them at any
time) instead of reading months of events for every wave; the replay computes the same numbers
from the interactions at or before each decision (``long_horizon_activity``). They reach
``recsys.audience.product_rank`` as ``reads_decayed`` and ``active_days_decayed``.

Public API::

    long_horizon_activity(user_index, timestamps, *, n_users, now, window_days=None,
                          half_life_days=60.0) -> (reads, active_days), (n_users,) float64 each
    decay_increment(timestamps, half_life_days=60.0) -> what each read adds to a running sum
    decayed_at(running_sum, now, half_life_days=60.0) -> its value at ``now``
    decay_weights(timestamps, *, now, window_days=180.0, half_life_days=60.0) -> (n,) float64
    category_profiles(user_index, item_index, timestamps, *, now, n_users, item_category, n_categories,
                      weights=None, window_days=180.0, half_life_days=60.0)
        -> (n_users, n_categories) float32, unit rows: what each one reads, by category

A third long-horizon number is per category: each person's decayed reads per category of the
contents read, as a unit vector (``category_profiles``). Its entry for a new content's category
is the cosine of the person's mix with that category: who reads this kind of content, known
from the category alone before anyone has read the content, and for people idle for months as
well as for the daily readers (the scale of a person's reading divides out). It is the
``category`` component of ``recsys.audience``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DECAY_EPOCH", "LONG_HALF_LIFE_DAYS", "LONG_WINDOW_DAYS", "category_profiles", "decay_increment",
           "decay_weights", "decayed_at", "long_horizon_activity"]

DAY = 86400.0
LONG_WINDOW_DAYS = 180.0
LONG_HALF_LIFE_DAYS = 60.0
DECAY_EPOCH = 1577836800.0  # 2020-01-01 UTC: running sums are kept in this epoch's scale (2**x fits a double to 2180)


def decay_increment(timestamps, half_life_days: float = LONG_HALF_LIFE_DAYS) -> np.ndarray:
    """What a read at each of ``timestamps`` (unix seconds) adds to a running decayed sum."""
    return np.exp2((np.asarray(timestamps, dtype=np.float64) - DECAY_EPOCH) / (half_life_days * DAY))


def decayed_at(running_sum, now: float, half_life_days: float = LONG_HALF_LIFE_DAYS) -> np.ndarray:
    """A running sum of ``decay_increment`` read at ``now``: sum of 0.5 ** (age / half-life)."""
    return np.asarray(running_sum, dtype=np.float64) * np.exp2(-(float(now) - DECAY_EPOCH) / (half_life_days * DAY))


def decay_weights(timestamps, *, now: float, window_days: float | None = LONG_WINDOW_DAYS,
                  half_life_days: float = LONG_HALF_LIFE_DAYS) -> np.ndarray:
    """``0.5 ** (age / half_life)`` per event (seconds), 0 for events after ``now`` or older than
    ``window_days`` (None: no limit)."""
    if (window_days is not None and window_days <= 0) or half_life_days <= 0:
        raise ValueError("window_days and half_life_days must be positive")
    age = (now - np.asarray(timestamps, dtype=np.float64)) / DAY
    inside = (age >= 0) if window_days is None else (age >= 0) & (age <= window_days)
    return np.where(inside, np.exp2(-np.maximum(age, 0.0) / half_life_days), 0.0)


def long_horizon_activity(user_index, timestamps, *, n_users: int, now: float, window_days: float | None = None,
                          half_life_days: float = LONG_HALF_LIFE_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Decayed read count and decayed count of distinct active days per user.

    ``user_index[e]`` read at ``timestamps[e]`` (unix seconds); events after ``now`` (or older
    than ``window_days``, when given) do not count. Users without a read get 0. Equal to the
    running sums production keeps (``decay_increment`` per read, and per day at its first read),
    read at ``now``.
    """
    u = np.asarray(user_index, dtype=np.int64)
    ts = np.asarray(timestamps, dtype=np.float64)
    if u.shape != ts.shape:
        raise ValueError("user_index and timestamps must have one entry per event")
    if len(u) and (u.min() < 0 or u.max() >= n_users):
        raise ValueError("user_index out of range [0, n_users)")
    w = decay_weights(ts, now=now, window_days=window_days, half_life_days=half_life_days)
    keep = w > 0
    u, ts, w = u[keep], ts[keep], w[keep]
    reads = np.bincount(u, weights=w, minlength=n_users).astype(np.float64)
    if not len(u):
        return reads, np.zeros(n_users)
    day = np.floor(ts / DAY).astype(np.int64)
    key = u * (int(day.max()) - int(day.min()) + 1) + (day - day.min())
    order = np.lexsort((ts, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]  # the first read of each (user, day)
    days = np.bincount(u[order][first], weights=w[order][first], minlength=n_users).astype(np.float64)
    return reads, days


_CHUNK = 1 << 20


def category_profiles(user_index, item_index, timestamps, *, now: float, n_users: int, item_category,
                      n_categories: int, weights=None, window_days: float | None = LONG_WINDOW_DAYS,
                      half_life_days: float = LONG_HALF_LIFE_DAYS) -> np.ndarray:
    """Each user's decayed reads per category, as a unit row (zeros: nothing read in a category).

    ``user_index[e]`` read ``item_index[e]`` at ``timestamps[e]`` (unix seconds), weighing
    ``weights[e]`` (default 1) times ``0.5 ** (age / half_life_days)``; events after ``now`` or
    older than ``window_days`` do not count. ``item_category[item]`` is the item's category
    column, -1 for none. Returns (n_users, n_categories) float32 with rows of L2 norm 1 or 0,
    so that ``profiles[:, c]`` is the cosine of each one's mix with category ``c``. Events are
    taken a chunk at a time: no event-sized temporaries."""
    u = np.asarray(user_index)
    i = np.asarray(item_index)
    ts = np.asarray(timestamps)
    if not (u.shape == i.shape == ts.shape) or (weights is not None and np.shape(weights) != u.shape):
        raise ValueError("user_index, item_index, timestamps and weights must have one entry per event")
    if len(u) and (u.min() < 0 or u.max() >= n_users):
        raise ValueError("user_index out of range [0, n_users)")
    cat = np.asarray(item_category, dtype=np.int64)
    if len(i) and (i.min() < 0 or i.max() >= len(cat)):
        raise ValueError("item_index out of range of item_category")
    if n_categories < 0 or (len(cat) and (cat.max() >= n_categories or cat.min() < -1)):
        raise ValueError("item_category out of range [-1, n_categories)")
    out = np.zeros(n_users * n_categories, dtype=np.float64)
    for lo in range(0, len(u), _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        w = decay_weights(ts[sl], now=now, window_days=window_days, half_life_days=half_life_days)
        if weights is not None:
            given = np.asarray(weights[sl], dtype=np.float64)
            if np.any(given < 0) or not np.all(np.isfinite(given)):
                raise ValueError("weights must be finite and non-negative")
            w *= given
        c = cat[i[sl]]
        keep = (c >= 0) & (w > 0)
        out += np.bincount(u[sl][keep].astype(np.int64) * n_categories + c[keep], weights=w[keep],
                           minlength=n_users * n_categories)
    out = out.reshape(n_users, n_categories)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))
    out /= np.maximum(norms, 1e-300)[:, None]
    return out.astype(np.float32)
