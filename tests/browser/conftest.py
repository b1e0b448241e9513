"""Reusable Playwright fixtures: Debian's Chromium, headless, driven through the sync API
against pytest-django's live server.

    browser          one Chromium per test module (``/usr/bin/chromium``; never downloaded)
    login_as(role)   a fresh browser context logged in through the login form; roles are the
                     ``people`` fixture's keys (editor, operator, other_editor, admin)
    editor_page, operator_page, admin_page, other_editor_page   the same, ready to use
    screenshot(page, name)   a full-page PNG under $PUSHADMIN_TEST_OUTPUT (default test-output/)
    live_url(path)   the live server's address of a path

A browser test module starts with ``pytestmark = BROWSER_MARKS``: marked ``browser``, with a
transactional database (the live server answers from another thread). Transactional tests end
by emptying every table, so each test first puts back what the data migrations wrote (the
roles, the title-template library). (``serialized_rollback`` cannot do it here: once
Playwright's sync API runs, the test body talks to the database through connections that do
not carry the serialized copy.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.contents.conftest import _no_quiet_hours, candidate, reads, register, t0  # noqa: F401  (shared fixtures)

CHROMIUM = os.environ.get("PUSHADMIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 900}
BROWSER_MARKS = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORDS = {"editor": "pw-ed-123456", "operator": "pw-op-123456", "other_editor": "pw-edb-123456", "admin": "pw-adm-123456"}


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    """The rows the data migrations write, back after the previous test emptied the tables."""
    from importlib import import_module

    from django.apps import apps

    import_module("apps.core.migrations.0002_roles_and_append_only_log").create_roles(apps, None)
    import_module("apps.contents.migrations.0004_seed_title_templates").seed(apps, None)
    yield
    from django.db import connections

    connections.close_all()  # including the ones opened while Playwright's loop ran


def output_dir() -> Path:
    path = Path(os.environ.get("PUSHADMIN_TEST_OUTPUT", "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. While Playwright's sync API runs, an event loop runs in the
    test's thread; the ORM calls the tests make there are still synchronous, so Django's guard
    against async contexts is lifted for the module only (never for other tests, nor for the
    subprocesses they start)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (bin/test does when run as root).")
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    finally:
        pw.stop()
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def live_url(live_server):
    return lambda path="/": f"{live_server.url}{path}"


@pytest.fixture
def login_as(browser, live_url, people):
    contexts = []

    def login(role: str):
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(live_url("/login/"))
        page.fill("input[name=username]", people[role].get_username())
        page.fill("input[name=password]", PASSWORDS[role])
        page.click("button[type=submit]")
        page.wait_for_url(live_url("/"))
        return page

    yield login
    for context in contexts:
        context.close()


@pytest.fixture
def editor_page(login_as):
    return login_as("editor")


@pytest.fixture
def operator_page(login_as):
    return login_as("operator")


@pytest.fixture
def admin_page(login_as):
    return login_as("admin")


@pytest.fixture
def other_editor_page(login_as):
    return login_as("other_editor")


@pytest.fixture
def screenshot():
    def shoot(page, name: str) -> Path:
        path = output_dir() / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
