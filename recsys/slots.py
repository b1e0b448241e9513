"""The weekly slot's price: push a person a content only when it is worth more than what their
slot would otherwise find.

Each person may get one content push per rolling ``cap`` (7 days), so a push spends the slot
until it comes free again. First-come spends it on whichever worthy content appears first; the
price makes a content wait for a person until it is worth at least what their slot is expected
to find anyway.

The price is a renewal rule on the recent stream: over the last slot period, the values the
person's slot would have found (one per content, e.g. the calibrated click probability of each
content of the last 7 days for that person). A threshold at the person's j-th best value lets
about j contents a period through (if the stream stays as it was), so a free slot waits on
average 1/j of a period for one, finds on average the mean of the top j, and is then locked for
a whole period (the cap is rolling: it comes free a period after the push, so waiting also
delays the next slot). Over the long run the slot earns, per period,

    rate_j = mean(top j) * j / (j + 1)      (value per cycle / cycle length: 1 + 1/j periods)

and a content is worth the slot when its value is at least what the slot would earn at the best
of these rates during the period the push locks it (renewal-reward: accept v when v >= g* T):

    price = max_j j / (j + 1) * mean(top j values)

With nothing found in the last period the price is 0 and the rule is first-come. (The rule
before 5 December, ``max_j (1 - exp(-j)) * mean(top j)``, treated the slot as one per calendar
period, which ignores that waiting delays the next slot: its prices were higher and left slots
idle; fed the truth in the simulated world, the rolling rule gets 0.94 / 0.97 of the hindsight
optimum's steady clicks where the old one got 0.86 / 0.90, seeds 0 / 1, docs/simulator.md.)

Pure numpy; no Django.
"""

from __future__ import annotations

import numpy as np

__all__ = ["renewal_prices", "pair_values"]


def pair_values(click_prob: np.ndarray, usual_ctr: np.ndarray | None = None, *, inactive: np.ndarray | None = None,
                objective: str = "clicks", inactive_weight: float = 1.0) -> np.ndarray:
    """The value of pushing a content to each person: its expected clicks (``objective="clicks"``)
    or only those of people inactive when sent (``"reactivations"``); ``inactive_weight`` > 1 tilts
    the clicks objective toward inactive people. ``usual_ctr``: subtracted when given (the clicks
    the person's usual push would bring anyway: the incremental value)."""
    p = np.asarray(click_prob, dtype=np.float64)
    if objective not in ("clicks", "reactivations"):
        raise ValueError(f"objective must be 'clicks' or 'reactivations', not {objective!r}")
    if (objective == "reactivations" or inactive_weight != 1.0) and inactive is None:
        raise ValueError("inactive: needed for the reactivations objective or an inactive weight")
    value = p - np.asarray(usual_ctr, dtype=np.float64) if usual_ctr is not None else p.copy()
    if objective == "reactivations":
        value = np.where(np.asarray(inactive, bool), value, 0.0)
    elif inactive_weight != 1.0:
        value = np.where(np.asarray(inactive, bool), inactive_weight * value, value)
    return value


def renewal_prices(values: np.ndarray, *, chunk: int = 65_536) -> np.ndarray:
    """Each row's price: ``max_j j / (j + 1) * mean(top j)`` over the row's values (one row per
    person, one column per content of the last slot period; NaN or <= 0: nothing found there).
    A row with nothing positive has price 0 (any worthy content may take the slot)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-dimensional (people x contents), got shape {v.shape}")
    out = np.zeros(len(v))
    if v.shape[1] == 0:
        return out
    j = np.arange(1, v.shape[1] + 1, dtype=np.float64)
    share = j / (j + 1.0)  # of a period's value the slot earns, waiting 1/j period for it
    for lo in range(0, len(v), chunk):
        block = np.where(np.isfinite(v[lo:lo + chunk]) & (v[lo:lo + chunk] > 0), v[lo:lo + chunk], 0.0)
        top = -np.sort(-block, axis=1)  # best first
        mean_top = np.cumsum(top, axis=1) / j
        out[lo:lo + chunk] = (share * mean_top).max(axis=1)
    return out
