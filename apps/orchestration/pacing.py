"""Pacing the weekly slots while nothing prices them.

Each person may get one content push per cap window, and the slot's price
(``apps.mlops.slots``) makes a content wait for a person until it is worth what their slot would
otherwise find. The price needs a click model; a client has none in its first days, when every
price is 0 and first-come would spend nearly every slot on the first contents of the week (the
demo's first campaign took 7,260 of 11,697 people, and its first hour 94% of the slots).

Until the slots are priced, a campaign of a priced objective (``clicks`` or ``reactivations``;
``first_come`` is the client's own choice and is not paced) may reach at most its share of the
window's slots: the client's opted-in people divided by the push candidates it is expected to
have in a cap window, times the content's push-worthiness score over the mean of those
candidates' (a content predicted twice as good gets twice the share). The candidates expected
are the client's contents of the last cap window (since its first one when it is younger),
scaled to a whole window (or those of its last seventh, when they come faster), times the share of its evaluated contents that reached the candidate
threshold. Over a window the shares add up to about everyone once; a newcomer's first
contents, whose rate is judged on a few hours, get small shares rather than everyone's slot.

The models that end the pacing learn from clicks: the click model needs 50 to train and 20 on
contents it did not train on, the click-delay curve 100. So until the client's pushes are expected
to have brought ``LEARNING_CLICKS`` (the sum of their recipients' usual CTRs), each campaign may
still reach its first wave whatever its share: the first contents teach the models, each with a
first wave, and the rest of the week is paced.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import numpy as np

from django.db.models import Sum

from apps.audience.models import Subscriber
from apps.contents.models import Content
from apps.delivery.models import Send

MIN_SPAN = timedelta(hours=1)  # the contents' rate is never judged on less than this
PACE_PARTS = 7  # the rate is also judged on the last seventh of the window (a day of a week)
MIN_SCORED = 5  # the candidates' share is assumed 1 until this many contents of the window were scored
LEARNING_CLICKS = 150  # expected clicks of the client's pushes before a share may be below a first wave


@dataclass(frozen=True)
class Pace:
    """A campaign's share of the window's slots (``share``) and what is left of it (``allowed``),
    with the numbers it came from (each in the wave's plan numbers)."""

    allowed: int
    share: int
    people: int
    candidates_per_window: float
    score_ratio: float
    learning: bool  # the client's pushes have not yet brought LEARNING_CLICKS: a first wave at least

    def numbers(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def slot_pace(*, client_id: int, policy, content: Content, sent: int, first_wave: int, now: datetime) -> Pace:
    """The pace of ``content``'s campaign, which has made ``sent`` sends so far and whose first
    wave is ``first_wave`` people (see the module). Three queries: the opted-in count (on the
    slot index), the window's contents, the expected clicks of the client's pushes."""
    window = policy.cap_window
    people = Subscriber.objects.filter(client_id=client_id, push_opt_in=True).count()
    rows = list(Content.objects.filter(client_id=client_id, created_at__gte=now - window, created_at__lte=now)
                .values_list("created_at", "push_score", "evaluated_at"))
    first = min((at for at, _, _ in rows), default=now)
    # the contents' rate over the window and over its last seventh, the higher: a client whose
    # contents come faster now than in its archive is judged on the recent rate
    rate = 0.0
    for horizon in (window, window / PACE_PARTS):
        count = sum(1 for at, _, _ in rows if at >= now - horizon)
        rate = max(rate, count / max(min(horizon, now - first), MIN_SPAN).total_seconds())
    scores = np.array([s for _, s, evaluated in rows if evaluated is not None and s is not None], dtype=float)
    passed = scores[scores >= policy.candidate_threshold]
    passing = len(passed) / len(scores) if len(scores) >= MIN_SCORED else 1.0
    per_window = max(rate * window.total_seconds() * passing, 1.0)
    ratio = 1.0
    if content.push_score is not None and len(passed) and passed.mean() > 0:
        ratio = float(content.push_score) / float(passed.mean())
    share = min(people, math.ceil(people / per_window * ratio))
    expected = Send.objects.filter(campaign__client_id=client_id).aggregate(total=Sum("baseline_ctr"))["total"] or 0.0
    learning = expected < LEARNING_CLICKS
    if learning:
        share = max(share, int(first_wave))
    return Pace(allowed=max(share - int(sent), 0), share=share, people=people,
                candidates_per_window=float(per_window), score_ratio=ratio, learning=learning)
