"""Security in a real headless Chromium: the API's documentation pages run, and nothing they ask
for leaves for another origin (their Content-Security-Policy stops it in the browser); ten wrong
passwords lock an editor out with a clear message, and an admin unlocks them in the admin site."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_MARKS, VIEWPORT

pytestmark = BROWSER_MARKS


@pytest.fixture
def fresh_page(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_api_docs_run_and_load_nothing_from_another_origin(fresh_page, live_url, screenshot):
    page = fresh_page
    requested: list[str] = []
    failed: dict[str, str] = {}
    errors: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("requestfailed", lambda r: failed.__setitem__(r.url, r.failure))
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(live_url("/api/docs/"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("pushadmin API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()  # the schema was read and drawn
    screenshot(page, "api-docs-swagger")
    page.goto(live_url("/api/redoc/"))
    expect(page.locator("h1").first).to_contain_text("pushadmin API")
    expect(page.get_by_text("/api/v1/events/").first).to_be_attached()
    screenshot(page, "api-docs-redoc")

    origin = live_url("")
    assert any("/static/drf_spectacular_sidecar/" in url for url in requested)
    elsewhere = [url for url in requested if not url.startswith((origin + "/", "data:", "blob:"))]
    # ReDoc's bundle asks for its vendor's logo: the page's policy stops it inside the browser.
    assert {url: failed.get(url) for url in elsewhere} == dict.fromkeys(elsewhere, "csp")
    assert errors == []


def test_a_locked_out_editor_is_told_so_and_an_admin_unlocks(people, fresh_page, login_as, live_url, screenshot):
    from axes.models import AccessAttempt

    from tests.browser.conftest import PASSWORDS

    page = fresh_page
    page.goto(live_url("/login/"))
    for i in range(10):
        page.fill("input[name=username]", "ed")
        page.fill("input[name=password]", f"not-my-password-{i}")
        page.click("button[type=submit]")
        page.wait_for_load_state()
    expect(page.locator("#login-locked")).to_contain_text("logging in is locked for 30 minutes")
    screenshot(page, "login-locked")

    page.fill("input[name=username]", "ed")
    page.fill("input[name=password]", PASSWORDS["editor"])
    page.click("button[type=submit]")
    expect(page.locator("#login-locked")).to_be_visible()  # the right password is refused while locked
    assert page.url.startswith(live_url("/login/"))

    admin = login_as("admin")
    admin.goto(live_url("/admin/axes/accessattempt/"))
    row = admin.locator("#result_list tbody tr", has_text="ed")
    expect(row.locator("td.field-status")).to_have_text("Locked Out")
    screenshot(admin, "admin-login-attempts")
    row.locator("input.action-select").check()
    admin.select_option("select[name=action]", "unlock")
    admin.locator("button[title='Run the selected action']").click()
    expect(admin.locator("ul.messagelist")).to_contain_text("Unlocked: cleared 1 row(s) of failed logins.")
    assert not AccessAttempt.objects.filter(username="ed").exists()

    page.fill("input[name=username]", "ed")
    page.fill("input[name=password]", PASSWORDS["editor"])
    page.click("button[type=submit]")
    page.wait_for_url(live_url("/"))
