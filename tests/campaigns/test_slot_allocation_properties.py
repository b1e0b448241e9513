"""Property test: with slot prices, a wave still keeps every rule (opt-in, the cap window's
slot, quiet hours, the segment, the holdout; never the same content twice is the eligibility
query's, tested beside), stated in plain Python, and every ranked or probed recipient is one the
content is worth at least their price to.
The ranker is a fixed table of calibrated click probabilities (the input the price is set
against), so the rules are checked, not a model."""

import itertools
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings, strategies as st

from apps.audience.models import Subscriber
from apps.audience.selectors import Segment, is_eligible
from apps.core.models import Policy
from apps.delivery.models import Send
from apps.mlops.ranking import Ranked

ZONES = ["UTC", "Asia/Seoul", "America/New_York"]
EXAMPLE = itertools.count()  # a new content for every example
offsets = st.one_of(st.none(), st.floats(min_value=0, max_value=20, allow_nan=False).map(lambda d: timedelta(days=d)))
person = st.fixed_dictionaries({
    "push_opt_in": st.booleans(),
    "timezone": st.sampled_from(ZONES),
    "last_push_ago": offsets,
    "last_activity_ago": offsets,
    "price": st.sampled_from([0.0, 0.01, 0.05, 0.2, 0.5]),
    "p": st.floats(min_value=0.0, max_value=0.6, allow_nan=False),
})


class TableRanker:
    """Ranks by a fixed click probability per subscriber id (calibrated, as a click model's)."""

    name = "table"

    def __init__(self, p: dict[int, float]):
        self.p = p

    def rank(self, *, candidates, content, seed_ids, k, now, rng):
        score = np.array([self.p[int(i)] for i in candidates.ids])
        order = np.lexsort((candidates.ids, -score))[:k]
        return Ranked(candidates.ids[order], score[order], {}, self.name, calibrated=True)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql",
                    reason="the price rule is the engine's Python; the eligibility query's SQL is tested on both beside")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(person, min_size=1, max_size=20), hour=st.integers(0, 23), size=st.integers(1, 12),
       objective=st.sampled_from(["clicks", "reactivations", "first_come"]), inactive_days=st.integers(1, 14),
       quiet=st.tuples(st.integers(0, 23), st.integers(0, 23)), holdout=st.sampled_from([0.0, 0.3]))
def test_priced_waves_keep_the_rules(client_a, approved_content, people, hour, size, objective, inactive_days, quiet,
                                     holdout):
    from apps.orchestration.engine import campaign_launch

    n = next(EXAMPLE)
    Subscriber.objects.update(push_opt_in=False)  # the earlier examples' people are out of it (the log keeps their rows)
    now = datetime(2026, 11, 28, hour, 30, tzinfo=timezone.utc)
    Policy.objects.filter(client=client_a).update(slot_objective=objective, inactive_days=inactive_days,
                                                  quiet_hours_start=quiet[0], quiet_hours_end=quiet[1],
                                                  exploration_share=0.2, holdout_share=holdout)
    content = approved_content(external_id=f"prop-{n}", created_at=now - timedelta(minutes=40))
    subs, p = [], {}
    for i, x in enumerate(people):
        s = Subscriber.objects.create(
            client=client_a, external_id=f"h{n}-{i}", push_opt_in=x["push_opt_in"], timezone=x["timezone"], slot_price=x["price"],
            last_content_push_at=None if x["last_push_ago"] is None else now - x["last_push_ago"],
            last_activity_at=None if x["last_activity_ago"] is None else now - x["last_activity_ago"])
        subs.append(s)
        p[s.pk] = x["p"]
    # the policy's segment: everyone opted in for the clicks objective, the inactive otherwise
    segment = Segment(activity="any" if objective == "clicks" else "inactive", inactive_days=inactive_days)
    policy = Policy.objects.get(client=client_a)
    eligible = {s.pk for s in subs if is_eligible(s, now=now, sent_this_content=False, segment=segment,
                                                  cap_window=policy.cap_window, quiet_start=quiet[0], quiet_end=quiet[1])}
    subs_before = {s.pk: s.last_content_push_at for s in subs}

    def worth(s):  # the price rule in plain words
        if objective == "first_come":
            return True
        last = s.last_activity_at
        inactive = last is None or last < now - timedelta(days=inactive_days)
        value = p[s.pk] if objective == "clicks" or inactive else 0.0
        return value >= s.slot_price

    campaign = campaign_launch(content=content, now=now, ranker_for=lambda client: TableRanker(p), initial_size=size)
    rows = list(Send.objects.filter(campaign=campaign).values_list("subscriber_id", "state", "chosen_by", "value",
                                                                   "slot_price"))
    by_pk = {s.pk: s for s in subs}
    got = {r[0] for r in rows}
    assert got <= eligible  # opt-in, the slot, never twice, quiet hours, segment
    assert len(got) == len(rows)  # one row per person
    for sid, state, how, value, price in rows:
        if how != "explored":
            assert worth(by_pk[sid]), (sid, value, price)
        if how != "explored" and state != "held_out":  # a send records what it was worth and its price
            assert value is not None and price == pytest.approx(by_pk[sid].slot_price)
        if state == "held_out":  # held out: no slot claimed
            assert Subscriber.objects.get(pk=sid).last_content_push_at == subs_before[sid]
        else:
            assert Subscriber.objects.get(pk=sid).last_content_push_at == now
    assert not Send.objects.filter(campaign=campaign).exclude(subscriber_id__in=eligible).exists()
