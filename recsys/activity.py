"""Long-horizon reading activity: how much, and how habitually, each subscriber has read.

Who comes back matters as much as what they like when the candidates are idle: a person who
read on many different days in the past months is likely to read again, whatever the content.
Two numbers per subscriber, both from their reads with timestamps over a long window
(``window_days``, default 180) and decayed with a half-life (``half_life_days``, default 60,
so a read at the window's edge keeps 1/8 of a fresh one's weight):

- ``reads``: the decayed count of reads, ``sum 0.5 ** (age / half_life)`` over the reads;
- ``active_days``: the decayed count of distinct days with a read (UTC calendar days), each
  day weighted by the age of its latest read: the habit of returning, which a burst of many
  reads in one sitting does not inflate.

Production computes them at wave time from its events table (the subscriber's reads and their
``occurred_at``, up to now) and passes them to ``recsys.audience.product_rank`` as
``reads_180d`` and ``active_days_180d``; the replay computes them from the interactions at or
before each decision.

Public API::

    long_horizon_activity(user_index, timestamps, *, n_users, now, window_days=180.0,
                          half_life_days=60.0) -> (reads, active_days), (n_users,) float64 each
    decay_weights(timestamps, *, now, window_days=180.0, half_life_days=60.0) -> (n,) float64
"""

from __future__ import annotations

import numpy as np

__all__ = ["LONG_HALF_LIFE_DAYS", "LONG_WINDOW_DAYS", "decay_weights", "long_horizon_activity"]

DAY = 86400.0
LONG_WINDOW_DAYS = 180.0
LONG_HALF_LIFE_DAYS = 60.0


def decay_weights(timestamps, *, now: float, window_days: float = LONG_WINDOW_DAYS,
                  half_life_days: float = LONG_HALF_LIFE_DAYS) -> np.ndarray:
    """``0.5 ** (age / half_life)`` per event (seconds), 0 for events older than the window or
    after ``now``."""
    if window_days <= 0 or half_life_days <= 0:
        raise ValueError("window_days and half_life_days must be positive")
    age = (now - np.asarray(timestamps, dtype=np.float64)) / DAY
    inside = (age >= 0) & (age <= window_days)
    return np.where(inside, np.exp2(-np.maximum(age, 0.0) / half_life_days), 0.0)


def long_horizon_activity(user_index, timestamps, *, n_users: int, now: float, window_days: float = LONG_WINDOW_DAYS,
                          half_life_days: float = LONG_HALF_LIFE_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Decayed read count and decayed count of distinct active days per user.

    ``user_index[e]`` read at ``timestamps[e]`` (unix seconds); events after ``now`` or older
    than ``window_days`` do not count. Users without a read in the window get 0.
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
    last = np.r_[key[order][1:] != key[order][:-1], True]  # the latest read of each (user, day)
    days = np.bincount(u[order][last], weights=w[order][last], minlength=n_users).astype(np.float64)
    return reads, days
