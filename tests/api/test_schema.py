import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import subprocess_env

ROOT = Path(__file__).resolve().parents[2]


def test_schema_builds_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    r = subprocess.run([sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
                       cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    text = out.read_text()
    for path in ("/api/v1/contents/{external_id}/", "/api/v1/subscribers/bulk/", "/api/v1/events/", "/api/v1/campaigns/{id}/"):
        assert path in text


@pytest.mark.django_db
def test_swagger_ui_is_served(client):
    r = client.get("/api/docs/")
    assert r.status_code == 200 and b"swagger" in r.content.lower()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"ApiKey" in schema.content


@pytest.mark.django_db
def test_an_unhandled_error_is_json_and_signalled(api, monkeypatch, _no_server_errors):
    """What the suite-wide guard relies on: an unhandled error is a JSON 500 that fires
    got_request_exception (which the guard records)."""
    import apps.contents.api as contents_api

    def boom(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(contents_api, "contents_of_client", boom)
    api.raise_request_exception = False
    r = api.get("/api/v1/contents/")
    assert r.status_code == 500 and r.json()["code"] == "server_error"
    assert _no_server_errors == ["/api/v1/contents/"]
    _no_server_errors.clear()  # expected here; every other test must leave it empty
