import pytest

from apps.audience.models import Subscriber

URL = "/api/v1/subscribers/bulk/"


@pytest.mark.django_db
def test_bulk_upsert_creates_then_updates(api, client_a):
    items = [{"external_id": f"u{i}", "timezone": "Asia/Seoul", "platform": "ios"} for i in range(50)]
    r = api.post(URL, {"subscribers": items}, format="json")
    assert r.status_code == 200, r.data
    assert (r.data["created"], r.data["updated"]) == (50, 0)
    assert Subscriber.objects.filter(client=client_a).count() == 50

    items[0] = {"external_id": "u0", "push_opt_in": False}
    items[1] = {"external_id": "u1", "last_activity_at": "2026-11-20T10:00:00+09:00"}
    r = api.post(URL, {"subscribers": items + [{"external_id": "new"}]}, format="json")
    assert (r.data["created"], r.data["updated"], r.data["unchanged"]) == (1, 2, 48)
    u0 = Subscriber.objects.get(external_id="u0")
    assert u0.push_opt_in is False and u0.timezone == "Asia/Seoul"  # absent fields keep their value
    assert Subscriber.objects.get(external_id="u1").last_activity_at.isoformat() == "2026-11-20T01:00:00+00:00"
    assert Subscriber.objects.get(external_id="new").push_opt_in is True


@pytest.mark.django_db
def test_same_batch_twice_is_idempotent(api, client_a):
    items = [{"external_id": f"u{i}"} for i in range(10)]
    api.post(URL, {"subscribers": items}, format="json")
    r = api.post(URL, {"subscribers": items}, format="json")
    assert r.data["unchanged"] == 10
    assert Subscriber.objects.count() == 10


@pytest.mark.django_db
def test_10000_in_one_request(api, client_a):
    items = [{"external_id": f"s{i}", "timezone": "UTC"} for i in range(10_000)]
    r = api.post(URL, {"subscribers": items}, format="json")
    assert r.status_code == 200 and r.data["created"] == 10_000
    assert Subscriber.objects.filter(client=client_a).count() == 10_000


@pytest.mark.django_db
def test_over_the_limit_is_413_with_the_limit(api):
    r = api.post(URL, {"subscribers": [{"external_id": f"s{i}"} for i in range(10_001)]}, format="json")
    assert r.status_code == 413
    assert "10000" in r.data["message"] and r.data["field"] == "subscribers"
    assert Subscriber.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "item, field",
    [
        ({}, "subscribers[1].external_id"),
        ({"external_id": ""}, "subscribers[1].external_id"),
        ({"external_id": "x" * 129}, "subscribers[1].external_id"),
        ({"external_id": "a", "timezone": "Mars/Olympus"}, "subscribers[1].timezone"),
        ({"external_id": "a", "platform": "nokia"}, "subscribers[1].platform"),
        ({"external_id": "a", "push_opt_in": "yes"}, "subscribers[1].push_opt_in"),
        ({"external_id": "a", "last_activity_at": "tuesday"}, "subscribers[1].last_activity_at"),
        ({"external_id": "a", "colour": "red"}, "subscribers[1].colour"),
        ("just a string", "subscribers[1]"),
    ],
)
def test_one_bad_item_rejects_the_batch_naming_it(api, item, field):
    r = api.post(URL, {"subscribers": [{"external_id": "ok"}, item]}, format="json")
    assert r.status_code == 400
    assert r.data["field"] == field and r.data["message"]
    assert Subscriber.objects.count() == 0  # nothing half-written


@pytest.mark.django_db
@pytest.mark.parametrize("body, code", [({}, 400), ({"subscribers": {}}, 400), ({"subscribers": []}, 400), ([], 400)])
def test_bad_envelope(api, body, code):
    r = api.post(URL, body, format="json")
    assert r.status_code == code and r.data["field"] == "subscribers"


@pytest.mark.django_db
def test_clients_are_separate(api, api_b, client_a, client_b):
    api.post(URL, {"subscribers": [{"external_id": "same", "timezone": "Asia/Seoul"}]}, format="json")
    api_b.post(URL, {"subscribers": [{"external_id": "same", "timezone": "Europe/Paris"}]}, format="json")
    assert Subscriber.objects.get(client=client_a).timezone == "Asia/Seoul"
    assert Subscriber.objects.get(client=client_b).timezone == "Europe/Paris"
