"""Shared fixtures: clients with API keys, people in each role, a real Redis cache."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.core.permissions import Role


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_server_errors():
    """No request in the suite may end in an unhandled error (a 500)."""
    from django.core.signals import got_request_exception

    seen = []

    def record(sender, request=None, **kwargs):
        seen.append(getattr(request, "path", "?"))

    got_request_exception.connect(record)
    yield seen
    got_request_exception.disconnect(record)
    assert not seen, f"unhandled server errors on {seen}"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()  # the real Redis: throttle windows must not leak between tests
    yield


@pytest.fixture
def spy(monkeypatch):
    """``spy(owner, name, arg)``: ``owner.name`` still runs, and the list returned gets its
    positional argument ``arg`` at each call."""
    def watch(owner, name: str, arg: int) -> list:
        seen, real = [], getattr(owner, name)

        def wrapper(*args, **kwargs):
            seen.append(args[arg])
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)
        return seen

    return watch


@pytest.fixture
def now():
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


@pytest.fixture
def make_client(db):
    from apps.core.services import api_key_create, client_create

    def make(slug: str = "news", **fields):
        # Tests count exact wave sizes: the policy's exploration and holdout are off unless a
        # test turns them on (tests/campaigns/test_exploration_and_holdout.py).
        fields.setdefault("exploration_share", 0.0)
        fields.setdefault("holdout_share", 0.0)
        client = client_create(slug=slug, name=slug.title(), **fields)
        _, key = api_key_create(client=client, name="test")
        client.plain_key = key
        return client

    return make


@pytest.fixture
def client_a(make_client):
    return make_client("news")


@pytest.fixture
def client_b(make_client):
    return make_client("blog")


def _api(key: str | None) -> APIClient:
    api = APIClient()
    if key:
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api


@pytest.fixture
def api(client_a):
    return _api(client_a.plain_key)


@pytest.fixture
def api_b(client_b):
    return _api(client_b.plain_key)


@pytest.fixture
def anon_api():
    return _api(None)


@pytest.fixture
def people(db, client_a, client_b):
    """One person per role working for client_a, an editor of client_b, and an admin."""
    from apps.core.services import person_create

    return {
        "editor": person_create(username="ed", password="pw-ed-123456", role=Role.EDITOR, clients=[client_a]),
        "operator": person_create(username="op", password="pw-op-123456", role=Role.OPERATOR, clients=[client_a]),
        "other_editor": person_create(username="ed_b", password="pw-edb-123456", role=Role.EDITOR, clients=[client_b]),
        "admin": person_create(username="adm", password="pw-adm-123456", role=Role.ADMIN),
    }


@pytest.fixture
def content_factory(now):
    from apps.contents.services import content_upsert

    counter = {"n": 0}

    def make(client, external_id=None, **data):
        counter["n"] += 1
        data.setdefault("title", f"Title {counter['n']}")
        data.setdefault("created_at", now - timedelta(minutes=5))
        return content_upsert(client=client, external_id=external_id or f"c{counter['n']}", data=data, now=now).content

    return make


@pytest.fixture
def subscriber_factory():
    from apps.audience.models import Subscriber

    def make(client, n=1, prefix="u", **fields):
        subs = [Subscriber(client=client, external_id=f"{prefix}{i}", **fields) for i in range(n)]
        Subscriber.objects.bulk_create(subs)
        return list(Subscriber.objects.filter(client=client, external_id__startswith=prefix).order_by("id"))

    return make


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']}  redis: {os.environ.get('REDIS_URL', 'default')}"


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.one_database("sqlite" | "postgresql", reason)``: a test whose subject does not
    depend on the database engine runs in that database's pass only (bin/test runs the suite once
    on each); the other pass reports it skipped with the reason."""
    from django.db import connection

    for item in items:
        mark = item.get_closest_marker("one_database")
        if mark is None:
            continue
        vendor, reason = mark.args
        if vendor not in ("sqlite", "postgresql"):
            raise pytest.UsageError(f"{item.nodeid}: one_database takes 'sqlite' or 'postgresql', not {vendor!r}")
        if connection.vendor != vendor:
            item.add_marker(pytest.mark.skip(reason=f"runs in the {vendor} pass only: {reason}"))
