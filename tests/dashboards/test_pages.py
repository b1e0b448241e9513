"""The dashboards' pages over HTTP: who may see and do what, CSRF, the CSV export, and a query
count that does not grow with the number of campaigns."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from apps.campaigns.models import Campaign
from apps.core.models import Decision, Switch

pytestmark = pytest.mark.django_db
PASSWORDS = {"editor": "pw-ed-123456", "operator": "pw-op-123456", "other_editor": "pw-edb-123456", "admin": "pw-adm-123456"}


@pytest.fixture
def now():
    from apps.core import clock

    return clock.now().replace(microsecond=0)  # the pages read the real clock


def browser_for(people, role, csrf=False) -> HttpClient:
    c = HttpClient(enforce_csrf_checks=csrf)
    c.force_login(people[role])
    return c


@pytest.fixture
def shop(make_campaign, client_a, client_b, now, subscriber_factory):
    subs = subscriber_factory(client_a, 60, prefix="q")
    done = make_campaign(client_a, created_at=now - timedelta(days=2), subscribers=subs[:40],
                         waves=[{"sends": 40, "clicks": 3, "expected": 0.4, "decision": "stop", "reason": "stop: futility"}])
    live = make_campaign(client_a, created_at=now - timedelta(minutes=30), state="running", subscribers=subs[40:],
                         waves=[{"sends": 20, "clicks": 1, "expected": 0.2, "state": "observing"}], title="Live story")
    theirs = make_campaign(client_b, created_at=now - timedelta(days=1), waves=[{"sends": 5, "clicks": 0, "expected": 0.05}])
    return {"done": done, "live": live, "theirs": theirs}


def pages(shop):
    live = shop["live"].pk
    return {
        "overview": "/dashboards/", "campaigns": "/dashboards/campaigns/", "campaign": f"/dashboards/campaigns/{live}/",
        "contents": "/dashboards/contents/", "csv": "/dashboards/contents.csv", "models": "/dashboards/models/",
        "runs": "/dashboards/models/runs/", "system": "/dashboards/system/",
    }


EXPECTED = {
    # Editors see their pushes' results (campaigns, contents, CSV), not the operators' pages.
    "editor": {"overview": 403, "campaigns": 200, "campaign": 200, "contents": 200, "csv": 200, "models": 403, "runs": 403, "system": 403},
    "operator": dict.fromkeys(["overview", "campaigns", "campaign", "contents", "csv", "models", "runs", "system"], 200),
    "admin": dict.fromkeys(["overview", "campaigns", "campaign", "contents", "csv", "models", "runs", "system"], 200),
    "other_editor": {"overview": 403, "campaigns": 200, "campaign": 404, "contents": 200, "csv": 200, "models": 403, "runs": 403, "system": 403},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_permission_matrix(people, shop, role):
    c = browser_for(people, role)
    got = {name: c.get(url).status_code for name, url in pages(shop).items()}
    assert got == EXPECTED[role]


def test_anonymous_people_are_sent_to_login(shop):
    c = HttpClient()
    for url in pages(shop).values():
        r = c.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/?next="), url
    for url in (f"/dashboards/campaigns/{shop['live'].pk}/stop/", "/dashboards/system/pause/", "/dashboards/models/retrain/"):
        r = c.post(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), url
    assert Campaign.objects.get(pk=shop["live"].pk).state == "running"


def test_editors_see_the_campaign_read_only_and_cannot_stop_it(people, shop):
    c = browser_for(people, "editor")
    page = c.get(f"/dashboards/campaigns/{shop['live'].pk}/").content.decode()
    assert "Live story" in page and "Stop campaign" not in page and "Read-only" in page
    assert c.post(f"/dashboards/campaigns/{shop['live'].pk}/stop/").status_code == 403
    assert Campaign.objects.get(pk=shop["live"].pk).state == "running"
    assert browser_for(people, "other_editor").get("/dashboards/campaigns/").content.decode().count("Live story") == 0


def test_an_operator_stops_a_campaign_with_a_reason(people, shop):
    c = browser_for(people, "operator")
    assert "Stop campaign" in c.get(f"/dashboards/campaigns/{shop['live'].pk}/").content.decode()
    r = c.post(f"/dashboards/campaigns/{shop['live'].pk}/stop/", {"reason": "wrong audience"})
    assert r.status_code == 302
    live = Campaign.objects.get(pk=shop["live"].pk)
    assert live.state == "stopped" and live.end_reason == "stopped by op: wrong audience"
    d = Decision.objects.get(campaign=live, action="campaign_stop")
    assert d.actor_user == people["operator"]
    page = c.get(r["Location"]).content.decode()
    assert "stopped" in page and "Stop campaign" not in page
    # Stopping twice says so instead of failing.
    r = c.post(f"/dashboards/campaigns/{shop['live'].pk}/stop/", follow=True)
    assert "stopped already" in r.content.decode()
    # Another client's campaign is not even found.
    assert c.post(f"/dashboards/campaigns/{shop['theirs'].pk}/stop/").status_code == 404
    assert c.get(f"/dashboards/campaigns/{shop['live'].pk}/stop/").status_code == 405


def test_forms_without_the_csrf_token_are_refused(people, shop, client_a):
    c = browser_for(people, "operator", csrf=True)
    assert c.post(f"/dashboards/campaigns/{shop['live'].pk}/stop/").status_code == 403
    assert c.post("/dashboards/system/pause/", {"paused": "1", "client": client_a.pk}).status_code == 403
    assert Campaign.objects.get(pk=shop["live"].pk).state == "running"
    assert not Switch.objects.filter(name="sending_paused", on=True).exists()
    token = c.get("/dashboards/system/").cookies["csrftoken"].value
    assert c.post("/dashboards/system/pause/", {"paused": "1", "client": client_a.pk,
                                               "csrfmiddlewaretoken": token}).status_code == 302
    assert Switch.objects.get(name="sending_paused", client=client_a).on


def test_an_operator_pauses_their_own_client_only(people, shop, client_a, client_b):
    from apps.core.selectors import paused_client_ids, sending_paused

    assert browser_for(people, "editor").post("/dashboards/system/pause/", {"paused": "1", "client": client_a.pk}).status_code == 403
    op = browser_for(people, "operator")
    page = op.get("/dashboards/system/").content.decode()
    assert "Sending is on" in page and f"Pause {client_a.name}" in page
    assert client_b.name not in page and "Pause every client" not in page  # not theirs, not for them
    # another client's switch, every client's switch, or no client: refused, nothing changes
    assert op.post("/dashboards/system/pause/", {"paused": "1", "client": client_b.pk}).status_code == 403
    assert op.post("/dashboards/system/pause/", {"paused": "1", "client": "all"}).status_code == 403
    assert op.post("/dashboards/system/pause/", {"paused": "1"}).status_code == 400
    assert not Switch.objects.filter(on=True).exists()

    op.post("/dashboards/system/pause/", {"paused": "1", "client": client_a.pk})
    assert paused_client_ids() == {client_a.pk}
    assert sending_paused(client_a.pk) and not sending_paused(client_b.pk) and not sending_paused()
    page = op.get("/dashboards/system/").content.decode()
    assert f"Resume {client_a.name}" in page and "by op" in page and "All sending is paused" not in page
    assert f"Sending is paused for {client_a.name}" in page
    alerts = op.get("/dashboards/").content.decode()
    assert f"Sending for {client_a.name} is paused" in alerts  # an alert on the overview
    op.post("/dashboards/system/pause/", {"paused": "0", "client": client_a.pk})
    assert paused_client_ids() == frozenset()
    assert list(Decision.objects.filter(subject=f"switch:sending_paused:{client_a.pk}", client=client_a)
                .order_by("id").values_list("action", flat=True)) == ["sending_pause", "sending_resume"]


def test_only_a_superuser_pauses_every_client(people, shop, client_a, client_b):
    from apps.core.selectors import paused_client_ids, sending_paused

    admin = browser_for(people, "admin")
    page = admin.get("/dashboards/system/").content.decode()
    assert "Pause every client" in page and f"Pause {client_a.name}" in page and f"Pause {client_b.name}" in page
    admin.post("/dashboards/system/pause/", {"paused": "1", "client": "all"})
    assert paused_client_ids() is None and sending_paused(client_b.pk)
    page = admin.get("/dashboards/system/").content.decode()
    assert "All sending is paused" in page and "Resume sending for every client" in page
    # the operator sees it, and cannot lift it
    op = browser_for(people, "operator")
    assert "All sending is paused, for every client" in op.get("/dashboards/").content.decode()
    assert op.post("/dashboards/system/pause/", {"paused": "0", "client": "all"}).status_code == 403
    admin.post("/dashboards/system/pause/", {"paused": "0", "client": "all"})
    assert paused_client_ids() == frozenset()
    assert Decision.objects.filter(subject="switch:sending_paused:all", client__isnull=True).count() == 2


def test_retrain_and_activate_are_for_admins(people, now, client_a, client_b):
    from apps.mlops.models import ModelVersion, TrainingRun

    v1 = ModelVersion.objects.create(client=client_a, kind="mf", version=1, artifact_path="mf/v1",
                                     metrics={"recall_at_20": 0.2}, created_at=now, is_active=True)
    v2 = ModelVersion.objects.create(client=client_a, kind="mf", version=2, artifact_path="mf/v2",
                                     metrics={"recall_at_20": 0.19}, created_at=now)
    theirs = ModelVersion.objects.create(client=client_b, kind="mf", version=7, artifact_path="mf/v7",
                                         metrics={"recall_at_20": 0.3}, created_at=now, is_active=True)
    op = browser_for(people, "operator")
    def text(html):  # what a reader sees (a CSRF token in an attribute may spell "v7")
        return re.sub(r"<[^>]*>", " ", html)

    page = op.get("/dashboards/models/").content.decode()
    assert "v1" in text(page) and "v7" not in text(page) and "Retrain" not in page and "Activate" not in page
    assert op.get(f"/dashboards/models/?client={client_b.pk}").status_code == 404  # not the operator's client
    assert op.post("/dashboards/models/retrain/", {"kind": "mf", "client": client_a.pk}).status_code == 403
    assert op.post(f"/dashboards/models/versions/{v2.pk}/activate/").status_code == 403
    admin = browser_for(people, "admin")
    page = admin.get(f"/dashboards/models/?client={client_a.pk}").content.decode()
    assert "Retrain" in page and f"/dashboards/models/versions/{v2.pk}/activate/" in page and "v7" not in text(page)
    r = admin.post("/dashboards/models/retrain/", {"kind": "mf", "client": client_a.pk}, follow=True)
    run = TrainingRun.objects.get()
    assert run.kind == "mf" and run.state == "queued" and run.requested_by == people["admin"] and run.client == client_a
    assert f"Training run #{run.pk}" in r.content.decode()
    assert f'id="run-{run.pk}"' in admin.get(f"/dashboards/models/runs/?client={client_a.pk}").content.decode()
    assert f'id="run-{run.pk}"' not in admin.get(f"/dashboards/models/runs/?client={client_b.pk}").content.decode()
    assert "every 2s" in admin.get(f"/dashboards/models/?client={client_a.pk}").content.decode()  # polls while a run is live
    r = admin.post("/dashboards/models/retrain/", {"kind": "bogus", "client": client_a.pk}, follow=True)
    assert "Unknown model kind" in r.content.decode() and TrainingRun.objects.count() == 1
    admin.post(f"/dashboards/models/versions/{v2.pk}/activate/")
    v1.refresh_from_db(), v2.refresh_from_db(), theirs.refresh_from_db()
    assert v2.is_active and not v1.is_active and theirs.is_active  # the other client's model is untouched
    assert Decision.objects.filter(client=client_a, action="model_activate", actor_user=people["admin"]).exists()
    # roll back and pin; then unpin
    r = admin.post(f"/dashboards/models/versions/{v1.pk}/activate/", {"pin": "1"}, follow=True)
    v1.refresh_from_db()
    assert v1.is_active and v1.pinned and "pinned" in r.content.decode()
    assert "Unpin" in r.content.decode()
    admin.post(f"/dashboards/models/versions/{v1.pk}/unpin/")
    v1.refresh_from_db()
    assert v1.is_active and not v1.pinned


def test_csv_export_has_the_filtered_rows(people, shop, client_a, make_campaign, now):
    make_campaign(client_a, created_at=now - timedelta(days=1), category="sports", waves=[{"sends": 10, "clicks": 2, "expected": 0.1}])
    c = browser_for(people, "operator")
    r = c.get("/dashboards/contents.csv?category=economy")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert [int(x["campaign_id"]) for x in rows] == [shop["live"].pk, shop["done"].pk]
    done = rows[1]
    assert done["sends"] == "40" and done["clicks"] == "3" and done["achieved_improvement"] == "7.5000"
    assert done["client"] == "news" and done["state"] == "done"
    all_rows = list(csv.DictReader(io.StringIO(b"".join(c.get("/dashboards/contents.csv").streaming_content).decode())))
    assert len(all_rows) == 3  # not client_b's


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
        if hasattr(r, "streaming_content"):
            b"".join(r.streaming_content)
    assert r.status_code == 200, url
    return len(ctx.captured_queries)


# Queries per page, with the session, the user, their preference (language, time zone) and their
# roles and clients. The overview: 5 counts of subscribers, weeks, reactivations, days, running
# campaigns + their waves, 4 for the alerts.
QUERY_BOUNDS = {"/dashboards/": 25,  # + the shown clients' policies (their slot windows, floor and target), the slot prices and held back, the contents that left people for better (2)
                "/dashboards/campaigns/": 11, "/dashboards/contents/": 9, "/dashboards/contents.csv": 7,
                "/dashboards/models/": 8, "/dashboards/system/": 12}  # + the user's clients (pause switches, the models page's choice), the retry reasons


def test_query_counts_do_not_grow_with_the_campaigns(people, client_a, make_campaign, now, subscriber_factory):
    subs = subscriber_factory(client_a, 400, prefix="n")
    op = browser_for(people, "operator")

    def add(k, offset):
        for i in range(k):
            make_campaign(client_a, created_at=now - timedelta(hours=offset + i), state="running" if i % 3 == 0 else "done",
                          subscribers=subs[(offset + i) * 5:(offset + i) * 5 + 5],
                          waves=[{"sends": 3, "clicks": 1, "expected": 0.03, "decision": "resend"},
                                 {"sends": 2, "clicks": 0, "expected": 0.02, "state": "observing"}])

    add(3, 0)
    from apps.dashboards.services import dashboards_rollup

    dashboards_rollup(now=now)
    first = Campaign.objects.order_by("pk").first().pk
    urls = [*QUERY_BOUNDS, f"/dashboards/campaigns/{first}/"]
    small = {u: _queries(op, u) for u in urls}
    add(30, 3)
    dashboards_rollup(now=now)
    large = {u: _queries(op, u) for u in urls}
    assert small == large
    for url, bound in QUERY_BOUNDS.items():
        assert large[url] <= bound, (url, large[url])
    assert large[f"/dashboards/campaigns/{first}/"] <= 12


def test_models_page_names_the_order_the_waves_take_before_a_click_model(people, now, client_a):
    """Without a click model, the page says which order the client's held-out contents chose,
    with the check's numbers; once a click model is active, the click model is named instead."""
    from apps.mlops.models import ModelVersion

    check = {"split": now.timestamp() - 86400, "cases": 23, "k": 100, "chosen": "lookalike", "checked_at": now.timestamp(),
             "by": {"affinity": {"lift": 2.5, "improvement": 1.2},
                    "mf": {"lift": 2.1, "improvement": 1.1, "diff": -0.1, "diff_ci": [-0.3, 0.1]},
                    "lookalike": {"lift": 2.9, "improvement": 1.45, "diff": 0.25, "diff_ci": [0.07, 0.41]},
                    "activity": {"lift": 3.3, "improvement": None}}}
    ModelVersion.objects.create(client=client_a, kind="mf", version=3, artifact_path="mf/v3",
                                metrics={"lift_at_k": 2.5, "rankings": check}, created_at=now, is_active=True)
    op = browser_for(people, "operator")
    page = op.get(f"/dashboards/models/?client={client_a.pk}").content.decode()
    assert "Audiences: by the early readers&#x27; look-alikes alone (with MF v3)" in page
    assert "came after" in page and "23 contents" in page
    row = page[page.index('id="ranking-lookalike"'):]
    row = row[:row.index("</tr>")]
    assert "in use" in row and "1.45" in row and "0.25 [0.07, 0.41]" in row
    activity = page[page.index('id="ranking-activity"'):]
    assert "—" in activity[:activity.index("</tr>")] and "in use" not in activity[:activity.index("</tr>")]
    ope = {"challenger": {"estimate": 2.31, "interval": [1.52, 3.4], "waves": 17, "explored_clicks": 6, "level": 0.9},
           "champion": {"estimate": 1.78, "interval": [1.1, 2.6], "waves": 17, "explored_clicks": 5, "level": 0.9}}
    ModelVersion.objects.create(client=client_a, kind="click", version=1, artifact_path="click/v1", created_at=now,
                                is_active=True, metrics={"auc": 0.74, "promotion": {
                                    "auc": 0.74, "active_auc": 0.69, "ope": ope,
                                    "window": {"split": now.timestamp() - 3600, "test_sends": 800, "test_clicks": 25}}})
    page = op.get(f"/dashboards/models/?client={client_a.pk}").content.decode()
    assert "re-ranked by click model v1" in page and 'id="rankings-check"' not in page and "alone" not in page
    click = page[page.index('id="promotion-click"'):]
    click = " ".join(click[:click.index("</p>")].split())
    assert "on 17 logged waves (90% intervals): challenger 2.31 [1.52, 3.40] · champion 1.78 [1.10, 2.60]" in click
    assert "6 clicks of explored sends" in click


