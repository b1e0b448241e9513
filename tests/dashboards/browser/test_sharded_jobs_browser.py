"""The system page shows the jobs split over the shard workers (apps.mlops.shards): a real wave
ranking and a real slot-price refresh run in shards, then read by an operator in Chromium."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_MARKS
from tests.campaigns.conftest import approved_content, population  # noqa: F401 (fixtures)
from tests.campaigns.test_click_model_loop import world  # noqa: F401 (a fixture)
from tests.campaigns.test_sharded_ranking import _rank, _shards, trained  # noqa: F401 (a fixture)

pytestmark = [*BROWSER_MARKS, pytest.mark.one_database("postgresql", "a page in Chromium; the jobs run on both in "
                                                                      "tests/campaigns/test_sharded_ranking.py")]


def test_an_operator_sees_each_shard_of_the_last_jobs(trained, settings, operator_page, live_url, screenshot):  # noqa: F811
    from apps.core.services import policy_set
    from apps.mlops import shards
    from apps.mlops.slots import slot_prices_refresh

    client, ranker, content, cands, seed, at = trained
    _shards(settings, MIN_CANDIDATES=1, SUBSCRIBERS=45, WORKERS=0)
    _rank(ranker, content, cands, seed, at)
    policy_set(client=client, cap_window=timedelta(days=7), slot_objective="clicks")
    priced = slot_prices_refresh(client=client, now=at)
    jobs = shards.recent_jobs(2)
    assert [j["kind"] for j in jobs] == ["price", "rank"] and priced["shards"] == jobs[0]["shards"]

    page = operator_page
    page.goto(live_url("/dashboards/system/"))
    rows = page.locator("table.shard-jobs tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("slot prices")
    expect(rows.nth(0)).to_contain_text(f"{jobs[0]['shards']} / {jobs[0]['shards']}")
    expect(rows.nth(1)).to_contain_text("wave ranking")
    expect(rows.nth(1)).to_contain_text(client.name)
    expect(rows.nth(1).locator(".shard.done")).to_have_count(jobs[1]["shards"])
    screenshot(page, "dashboard-system-shards")
