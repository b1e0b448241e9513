"""An operator reads every page on a database filled by the simulator's fast mode (the product's
own services run against the simulated world): charts drawn, no console errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_MARKS
from tests.dashboards.browser.test_dashboards_browser import assert_charts_drawn, watch_errors

pytestmark = [*BROWSER_MARKS, pytest.mark.slow,
              pytest.mark.one_database("sqlite", "pages over a simulated world; the pages' queries run on both in test_dashboards_browser")]


@pytest.fixture
def simulated(people, settings, tmp_path):
    from apps.campaigns.models import Campaign
    from apps.core.models import Client, Membership
    from apps.dashboards.services import dashboards_rollup
    from apps.simulation.runner import simulate

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    from datetime import timedelta

    from django.utils import timezone

    start = (timezone.now() - timedelta(days=1.5)).replace(minute=0, second=0, microsecond=0)
    report = simulate(subscribers=4000, days=1.5, seed=11, strategies=("random",), keep=True, start=start)
    client = Client.objects.get(slug="sim-random-11")
    Membership.objects.get_or_create(user=people["operator"], client=client)
    campaigns = list(Campaign.objects.filter(client=client).order_by("-sends"))
    dashboards_rollup(now=timezone.now())
    return report, client, campaigns


def test_an_operator_reads_the_simulated_world(simulated, operator_page, live_url, screenshot):
    report, client, campaigns = simulated
    assert report["strategies"]["random"]["pushes"] > 0 and campaigns
    page = operator_page
    errors = watch_errors(page)

    page.goto(live_url(f"/dashboards/?client={client.pk}"))
    assert_charts_drawn(page, page.locator("canvas[data-chart]").count())
    pushes = page.locator("canvas[data-chart=chart-daily]").evaluate(
        "c => Chart.getChart(c).data.datasets.flatMap(d => d.data).filter(v => v).length")
    assert pushes > 0  # the days of the simulation carry pushes and clicks
    screenshot(page, "simulated-overview")

    biggest = campaigns[0]
    page.goto(live_url(f"/dashboards/campaigns/{biggest.pk}/"))
    expect(page.locator("h1")).to_have_text(biggest.content.title)
    expect(page.locator("table.waves tbody tr[id^=wave-]")).to_have_count(biggest.waves.count())
    assert_charts_drawn(page, page.locator("canvas[data-chart]").count())
    screenshot(page, "simulated-campaign")

    page.goto(live_url(f"/dashboards/contents/?client={client.pk}"))
    expect(page.locator("table.contents-table tbody tr")).to_have_count(min(len(campaigns), 50))  # 50 a page
    for path in ("/dashboards/campaigns/", "/dashboards/models/", "/dashboards/system/"):
        page.goto(live_url(path))
        if page.locator("canvas[data-chart]").count():
            assert_charts_drawn(page, page.locator("canvas[data-chart]").count())
    screenshot(page, "simulated-system")
    assert errors == []
