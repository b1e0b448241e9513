"""Editors see what their pushes did: on the content page, in the queue's "Launched" tab and in
"My contents" (last 30 days, sortable, CSV), scoped to their clients, with no operators' control."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from apps.campaigns.models import Campaign
from apps.dashboards.models import CampaignReach
from recsys.metrics import proportion_difference_interval
from recsys.ramp import improvement_interval

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    from apps.core import clock

    return clock.now().replace(microsecond=0)  # the pages read the real clock


def browser_for(people, role) -> HttpClient:
    c = HttpClient()
    c.force_login(people[role])
    return c


@pytest.fixture
def pushes(people, make_campaign, client_a, client_b, now):
    """Mine (two, one with a holdout), a colleague's, an old one of mine, and another client's."""
    ed, op = people["editor"], people["operator"]
    mine = make_campaign(client_a, created_at=now - timedelta(days=2), title="My story", created_by=ed,
                         waves=[{"sends": 400, "clicks": 24, "expected": 8.0}])
    CampaignReach.objects.create(campaign=mine, recipients=400, inactive_recipients=300, reactivated=60,
                                 held_out=100, held_out_inactive=80, held_out_reactivated=8, computed_at=now)
    mine_live = make_campaign(client_a, created_at=now - timedelta(hours=1), title="My live story", created_by=ed,
                              state="running", waves=[{"sends": 50, "clicks": 1, "expected": 1.0, "state": "observing"}])
    colleague = make_campaign(client_a, created_at=now - timedelta(days=3), title="Their story", created_by=op,
                              waves=[{"sends": 100, "clicks": 2, "expected": 2.0}])
    old = make_campaign(client_a, created_at=now - timedelta(days=40), title="Old story", created_by=ed,
                        waves=[{"sends": 10, "clicks": 1, "expected": 0.5}])
    other = make_campaign(client_b, created_at=now - timedelta(days=1), title="Elsewhere",
                          waves=[{"sends": 10, "clicks": 1, "expected": 0.5}])
    return {"mine": mine, "mine_live": mine_live, "colleague": colleague, "old": old, "other": other}


def test_the_content_page_shows_the_push_results_with_intervals(people, pushes):
    web = browser_for(people, "editor")
    c = pushes["mine"]
    page = web.get(f"/contents/{c.content_id}/").content.decode()
    assert f'hx-get="/dashboards/contents/{c.content_id}/results/"' in page
    r = web.get(f"/dashboards/contents/{c.content_id}/results/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "3.00×" in html  # 24 clicks / 8 expected
    lo, hi = improvement_interval(24, 8.0, alpha=c.alpha)
    assert f"{lo:.2f} – {hi:.2f}" in html
    # 60/300 came back against 8/80 held out: 300 * (0.2 - 0.1) = 30 because of the push
    d_lo, d_hi = proportion_difference_interval(60, 300, 8, 80)
    assert "<strong>30</strong>" in html and f"{300 * d_lo:,.0f} to {300 * d_hi:,.0f}" in html
    assert "60 of 300 inactive recipients" in html and "launched by ed" in html


def test_results_are_scoped_to_the_editors_clients(people, pushes, content_factory, client_a):
    other = browser_for(people, "other_editor")  # works for client_b only
    assert other.get(f"/dashboards/contents/{pushes['mine'].content_id}/results/").status_code == 404
    assert other.get(f"/dashboards/contents/{pushes['other'].content_id}/results/").status_code == 200
    fresh = content_factory(client_a, "never-launched")
    r = browser_for(people, "editor").get(f"/dashboards/contents/{fresh.pk}/results/")
    assert r.status_code == 200 and "Not launched" in r.content.decode()


def test_the_queue_launched_tab_lists_the_last_30_days(people, pushes):
    web = browser_for(people, "editor")
    tab = web.get("/contents/?status=launched").content.decode()
    assert 'hx-get="/dashboards/results/recent/?mine=1"' in tab
    mine = web.get("/dashboards/results/recent/?mine=1").content.decode()
    assert "My story" in mine and "My live story" in mine
    assert "Their story" not in mine and "Old story" not in mine and "Elsewhere" not in mine
    everyone = web.get("/dashboards/results/recent/?mine=0").content.decode()
    assert "Their story" in everyone and "Old story" not in everyone and "Elsewhere" not in everyone


def test_my_contents_sorts_and_exports_only_mine(people, pushes):
    web = browser_for(people, "editor")
    page = web.get("/dashboards/contents/?mine=1&days=30&sort=achieved").content.decode()
    assert page.index("My story") < page.index("My live story")  # 3.0× before 1.0×
    assert "Their story" not in page and "Old story" not in page and "My contents" in page
    rows = list(csv.DictReader(io.StringIO(b"".join(
        web.get("/dashboards/contents.csv?mine=1&days=30").streaming_content).decode())))
    assert sorted(r["title"] for r in rows) == ["My live story", "My story"]
    mine = next(r for r in rows if r["title"] == "My story")
    lo, hi = improvement_interval(24, 8.0, alpha=pushes["mine"].alpha)
    assert (mine["launched_by"], float(mine["achieved_lo"]), float(mine["achieved_hi"])) == ("ed", round(lo, 4), round(hi, 4))
    assert web.get("/dashboards/contents/?days=365").status_code == 400


def test_editors_reach_no_operators_control(people, pushes):
    web = browser_for(people, "editor")
    live = pushes["mine_live"]
    page = web.get(f"/dashboards/campaigns/{live.pk}/").content.decode()
    assert f"/dashboards/campaigns/{live.pk}/stop/" not in page
    assert web.post(f"/dashboards/campaigns/{live.pk}/stop/").status_code == 403
    assert Campaign.objects.get(pk=live.pk).state == "running"
    for url in ("/dashboards/", "/dashboards/models/", "/dashboards/system/"):
        assert web.get(url).status_code == 403, url
    assert web.post("/dashboards/system/pause/").status_code == 403


def test_numbers_are_rounded_not_cut():
    from apps.dashboards.templatetags.dashboards_tags import dec

    assert (dec(1.97, 0), dec(2.46, 1), dec(1234.56, 1), dec(-0.6, 0)) == ("2", "2.5", "1,234.6", "-1")
