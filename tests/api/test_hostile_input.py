"""Hostile input answers 4xx naming the field, on SQLite and PostgreSQL, and loses nothing good.

Each case below answered 500 before the validation layer (``apps.core.validation``): lone
surrogates and NUL in strings, date-times at the edges of the calendar or with offsets past
+-15:59, integers past BIGINT, crafted cursors, JSON nested 5,000 deep, a content PUT whose
``expires_at`` precedes the ``created_at`` the service uses. Bodies are sent as JSON text made by
``json.dumps`` (ASCII, ``\\ud800`` escaped), as a client would, since a lone surrogate cannot be
encoded by the test client's own renderer.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from apps.audience.models import Subscriber
from apps.contents.models import Content
from apps.events.models import Event

EVENTS, SUBSCRIBERS, CONTENT = "/api/v1/events/", "/api/v1/subscribers/bulk/", "/api/v1/contents/{}/"
SURROGATE, NUL = "\ud800", "\x00"


def send(api, method: str, url: str, body=None, *, text: str | None = None):
    return api.generic(method, url, text if text is not None else json.dumps(body), content_type="application/json")


def good(i: int) -> dict:
    return {"event_id": f"good-{i}", "type": "read", "subscriber": "u0", "content": "c1"}


@pytest.fixture
def world(client_a, content_factory, subscriber_factory):
    subscriber_factory(client_a, 2)
    content_factory(client_a, "c1")


# --- Events: every item-level fault is that item's verdict; the good items are stored ----------

BASE = {"event_id": "bad", "type": "read", "subscriber": "u0", "content": "c1"}
BAD_EVENTS = [
    # (item, field, code in the reason)
    ({**BASE, "event_id": SURROGATE}, "event_id", "Surrogate"),
    ({**BASE, "event_id": "e" + NUL}, "event_id", "Null characters"),
    ({**BASE, "type": SURROGATE}, "type", "Surrogate"),
    ({**BASE, "type": "read" + NUL}, "type", "Null characters"),
    ({**BASE, "subscriber": SURROGATE}, "subscriber", "Surrogate"),
    ({**BASE, "subscriber": "u0" + NUL}, "subscriber", "Null characters"),
    ({**BASE, "content": "c1" + SURROGATE}, "content", "Surrogate"),
    ({**BASE, "content": NUL}, "content", "Null characters"),
    ({**BASE, "occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at", "between 1900"),
    ({**BASE, "occurred_at": "9999-12-31T23:59:59-01:00"}, "occurred_at", "between 1900"),
    ({**BASE, "occurred_at": "1899-12-31T23:59:59Z"}, "occurred_at", "between 1900"),
    ({**BASE, "occurred_at": "2026-11-28T09:00:00+16:00"}, "occurred_at", "UTC offset"),
    ({**BASE, "occurred_at": "2026-11-28T09:00:00-23:59"}, "occurred_at", "UTC offset"),
    ({**BASE, "occurred_at": "2026-11-28T09:00:00" + SURROGATE}, "occurred_at", "ISO-8601"),
    ({"event_id": "bad", "type": "click", "send_id": 2**63}, "send_id", "at most 9223372036854775807"),
    ({"event_id": "bad", "type": "click", "send_id": 2**64}, "send_id", "at most"),
    ({"event_id": "bad", "type": "click", "send_id": 10**40}, "send_id", "at most"),
    ({"event_id": "bad", "type": "click", "send_id": 2**63 - 1}, "send_id", "Unknown send"),  # fits: looked up
    ({**BASE, SURROGATE: 1}, "\\ud800", "Unknown field"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("item, field, reason", BAD_EVENTS, ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_a_poisoned_event_is_rejected_and_the_good_ones_stored(api, world, item, field, reason):
    r = send(api, "POST", EVENTS, {"events": [good(0), item, good(1)]})
    assert r.status_code == 200, r.content[:300]
    first, bad, last = r.json()["results"]
    assert (first["status"], last["status"]) == ("accepted", "accepted")
    assert bad["status"] == "rejected" and bad["field"] == f"events[1].{field}", bad
    assert reason in bad["reason"]
    assert bad["event_id"] in (None, "bad")  # echoed only when the answer can carry it
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["good-0", "good-1"]


@pytest.mark.django_db
def test_a_batch_with_every_poison_stores_every_good_item(api, world):
    items, good_ids = [], []
    for i, (bad, _, _) in enumerate(BAD_EVENTS):
        items += [good(i), {**bad, "event_id": bad["event_id"] if bad["event_id"] != "bad" else f"bad-{i}"}]
        good_ids.append(f"good-{i}")
    r = send(api, "POST", EVENTS, {"events": items})
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (len(BAD_EVENTS), len(BAD_EVENTS))
    assert [x["status"] for x in body["results"]] == ["accepted", "rejected"] * len(BAD_EVENTS)
    assert [x["field"].split(".")[0] for x in body["results"][1::2]] == [f"events[{2 * i + 1}]" for i in range(len(BAD_EVENTS))]
    assert sorted(Event.objects.values_list("event_id", flat=True)) == sorted(good_ids)


@pytest.mark.django_db
def test_an_edge_datetime_inside_the_range_is_stored_in_utc(api, world, settings):
    # events are kept 365 days by default (older ones are refused): keep them for ages here
    settings.PUSHADMIN = {**settings.PUSHADMIN, "EVENT_RETENTION_DAYS": 60_000}
    r = send(api, "POST", EVENTS, {"events": [{**BASE, "event_id": "edge", "occurred_at": "1900-01-01T15:59:00+15:59"}]})
    assert r.json()["accepted"] == 1
    assert Event.objects.get(event_id="edge").occurred_at.isoformat() == "1900-01-01T00:00:00+00:00"


# --- Subscribers: all or nothing, a 400 naming the item ---------------------------------------

BAD_SUBSCRIBERS = [
    ({"external_id": SURROGATE}, "external_id", "surrogate_characters_not_allowed"),
    ({"external_id": "a" + NUL}, "external_id", "null_characters_not_allowed"),
    ({"external_id": "a", "locale": SURROGATE}, "locale", "surrogate_characters_not_allowed"),
    ({"external_id": "a", "locale": "ko" + NUL}, "locale", "null_characters_not_allowed"),
    ({"external_id": "a", "timezone": SURROGATE}, "timezone", "surrogate_characters_not_allowed"),
    ({"external_id": "a", "timezone": "Asia/Seoul" + NUL}, "timezone", "null_characters_not_allowed"),
    ({"external_id": "a", "push_token": "t" + SURROGATE}, "push_token", "surrogate_characters_not_allowed"),
    ({"external_id": "a", "push_token": NUL}, "push_token", "null_characters_not_allowed"),
    ({"external_id": "a", "platform": SURROGATE}, "platform", "surrogate_characters_not_allowed"),
    ({"external_id": "a", "last_activity_at": "0001-01-01T00:00:00+01:00"}, "last_activity_at", "out_of_range"),
    ({"external_id": "a", "last_activity_at": "9999-12-31T23:59:59-01:00"}, "last_activity_at", "out_of_range"),
    ({"external_id": "a", "last_activity_at": "2026-11-28T09:00:00-16:00"}, "last_activity_at", "out_of_range"),
    ({"external_id": "a", SURROGATE: 1}, "\\ud800", "unknown_field"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("item, field, code", BAD_SUBSCRIBERS, ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_a_poisoned_subscriber_rejects_the_batch_naming_it(api, client_a, item, field, code):
    r = send(api, "POST", SUBSCRIBERS, {"subscribers": [{"external_id": "ok"}, item]})
    assert r.status_code == 400, r.content[:300]
    body = r.json()
    assert (body["field"], body["code"]) == (f"subscribers[1].{field}", code)
    assert Subscriber.objects.count() == 0  # nothing half-written


# --- Contents: PUT and the list's filters and cursor ------------------------------------------

BAD_CONTENTS = [
    ({"title": SURROGATE}, "title", "surrogate_characters_not_allowed"),
    ({"title": "ok" + NUL}, "title", "null_characters_not_allowed"),
    ({"title": "ok", "body": "text " + SURROGATE}, "body", "surrogate_characters_not_allowed"),
    ({"title": "ok", "body": NUL}, "body", "null_characters_not_allowed"),
    ({"title": "ok", "category": SURROGATE}, "category", "surrogate_characters_not_allowed"),
    ({"title": "ok", "category": NUL}, "category", "null_characters_not_allowed"),
    ({"title": "ok", "url": f"https://{SURROGATE}.example/"}, "url", "surrogate_characters_not_allowed"),
    ({"title": "ok", "language": SURROGATE}, "language", "surrogate_characters_not_allowed"),
    ({"title": "ok", "created_at": "0001-01-01T00:00:00+01:00"}, "created_at", "out_of_range"),
    ({"title": "ok", "created_at": "9999-12-31T23:59:59-01:00"}, "created_at", "out_of_range"),
    ({"title": "ok", "created_at": "9999-12-31T23:00:00Z"}, "created_at", "out_of_range"),  # + lifetime overflowed
    ({"title": "ok", "created_at": "2026-11-28T09:00:00+16:00"}, "created_at", "out_of_range"),
    ({"title": "ok", "expires_at": "9999-12-31T23:59:59-01:00"}, "expires_at", "out_of_range"),
    ({"title": "ok", "expires_at": "2026-11-28T09:00:00-16:00"}, "expires_at", "out_of_range"),
    ({"title": "ok", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at", "invalid"),  # before the default created_at
]


@pytest.mark.django_db
@pytest.mark.parametrize("body, field, code", BAD_CONTENTS, ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_a_poisoned_content_put_names_the_field(api, client_a, body, field, code):
    r = send(api, "PUT", CONTENT.format("n-1"), body)
    assert r.status_code == 400, r.content[:300]
    assert (r.json()["field"], r.json()["code"]) == (field, code)
    assert not Content.objects.exists()


@pytest.mark.django_db
def test_an_update_whose_expiry_precedes_the_created_at_it_keeps_is_400(api, client_a, content_factory, now):
    content_factory(client_a, "n-1", created_at=now - timedelta(hours=2))
    r = send(api, "PUT", CONTENT.format("n-1"), {"title": "edited", "expires_at": (now - timedelta(hours=3)).isoformat()})
    assert r.status_code == 400 and r.json()["field"] == "expires_at"
    assert "created_at" in r.json()["message"] and "the content's own" in r.json()["message"]
    assert Content.objects.get(external_id="n-1").title != "edited"


@pytest.mark.django_db
def test_a_put_without_created_at_keeps_the_contents_own(api, client_a, content_factory, now):
    """The same PUT sent again later is the same PUT: it does not move created_at (nor the expiry
    and evaluation time computed from it)."""
    created = now - timedelta(hours=2)
    content = content_factory(client_a, "n-1", created_at=created, title="same")
    expires, evaluate = content.expires_at, content.evaluate_at
    r = send(api, "PUT", CONTENT.format("n-1"), {"title": "same"})
    assert r.status_code == 200
    content.refresh_from_db()
    assert (content.created_at, content.expires_at, content.evaluate_at) == (created, expires, evaluate)
    r = send(api, "PUT", CONTENT.format("n-1"), {"title": "edited", "expires_at": (now - timedelta(hours=1)).isoformat()})
    assert r.status_code == 200  # an expiry in the past, after its own created_at: it will expire
    content.refresh_from_db()
    assert content.created_at == created and content.expires_at == now - timedelta(hours=1)


@pytest.mark.django_db
def test_offsets_are_converted_to_utc(api, client_a):
    r = send(api, "PUT", CONTENT.format("n-1"), {"title": "ok", "created_at": "2026-11-28T09:00:00+15:59",
                                                  "expires_at": "2026-11-28T00:00:00-15:59"})
    assert r.status_code == 201, r.content[:300]
    assert (r.json()["created_at"], r.json()["expires_at"]) == ("2026-11-27T17:01:00Z", "2026-11-28T15:59:00Z")


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BAD_CURSORS = [
    cursor("p=notadate"),
    cursor("p=9999-12-31 23:59:59-10:00"),
    cursor("p=0001-01-01 00:00:00+10:00"),
    cursor("p=2026-11-28 09:00:00+16:00"),
    cursor("p=\x00"),
    cursor("o=-1"),
    cursor("o=x"),
    cursor("r=2"),
    cursor("x=1"),
    cursor("p=2026-11-28&p=2026-11-29"),
    "!!!",
    "cD1ub3RhZGF0ZQ",  # unpadded
    "\u00e9",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/contents/", "/api/v1/campaigns/"])
@pytest.mark.parametrize("value", BAD_CURSORS)
def test_a_crafted_cursor_is_400(api, client_a, content_factory, url, value):
    content_factory(client_a, "c1")
    r = api.get(url, {"cursor": value})
    assert r.status_code == 400, r.content[:300]
    assert (r.json()["field"], r.json()["code"]) == ("cursor", "invalid_cursor")


@pytest.mark.django_db
def test_the_api_s_own_cursors_still_work_both_ways(api, client_a, content_factory, now):
    for i in range(5):
        content_factory(client_a, f"c{i}", created_at=now - timedelta(minutes=i))
    seen, page = [], api.get("/api/v1/contents/", {"page_size": 2})
    while True:
        assert page.status_code == 200
        seen += [c["external_id"] for c in page.data["results"]]
        if not page.data["next"]:
            break
        page = api.get(page.data["next"])
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    back = api.get(page.data["previous"])  # a reversed cursor
    assert back.status_code == 200 and [c["external_id"] for c in back.data["results"]] == ["c2", "c3"]


@pytest.mark.django_db
@pytest.mark.parametrize("params, field, code", [
    ({"created_after": "9999-12-31T23:59:59-10:00"}, "created_after", "out_of_range"),
    ({"created_before": "0001-01-01T00:00:00+10:00"}, "created_before", "out_of_range"),
    ({"created_after": "2026-11-28T09:00:00+16:00"}, "created_after", "out_of_range"),
    ({"category": NUL}, "category", "null_characters_not_allowed"),
])
def test_a_poisoned_list_filter_names_the_field(api, client_a, content_factory, params, field, code):
    content_factory(client_a, "c1")
    r = api.get("/api/v1/contents/", params)
    assert r.status_code == 400, r.content[:300]
    assert (r.json()["field"], r.json()["code"]) == (field, code)


# --- JSON nested too deep: refused before parsing ---------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("method, url", [("POST", EVENTS), ("POST", SUBSCRIBERS), ("PUT", CONTENT.format("n-1"))])
@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000,
    "[" * 100_000,  # not even well-formed
    '{"events": [{"event_id": ' + "[" * 5000 + "]" * 5000 + "}]}",
    '{"title": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}",
])
def test_json_nested_too_deep_is_400(api, client_a, method, url, text):
    r = send(api, method, url, text=text)
    assert r.status_code == 400, r.content[:300]
    assert r.json()["code"] == "too_deep" and "32 levels" in r.json()["message"]


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_depth(api, world):
    title = "[{" * 3000 + '\\"]' * 10
    r = send(api, "PUT", CONTENT.format("n-1"), text=json.dumps({"title": title[:500]}))
    assert r.status_code == 201, r.content[:300]
    deep_but_allowed = {"events": [{**BASE, "event_id": "e1", "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}
    r = send(api, "POST", EVENTS, deep_but_allowed)  # 32 levels: parsed, then the item is judged
    assert r.status_code == 200 and r.json()["results"][0]["field"] == "events[0].x"


@pytest.mark.django_db
def test_every_api_view_that_reads_a_body_uses_the_bounded_parser():
    from django.urls import get_resolver

    from apps.core.parsers import BoundedJSONParser

    checked = 0
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for sub in pattern.url_patterns:
            view = sub.callback
            cls = getattr(view, "cls", None)
            if cls is None:
                continue
            actions = getattr(view, "actions", None)  # a viewset's {http method: action}
            methods = set(actions) if actions else {m for m in ("post", "put", "patch") if hasattr(cls, m)}
            if methods & {"post", "put", "patch"}:
                assert cls.parser_classes == [BoundedJSONParser], cls
                checked += 1
    assert checked >= 3  # events, subscribers, content PUT


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b'{"events": ["\xff"]}', b"\xed\xa0\x80", b'{"title": NaN}', b"[" + b"1" * 5000 + b"]"])
def test_a_body_that_is_not_json_is_a_parse_error(api, client_a, raw):
    r = api.generic("POST", EVENTS, raw, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "parse_error" and r.json()["message"].startswith("JSON parse error")


@pytest.mark.django_db
def test_a_body_in_another_declared_charset_is_measured_after_decoding(api, world):
    body = json.dumps({"events": [{**BASE, "event_id": "utf16", "subscriber": "u0"}]}).encode("utf-16")
    r = api.generic("POST", EVENTS, body, content_type="application/json; charset=utf-16")
    assert r.status_code == 200 and r.json()["accepted"] == 1
    deep = ("[" * 40 + "]" * 40).encode("utf-16")
    r = api.generic("POST", EVENTS, deep, content_type="application/json; charset=utf-16")
    assert r.status_code == 400 and r.json()["code"] == "too_deep"


@pytest.mark.django_db
def test_a_body_over_the_size_limit_is_413(api, client_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    r = send(api, "POST", EVENTS, {"events": [{**BASE, "event_id": "x" * 70_000}]})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert str(64 * 1024) in r.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("method, url, body, field", [
    ("PUT", "/api/v1/contents/n-1/", {"title": "ok", "expires_after": "2026-12-01T00:00:00Z"}, "expires_after"),
    ("POST", "/api/v1/events/", {"events": [{"event_id": "e1", "type": "read", "subscriber": "u0"}], "dry_run": True}, "dry_run"),
    ("POST", "/api/v1/subscribers/bulk/", {"subscribers": [{"external_id": "u1"}], "mode": "replace"}, "mode"),
])
def test_an_unknown_field_is_refused_not_dropped(api, client_a, method, url, body, field):
    r = send(api, method, url, body)
    assert r.status_code == 400, r.content[:300]
    assert (r.json()["field"], r.json()["code"]) == (field, "unknown_field")
    assert not Content.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["0", "-5", "ten", "1.5"])
def test_a_page_size_outside_its_range_is_400(api, client_a, size):
    r = api.get("/api/v1/contents/", {"page_size": size})
    assert r.status_code == 400 and r.json()["field"] == "page_size"
    assert api.get("/api/v1/contents/", {"page_size": "100000"}).status_code == 200  # pages of the maximum
