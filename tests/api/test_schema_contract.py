"""The published OpenAPI document is valid, and every answer of a scripted session matches it.

The session does what an integrating content system does (register and update contents, upsert
subscribers, report events, walk lists by cursor, read details and campaigns) and provokes every
error answer each operation documents. Each real answer is checked strictly (``openapi_contract``):
status, media type, body with closed objects, headers. The test then asserts the other direction:
every status each operation documents was seen, so the document promises nothing the API never does.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from openapi_spec_validator import validate as validate_spec
from rest_framework.test import APIClient

from tests.api.openapi_contract import Contract

ROOT = Path(__file__).resolve().parents[2]


def published_schema() -> dict:
    r = APIClient().get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    return json.loads(r.content)


@pytest.fixture
def contract(db):
    document = published_schema()
    validate_spec(document)  # raises with the offending path if the document is not valid OpenAPI
    assert document["openapi"].startswith("3.1")
    return Contract(document)


@pytest.fixture
def world(client_a, content_factory, subscriber_factory, now):
    """Two contents of client_a, one with a running campaign (one decided wave, one planned), and
    subscribers for events."""
    from apps.campaigns.models import Campaign, Wave
    from apps.contents.models import TitleVariant

    subscriber_factory(client_a, 3)
    with_campaign = content_factory(client_a, "with-campaign", url="https://news.example/a", category="politics")
    content_factory(client_a, "plain")
    TitleVariant.objects.create(content=with_campaign, text="Push title", source="template", template_name="lead",
                                review="approved")
    campaign = Campaign.objects.create(client=client_a, content=with_campaign, created_at=now - timedelta(minutes=3),
                                       sends=120, clicks=7, expected_clicks=2.5)
    Wave.objects.create(campaign=campaign, number=1, planned_size=100, created_at=now - timedelta(minutes=3),
                        state="decided", sends=100, delivered=98, failed=2, clicks=7, expected_clicks=2.5,
                        sent_at=now - timedelta(minutes=3), observe_until=now - timedelta(minutes=1),
                        decision="expand", decided_at=now - timedelta(minutes=1),
                        decision_numbers={"improvement": 2.8, "lower": 1.2})
    Wave.objects.create(campaign=campaign, number=2, planned_size=400, created_at=now)
    return {"campaign": campaign}


class Session:
    """An API client whose every answer goes through the contract."""

    def __init__(self, contract: Contract, key: str | None, header: str = "Authorization"):
        self.contract = contract
        self.api = APIClient()
        if key and header == "Authorization":
            self.api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        elif key:
            self.api.credentials(HTTP_X_API_KEY=key)

    def call(self, method: str, path: str, *, status: int, data=None, raw: bytes | None = None,
             content_type: str = "application/json"):
        if raw is not None:
            r = getattr(self.api, method.lower())(path, raw, content_type=content_type)
        elif method in ("PUT", "POST"):
            r = getattr(self.api, method.lower())(path, data, format="json")
        else:
            r = self.api.get(path, data or {})
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.content[:300]!r}"
        return self.contract.check(method, path, r)


def bulk(n: int, prefix: str = "s") -> dict:
    return {"subscribers": [{"external_id": f"{prefix}{i}", "timezone": "Asia/Seoul", "platform": "android"}
                            for i in range(n)]}


@pytest.mark.django_db
def test_every_answer_of_a_scripted_session_matches_the_published_schema(contract, client_a, make_client, world,
                                                                          settings):
    s = Session(contract, client_a.plain_key)
    contents, events, bulk_url = "/api/v1/contents/", "/api/v1/events/", "/api/v1/subscribers/bulk/"
    campaign_id = world["campaign"].pk

    # Contents: register, the same again, update; detail with and without a campaign; every 400.
    new = {"title": "지역 의료 인력 확충 계획 발표", "body": "본문", "language": "ko", "url": "",
           "created_at": "2026-12-01T09:00:00+09:00", "expires_at": "2026-12-01T15:00:00+09:00"}
    created = s.call("PUT", contents + "n-1/", status=201, data=new)
    assert created["external_id"] == "n-1" and created["campaign"] is None and created["url"] == ""
    s.call("PUT", contents + "n-1/", status=200, data=new)
    s.call("PUT", contents + "n-1/", status=200, data={**new, "title": "Updated", "language": ""})
    s.call("PUT", contents + "n-2/", status=201, data={"title": "Only a title"})
    detail = s.call("GET", contents + "with-campaign/", status=200)
    assert detail["campaign"]["state"] == "running" and detail["title_variants"][0]["review"] == "approved"
    s.call("GET", contents + "plain/", status=200)
    for bad, field in [({**new, "language": "korean"}, "language"), ({"body": "no title"}, "title"),
                       ({**new, "expires_at": "2026-12-01T08:00:00+09:00"}, "expires_at"),
                       ({**new, "title": "a\x00b"}, "title")]:
        error = s.call("PUT", contents + "n-3/", status=400, data=bad)
        assert error["field"] == field and error["errors"][0]["field"] == field
    s.call("PUT", contents + "n-3/", status=400, raw=b'{"title": ', content_type="application/json")
    s.call("PUT", contents + "n-3/", status=415, raw=b"title=x", content_type="text/plain")
    s.call("GET", contents + "nobody/", status=404)
    s.call("GET", contents + "-not-an-id-/", status=404)  # outside the documented pattern: still the API's JSON
    s.call("PUT", contents + "-not-an-id-/", status=404, data=new)

    # A cursor walk over every content, one per page, by next_cursor; then bad filters and cursors.
    seen, cursor = [], None
    while True:
        page = s.call("GET", contents, status=200, data={"page_size": 1, **({"cursor": cursor} if cursor else {})})
        seen += [c["external_id"] for c in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            assert page["next"] is None
            break
        assert f"cursor={cursor}" in page["next"].replace("%3D", "=")
    assert sorted(seen) == ["n-1", "n-2", "plain", "with-campaign"]
    assert s.call("GET", contents, status=200, data={"status": "registered", "category": "politics"})["results"]
    s.call("GET", contents, status=400, data={"cursor": "cD1ub3RhZGF0ZQ=="})  # base64 of p=notadate
    s.call("GET", contents, status=400, data={"status": "nonsense"})
    s.call("GET", contents, status=400, data={"created_after": "9999-12-31T23:59:59-05:00"})

    # Subscribers: created, then unchanged; a bad item names itself; empty; too many.
    assert s.call("POST", bulk_url, status=200, data=bulk(3))["created"] == 3
    assert s.call("POST", bulk_url, status=200, data=bulk(3))["unchanged"] == 3
    bad = s.call("POST", bulk_url, status=400,
                 data={"subscribers": [{"external_id": "ok"}, {"external_id": "x", "timezone": "Mars/Base"}]})
    assert bad["field"] == "subscribers[1].timezone"
    s.call("POST", bulk_url, status=400, data={"subscribers": []})
    s.call("POST", bulk_url, status=413, data=bulk(settings.PUSHADMIN["MAX_BATCH"] + 1, prefix="many"))
    s.call("POST", bulk_url, status=415, raw=b"subscribers", content_type="text/plain")

    # Events: accepted, duplicate and rejected in one answer; the batch errors.
    ev = {"event_id": "e1", "type": "read", "subscriber": "u0", "content": "plain"}
    answer = s.call("POST", events, status=200, data={"events": [
        ev, {**ev, "event_id": "e2", "type": "click"}, {**ev, "event_id": "e3", "type": "teleport"}]})
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted", "rejected"]
    assert answer["results"][2]["field"] == "events[2].type" and "reason" in answer["results"][2]
    again = s.call("POST", events, status=200, data={"events": [ev]})
    assert again["results"][0]["status"] == "duplicate" and "field" not in again["results"][0]
    s.call("POST", events, status=400, data={"events": []})
    s.call("POST", events, status=400, data={"events": "not a list"})
    s.call("POST", events, status=413, data={"events": [ev] * (settings.PUSHADMIN["MAX_BATCH"] + 1)})
    s.call("POST", events, status=415, raw=b"events", content_type="text/plain")

    # Campaigns: list, filtered, detail; unknown and malformed ids; a bad cursor.
    listed = s.call("GET", "/api/v1/campaigns/", status=200)
    assert [c["id"] for c in listed["results"]] == [campaign_id] and listed["previous_cursor"] is None
    waves = s.call("GET", f"/api/v1/campaigns/{campaign_id}/", status=200)["waves"]
    assert [w["decision"] for w in waves] == ["expand", ""] and waves[0]["decision_numbers"]["improvement"] == 2.8
    s.call("GET", "/api/v1/campaigns/", status=200, data={"state": "done"})
    s.call("GET", "/api/v1/campaigns/", status=400, data={"cursor": "!!!"})
    s.call("GET", f"/api/v1/campaigns/{campaign_id + 1000}/", status=404)
    s.call("GET", "/api/v1/campaigns/abc/", status=404)

    # A body over the server's size limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    s.call("PUT", contents + "n-4/", status=413, data={"title": "t", "body": "x" * 4096})
    s.call("POST", events, status=413, data={"events": [{**ev, "event_id": f"big{i}"} for i in range(100)]})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

    # The other key header works; no key and a bad key are 401 on every operation.
    assert Session(contract, client_a.plain_key, header="X-Api-Key").call("GET", "/api/v1/campaigns/", status=200)
    every_operation = [("GET", contents, None), ("GET", contents + "plain/", None), ("PUT", contents + "plain/", new),
                       ("POST", bulk_url, bulk(1)), ("POST", events, {"events": [ev]}),
                       ("GET", "/api/v1/campaigns/", None), ("GET", f"/api/v1/campaigns/{campaign_id}/", None)]
    for key in (None, "pa_nope_nope", "not-a-key"):
        for method, path, data in every_operation:
            error = Session(contract, key).call(method, path, status=401, data=data)
            assert error["status"] == 401

    # Over the rate: 429 with Retry-After on every operation.
    limited = make_client("limited", api_rate="1/min")
    limited_session = Session(contract, limited.plain_key)
    for method, path, data in every_operation:
        path = path.replace(f"/{campaign_id}/", "/1/")  # another client's ids: the throttle answers first
        for _ in range(5):  # a minute boundary between two calls opens a new window
            r = getattr(limited_session.api, method.lower())(path, data, format="json") if data else \
                limited_session.api.get(path)
            if r.status_code == 429:
                break
        assert r.status_code == 429, (method, path, r.status_code)
        contract.check(method, path, r)
        assert int(r.headers["Retry-After"]) >= 1

    # The other direction: every status every operation documents was answered at least once.
    seen_statuses = {(m, t, str(code)) for m, t, code in contract.checked}
    documented = {(m.upper(), t, code) for t, item in contract.document["paths"].items()
                  for m, op in item.items() for code in op["responses"]}
    assert documented - seen_statuses == set()
    summary = {"calls": len(contract.checked), "operations": len({(m, t) for m, t, _ in contract.checked}),
               "statuses": dict(sorted(Counter(str(c) for _, _, c in contract.checked).items()))}
    out = Path(os.environ.get("PUSHADMIN_TEST_OUTPUT", ROOT / "test-output"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "schema-contract.json").write_text(json.dumps(summary, indent=2) + "\n")


@pytest.mark.django_db
def test_the_contract_check_refuses_what_the_schema_does_not_promise(contract):
    """The check above is only worth its passes if it fails on answers that break the document."""
    from django.http import HttpResponse, JsonResponse

    error = {"status": 404, "code": "not_found", "field": None, "message": "No.",
             "errors": [{"field": None, "code": "not_found", "message": "No."}]}
    assert contract.check("GET", "/api/v1/campaigns/7/", JsonResponse(error, status=404))["code"] == "not_found"
    broken = [
        (JsonResponse({**error, "extra": 1}, status=404), "Additional properties"),
        (JsonResponse({k: v for k, v in error.items() if k != "errors"}, status=404), "'errors' is a required"),
        (JsonResponse({**error, "status": "404"}, status=404), "is not of type 'integer'"),
        (JsonResponse(error, status=418), "status not documented"),
        (HttpResponse(b"<h1>Not Found</h1>", status=404), "media type 'text/html' not documented"),
        (JsonResponse({**error, "status": 429}, status=429), "required header Retry-After missing"),
    ]
    for response, message in broken:
        with pytest.raises(AssertionError, match=message):
            contract.check("GET", "/api/v1/campaigns/7/", response)
    with pytest.raises(AssertionError, match="not documented"):
        contract.check("DELETE", "/api/v1/campaigns/7/", JsonResponse(error, status=404))
    page = {"next": None, "previous": None, "next_cursor": None, "previous_cursor": None,
            "results": [{"id": 1, "content": "c", "state": "paused"}]}
    with pytest.raises(AssertionError, match="at results/0: 'alpha' is a required property"):
        contract.check("GET", "/api/v1/campaigns/", JsonResponse(page))
