"""The shared Playwright fixtures (tests/browser/conftest.py), for the dashboards' browser tests only."""

from tests.browser.conftest import (  # noqa: F401
    _migration_data,
    admin_page,
    browser,
    editor_page,
    live_url,
    login_as,
    operator_page,
    screenshot,
)