@pytest.mark.django_db
def test_the_overview_says_how_many_slots_have_a_price_and_how_many_were_held_back(people, client_a, subscriber_factory, now):
    from apps.audience.models import Subscriber
    from apps.core.services import decision_record

    op = browser_for(people, "operator")
    subs = subscriber_factory(client_a, 5, prefix="sp", push_opt_in=True)
    assert "No slot prices yet" in op.get("/dashboards/").content.decode()
    Subscriber.objects.filter(pk__in=[subs[0].pk, subs[1].pk]).update(slot_price=0.04)
    Subscriber.objects.filter(pk=subs[2].pk).update(slot_price=0.02, push_opt_in=False)  # not pushable: not counted
    for held, ago in ((7, timedelta(days=1)), (5, timedelta(days=2)), (100, timedelta(days=9))):  # the last, too old
        decision_record(client=client_a, action="wave_plan", actor_name="planner", subject="wave:1",
                        numbers={"held_back_by_price": held}, now=now - ago)
    page = re.sub(r"\s+", " ", op.get("/dashboards/").content.decode())
    assert "2 people have a slot price (mean 4.0% click probability)" in page
    assert "Last 7 days: 12 ranked people held back" in page
    # the prices' distribution: both in the 2-5% band
    table = page[page.index('id="slot-price-distribution"'):]
    table = table[:table.index("</table>")]
    assert re.search(r'2%–5%</td>\s*<td class="num">2</td>', table) and "20% or more" in table


