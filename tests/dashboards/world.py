"""A small, realistic world for the dashboards, built only through the product's services.

Until ``manage.py simulate`` lands, the browser tests fill their database with this: one client's
subscribers with five weeks of organic reads (regulars, occasional readers, dormant people),
contents registered and evaluated by the sweep, and a push every few days: titles approved,
``campaign_launch``, waves dispatched to a log provider, opens and clicks reported through
``events_ingest`` as they would arrive, the sweep deciding expand / re-send / stop after each
observation window. The last push is still running when the world is handed over; its provider
fails some pushes and a few of its recipients turn pushes off, so the alerts have something to say.

Everything is relative to ``now`` (the real clock by default, because the pages use it) and
seeded, so two builds with the same arguments give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from apps.delivery.providers.base import DeliveryResult
from apps.delivery.providers.log import LogProvider

STORIES = [
    ("rates", "Central bank raises interest rates to curb inflation",
     "The central bank raised its benchmark rate by half a point, citing stubborn inflation and a tight labour market.",
     "economy", "en", 0.045),
    ("subway", "서울 지하철 요금 내달부터 150원 인상",
     "서울시는 지하철 기본요금을 다음 달부터 150원 올린다고 밝혔다. 버스 요금도 함께 오른다.", "society", "ko", 0.03),
    ("storm", "Storm warning for the east coast as heavy rain moves in",
     "Forecasters issued a storm warning for the east coast. Heavy rain and strong winds are expected overnight.",
     "weather", "en", 0.008),
    ("final", "Underdogs reach the cup final after extra-time winner",
     "A header in the 118th minute sent the underdogs to their first cup final in forty years.", "sports", "en", 0.035),
    ("chips", "Chipmaker shares jump on record quarterly orders",
     "Orders for memory chips hit a record in the quarter as data-centre spending keeps growing.", "economy", "en", 0.015),
    ("election", "Turnout hits a 30-year high in the local elections",
     "Turnout in the local elections reached its highest level in thirty years, officials said.", "politics", "en", 0.028),
]
BACKGROUND = [
    ("recipe-{}", "Five weeknight dinners under 30 minutes", "food"),
    ("match-{}", "League round-up: late goals decide three games", "sports"),
    ("market-{}", "Markets close higher as oil prices ease", "economy"),
    ("tech-{}", "새 스마트폰 사전 예약 시작", "tech"),
    ("weather-{}", "Weekend forecast: sun returns after a grey week", "weather"),
]
CATEGORIES = sorted({c for *_, c in BACKGROUND})


class FlakyProvider(LogProvider):
    """The log provider, except that every ``fail_every``-th push is refused for a dead token."""

    def __init__(self, fail_every: int = 0):
        super().__init__(keep=10)
        self.fail_every = fail_every

    def send_batch(self, messages):
        results = super().send_batch(messages)
        if not self.fail_every:
            return results
        return [DeliveryResult(send_id=r.send_id, ok=False, permanent=True,
                               error="UNREGISTERED: the device token is no longer valid")
                if r.send_id % self.fail_every == 0 else r for r in results]


@dataclass
class World:
    client: object
    now: datetime
    campaigns: list = field(default_factory=list)
    running: object = None
    subscribers: int = 0
    events: int = 0


def build_world(*, client, editor, now: datetime | None = None, seed: int = 7, subscribers: int = 800,
                days: int = 35, pushes: int = 8) -> World:
    """Build the world for ``client`` (its editor approves and launches). ``pushes`` finished
    campaigns spread over the last ``days`` days, then one launched 45 minutes before ``now``."""
    from apps.audience.services import subscribers_bulk_upsert
    from apps.events.services import subscribers_activity_rollup
    from apps.core import clock
    from apps.core.models import Policy
    from apps.dashboards.services import dashboards_rollup

    now = (now or clock.now()).replace(microsecond=0)
    rng = np.random.default_rng(seed)
    # No quiet hours for this client: the last push runs at whatever hour the test runs.
    # (An admin's setting in the admin site; there is no service for it.)
    Policy.objects.filter(client=client).update(quiet_hours_start=0, quiet_hours_end=0)
    client.refresh_from_db()
    # The world's days are anchored to ``now`` (it falls at 14:00 of the last one), not to the
    # calendar: the seven-day slot of a push made at noon a week ago is then free whatever the
    # hour the test runs (anchored to midnight, a run just after midnight found that week's
    # recipients still capped and the running campaign ran out of people).
    start = now - timedelta(days=days, hours=14)
    platforms = np.array(["android", "ios", "web"])[rng.choice(3, subscribers, p=[0.55, 0.35, 0.10])]
    items = [{"external_id": f"s{i:04d}", "timezone": "UTC", "platform": str(platforms[i]), "push_token": f"tok-{i}"}
             for i in range(subscribers)]
    subscribers_bulk_upsert(client=client, items=items, now=start)
    # Reading habits: a few regulars, more occasional readers, and a dormant majority.
    habit = rng.choice(3, subscribers, p=[0.2, 0.3, 0.5])
    daily_read_p = np.array([0.6, 0.08, 0.004])[habit]
    world = World(client=client, now=now, subscribers=subscribers)

    background = {}
    for d in range(days + 1):
        day = start + timedelta(days=d)
        for ext, title, category in BACKGROUND:
            key = ext.format(d)
            background[key] = _register(client, key, title=f"{title} ({day:%b %d})", body=title, category=category,
                                        language="ko" if category == "tech" else "en", at=day + timedelta(hours=6))

    launch_days = sorted({int(x) for x in np.linspace(4, days - 3, pushes)}) if pushes else []
    provider = FlakyProvider()
    for d in range(days + 1):
        day = start + timedelta(days=d)
        if day > now:
            break
        readers = np.flatnonzero(rng.random(subscribers) < daily_read_p)
        keys = [k for k in background if k.endswith(f"-{d}")]
        reads = []
        for s in readers:
            at = day + timedelta(hours=float(rng.uniform(7, 23)))
            if at >= now - timedelta(minutes=2):
                continue
            reads.append({"event_id": f"read-{d}-{s}", "type": "read", "subscriber": f"s{s:04d}",
                          "content": keys[int(rng.integers(len(keys)))], "occurred_at": at.isoformat()})
        world.events += _ingest(client, reads, now=min(day + timedelta(days=1), now))
        subscribers_activity_rollup(settle=True)
        if d in launch_days:
            k = len(world.campaigns)
            campaign = _push(client, editor, STORIES[k % len(STORIES)], at=day + timedelta(hours=12), rng=rng,
                             provider=provider, suffix=f"-{d}", world=world, until=day + timedelta(hours=12 + 4),
                             wave_size=20 + 10 * (k % 4), readers=np.flatnonzero(habit == 0))
            world.campaigns.append(campaign)

    # The push of the day: launched 15 minutes ago, its first wave out and observed, not yet
    # decided (the ramp's window is 20 minutes), so it is running whatever the ramp would decide
    # and whoever is left in the pool. Its provider refuses a share of pushes (dead tokens) and
    # some recipients turn pushes off.
    subscribers_activity_rollup(settle=True)
    story = STORIES[len(world.campaigns) % len(STORIES)]
    provider = FlakyProvider(fail_every=7)
    running = _push(client, editor, (story[0], story[1], story[2], story[3], story[4], 0.10), at=now - timedelta(minutes=15),
                    rng=rng, provider=provider, suffix="-today", world=world, until=now - timedelta(minutes=1), wave_size=50,
                    readers=np.flatnonzero(habit == 0))
    world.campaigns.append(running)
    world.running = running
    _opt_outs(client, running, now=now - timedelta(minutes=1), share=0.15, rng=rng)
    dashboards_rollup(now=now)
    return world


def _register(client, external_id, *, title, body, category, language, at):
    from apps.contents.services import content_upsert

    return content_upsert(client=client, external_id=external_id, now=at,
                          data={"title": title, "body": body, "category": category, "language": language,
                                "created_at": at}).content


def _ingest(client, items, *, now) -> int:
    from apps.events.services import events_ingest

    accepted = 0
    for i in range(0, len(items), 5000):
        result = events_ingest(client=client, items=items[i:i + 5000], now=now)
        assert result["rejected"] == 0, [r for r in result["results"] if r["status"] == "rejected"][:3]
        accepted += result["accepted"]
    return accepted


def _push(client, editor, story, *, at, rng, provider, suffix, world, until, wave_size=30, readers=()):
    """Register, evaluate, approve titles, launch; then dispatch, clicks and the sweep, wave after wave."""
    from apps.campaigns.models import Campaign
    from apps.orchestration.engine import campaign_launch
    from apps.contents.models import ContentStatus, TitleVariant
    from apps.contents.services import content_transition, title_add, title_approve
    from apps.orchestration.evaluation import contents_evaluate_due
    from apps.core.errors import ApiError
    from apps.orchestration.sweep import sweep
    from apps.delivery.models import Send
    from apps.delivery.services import sends_dispatch_batch

    ext, title, body, category, language, true_ctr = story
    created = at - timedelta(minutes=40)
    content = _register(client, ext + suffix, title=title, body=body, category=category, language=language, at=created)
    # Early organic reads before the evaluation: more for the stories people care about.
    n_early = min(len(readers), int(10 + 600 * true_ctr))
    early = [{"event_id": f"early-{content.pk}-{s}", "type": "read", "subscriber": f"s{s:04d}", "content": content.external_id,
              "occurred_at": (created + timedelta(minutes=float(rng.uniform(1, 25)))).isoformat()}
             for s in rng.choice(readers, n_early, replace=False)] if n_early else []
    world.events += _ingest(client, early, now=created + client.policy.evaluation_delay)
    contents_evaluate_due(now=created + client.policy.evaluation_delay)
    content.refresh_from_db()
    approved = 0
    for v in content.title_variants.order_by("id"):
        if approved == 2:
            break
        try:
            title_approve(variant=v, user=editor, now=at)
            approved += 1
        except ApiError:
            continue
    for text in (f"{category.title()}: {title.split(' as ')[0][:36]}", f"Now: {title[:30].rsplit(' ', 1)[0]}")[approved:]:
        try:
            title_approve(variant=title_add(content=content, text=text, user=editor, now=at), user=editor, now=at)
        except ApiError:
            continue
    content.refresh_from_db()
    if content.status != ContentStatus.APPROVED:
        content_transition(content=content, to=ContentStatus.APPROVED)
    campaign = campaign_launch(content=content, user=editor, now=at, initial_size=wave_size, growth=3.0, max_sends=300,
                               max_waves=6)
    variant_lift = {v: 1.0 + 0.4 * i for i, v in enumerate(
        TitleVariant.objects.filter(content=content, review="approved").order_by("id").values_list("pk", flat=True))}
    t, seen = at, set()
    while t <= until:
        while sends_dispatch_batch(now=t, provider=provider, limit=500)["claimed"]:
            pass
        fresh = list(Send.objects.filter(campaign=campaign, state=Send.State.SENT).exclude(pk__in=seen)
                     .values_list("pk", "sent_at", "title_variant_id"))
        events = []
        for pk, sent_at, variant in fresh:
            seen.add(pk)
            p = min(true_ctr * variant_lift.get(variant, 1.0), 0.9)
            if rng.random() < min(3 * p, 0.95):
                events.append({"event_id": f"open-{pk}", "type": "open", "send_id": pk,
                               "occurred_at": (sent_at + timedelta(minutes=float(rng.uniform(0.5, 15)))).isoformat()})
            if rng.random() < p:
                events.append({"event_id": f"click-{pk}", "type": "click", "send_id": pk,
                               "occurred_at": (sent_at + timedelta(minutes=float(rng.uniform(1, 18)))).isoformat()})
                if rng.random() < 0.5:  # some come back and read more in the days after
                    later = sent_at + timedelta(days=float(rng.uniform(0.5, 6)))
                    if later < world.now - timedelta(minutes=5):
                        events.append({"event_id": f"more-{pk}", "type": "read", "send_id": None, "occurred_at": later.isoformat()})
        horizon = min(t + timedelta(minutes=19), world.now - timedelta(minutes=1))
        now_events = [e for e in events if e["type"] != "read" and datetime.fromisoformat(e["occurred_at"]) <= horizon]
        world.events += _ingest(client, now_events, now=horizon)
        later_reads = [_as_read(e, campaign) for e in events if e["type"] == "read"]
        if later_reads:
            world.events += _ingest(client, later_reads, now=world.now)
        t += timedelta(minutes=21)
        if t > until:
            break
        sweep(now=t)
        campaign.refresh_from_db()
        if campaign.state != Campaign.State.RUNNING:
            break
    campaign.refresh_from_db()
    return campaign


def _as_read(event, campaign):
    """A later organic read of the pushed content by the subscriber of the send."""
    from apps.delivery.models import Send

    send_pk = int(event["event_id"].split("-")[1])
    ext = Send.objects.filter(pk=send_pk).values_list("subscriber__external_id", flat=True).get()
    return {"event_id": event["event_id"], "type": "read", "subscriber": ext, "content": campaign.content.external_id,
            "occurred_at": event["occurred_at"]}


def _opt_outs(client, campaign, *, now, share, rng):
    from apps.audience.services import subscribers_bulk_upsert
    from apps.delivery.models import Send

    recipients = list(Send.objects.filter(campaign=campaign, state=Send.State.SENT)
                      .values_list("subscriber__external_id", flat=True).order_by("pk"))
    leaving = [ext for ext in recipients if rng.random() < share]
    if leaving:
        subscribers_bulk_upsert(client=client, items=[{"external_id": e, "push_opt_in": False} for e in leaving], now=now)
