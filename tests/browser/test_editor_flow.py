"""The editors' workflow in a real headless Chromium: find a candidate in the queue, edit a
title, approve it, launch; an operator sees the same page read-only; a form without the CSRF
token is refused. Screenshots of the queue and the content page go to $PUSHADMIN_TEST_OUTPUT."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.campaigns.models import Campaign
from apps.contents.models import Content, ContentStatus
from apps.core.models import Decision
from tests.browser.conftest import BROWSER_MARKS

pytestmark = BROWSER_MARKS

NEWS = [
    ("rates", "Central bank raises interest rates to curb inflation",
     "The central bank raised its benchmark interest rate by half a point on Thursday, citing stubborn inflation "
     "and a tight labour market. Mortgage holders will feel it first.", "economy", "en", 90),
    ("subway", "서울 지하철 요금 내달부터 150원 인상",
     "서울시는 지하철 기본요금을 다음 달부터 150원 올린다고 밝혔다. 버스 요금도 함께 오른다.", "society", "ko", 70),
    ("storm", "Storm warning issued for the east coast as heavy rain moves in",
     "Forecasters issued a storm warning for the east coast on Friday. Heavy rain and strong winds are expected overnight.",
     "weather", "en", 55),
    ("final", "Underdogs reach the cup final after extra-time winner",
     "A header in the 118th minute sent the underdogs to their first cup final in forty years.", "sports", "en", 40),
]


@pytest.fixture
def newsroom(candidate, people, subscriber_factory, client_a):
    from apps.contents.services import auto_approve_policy_set

    subscriber_factory(client_a, 40, prefix="aud")
    auto_approve_policy_set(client=client_a, enabled=False, min_score=4.0, categories=["politics"], user=people["admin"])
    return {ext: candidate(ext, title=t, body=b, category=cat, language=lang, n_reads=n)
            for ext, t, b, cat, lang, n in NEWS}


def test_editor_finds_edits_approves_and_launches(newsroom, editor_page, live_url, screenshot):
    page = editor_page
    content = newsroom["rates"]
    page.goto(live_url("/contents/"))
    expect(page.locator("h1")).to_have_text("Push candidates")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(len(NEWS))
    scores = [float(s.rstrip("×")) for s in page.locator("table.queue .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)  # best predicted improvement first
    screenshot(page, "queue")

    page.get_by_role("link", name=content.title).click()
    page.wait_for_url(live_url(f"/contents/{content.pk}/"))
    expect(page.locator("h1")).to_have_text(content.title)
    expect(page.locator(".phone")).to_be_visible()

    variant = content.title_variants.filter(source="template").order_by("id").first()
    row = page.locator(f"#variant-{variant.pk}")
    row.locator("input[name=text]").fill("Rates up half a point: what it means")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.ok")).to_have_text("Title saved; approve it to use it.")
    row = page.locator(f"#variant-{variant.pk}")
    expect(row.locator("input[name=text]")).to_have_value("Rates up half a point: what it means")
    expect(page.get_by_role("button", name="Approve and launch")).to_be_disabled()

    row.get_by_role("button", name="Approve").click()
    expect(page.locator(f"#variant-{variant.pk} .review-badge")).to_contain_text("approved")
    expect(page.locator(".phone .n-title")).to_have_text("Rates up half a point: what it means")
    expect(page.get_by_role("button", name="Approve and launch")).to_be_enabled()
    expect(page.locator(".decisions")).to_contain_text("approved a title")
    screenshot(page, "content")

    page.get_by_role("button", name="Approve and launch").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Launched: campaign #\d+ is running"))
    campaign = Campaign.objects.get(content_id=content.pk)
    assert campaign.state == "running" and campaign.created_by.get_username() == "ed"
    assert Content.objects.get(pk=content.pk).status == ContentStatus.SENDING
    actions = list(Decision.objects.filter(content_id=content.pk, actor_user__username="ed").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["title_edit", "title_approve", "content_approve", "campaign_launch"]
    expect(page.locator(".content-head .status")).to_have_text("sending")
    expect(page.get_by_role("button", name="Approve and launch")).to_have_count(0)
    screenshot(page, "content-launched")

    # It has left the queue.
    page.goto(live_url("/contents/"))
    expect(page.locator("table.queue tbody tr")).to_have_count(len(NEWS) - 1)


def test_cut_titles_are_shown_and_refused(newsroom, editor_page, live_url):
    page = editor_page
    content = newsroom["storm"]
    page.goto(live_url(f"/contents/{content.pk}/"))
    original = content.title_variants.get(source="original")
    row = page.locator(f"#variant-{original.pk}")
    expect(row.locator(".cut-preview")).to_contain_text("Cut on iOS")
    expect(row.locator(".fit.cut").first).to_be_visible()
    row.get_by_role("button", name="Approve").click()
    expect(page.locator(f"#variant-{original.pk} [role=alert]")).to_contain_text("would be cut off")
    original.refresh_from_db()
    assert original.review == "pending"


def test_operator_sees_the_page_without_buttons(newsroom, operator_page, live_url, screenshot):
    page = operator_page
    content = newsroom["subway"]
    page.goto(live_url("/contents/"))
    expect(page.locator("table.queue tbody tr")).to_have_count(len(NEWS))
    expect(page.locator(".policy-edit")).to_have_count(0)
    page.get_by_role("link", name=content.title).click()
    expect(page.locator("h1")).to_have_text(content.title)
    expect(page.locator(".variant")).to_have_count(content.title_variants.count())
    expect(page.get_by_role("button", name="Approve and launch")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject content")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.locator("input[name=text]")).to_have_count(0)
    expect(page.locator(".readonly")).to_contain_text("Read-only")
    screenshot(page, "content-operator")


def test_a_form_posted_without_the_csrf_token_is_refused(newsroom, editor_page, live_url):
    page = editor_page
    content = newsroom["final"]
    page.goto(live_url(f"/contents/{content.pk}/"))
    form = page.locator("form.reject-form")
    form.locator("input[name=reason]").fill("Not for a push")
    form.locator("input[name=csrfmiddlewaretoken]").evaluate("el => el.remove()")
    with page.expect_response(lambda r: r.url.endswith(f"/contents/{content.pk}/reject/")) as answer:
        form.get_by_role("button", name="Reject content").click()
    assert answer.value.status == 403
    assert "CSRF" in page.content()
    assert Content.objects.get(pk=content.pk).status == ContentStatus.CANDIDATE
    # The same form with its token goes through.
    page.goto(live_url(f"/contents/{content.pk}/"))
    page.locator("form.reject-form input[name=reason]").fill("Not for a push")
    page.get_by_role("button", name="Reject content").click()
    expect(page.locator(".messages")).to_contain_text("Content rejected")
    assert Content.objects.get(pk=content.pk).status == ContentStatus.REJECTED


def test_another_clients_editor_cannot_open_the_page(newsroom, other_editor_page, live_url):
    page = other_editor_page
    response = page.goto(live_url(f"/contents/{newsroom['rates'].pk}/"))
    assert response.status == 404
    page.goto(live_url("/contents/"))
    expect(page.locator("table.queue tbody tr")).to_have_count(1)  # the empty-queue row
    expect(page.locator("table.queue")).to_contain_text("No candidates right now")
