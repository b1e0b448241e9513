"""A Python client generated from the published schema by openapi-python-client parses every
answer of the API, successes and errors, into its typed objects.

The client is generated into a temporary folder exactly as docs/api.md tells integrators to, and
talks to the real Django application in this process (an httpx WSGI transport: no server to start,
the test database underneath). Every parsed object is walked: no unknown field may land in a
model's ``additional_properties`` (the schema lists every field the server sends) except in the
free-form ``decision_numbers``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import httpx
import pytest
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient

PACKAGE = "pushadmin_client"
CONFIG = f"project_name_override: pushadmin-client\npackage_name_override: {PACKAGE}\npost_hooks: []\n"
FREE_FORM = {"WaveDecisionNumbers"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated package, imported from a temporary folder."""
    folder = tmp_path_factory.mktemp("client")
    schema = APIClient().get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    (folder / "schema.json").write_bytes(schema.content)
    (folder / "config.yml").write_text(CONFIG)
    tool = Path(sys.executable).with_name("openapi-python-client")
    r = subprocess.run([str(tool), "generate", "--path", "schema.json", "--config", "config.yml", "--output-path", "out"],
                       cwd=folder, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Warning" not in r.stdout + r.stderr, r.stdout + r.stderr  # every schema construct understood
    sys.path.insert(0, str(folder / "out"))
    try:
        yield {name: importlib.import_module(f"{PACKAGE}.{name}") for name in
               ("client", "models", "errors", "types", "api.v1.v1_contents_update", "api.v1.v1_contents_retrieve",
                "api.v1.v1_contents_list", "api.v1.subscribers_bulk_upsert", "api.v1.events_ingest",
                "api.v1.v1_campaigns_list", "api.v1.v1_campaigns_retrieve")}
    finally:
        sys.path.remove(str(folder / "out"))
        for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[module]


def _unknown_fields(obj, path="") -> list[str]:
    """Paths of fields the models did not know (kept in additional_properties)."""
    out = []
    if attrs.has(type(obj)):
        if type(obj).__name__ not in FREE_FORM and getattr(obj, "additional_properties", None):
            out += [f"{path}.{k}" for k in obj.additional_properties]
        for a in attrs.fields(type(obj)):
            if a.name != "additional_properties":
                out += _unknown_fields(getattr(obj, a.name), f"{path}.{a.name}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            out += _unknown_fields(item, f"{path}[{i}]")
    return out


@pytest.mark.django_db
def test_a_generated_client_parses_every_answer_into_typed_objects(generated, in_process_requests, client_a, make_client, content_factory,
                                                                   now):
    from apps.campaigns.models import Campaign, Wave

    m, errors = generated["models"], generated["errors"]
    transport = httpx.WSGITransport(app=get_wsgi_application())

    def client(key: str, header: str = "Authorization", prefix: str = "Api-Key"):
        return generated["client"].AuthenticatedClient(
            base_url="http://testserver", token=key, prefix=prefix, auth_header_name=header,
            raise_on_unexpected_status=True, httpx_args={"transport": transport})

    api = client(client_a.plain_key)
    calls = []

    def call(module: str, expect_status: int, expect_type, **kwargs):
        response = generated[f"api.v1.{module}"].sync_detailed(client=kwargs.pop("client", api), **kwargs)
        assert response.status_code == expect_status, (module, response.status_code, response.content[:300])
        assert isinstance(response.parsed, expect_type), (module, type(response.parsed))
        assert _unknown_fields(response.parsed) == [], module
        calls.append((module, expect_status))
        return response.parsed

    # Contents: register, again, a 400 with its field; detail; a cursor walk by next_cursor.
    body = m.ContentPutRequest(title="지역 의료 인력 확충", language="ko", body="본문",
                               created_at=datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc))
    created = call("v1_contents_update", 201, m.ContentDetail, external_id="n-1", body=body)
    assert created.status == m.ContentStatusEnum.REGISTERED and created.campaign is None
    assert isinstance(created.scores, m.Scores) and created.created_at == datetime(2026, 12, 1, tzinfo=timezone.utc)
    call("v1_contents_update", 200, m.ContentDetail, external_id="n-1", body=body)
    bad = call("v1_contents_update", 400, m.Error, external_id="n-2",
               body=m.ContentPutRequest(title="x", language="korean"))
    assert (bad.status, bad.field, bad.errors[0].field) == (400, "language", "language")
    call("v1_contents_retrieve", 404, m.Error, external_id="nobody")

    with_campaign = content_factory(client_a, "with-campaign")
    campaign = Campaign.objects.create(client=client_a, content=with_campaign, created_at=now, sends=10, clicks=1,
                                       expected_clicks=0.4)
    Wave.objects.create(campaign=campaign, number=1, planned_size=10, created_at=now, state="decided", sends=10,
                        decision="stop", decided_at=now, decision_numbers={"improvement": 0.9})
    Wave.objects.create(campaign=campaign, number=2, planned_size=10, created_at=now + timedelta(seconds=1))
    detail = call("v1_contents_retrieve", 200, m.ContentDetail, external_id="with-campaign")
    assert isinstance(detail.campaign, m.CampaignNumbers) and detail.campaign.state == m.CampaignStateEnum.RUNNING

    seen, cursor = [], generated["types"].UNSET
    while True:
        page = call("v1_contents_list", 200, m.PaginatedContentList, page_size=1, cursor=cursor)
        seen += [c.external_id for c in page.results]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == ["n-1", "with-campaign"]
    call("v1_contents_list", 400, m.Error, cursor="cD1ub3RhZGF0ZQ==")
    registered = call("v1_contents_list", 200, m.PaginatedContentList, status=[m.ContentStatusEnum.REGISTERED])
    assert {c.status for c in registered.results} == {m.ContentStatusEnum.REGISTERED}  # one type to read and filter

    # Subscribers and events.
    people = m.SubscribersBulkRequestRequest(subscribers=[
        m.SubscriberItemRequest(external_id=f"u{i}", timezone="Asia/Seoul", platform=m.PlatformEnum.IOS)
        for i in range(3)])
    assert call("subscribers_bulk_upsert", 200, m.SubscribersBulkResult, body=people).created == 3
    bad = call("subscribers_bulk_upsert", 400, m.Error, body=m.SubscribersBulkRequestRequest(
        subscribers=[m.SubscriberItemRequest(external_id="x", timezone="Mars/Base")]))
    assert bad.errors[0].field == "subscribers[0].timezone"
    item = m.EventItemRequest(event_id="e1", type_=m.TypeEnum.READ, subscriber="u0", content="n-1")
    answer = call("events_ingest", 200, m.EventsAnswer, body=m.EventsRequestRequest(events=[item, item]))
    assert [r.status for r in answer.results] == [m.EventResultStatusEnum.ACCEPTED, m.EventResultStatusEnum.DUPLICATE]
    too_many = m.EventsRequestRequest(events=[item] * 10_001)
    assert call("events_ingest", 413, m.Error, body=too_many).code == "too_large"

    # Campaigns: the decided wave's enum, the undecided one's blank.
    listed = call("v1_campaigns_list", 200, m.PaginatedCampaignList)
    assert [c.id for c in listed.results] == [campaign.pk]
    one = call("v1_campaigns_retrieve", 200, m.Campaign, id=campaign.pk)
    assert [w.decision for w in one.waves] == [m.WaveDecisionEnum.STOP, m.BlankEnum.VALUE_0]
    assert one.waves[0].decision_numbers.additional_properties == {"improvement": 0.9}
    call("v1_campaigns_retrieve", 404, m.Error, id=campaign.pk + 1000)

    # The other header; a bad key; over the rate.
    call("v1_campaigns_list", 200, m.PaginatedCampaignList, client=client(client_a.plain_key, "X-Api-Key", ""))
    assert call("v1_campaigns_list", 401, m.Error, client=client("pa_nope_nope")).status == 401
    limited = client(make_client("limited", api_rate="1/min").plain_key)
    for _ in range(5):  # a minute boundary between two calls opens a new window
        response = generated["api.v1.v1_campaigns_list"].sync_detailed(client=limited)
        if response.status_code == 429:
            break
    assert response.status_code == 429 and isinstance(response.parsed, m.Error)
    assert int(response.headers["Retry-After"]) >= 1 and response.parsed.code == "throttled"
    calls.append(("v1_campaigns_list", 429))

    # An answer the schema does not document is an error in the client, not a silent None.
    with pytest.raises(errors.UnexpectedStatus):
        httpx_client = api.get_httpx_client()
        raw = httpx_client.request("DELETE", "/api/v1/campaigns/")
        generated["api.v1.v1_campaigns_list"]._build_response(client=api, response=raw)
    assert {status for _, status in calls} == {200, 201, 400, 401, 404, 413, 429}
