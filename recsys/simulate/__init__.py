"""The simulated world the product's services are run against (pure: no Django).

Subscribers with latent tastes over topics, a weekly activity state (active, lapsing,
inactive), a usual push CTR and a time zone; a stream of Korean and English contents whose text
comes from real corpora (gensim's Lee news corpus, konlpy's Korean corpus) clustered into
topics; organic reads; push clicks drawn from the truth with heavy-tailed delays; reactivation.
Every default is calibrated to a public figure or marked as an assumption (``calibration.SOURCES``)
and one ``difficulty`` knob makes the world easier or harder. See ``docs/simulator.md``.

Modules:

- ``world``: ``WorldConfig``, ``World`` (``advance``, ``push``, truth: ``true_click_prob``,
  ``true_improvement``, ``oracle_rank``, ``weekly_active``, ``push_log``)
- ``calibration``: ``Calibration`` defaults, their sources, the difficulty knob
- ``vocab``: per-topic sentences from the corpora, content text
- ``measure``: click improvement with its interval, clicks and reactivations per 1,000 pushes,
  weekly-active lift against the holdout
- ``reference``: random and oracle strategies run directly against the world
"""

from recsys.simulate.calibration import DIFFICULTY_PRESETS, SOURCES, STATES, Calibration
from recsys.simulate.measure import (
    ContentTable, Lift, PushSummary, by_content, poisson_interval, summarize, weekly_active_lift,
)
from recsys.simulate.reference import run_hindsight, run_reference, run_universal
from recsys.simulate.world import (
    DAY, HOUR, WEEK, Activity, ContentSpec, Events, PushLog, Subscribers, World, WorldConfig,
)

__all__ = [
    "Activity", "Calibration", "ContentSpec", "ContentTable", "by_content", "DAY", "DIFFICULTY_PRESETS", "Events", "HOUR", "Lift",
    "PushLog", "PushSummary", "SOURCES", "STATES", "Subscribers", "WEEK", "World", "WorldConfig",
    "poisson_interval", "run_hindsight", "run_reference", "run_universal", "summarize", "weekly_active_lift",
]
