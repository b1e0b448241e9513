"""The contents page and its CSV export answer 400 naming the filter for filters they cannot
apply (a year-9999 ``to`` overflowed into a 500; NUL reached PostgreSQL), on both databases."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(people):
    c = HttpClient()
    c.force_login(people["operator"])
    return c


@pytest.mark.parametrize("url", ["/dashboards/contents/", "/dashboards/contents.csv"])
@pytest.mark.parametrize("params, name", [
    ({"to": "9999-12-31"}, "to"),
    ({"from": "9999-12-31"}, "from"),
    ({"from": "0001-01-01"}, "from"),
    ({"to": "someday"}, "to"),
    ({"category": "sports\x00"}, "category"),
])
def test_a_filter_that_cannot_be_applied_is_400_naming_it(browser, url, params, name):
    r = browser.get(url, params)
    assert r.status_code == 400
    assert f"'{name}'" in r.content.decode()


@pytest.mark.parametrize("url", ["/dashboards/contents/", "/dashboards/contents.csv"])
def test_the_widest_dates_still_filter(browser, url):
    r = browser.get(url, {"from": "1900-01-01", "to": "2999-12-31", "category": "sports"})
    assert r.status_code == 200
