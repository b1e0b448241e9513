"""Security in a real headless Chromium: the API's documentation pages run, and nothing they ask
for leaves for another origin (their Content-Security-Policy stops it in the browser)."""

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
