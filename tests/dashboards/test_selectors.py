"""Every number the dashboards show, on data whose answers are worked out in the tests."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from apps.dashboards import selectors
from apps.dashboards.models import ActivityWeek, CampaignReach
from apps.dashboards.services import activity_weeks_refresh, campaign_reach_compute, campaign_reach_refresh, dashboards_rollup

pytestmark = pytest.mark.django_db
Z95 = 1.6448536269514722  # one-sided 95% normal quantile: the 90% two-sided normal interval


# ------------------------------------------------------------------------------ campaign page

def test_a_wave_smaller_than_planned_says_why(make_campaign, client_a, people, now):
    """Each reason planning counted, in the order it met them, with its count; nothing for a
    wave that reached its plan or was planned before planning counted."""
    from django.test import Client as WebClient
    from django.utils import translation

    short = {"planned": 400, "target": 300, "eligible": 180, "chosen": 170, "held_back_by_price": 12, "held_out": 8,
             "slot_lost": 12}
    c = make_campaign(client_a, created_at=now - timedelta(hours=2), state="running", waves=[
        {"sends": 150, "planned": 400, "clicks": 2, "expected": 1.0, "decision": "expand", "plan": short},
        {"sends": 400, "clicks": 9, "expected": 4.0, "decision": "expand",
         "plan": {"planned": 400, "target": 400, "eligible": 5000, "chosen": 400}},
        {"sends": 90, "planned": 400, "clicks": 1, "expected": 0.9, "decision": "resend",
         "plan": {"planned": 400, "target": 400, "eligible": 5000, "chosen": 90}},
        {"sends": 80, "planned": 400, "clicks": 0, "expected": 0.8, "state": "observing"}])
    page = selectors.campaign_page(user=people["operator"], pk=c.pk, now=now)
    first, full, ranked, unknown = (w["short"] for w in page["waves"])
    assert [(r["code"], r["n"]) for r in first["reasons"]] == [
        ("campaign_max", 300), ("eligible", 180), ("price", 12), ("held_out", 8), ("slot_lost", 12)]
    assert first["planned"] == 400 and first["sends"] == 150
    assert full is None and unknown is None
    assert [(r["code"], r["n"]) for r in ranked["reasons"]] == [("ranked", 90)]
    # on the page, in English and in Korean
    for language, words in (("en", ("of 400 planned", "12 held back")), ("ko", ("계획 400명 중",))):
        web = WebClient(HTTP_ACCEPT_LANGUAGE=language)
        web.force_login(people["operator"])
        with translation.override(None):  # the request's language does not outlive it
            html = web.get(f"/dashboards/campaigns/{c.pk}/").content.decode()
        assert all(w in html for w in words), (language, words)
        assert html.count('class="shortfall-row"') == 2


def test_campaign_page_shows_the_exact_improvement_and_intervals_of_a_running_wave(make_campaign, client_a, people, now):
    from recsys.ramp import RampConfig, improvement_interval

    c = make_campaign(client_a, created_at=now - timedelta(minutes=30), state="running",
                      waves=[{"sends": 400, "clicks": 10, "expected": 4.0, "state": "observing"}])
    page = selectors.campaign_page(user=people["operator"], pk=c.pk, now=now)
    [w] = page["waves"]
    cum = w["cumulative"]
    assert w["improvement"] == 2.5 and cum["improvement"] == 2.5 and cum["source"] == "provisional"
    # The plain normal interval: 2.5 +- z sqrt(10) / 4.
    half = Z95 * math.sqrt(10) / 4.0
    assert cum["normal"]["lo"] == pytest.approx(2.5 - half, abs=1e-12)
    assert cum["normal"]["hi"] == pytest.approx(2.5 + half, abs=1e-12)
    assert round(cum["normal"]["lo"], 4) == 1.1996 and round(cum["normal"]["hi"], 4) == 3.8004
    # The anytime-valid sequence the ramp uses, with the campaign's own settings; wider than the normal one.
    lo, hi = improvement_interval(10, 4.0, config=RampConfig(floor=1.5, target=2.4, alpha=0.05))
    assert (cum["anytime"]["lo"], cum["anytime"]["hi"]) == (lo, hi)
    assert lo < cum["normal"]["lo"] < 2.5 < cum["normal"]["hi"] < hi
    assert page["total"]["improvement"] == 2.5 and page["level"] == pytest.approx(0.9)


def test_decided_waves_show_the_numbers_their_decision_saw(make_campaign, client_a, people, now):
    from recsys.ramp import RampConfig, WaveStats, decide

    d1 = decide([WaveStats(sends=300, expected_clicks=3.0, clicks=12, age_seconds=1300)], RampConfig(initial_size=300))
    assert d1.action == "expand"
    c = make_campaign(client_a, created_at=now - timedelta(hours=1), state="running", waves=[
        {"sends": 300, "clicks": 12, "expected": 3.0, "decision": "expand", "numbers": {**d1.numbers, "code": d1.code},
         "reason": d1.reason},
        {"sends": 1200, "clicks": 20, "expected": 12.0, "state": "observing"},
    ])
    page = selectors.campaign_page(user=people["operator"], pk=c.pk, now=now)
    first, second = page["waves"]
    assert first["cumulative"]["source"] == "decision" and first["code"] == "above_floor"
    assert first["cumulative"]["improvement"] == d1.numbers["improvement"]
    assert first["cumulative"]["anytime"] == {"lo": d1.numbers["anytime_interval"]["lo"], "hi": d1.numbers["anytime_interval"]["hi"]}
    assert first["cumulative"]["normal"]["lo"] == d1.numbers["normal_interval"]["lo"]
    assert first["cumulative"]["anytime"]["lo"] > 1.5  # it expanded: the band cleared the floor
    # The wave still observed: cumulative over both waves, 32 clicks / 15 expected.
    assert second["improvement"] == pytest.approx(20 / 12) and second["cumulative"]["improvement"] == pytest.approx(32 / 15)
    assert second["cumulative"]["source"] == "provisional"


def test_title_variants_shares_and_ctr_by_wave(make_campaign, client_a, people, now, subscriber_factory):
    from apps.contents.models import TitleVariant

    subs = subscriber_factory(client_a, 500, prefix="v")
    c = make_campaign(client_a, created_at=now - timedelta(hours=1), state="running", subscribers=subs, waves=[
        {"sends": 400, "clicks": 10, "expected": 4.0, "variants": None}])
    v1 = TitleVariant.objects.create(content=c.content, text="One", source="original", review="approved", sends=300, clicks=6)
    v2 = TitleVariant.objects.create(content=c.content, text="Two", source="template", review="approved", sends=100, clicks=4)
    TitleVariant.objects.create(content=c.content, text="Never used", source="template", review="rejected")
    from apps.delivery.models import Send

    ids = list(Send.objects.filter(campaign=c).order_by("pk").values_list("pk", flat=True))
    # Clicked sends are the first 10: give 6 of them and 294 others to v1, 4 + 96 to v2.
    Send.objects.filter(pk__in=ids[:6] + ids[10:304]).update(title_variant=v1)
    Send.objects.filter(pk__in=ids[6:10] + ids[304:400]).update(title_variant=v2)
    c.waves.update(allocation={"recipients": {str(v1.pk): 300, str(v2.pk): 100}, "prob_best": {str(v1.pk): 0.2, str(v2.pk): 0.8}})
    page = selectors.campaign_page(user=people["operator"], pk=c.pk, now=now)
    rows = {r["text"]: r for r in page["variants"]}
    assert set(rows) == {"One", "Two"}
    assert rows["One"]["per_wave"][0] == {"wave": 1, "sends": 300, "clicks": 6, "share": 0.75, "ctr": 0.02}
    assert rows["Two"]["per_wave"][0] == {"wave": 1, "sends": 100, "clicks": 4, "share": 0.25, "ctr": 0.04}
    assert rows["Two"]["prob_best"] == 0.8 and rows["One"]["ctr"] == 0.02


def test_another_clients_campaign_is_not_found(make_campaign, client_b, people, now):
    from django.http import Http404

    c = make_campaign(client_b, created_at=now - timedelta(hours=1), waves=[{"sends": 10, "clicks": 1, "expected": 0.1}])
    with pytest.raises(Http404):
        selectors.campaign_page(user=people["operator"], pk=c.pk, now=now)
    assert selectors.campaign_page(user=people["admin"], pk=c.pk, now=now)["campaign"].pk == c.pk


# ------------------------------------------------------------------------------ reach roll-up

def _events(client, items, now):
    from apps.events.services import events_ingest

    result = events_ingest(client=client, items=items, now=now)
    assert result["rejected"] == 0, result
    return result


@pytest.fixture
def reach_world(client_a, make_campaign, subscriber_factory, content_factory, now):
    """Seven recipients of one push at ``now - 10 days`` whose histories are stated one by one."""
    from apps.audience.models import Subscriber
    from apps.delivery.models import Send

    push = now - timedelta(days=10)
    subs = subscriber_factory(client_a, 7, prefix="r")  # r0 .. r6
    eco = content_factory(client_a, "eco", category="economy", created_at=push - timedelta(days=45))
    spo = content_factory(client_a, "spo", category="sports", created_at=push - timedelta(days=45))
    wea = content_factory(client_a, "wea", category="weather", created_at=push - timedelta(days=45))
    c = make_campaign(client_a, created_at=push, state="done", subscribers=subs,
                      waves=[{"sends": 7, "clicks": 0, "expected": 0.07, "created_at": push}])
    Send.objects.filter(campaign=c, subscriber=subs[6]).update(state="failed", sent_at=None, failed_at=push)

    def ev(eid, kind, sub, content, at):
        return {"event_id": eid, "type": kind, "subscriber": sub.external_id, "content": content.external_id,
                "occurred_at": at.isoformat()}

    d = timedelta(days=1)
    _events(client_a, [
        ev("a1", "read", subs[0], eco, push - 2 * d), ev("a2", "read", subs[0], eco, push - 3 * d),  # r0 active
        ev("a3", "read", subs[0], spo, push - 4 * d), ev("a4", "click", subs[0], c.content, push + timedelta(minutes=4)),
        ev("b1", "read", subs[1], spo, push - 10 * d), ev("b2", "click", subs[1], c.content, push + timedelta(minutes=5)),  # r1 back
        ev("c1", "read", subs[2], wea, push - 20 * d), ev("c2", "read", subs[2], wea, push + 8 * d),  # r2: back too late
        ev("d1", "read", subs[3], eco, push - 40 * d), ev("d2", "open", subs[3], c.content, push + 3 * d),  # r3 back (open)
        ev("e1", "dismiss", subs[4], c.content, push + timedelta(minutes=9)),  # r4: a dismissal is no activity
        ev("g1", "read", subs[6], eco, push + 1 * d),  # r6: its push failed
    ], now)
    Subscriber.objects.filter(pk=subs[5].pk).update(push_opt_in=False, updated_at=push + 2 * d)  # r5 turned pushes off
    return {"campaign": c, "push": push, "subs": subs}


def test_reach_counts_activity_states_reactivations_categories_and_opt_outs(reach_world, now):
    reach = campaign_reach_compute(campaign=reach_world["campaign"], now=now)
    assert reach.recipients == 6  # the failed push is no recipient
    assert reach.activity_states == {"active": 1, "7-13d": 1, "14-29d": 1, "30d+": 1, "never": 2}
    assert reach.inactive_recipients == 5
    assert reach.reactivated == 2  # r1 (clicked the push) and r3 (opened 3 days later); r2 came back on day 8
    assert reach.opted_out == 1
    assert reach.categories == {"(no reads)": 3, "economy": 1, "sports": 1, "weather": 1}
    assert sum(reach.platforms.values()) == 6
    assert reach.first_sent_at == reach_world["push"]
    assert reach.settled is True  # done, and the push is 10 days old


def test_reach_of_a_recent_or_running_campaign_is_counted_again(reach_world, now, client_a, make_campaign):
    c = reach_world["campaign"]
    type(c).objects.filter(pk=c.pk).update(created_at=now - timedelta(days=3))
    from apps.delivery.models import Send

    Send.objects.filter(campaign=c).update(sent_at=now - timedelta(days=3))
    running = make_campaign(client_a, created_at=now - timedelta(minutes=5), state="running",
                            waves=[{"sends": 0, "clicks": 0, "expected": 0.0}])
    assert campaign_reach_refresh(now=now) == 2
    assert not CampaignReach.objects.get(campaign=c).settled and not CampaignReach.objects.get(campaign=running).settled
    assert campaign_reach_refresh(now=now) == 0  # both counted a moment ago
    assert campaign_reach_refresh(now=now + timedelta(minutes=5)) == 1  # the running one, at every roll-up
    assert campaign_reach_refresh(now=now + timedelta(hours=2)) == 2  # the 3-day-old one, hourly until it settles
    assert campaign_reach_refresh(now=now + timedelta(days=6)) == 2
    assert CampaignReach.objects.get(campaign=c).settled  # done, its pushes 9 days old
    assert campaign_reach_refresh(now=now + timedelta(days=6, hours=2)) == 1  # only the running one is left


# ------------------------------------------------------------------------------ weekly actives

def test_weekly_actives_count_distinct_people_by_week_and_the_current_week_live(client_a, people, subscriber_factory,
                                                                              content_factory, now):
    from apps.events.services import subscribers_activity_rollup

    # now = Wednesday 2026-11-25: the current week started Monday 11-23.
    subs = subscriber_factory(client_a, 6, prefix="w")
    old = content_factory(client_a, "old", created_at=now - timedelta(days=30))
    monday = now.replace(hour=0) - timedelta(days=2)

    def read(i, sub, at, kind="read"):
        return {"event_id": f"w{i}", "type": kind, "subscriber": sub.external_id, "content": old.external_id,
                "occurred_at": at.isoformat()}

    _events(client_a, [
        read(1, subs[0], monday - timedelta(days=13)), read(2, subs[0], monday - timedelta(days=12)),  # week 11-09: s0 twice
        read(3, subs[1], monday - timedelta(days=9)),                                                   # week 11-09: s1
        read(4, subs[1], monday - timedelta(days=3)), read(5, subs[2], monday - timedelta(days=1)),    # week 11-16: s1, s2
        read(6, subs[3], monday - timedelta(days=2), "dismiss"),                                        # not activity
        read(7, subs[3], monday + timedelta(hours=5)), read(8, subs[4], now - timedelta(hours=1)),      # this week: s3, s4
    ], now)
    subscribers_activity_rollup(settle=True)
    tuesday = now - timedelta(days=1)
    assert activity_weeks_refresh(now=tuesday) == 24  # twelve closed weeks of each client (news, blog) the first time
    weeks = {w.week_start: w.active_subscribers for w in ActivityWeek.objects.filter(client=client_a)}
    assert weeks[date(2026, 11, 9)] == 2 and weeks[date(2026, 11, 16)] == 2 and weeks[date(2026, 11, 2)] == 0
    page = selectors.overview(user=people["operator"], now=now)
    by_week = {w["week_start"]: w for w in page["weeks"]}
    assert [w["week_start"] for w in page["weeks"]] == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert by_week[date(2026, 11, 9)]["active"] == 2 and by_week[date(2026, 11, 16)]["active"] == 2
    assert by_week[date(2026, 11, 23)]["active"] == 2 and by_week[date(2026, 11, 23)]["partial"]
    assert page["subscribers"]["active_7d"] == 4  # since Wednesday noon: s1 (Friday), s2 (Sunday), s3, s4
    # The last closed week is counted again while late events may come (until 2 days after its end) ...
    assert activity_weeks_refresh(now=tuesday) == 2  # one week of each client
    assert activity_weeks_refresh(now=now) == 2  # the last count after the window
    # ... then left alone.
    assert activity_weeks_refresh(now=now) == 0


# ------------------------------------------------------------------------------ overview

def test_overview_pushes_by_day_slot_share_and_running_campaigns(make_campaign, client_a, client_b, people, now,
                                                              subscriber_factory):
    from apps.audience.models import Subscriber

    yesterday = now - timedelta(days=1)
    make_campaign(client_a, created_at=yesterday, waves=[{"sends": 300, "clicks": 9, "expected": 3.0, "decision": "expand"},
                                                         {"sends": 900, "delivered": 880, "failed": 20, "clicks": 21, "expected": 9.0,
                                                          "decision": "stop", "reason": "stop: futility"}])
    running = make_campaign(client_a, created_at=now - timedelta(minutes=50), state="running", title="Live one",
                            waves=[{"sends": 100, "clicks": 2, "expected": 1.0, "decision": "resend", "reason": "re-send 100"},
                                   {"sends": 100, "clicks": 0, "expected": 1.0, "state": "sending"}])
    make_campaign(client_b, created_at=yesterday, waves=[{"sends": 5000, "clicks": 50, "expected": 50.0}])  # not theirs
    subs = subscriber_factory(client_a, 10, prefix="o")
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:4]]).update(last_content_push_at=now - timedelta(days=2))
    Subscriber.objects.filter(pk=subs[4].pk).update(last_content_push_at=now - timedelta(days=8))
    subscriber_factory(client_a, 1, prefix="out", push_opt_in=False, last_content_push_at=now - timedelta(days=1))
    page = selectors.overview(user=people["operator"], now=now)
    days = {d["day"]: d for d in page["days"]}
    assert len(page["days"]) == 30 and page["days"][-1]["day"] == now.date()
    assert days[yesterday.date()] == {"day": yesterday.date(), "campaigns": 1, "sends": 1200, "delivered": 1180, "failed": 20,
                                      "clicks": 30, "expected_clicks": 12.0, "improvement": 2.5}
    assert days[now.date()]["improvement"] == 1.0 and days[now.date()]["sends"] == 200
    assert page["totals_30d"]["clicks"] == 32 and page["totals_30d"]["improvement"] == pytest.approx(32 / 14)
    s = page["subscribers"]
    assert (s["total"], s["opted_in"], s["slot_taken"], s["slot_share"]) == (11, 10, 4, 0.4)
    [r] = page["running"]
    assert r["campaign"].pk == running.pk and r["current_wave"].number == 2 and r["improvement"] == 1.0
    assert r["last_decision"]["decision"] == "resend" and r["last_decision"]["wave"] == 1
    # The admin sees both clients; one client at a time on request.
    both = selectors.overview(user=people["admin"], now=now)
    assert {d["day"]: d["sends"] for d in both["days"]}[yesterday.date()] == 6200
    assert {d["day"]: d["sends"] for d in selectors.overview(user=people["admin"], now=now, client_id=client_b.pk)["days"]
            }[yesterday.date()] == 5000


def test_alerts_on_known_data(make_campaign, client_a, people, now, reach_world):
    assert selectors.alerts(user=people["operator"], now=now) == []
    # Provider errors: 12 of 100 pushes failed in the last 24 h.
    make_campaign(client_a, created_at=now - timedelta(hours=3), waves=[{"sends": 100, "delivered": 88, "failed": 12, "clicks": 1, "expected": 1.0}])
    # Expanded far beyond the others: 100, 120, 150 (and the 7 of reach_world) vs 4,000.
    for n in (100, 120, 150):
        make_campaign(client_a, created_at=now - timedelta(days=12), waves=[{"sends": n, "clicks": 1, "expected": 1.0}])
    big = make_campaign(client_a, created_at=now - timedelta(days=2), title="Huge story", waves=[{"sends": 4000, "clicks": 80, "expected": 40.0}])
    # Opt-outs: 1 in 500 before, 9 in 300 in the last 7 days.
    old = make_campaign(client_a, created_at=now - timedelta(days=20), waves=[{"sends": 500, "clicks": 5, "expected": 5.0}])
    CampaignReach.objects.create(campaign=old, recipients=500, opted_out=1, computed_at=now)
    CampaignReach.objects.create(campaign=big, recipients=300, opted_out=9, computed_at=now)
    from apps.core.services import sending_pause_set

    sending_pause_set(paused=True, client=client_a, user=people["operator"], now=now - timedelta(minutes=5))
    found = {a["kind"]: a for a in selectors.alerts(user=people["operator"], now=now)}
    assert set(found) == {"provider_errors", "expanded", "opt_outs", "paused"}
    assert "12 of 100 pushes failed" in found["provider_errors"]["text"] and "12.0%" in found["provider_errors"]["text"]
    assert found["expanded"]["campaign_id"] == big.pk and "4,000 recipients" in found["expanded"]["text"]
    assert "9 of 300" in found["opt_outs"]["text"] and "3.00%" in found["opt_outs"]["text"] and "0.20%" in found["opt_outs"]["text"]
    assert "by op" in found["paused"]["text"]


def test_reactivations_by_week_come_from_the_reach_of_that_weeks_campaigns(reach_world, people, now):
    dashboards_rollup(now=now)
    page = selectors.overview(user=people["operator"], now=now)
    push_week = reach_world["push"].date() - timedelta(days=reach_world["push"].weekday())
    row = next(w for w in page["weeks"] if w["week_start"] == push_week)
    assert (row["reactivated"], row["inactive_recipients"], row["recipients"]) == (2, 5, 6)
    assert row["reactivation_rate"] == 0.4


# ------------------------------------------------------------------------------ contents table

def test_contents_table_filters_sorts_and_exports_the_same_rows(make_campaign, client_a, client_b, people, now):
    a = make_campaign(client_a, created_at=now - timedelta(days=3), category="economy", push_score=3.1,
                      waves=[{"sends": 1000, "clicks": 30, "expected": 10.0}])
    b = make_campaign(client_a, created_at=now - timedelta(days=1), category="sports", push_score=1.9,
                      waves=[{"sends": 400, "clicks": 4, "expected": 4.0}])
    c = make_campaign(client_a, created_at=now - timedelta(hours=2), category="economy", push_score=None, state="running",
                      waves=[{"sends": 50, "clicks": 0, "expected": 0.0, "state": "sending"}])
    make_campaign(client_b, created_at=now - timedelta(days=1), waves=[{"sends": 9, "clicks": 1, "expected": 0.1}])
    CampaignReach.objects.create(campaign=a, recipients=1000, inactive_recipients=900, reactivated=120, computed_at=now)
    op = people["operator"]
    page = selectors.contents_table(user=op, now=now)
    assert [r["campaign_id"] for r in page["rows"]] == [c.pk, b.pk, a.pk] and page["count"] == 3
    row = page["rows"][2]
    assert (row["achieved_improvement"], row["predicted_improvement"], row["sends"], row["clicks"], row["reactivated"],
            row["inactive_recipients"]) == (3.0, 3.1, 1000, 30, 120, 900)
    assert page["rows"][0]["achieved_improvement"] is None and page["rows"][1]["reactivated"] is None
    assert page["categories"] == ["economy", "sports"]
    by = lambda **kw: [r["campaign_id"] for r in selectors.contents_table(user=op, now=now, **kw)["rows"]]  # noqa: E731
    assert by(sort="achieved") == [a.pk, b.pk, c.pk]  # 3.0, 1.0, none last
    assert by(sort="achieved_asc") == [b.pk, a.pk, c.pk]
    assert by(sort="predicted") == [a.pk, b.pk, c.pk]
    assert by(sort="reactivated") == [a.pk, c.pk, b.pk]  # counted first, then the newest of the others
    assert by(category="economy") == [c.pk, a.pk]
    assert by(date_from=(now - timedelta(days=2)).date()) == [c.pk, b.pk]
    assert by(date_to=(now - timedelta(days=2)).date()) == [a.pk]
    assert by(category="economy", date_to=(now - timedelta(days=1)).date()) == [a.pk]
    exported = list(selectors.contents_csv_rows(user=op, category="economy"))
    assert [r["campaign_id"] for r in exported] == [c.pk, a.pk]
    assert len(by()) == 3 and len(selectors.contents_table(user=people["admin"], now=now)["rows"]) == 4


# ------------------------------------------------------------------------------ models, system

def test_models_page_lists_versions_metrics_and_runs(now, people, client_a, client_b):
    from apps.mlops.models import ModelVersion, TrainingRun

    ModelVersion.objects.create(client=client_a, kind="mf", version=1, artifact_path="mf/v1", metrics={"recall_at_20": 0.21},
                                created_at=now - timedelta(days=3))
    ModelVersion.objects.create(client=client_a, kind="mf", version=2, artifact_path="mf/v2",
                                metrics={"recall_at_20": 0.24, "note": "x",
                                         "promotion": {"lift_at_k": 2.1, "active_lift_at_k": 1.8, "diff": 0.3,
                                                       "diff_ci": [0.1, 0.5],
                                                       "window": {"split": (now - timedelta(days=2)).timestamp(), "cases": 40}}},
                                created_at=now - timedelta(days=2, hours=1), is_active=True,
                                activated_at=now - timedelta(days=2))
    ModelVersion.objects.create(client=client_b, kind="mf", version=1, artifact_path="mf/v1", created_at=now, is_active=True)
    ModelVersion.objects.create(client=client_a, kind="click", version=1, artifact_path="click/v1", created_at=now,
                                is_active=True)
    TrainingRun.objects.create(client=client_a, kind="mf", state="running", progress=0.4, message="epoch 4 of 10", created_at=now)
    TrainingRun.objects.create(client=client_a, kind="click_delay", state="succeeded", progress=1.0,
                               created_at=now - timedelta(hours=1))
    TrainingRun.objects.create(client=client_b, kind="mf", state="succeeded", progress=1.0, created_at=now)
    page = selectors.models_page(client=client_a, now=now)
    mf = next(k for k in page["kinds"] if k["kind"] == "mf")
    assert [v.version for v in mf["versions"]] == [2, 1] and mf["active"].version == 2
    assert mf["metric_names"] == ["recall_at_20"]
    assert mf["stale"] is True and mf["active_since"] == now - timedelta(days=2)  # last trained 2 days 1 hour ago
    assert mf["promotion"]["challenger"] == 2.1 and mf["promotion"]["champion"] == 1.8 and mf["promotion"]["cases"] == 40
    assert mf["promotion"]["split_at"] == now - timedelta(days=2)
    click = next(k for k in page["kinds"] if k["kind"] == "click")
    assert click["stale"] is False and click["promotion"] is None
    assert [r.progress for r in page["runs"]] == [0.4, 1.0] and page["live"] is True  # client_b's run is not here
    assert {k["kind"] for k in page["kinds"]} >= {"mf", "click_delay", "push_worthiness"}


def test_system_page_reads_workers_beat_queues_and_provider_errors(make_campaign, client_a, people, now, subscriber_factory):
    from django_redis import get_redis_connection

    from apps.core import health
    from apps.delivery.models import Send

    t = now.timestamp()
    health.worker_heartbeat(hostname="w1@host", queues=["default", "sends"], interval=10)
    r = get_redis_connection("default")
    r.hset(health.WORKERS_KEY, "w1@host", '{"at": %f, "queues": ["default", "sends"], "interval": 10}' % (t - 5))
    r.hset(health.WORKERS_KEY, "w2@host", '{"at": %f, "queues": ["ml"], "interval": 10}' % (t - 120))
    health.beat_tick_record(at=t - 42)
    r.rpush("default", "a", "b", "c")
    subs = subscriber_factory(client_a, 30, prefix="y")
    c = make_campaign(client_a, created_at=now - timedelta(hours=2), subscribers=subs, waves=[{"sends": 20, "clicks": 2, "expected": 0.2}])
    ids = list(Send.objects.filter(campaign=c).order_by("pk").values_list("pk", flat=True))
    Send.objects.filter(pk__in=ids[:5]).update(state="failed", error="UNREGISTERED", failed_at=now - timedelta(hours=1))
    Send.objects.filter(pk__in=ids[5:7]).update(state="pending")
    # Retried: two delivered after a timeout, one waiting after the rate limiter's Redis was
    # unreachable; reasons that differ only in numbers count together.
    Send.objects.filter(pk__in=ids[7:8]).update(error="webhook timeout after 10 s (read) (gave up after 2 attempts)")
    Send.objects.filter(pk__in=ids[8:9]).update(error="webhook timeout after 3 s (read) (gave up after 2 attempts)")
    Send.objects.filter(pk__in=ids[5:6]).update(error="rate limiter unavailable: ConnectionError", claimed_at=now)
    page = selectors.system_page(user=people["operator"], now=now, wall_now=t)  # liveness: wall seconds
    assert [(w["hostname"], w["alive"]) for w in page["workers"]] == [("w1@host", True), ("w2@host", False)]
    assert page["workers_alive"] == 1 and page["beat_seconds"] == pytest.approx(42) and page["beat_ok"]
    assert page["queues"]["default"] == 3 and page["queues"]["sends"] == 0
    assert page["providers"] == [{"provider": "log", "sent": 13, "failed": 5, "retried": 2, "error_rate": 5 / 18}]
    assert page["errors"][0]["error"] == "UNREGISTERED" and page["errors"][0]["n"] == 5
    assert [(r["n"], r["error"][:21]) for r in page["retries"]] == [(2, "webhook timeout after"), (1, "rate limiter unavaila")]
    assert page["retries"][1]["last"] == now
    assert page["backlog"]["pending"] == 2 and page["backlog"]["retrying"] == 1 and page["paused"] is False
    assert sum(h["delivered"] for h in page["hours"]) == 20 and len(page["hours"]) == 24


def test_an_opt_out_is_put_on_the_push_just_before_it(client_a, make_campaign, subscriber_factory, now):
    from apps.audience.models import Subscriber

    subs = subscriber_factory(client_a, 2, prefix="oo")
    older = make_campaign(client_a, created_at=now - timedelta(days=9), subscribers=subs,
                          waves=[{"sends": 2, "clicks": 0, "expected": 0.02, "created_at": now - timedelta(days=9)}])
    newer = make_campaign(client_a, created_at=now - timedelta(days=1), subscribers=subs[:1],
                          waves=[{"sends": 1, "clicks": 0, "expected": 0.01, "created_at": now - timedelta(days=1)}])
    # Both turned pushes off an hour ago: oo0's latest push is the newer campaign's, oo1's the older one's.
    Subscriber.objects.filter(pk__in=[s.pk for s in subs]).update(push_opt_in=False, updated_at=now - timedelta(hours=1))
    assert campaign_reach_compute(campaign=older, now=now).opted_out == 1
    assert campaign_reach_compute(campaign=newer, now=now).opted_out == 1
