"""The API's documentation pages (Swagger UI, ReDoc) load only files of our own origin: the
drf-spectacular-sidecar copies, no CDN script on the origin of the logged-in pages; their
Content-Security-Policy forbids the browser anything from elsewhere."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from apps.core.api_docs import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db
DOCS = ["/api/docs/", "/api/redoc/"]


class _References(HTMLParser):
    """Every URL a page makes the browser load or link: src, href, srcset, and <redoc spec-url>."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name in ("src", "href", "spec-url", "srcset"):
            if values.get(name):
                self.urls.append((tag, values[name]))
        self._in_script = tag == "script" and not values.get("src")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        self._in_script = False


def parse(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("page", DOCS)
def test_docs_pages_reference_no_other_origin(client, page):
    r = client.get(page)
    assert r.status_code == 200
    html = r.content.decode()
    found = parse(html)

    scripts = [url for tag, url in found.urls if tag == "script"]
    assert scripts and all(url.startswith(("/static/drf_spectacular_sidecar/", f"{page}?script")) for url in scripts), scripts
    assert [url for _, url in found.urls if not url.startswith(("/", "data:")) or url.startswith("//")] == []
    assert "://" not in html  # nor in inline styles (a font service, say)
    assert found.inline_scripts == 0  # the policy allows none


@pytest.mark.parametrize("page", DOCS)
def test_docs_pages_forbid_other_origins_to_the_browser(client, page):
    policy = client.get(page)["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == directives["script-src"] == directives["connect-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"


def test_swagger_start_up_script_is_ours_and_reads_our_schema(client):
    [script] = [url for tag, url in parse(client.get("/api/docs/").content.decode()).urls if tag == "script" and "?script" in url]
    r = client.get(script)
    body = r.content.decode()
    assert r.status_code == 200 and r["Content-Type"].startswith("application/javascript")
    assert '"/api/schema/"' in body and '"validatorUrl": null' in body  # no schema sent to an outside validator
    assert "://" not in body


def test_redoc_reads_our_schema(client):
    assert ("redoc", "/api/schema/") in parse(client.get("/api/redoc/").content.decode()).urls


@pytest.mark.parametrize("page", DOCS)
def test_docs_assets_are_among_our_static_files(client, page):
    """What the pages load is in the project's static files (collectstatic copies them)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    assets = [url for _, url in parse(client.get(page).content.decode()).urls if url.startswith(settings.STATIC_URL)]
    assert assets
    for url in assets:
        found = finders.find(url.removeprefix(settings.STATIC_URL))
        assert found and Path(found).stat().st_size > 100, url
