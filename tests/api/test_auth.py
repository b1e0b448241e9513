import pytest

ENDPOINTS = [
    ("get", "/api/v1/contents/"),
    ("get", "/api/v1/contents/x/"),
    ("put", "/api/v1/contents/x/"),
    ("post", "/api/v1/subscribers/bulk/"),
    ("post", "/api/v1/events/"),
    ("get", "/api/v1/campaigns/"),
    ("get", "/api/v1/campaigns/1/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, url", ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Api-Key pa_deadbeef_wrongsecret", "Api-Key nonsense", "Bearer abc", "Api-Key "])
def test_no_or_wrong_key_is_401(client_a, method, url, header):
    from rest_framework.test import APIClient

    api = APIClient()
    if header is not None:
        api.credentials(HTTP_AUTHORIZATION=header)
    r = getattr(api, method)(url, {}, format="json")
    assert r.status_code == 401, (header, r.data)
    assert r.data["status"] == 401 and r.data["message"]
    assert r["WWW-Authenticate"] == "Api-Key"


@pytest.mark.django_db
def test_right_prefix_wrong_secret_is_401(client_a):
    from rest_framework.test import APIClient

    prefix = client_a.plain_key.split("_")[1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key pa_{prefix}_not-the-secret")
    assert api.get("/api/v1/contents/").status_code == 401


@pytest.mark.django_db
def test_revoked_key_is_401(client_a, api):
    from apps.core.models import ApiKey
    from apps.core.services import api_key_revoke

    assert api.get("/api/v1/contents/").status_code == 200
    api_key_revoke(key=ApiKey.objects.get(client=client_a))
    assert api.get("/api/v1/contents/").status_code == 401


@pytest.mark.django_db
def test_x_api_key_header_works(client_a):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_X_API_KEY=client_a.plain_key)
    assert api.get("/api/v1/contents/").status_code == 200


@pytest.mark.django_db
def test_key_is_stored_hashed(client_a):
    from apps.core.models import ApiKey

    key = ApiKey.objects.get(client=client_a)
    secret = client_a.plain_key.split("_", 2)[2]
    assert secret not in key.hashed_key and len(key.hashed_key) == 64


@pytest.mark.django_db
def test_throttle_per_client_on_redis(make_client):
    """Over its rate a client gets 429 with Retry-After; another client is not affected."""
    from rest_framework.test import APIClient

    slow = make_client("slow", api_rate="3/min")
    other = make_client("other")
    api, api_other = APIClient(), APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {slow.plain_key}")
    api_other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other.plain_key}")
    codes = [api.get("/api/v1/contents/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = api.get("/api/v1/contents/")
    assert r.status_code == 429 and r.data["code"] == "throttled"
    assert 1 <= int(r["Retry-After"]) <= 60
    assert api_other.get("/api/v1/contents/").status_code == 200

    from django_redis import get_redis_connection

    keys = [k.decode() for k in get_redis_connection("default").keys("*throttle*")]
    assert any(f"throttle:{slow.pk}:" in k for k in keys)  # the count lives in the shared Redis


def test_create_api_key_command(db, capsys):
    from django.core.management import call_command, CommandError
    from rest_framework.test import APIClient

    with pytest.raises(CommandError, match="No client"):
        call_command("create_api_key", "acme")
    call_command("create_api_key", "acme", "--create-client", "--name", "cms")
    key = capsys.readouterr().out.strip()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/contents/").status_code == 200