@pytest.mark.django_db
def test_the_overview_lists_the_contents_that_left_people_for_better(people, client_a, make_campaign, now):
    """Per content of the last 7 days: the people it won, those it left for a content worth more
    to them (held back by their slot's price), those another content pushed meanwhile."""
    from apps.core.services import decision_record

    shown, quiet, old = (make_campaign(client_a, created_at=now - ago, title=title,
                                       waves=[{"sends": sends, "clicks": 1, "expected": 1.0}])
                         for title, ago, sends in (("Slot story", timedelta(days=2), 340),
                                                   ("Quiet story", timedelta(days=1), 50),
                                                   ("Old story", timedelta(days=10), 70)))
    for campaign, held, lost, ago in ((shown, 120, 4, timedelta(days=2)), (shown, 30, 1, timedelta(days=1)),
                                      (quiet, 0, 0, timedelta(days=1)), (old, 500, 0, timedelta(days=10))):
        decision_record(client=client_a, action="wave_plan", actor_name="planner", subject="wave:1", campaign=campaign,
                        numbers={"held_back_by_price": held, "slot_lost": lost}, now=now - ago)
    page = re.sub(r"\s+", " ", browser_for(people, "operator").get("/dashboards/").content.decode())
    table = page[page.index('id="slot-contents"'):]
    table = table[:table.index("</table>")]
    assert "Slot story" in table and "Quiet story" not in table and "Old story" not in table
    assert re.search(r'Slot story</a></td>\s*<td class="num">340</td>\s*<td class="num">150</td>\s*<td class="num">5</td>', table)
