"""What the sweep does, in order. The beat runs it every ``SWEEP_SECONDS`` (a minute in
production); the simulator runs the same function on simulated time with its own ranker and
dispatcher. Each step is idempotent and takes ``now``, so a lost tick only delays work.

1. subscribers' activity from the events stored since the last sweep;
2. the events' retention: next month's partition made ahead, the months past the retention
   dropped once step 1 has rolled them up (``events_partitions_maintain``);
3. expiry (campaigns of expired contents end through the engine);
4. evaluation of due contents, and the launch of candidates their client's policy approves;
5. campaigns: close waves whose sends are done, decide waves whose window passed, plan the next;
6. the dispatcher, when pushes wait or a stopped worker's claims are due to be taken back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from apps.delivery.selectors import sends_due_exist
from apps.delivery.tasks import dispatch_soon
from apps.events.services import events_partitions_maintain, subscribers_activity_rollup
from apps.orchestration.engine import RankerFor, campaigns_advance_due
from apps.orchestration.evaluation import ScorerFor, contents_evaluate_due
from apps.orchestration.expiry import contents_expire_due

Dispatcher = Callable[[datetime], object]


def sweep(*, now: datetime, ranker_for: RankerFor | None = None, dispatch: Dispatcher = dispatch_soon,
          settle: bool = False, scorer_for: ScorerFor | None = None) -> dict[str, int]:
    """One sweep at ``now``. ``ranker_for``: client -> ranker (default: the product's);
    ``scorer_for``: client id -> push-worthiness scorer (default: each client's active one);
    ``dispatch(now)``: hands the waiting sends over (default: a Celery task after commit);
    ``settle``: roll up every stored event, not only those older than one sweep (in-process runs,
    where nothing writes concurrently)."""
    done = {"activity": subscribers_activity_rollup(settle=settle)}
    done.update({f"events_{k}": n for k, n in events_partitions_maintain(now=now).items()})
    done["expired"] = contents_expire_due(now=now)
    done["evaluated"] = contents_evaluate_due(now=now, ranker_for=ranker_for, scorer_for=scorer_for)
    done.update(campaigns_advance_due(now=now, ranker_for=ranker_for))
    done["dispatched"] = int(sends_due_exist(now=now))
    if done["dispatched"]:
        dispatch(now)
    return done
