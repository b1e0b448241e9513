"""Id lookups shared by the product's services: where each id stands in a sorted id array."""

from __future__ import annotations

import numpy as np

__all__ = ["positions", "tie_order"]


def positions(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each of ``ids`` in the ascending array ``sorted_ids``; -1 where absent."""
    sorted_ids, ids = np.asarray(sorted_ids), np.asarray(ids)
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def tie_order(ids: np.ndarray, salt: int = 0) -> np.ndarray:
    """A pseudo-random but fixed order of ``ids`` for breaking ties (uint64 keys: smaller goes
    first): splitmix64 of each id mixed with ``salt`` (e.g. the content's id, so that the people
    who win the ties differ from one content to the next). A function of each id alone, so the
    same people win however a set of ids is split or chunked."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids).astype(np.uint64) + np.uint64((int(salt) * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) % 2 ** 64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
