"""Reference strategies run directly against the world (no product): random and oracle.

They bound what the product can do: ``random`` is the floor (click improvement about 1),
``oracle`` the ceiling (it knows every true click probability). Both respect the product's rules
that matter for the comparison: opted-in only, never the holdout, one content push per person
per 7 days, one wave per content sent ``push_delay_s`` after the content is created.

    log = run_reference(world, "oracle", until=7 * DAY, audience_size=500)
    summarize(log)

Pure library: numpy only.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from recsys.simulate.world import DAY, PushLog, World

__all__ = ["Strategy", "oracle", "random", "run_reference"]

Strategy = Callable[[World, int, np.ndarray, int, np.random.Generator], np.ndarray]


def random(world: World, content: int, eligible: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    k = min(k, len(eligible))
    return rng.choice(eligible, size=k, replace=False) if k else eligible[:0]


def oracle(world: World, content: int, eligible: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    return world.oracle_rank(content, eligible, k)


STRATEGIES: dict[str, Strategy] = {"random": random, "oracle": oracle}


def run_reference(world: World, strategy: str | Strategy, *, until: float, audience_size: int = 500,
                  push_delay_s: float = 600.0, cap_s: float = 7 * DAY, seed: int = 0,
                  select: Callable[[World, int], bool] | None = None) -> PushLog:
    """Advance ``world`` to ``until``, pushing each new content (for which ``select`` says yes)
    once to ``audience_size`` eligible subscribers chosen by ``strategy``. Returns the pushes
    made by this run (the world's log may hold others)."""
    strat = STRATEGIES[strategy] if isinstance(strategy, str) else strategy
    rng = np.random.default_rng(seed)
    s = world.subscribers
    pushable = s.push_opt_in & ~s.holdout
    last_push = np.full(world.n, -np.inf)
    first_log = len(world.push_log())
    queue: list[tuple[float, int]] = []
    while True:
        next_due = queue[0][0] if queue else np.inf
        next_hour = (np.floor(world.now / 3600.0) + 1) * 3600.0
        act = world.advance(min(until, next_hour, max(next_due, world.now)))
        for spec in act.contents:
            if select is None or select(world, spec.index):
                queue.append((spec.created_at + push_delay_s, spec.index))
        queue.sort()
        while queue and queue[0][0] <= world.now:
            due, c = queue.pop(0)
            eligible = np.flatnonzero(pushable & (last_push <= due - cap_s))
            chosen = np.asarray(strat(world, c, eligible, audience_size, rng), np.int64)
            if len(chosen):
                world.push(c, chosen, due)
                last_push[chosen] = due
        if world.now >= until:
            break
    log = world.push_log()
    return log.select(np.arange(len(log)) >= first_log)
