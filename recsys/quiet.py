"""Quiet hours: the local hours in which nobody is pushed (a client's policy, 22 to 8 by default).

One rule for every place that needs it: who may be pushed now (``apps.audience.selectors``,
``apps.delivery.selectors``), when a client's nightly training may start
(``apps.orchestration.training``) and when the simulator's yardsticks may push
(``recsys.simulate.reference``). Pure Python.
"""

from __future__ import annotations

__all__ = ["in_quiet_hours"]


def in_quiet_hours(local_hour: int, start: int, end: int) -> bool:
    """Whether ``local_hour`` (0-23) is inside quiet hours ``[start, end)``, which may wrap
    midnight (22 to 8); ``start == end``: no quiet hours."""
    if start == end:
        return False
    return start <= local_hour < end if start < end else (local_hour >= start or local_hour < end)
