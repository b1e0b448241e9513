"""In Chromium: an editor reading Korean sees a launched content's results appear on its page and
the queue's Launched tab fill (both loaded by htmx from the dashboards); an admin changes a client's
settings and sees a refused value on its field. Screenshots in both languages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_MARKS

pytestmark = BROWSER_MARKS


@pytest.fixture
def launched(people, client_a, content_factory):
    """A content the editor launched two days ago: 24 clicks against 8 expected, a holdout."""
    from apps.campaigns.models import Campaign, Wave
    from apps.core import clock
    from apps.dashboards.models import CampaignReach

    now = clock.now()
    content = content_factory(client_a, "launched-1", title="서울 첫눈, 출근길 교통 혼잡", category="weather",
                              created_at=now - timedelta(days=2, minutes=40))
    type(content).objects.filter(pk=content.pk).update(status="done", push_score=2.6)
    campaign = Campaign.objects.create(client=client_a, content=content, state="done", created_at=now - timedelta(days=2),
                                       created_by=people["editor"], sends=400, clicks=24, expected_clicks=8.0)
    Wave.objects.create(campaign=campaign, number=1, planned_size=400, state="decided", created_at=campaign.created_at,
                        sent_at=campaign.created_at, sends=400, delivered=400, clicks=24, expected_clicks=8.0,
                        decision="stop", decided_at=campaign.created_at + timedelta(minutes=20))
    CampaignReach.objects.create(campaign=campaign, recipients=400, inactive_recipients=300, reactivated=60,
                                 held_out=100, held_out_inactive=80, held_out_reactivated=8, computed_at=now)
    return content


def test_an_editor_sees_what_the_push_did(people, launched, login_as, live_url, screenshot):
    from apps.core.services import preference_set

    for language, words in (("ko", ("푸시 결과", "비활성 수신자 300명 중 60명")), ("en", ("Results of the push", "60 of 300 inactive recipients"))):
        preference_set(user=people["editor"], language=language, time_zone="Asia/Seoul")
        page = login_as("editor")
        page.goto(live_url(f"/contents/{launched.pk}/"))
        results = page.locator("#content-results")
        expect(results).to_be_visible()  # swapped in by htmx after the page loaded
        expect(page.locator("#results-improvement")).to_have_text("3.00×")
        for word in words:
            expect(results).to_contain_text(word)
        expect(page.locator("#results-incremental strong")).to_have_text("30")
        screenshot(page, f"results-{language}-content")

        page.goto(live_url("/contents/?status=launched"))
        row = page.locator("#recent-results tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("서울 첫눈")
        expect(row).to_contain_text("3.00×")
        screenshot(page, f"results-{language}-queue-launched")
        page.context.close()


def test_an_admin_changes_a_clients_settings(people, client_a, login_as, live_url, screenshot):
    from apps.core.models import Decision, Policy
    from apps.core.services import preference_set

    preference_set(user=people["admin"], language="ko", time_zone="Asia/Seoul")
    page = login_as("admin")
    page.goto(live_url(f"/dashboards/settings/{client_a.pk}/"))
    page.fill("#id_target", "1.0")  # below the floor
    page.click("#client-settings button[type=submit]")
    expect(page.locator("#field-target .error")).to_contain_text("목표는 하한 이상이어야 합니다")
    screenshot(page, "settings-ko-refused")
    assert not Decision.objects.filter(client=client_a, action="policy_set").exists()

    page.fill("#id_target", "2.6")
    page.fill("#id_holdout_share", "5")
    page.click("#client-settings button[type=submit]")
    expect(page.locator("#settings-history tbody tr").first).to_contain_text("홀드아웃(각 차수의 퍼센트): 0 → 5")
    policy = Policy.objects.get(client=client_a)
    assert (policy.target, policy.holdout_share) == (2.6, 0.05)
    screenshot(page, "settings-ko-saved")
    page.context.close()
