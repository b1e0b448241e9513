"""Login throttling (django-axes): ten wrong passwords for a user name from one address lock that
pair for 30 minutes, on our login page and the admin site's alike; the right password is refused
while locked; the answers are the same for user names that do not exist; admins see the failed
attempts and the lock, and unlock; the API's keys are not counted."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client as HttpClient
from django.test import RequestFactory

from apps.core.login import client_ip, duration_text
from apps.core.models import Decision

pytestmark = pytest.mark.django_db
PASSWORD = {"ed": "pw-ed-123456", "adm": "pw-adm-123456", "op": "pw-op-123456"}
LOCKED = "logging in is locked for 30 minutes"
MISMATCH = "Your user name and password did not match"


def attempt(web: HttpClient, username: str, password: str, *, page: str = "/login/", **extra):
    return web.post(page, {"username": username, "password": password}, **extra)


def logged_in(web: HttpClient) -> bool:
    return "_auth_user_id" in web.session


def alert(response) -> str:
    """The message the login page shows (whitespace folded), or ''."""
    found = re.search(r'<p class="error"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    return " ".join(found.group(1).split()) if found else ""


def lock(web: HttpClient, username: str, *, page: str = "/login/", **extra) -> list:
    return [attempt(web, username, f"wrong-{i}", page=page, **extra) for i in range(10)]


def test_ten_wrong_passwords_lock_the_account_and_the_right_one_is_refused(people):
    web = HttpClient()
    answers = lock(web, "ed")

    assert [r.status_code for r in answers] == [200] * 9 + [429]
    assert all(MISMATCH in alert(r) for r in answers[:9])
    assert LOCKED in alert(answers[9]) and "An administrator can unlock it sooner" in alert(answers[9])

    right = attempt(web, "ed", PASSWORD["ed"])
    assert right.status_code == 429 and LOCKED in alert(right) and not logged_in(web)
    assert web.get("/").status_code == 302  # still anonymous: the home page sends to the login page
    assert AccessAttempt.objects.get(username="ed", ip_address="127.0.0.1").failures_since_start == 11
    assert AccessFailureLog.objects.filter(username="ed").count() == 11  # the audit keeps every failure
    assert AccessFailureLog.objects.filter(username="ed", locked_out=True).count() == 2


def test_the_lock_is_per_user_name_and_address(people):
    lock(HttpClient(), "ed")

    other_user = HttpClient()
    assert attempt(other_user, "op", PASSWORD["op"]).status_code == 302 and logged_in(other_user)
    elsewhere = HttpClient(REMOTE_ADDR="198.51.100.7")  # the editor at another address
    assert attempt(elsewhere, "ed", PASSWORD["ed"]).status_code == 302 and logged_in(elsewhere)


def test_a_user_name_that_does_not_exist_gets_the_same_answers(people):
    real = [(r.status_code, alert(r)) for r in lock(HttpClient(), "ed")]
    made_up = [(r.status_code, alert(r)) for r in lock(HttpClient(REMOTE_ADDR="198.51.100.8"), "nobody-here")]
    assert made_up == real


def test_a_successful_login_clears_the_count(people):
    web = HttpClient()
    for i in range(9):
        attempt(web, "ed", f"wrong-{i}")
    assert attempt(web, "ed", PASSWORD["ed"]).status_code == 302
    web.post("/logout/")
    answers = [attempt(web, "ed", f"again-{i}") for i in range(9)]
    assert {r.status_code for r in answers} == {200}  # nine new failures, not nineteen
    assert attempt(web, "ed", PASSWORD["ed"]).status_code == 302


def test_the_lock_ends_after_the_cool_off(people):
    web, admin = HttpClient(), HttpClient()
    admin.force_login(people["admin"])  # first: any login sweeps the attempts whose cool-off has ended
    lock(web, "ed")
    # 31 minutes later (axes counts in wall-clock time): its failures are outside the window.
    AccessAttempt.objects.filter(username="ed").update(attempt_time=AccessAttempt.objects.get(username="ed").attempt_time
                                                       - timedelta(minutes=31))
    page = admin.get("/admin/axes/accessattempt/").content.decode()
    assert re.search(r'<td class="field-locked_until[^"]*">([^<]*)</td>', page).group(1) == "- (ended)"

    assert attempt(web, "ed", PASSWORD["ed"]).status_code == 302 and logged_in(web)


def test_the_admin_sites_login_is_throttled_on_the_same_count(people):
    web = HttpClient()
    answers = lock(web, "adm", page="/admin/login/?next=/admin/")
    assert [r.status_code for r in answers] == [200] * 9 + [429] and LOCKED in alert(answers[9])
    assert 'name="next" value="/admin/"' in answers[9].content.decode()

    assert attempt(web, "adm", PASSWORD["adm"], page="/admin/login/").status_code == 429
    assert attempt(web, "adm", PASSWORD["adm"]).status_code == 429  # our login page: the same lock
    assert not logged_in(web)


def test_an_admin_sees_the_lock_and_the_failures_and_unlocks(people):
    lock(HttpClient(), "ed")
    admin = HttpClient()
    admin.force_login(people["admin"])

    attempts_page = admin.get("/admin/axes/accessattempt/")
    text = attempts_page.content.decode()
    assert attempts_page.status_code == 200 and '<td class="field-username">ed</td>' in text
    assert '<td class="field-status">Locked Out</td>' in text and "Locked until" in text
    until = re.search(r'<td class="field-locked_until[^"]*">([^<]*)</td>', text).group(1)
    assert until[:1].isalpha() and "ended" not in until  # a date in the future, e.g. "Dec. 2, 2026, 12:23 a.m."
    failures_page = admin.get("/admin/axes/accessfailurelog/?username=ed")
    assert failures_page.status_code == 200 and "10 access failures" in failures_page.content.decode()

    row = AccessAttempt.objects.get(username="ed")
    r = admin.post("/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [row.pk]}, follow=True)
    assert r.status_code == 200 and "Unlocked: cleared 1 row(s)" in r.content.decode()
    assert not AccessAttempt.objects.filter(username="ed").exists()
    decision = Decision.objects.get(action="login_unlock")
    assert (decision.actor_user, decision.subject) == (people["admin"], "login:ed@127.0.0.1")
    assert decision.before["failures"] == 10 and decision.after == {"failures": 0}
    assert AccessFailureLog.objects.filter(username="ed").count() == 10  # the audit stays

    editor = HttpClient()
    assert attempt(editor, "ed", PASSWORD["ed"]).status_code == 302 and logged_in(editor)


def test_the_login_audit_is_for_admins_only_and_read_only(people):
    lock(HttpClient(), "ed")
    operator = HttpClient()
    operator.force_login(people["operator"])
    assert operator.get("/admin/axes/accessattempt/").status_code == 302  # to the admin site's login

    admin = HttpClient()
    admin.force_login(people["admin"])
    row = AccessAttempt.objects.get(username="ed")
    assert admin.get(f"/admin/axes/accessattempt/{row.pk}/delete/").status_code == 403  # unlock, logged, instead
    failure = AccessFailureLog.objects.filter(username="ed").first()
    assert admin.get(f"/admin/axes/accessfailurelog/{failure.pk}/delete/").status_code == 403
    assert AccessAttempt.objects.filter(username="ed").exists()


def test_api_keys_are_not_counted_and_work_from_a_locked_address(people, api, anon_api):
    lock(HttpClient(), "ed")
    assert api.get("/api/v1/contents/").status_code == 200  # same address (127.0.0.1), not a password login

    anon_api.credentials(HTTP_AUTHORIZATION="Api-Key pa_nope_wrong")
    assert {anon_api.get("/api/v1/contents/").status_code for _ in range(15)} == {401}
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["ed"]


def test_behind_trusted_proxies_the_address_is_the_one_our_proxy_saw(people, settings):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "TRUSTED_PROXIES": 1}
    web = HttpClient(REMOTE_ADDR="10.0.0.5")  # the proxy
    # The client writes a new X-Forwarded-For each time; the proxy appends the address it saw.
    answers = [attempt(web, "ed", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 203.0.113.9") for i in range(10)]
    assert answers[-1].status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}
    other_client = attempt(HttpClient(REMOTE_ADDR="10.0.0.5"), "ed", PASSWORD["ed"], HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert other_client.status_code == 302  # another client behind the same proxy is not locked


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (0, "203.0.113.9", "10.0.0.5"),                      # the header is ignored without trusted proxies
    (1, "192.0.2.1, 203.0.113.9", "203.0.113.9"),
    (2, "192.0.2.1, 203.0.113.9, 10.0.0.4", "203.0.113.9"),
    (2, "203.0.113.9", "10.0.0.5"),                      # shorter than the proxies: not through them
    (1, "not-an-address", "10.0.0.5"),
    (1, "2001:db8::1", "2001:db8::1"),
])
def test_client_address(settings, proxies, forwarded, expected):
    settings.PUSHADMIN = {**settings.PUSHADMIN, "TRUSTED_PROXIES": proxies}
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_duration_text():
    assert [duration_text(timedelta(seconds=s)) for s in (1800, 3600, 7200, 90, 60, 86400, 1)] == [
        "30 minutes", "1 hour", "2 hours", "90 seconds", "1 minute", "1 day", "1 second"]
