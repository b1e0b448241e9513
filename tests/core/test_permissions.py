"""The permission matrix: every role against every page and action."""

import pytest
from django.test import Client as WebClient

from apps.core.permissions import POLICY, Action, Role, can

ROLES = ["anonymous", "editor", "operator", "other_editor", "admin"]

# page -> expected status per role (302 = sent to login)
PAGES = {
    "/": {"anonymous": 302, "editor": 200, "operator": 200, "other_editor": 200, "admin": 200},
    "/admin/": {"anonymous": 302, "editor": 302, "operator": 302, "other_editor": 302, "admin": 200},
    "/admin/core/client/": {"anonymous": 302, "editor": 302, "operator": 302, "other_editor": 302, "admin": 200},
    "/api/docs/": {r: 200 for r in ROLES},
    "/api/schema/": {r: 200 for r in ROLES},
    "/contents/": {"anonymous": 302, "editor": 200, "operator": 200, "other_editor": 200, "admin": 200},
    "/admin/contents/titletemplate/": {"anonymous": 302, "editor": 302, "operator": 302, "other_editor": 302, "admin": 200},
    "/admin/contents/autoapprovepolicy/": {"anonymous": 302, "editor": 302, "operator": 302, "other_editor": 302, "admin": 200},
    "/login/": {"anonymous": 200, "editor": 302, "operator": 302, "other_editor": 302, "admin": 302},
}


def web_as(people, role):
    web = WebClient()
    if role != "anonymous":
        web.force_login(people[role])
    return web


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_pages(people, role, page):
    r = web_as(people, role).get(page)
    assert r.status_code == PAGES[page][role], (role, page)
    if r.status_code == 302 and role == "anonymous":
        assert r["Location"].startswith("/login/") or r["Location"].startswith("/admin/login/")


# Which roles may do each action (the POLICY table is the source; this is the expectation).
EXPECTED = {
    Action.VIEW_CONTENTS: {"editor", "operator", "admin"},
    Action.REVIEW_CONTENTS: {"editor", "admin"},
    Action.VIEW_CAMPAIGNS: {"editor", "operator", "admin"},
    Action.CONTROL_CAMPAIGNS: {"operator", "admin"},
    Action.VIEW_DASHBOARDS: {"operator", "admin"},
    Action.VIEW_SYSTEM: {"operator", "admin"},
    Action.PAUSE_SENDING: {"operator", "admin"},
    Action.MANAGE_MODELS: {"admin"},
    Action.EDIT_TEMPLATES: {"admin"},
    Action.SET_POLICIES: {"editor", "admin"},
    Action.MANAGE_CLIENTS: {"admin"},
    Action.ADMIN_SITE: {"admin"},
}


def test_expectation_covers_every_action():
    assert set(EXPECTED) == set(POLICY)


@pytest.mark.django_db
@pytest.mark.parametrize("action", list(Action))
def test_action_matrix_with_client_scope(people, client_a, client_b, action):
    from django.contrib.auth.models import AnonymousUser

    users = {**people, "anonymous": AnonymousUser()}
    for role in ROLES:
        allowed = role in EXPECTED[action] or (role == "other_editor" and "editor" in EXPECTED[action])
        assert can(users[role], action) is allowed, (role, action)
        # On a client's rows: the others' clients never, admins every client.
        assert can(users[role], action, client_a) is (allowed and role != "other_editor"), (role, action, "a")
        assert can(users[role], action, client_b) is (allowed and role in {"other_editor", "admin"}), (role, action, "b")


@pytest.mark.django_db
def test_home_shows_only_own_clients(people):
    body = web_as(people, "other_editor").get("/").content.decode()
    assert "(blog)" in body and "(news)" not in body
    body = web_as(people, "admin").get("/").content.decode()
    assert "(blog)" in body and "(news)" in body


@pytest.mark.django_db
def test_login_and_logout_with_csrf(people):
    web = WebClient(enforce_csrf_checks=True)
    page = web.get("/login/")
    token = page.cookies["csrftoken"].value
    r = web.post("/login/", {"username": "ed", "password": "pw-ed-123456", "csrfmiddlewaretoken": token})
    assert r.status_code == 302 and r["Location"] == "/"
    assert web.get("/").status_code == 200
    refused = WebClient(enforce_csrf_checks=True).post("/login/", {"username": "ed", "password": "pw-ed-123456"})
    assert refused.status_code == 403


@pytest.mark.django_db
def test_roles_are_groups(people):
    from apps.core.permissions import roles_of

    assert roles_of(people["editor"]) == {Role.EDITOR}
    assert roles_of(people["admin"]) >= {Role.ADMIN}
