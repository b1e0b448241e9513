"""The editors' pages: the permission matrix for every page and action, CSRF on every form,
client scoping, filters and order, htmx partials, and bounded queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client as WebClient

from apps.contents.models import AutoApprovePolicy, Content, ContentStatus
from apps.core.models import Decision

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "editor", "operator", "other_editor", "admin"]


def web_as(people, role, **kwargs):
    web = WebClient(**kwargs)
    if role != "anonymous":
        web.force_login(people[role])
    return web


@pytest.fixture
def reviewed(candidate, people, t0):
    """A candidate of client_a with one approved title (approved by the admin)."""
    from apps.contents.services import title_approve

    c = candidate()
    title_approve(variant=c.title_variants.filter(source="template").first(), user=people["admin"], now=t0 + timedelta(minutes=31))
    return c


# page -> expected status per role
PAGE_EXPECT = {
    "queue": {"anonymous": 302, "editor": 200, "operator": 200, "other_editor": 200, "admin": 200},
    "detail": {"anonymous": 302, "editor": 200, "operator": 200, "other_editor": 404, "admin": 200},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGE_EXPECT))
def test_page_matrix(people, reviewed, role, page):
    url = "/contents/" if page == "queue" else f"/contents/{reviewed.pk}/"
    r = web_as(people, role).get(url)
    assert r.status_code == PAGE_EXPECT[page][role], (role, page)
    if role == "anonymous":
        assert r["Location"].startswith("/login/?next=")
    if r.status_code == 200:
        body = r.content.decode()
        shows_candidate = reviewed.title in body
        assert shows_candidate is (role != "other_editor"), role


def _actions(c):
    v = c.title_variants.filter(review="pending", source="template").order_by("id").first()
    approved = c.title_variants.filter(review="approved").first()
    return {
        "edit": (f"/contents/{c.pk}/variants/{v.pk}/edit/", {"text": "Rates rise by half a point"},
                 lambda: c.title_variants.filter(text="Rates rise by half a point").exists()),
        "approve": (f"/contents/{c.pk}/variants/{v.pk}/approve/", {},
                    lambda: c.title_variants.get(pk=v.pk).review == "approved"),
        "reject_title": (f"/contents/{c.pk}/variants/{approved.pk}/reject/", {},
                         lambda: c.title_variants.get(pk=approved.pk).review == "rejected"),
        "add": (f"/contents/{c.pk}/variants/add/", {"text": "Your loan just got dearer"},
                lambda: c.title_variants.filter(text="Your loan just got dearer").exists()),
        "launch": (f"/contents/{c.pk}/launch/", {}, lambda: Content.objects.get(pk=c.pk).status == ContentStatus.SENDING),
        "reject": (f"/contents/{c.pk}/reject/", {"reason": "Old news"},
                   lambda: Content.objects.get(pk=c.pk).status == ContentStatus.REJECTED),
        "policy": (f"/contents/policy/{c.client_id}/", {"enabled": "on", "min_score": "2.0", "categories": "economy"},
                   lambda: AutoApprovePolicy.objects.filter(client_id=c.client_id, enabled=True).exists()),
    }


ACTION_NAMES = ["edit", "approve", "reject_title", "add", "launch", "reject", "policy"]
# role -> expected status of every action (302 = done, back to the page; anonymous: to login)
ACTION_EXPECT = {"anonymous": 302, "editor": 302, "operator": 403, "other_editor": 404, "admin": 302}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTION_NAMES)
def test_action_matrix(people, reviewed, subscriber_factory, client_a, role, action):
    """launch depends on the campaign engine (apps.orchestration.engine.campaign_launch)."""
    subscriber_factory(client_a, 10, prefix="aud")
    url, data, done = _actions(reviewed)[action]
    decisions_before = Decision.objects.count()
    r = web_as(people, role).post(url, data)
    assert r.status_code == ACTION_EXPECT[role], (role, action, r.status_code)
    allowed = role in ("editor", "admin")
    assert done() is allowed, (role, action)
    if role == "anonymous":
        assert r["Location"].startswith("/login/")
    elif allowed:
        assert r["Location"] == ("/contents/" if action == "policy" else f"/contents/{reviewed.pk}/")
        new = Decision.objects.order_by("id")[decisions_before:]
        assert any(d.actor_user == people[role] for d in new), (role, action)  # who did it is logged
    else:
        assert Decision.objects.count() == decisions_before


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_every_form_needs_the_csrf_token(people, reviewed, subscriber_factory, client_a, action):
    url, data, done = _actions(reviewed)[action]
    web = web_as(people, "editor", enforce_csrf_checks=True)
    assert web.post(url, data).status_code == 403
    assert not done()
    page = web.get(f"/contents/{reviewed.pk}/")
    token = page.cookies["csrftoken"].value
    subscriber_factory(client_a, 10, prefix="aud")
    assert web.post(url, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    assert done()


def test_pages_only_answer_the_right_methods(people, reviewed):
    web = web_as(people, "editor")
    assert web.get(f"/contents/{reviewed.pk}/launch/").status_code == 405
    assert web.post("/contents/").status_code == 405
    assert Content.objects.get(pk=reviewed.pk).status == ContentStatus.CANDIDATE


def test_operator_sees_the_content_page_without_buttons(people, reviewed):
    editor = web_as(people, "editor").get(f"/contents/{reviewed.pk}/").content.decode()
    operator = web_as(people, "operator").get(f"/contents/{reviewed.pk}/").content.decode()
    for html in (editor, operator):
        assert reviewed.title in html and "Decision log" in html and 'class="phone"' in html
    assert "Approve and launch" in editor and "Reject content" in editor and "/variants/" in editor
    assert "Approve and launch" not in operator and "Reject content" not in operator and "/variants/" not in operator
    assert "Read-only" in operator
    queue = web_as(people, "operator").get("/contents/").content.decode()
    assert reviewed.title in queue and "/contents/policy/" not in queue


def test_queue_filters_and_orders(people, client_a, client_b, register, t0):
    def cand(client, ext, score, category, expires_in):
        c = register(client, ext, category=category)
        Content.objects.filter(pk=c.pk).update(status="candidate", push_score=score,
                                               expires_at=t0 + timedelta(minutes=35) + expires_in)
        return c

    a1 = cand(client_a, "a1", 2.0, "economy", timedelta(hours=3))
    a2 = cand(client_a, "a2", 3.5, "sports", timedelta(hours=2))
    a3 = cand(client_a, "a3", 2.0, "economy", timedelta(minutes=20))
    b1 = cand(client_b, "b1", 9.0, "economy", timedelta(hours=1))
    cand(client_a, "gone", 9.9, "economy", timedelta(minutes=-1))  # past its lifetime
    Content.objects.filter(pk=register(client_a, "rej").pk).update(status="rejected", push_score=8.0)

    def order(role, query=""):
        page = web_as(people, role).get(f"/contents/{query}")
        assert page.status_code == 200
        return [c.external_id for c in page.context["page"].object_list]

    assert order("admin") == ["b1", "a2", "a3", "a1"]  # score, then the sooner-expiring
    assert order("admin", "?sort=expiry") == ["a3", "b1", "a2", "a1"]
    assert order("admin", f"?client={client_a.pk}") == ["a2", "a3", "a1"]
    assert order("admin", "?category=economy") == ["b1", "a3", "a1"]
    assert order("editor") == ["a2", "a3", "a1"]  # only their client
    assert order("other_editor") == ["b1"]
    assert order("other_editor", f"?client={client_a.pk}") == ["b1"]  # another client's filter is ignored
    body = web_as(people, "editor").get("/contents/").content.decode()
    assert re.search(r'class="left urgent">\s*<div class="bar"><span style="width: \d+%"></span></div>\s*<small>(19|20) min</small>', body)
    assert "2 h 59 min" in body or "3 h 00 min" in body  # a1: plenty of time, no flag


def test_queue_shows_the_score_the_reasons_and_the_policy(people, candidate, client_a):
    from apps.contents.services import auto_approve_policy_set

    c = candidate()
    auto_approve_policy_set(client=client_a, enabled=True, min_score=4.0, categories=["politics"], user=people["editor"])
    body = web_as(people, "editor").get("/contents/").content.decode()
    assert f"{c.push_score:.1f}×" in body
    assert "interim scorer" in body and "early reads per hour" in body
    assert "Auto-approve on" in body and "≥ 4.0× in politics" in body


def test_htmx_actions_return_the_review_panel(people, candidate):
    c = candidate()
    v = c.title_variants.filter(source="template").first()
    web = web_as(people, "editor")
    r = web.post(f"/contents/{c.pk}/variants/{v.pk}/approve/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r.templates[0].name == "contents/_review.html"
    html = r.content.decode()
    assert html.lstrip().startswith('<div id="review"') and "Title approved." in html and "<header" not in html
    long = "A title that is much too long for any lock screen to show whole, really"
    r = web.post(f"/contents/{c.pk}/variants/add/", {"text": long}, HTTP_HX_REQUEST="true")
    added = c.title_variants.get(text=long)
    r = web.post(f"/contents/{c.pk}/variants/{added.pk}/approve/", HTTP_HX_REQUEST="true")
    assert r.status_code == 422 and "would be cut off" in r.content.decode()
    assert "Cut on iOS" in r.content.decode()
    added.refresh_from_db()
    assert added.review == "pending"


def test_refused_action_without_htmx_shows_the_message(people, candidate):
    c = candidate()
    web = web_as(people, "editor")
    r = web.post(f"/contents/{c.pk}/launch/", follow=True)
    assert "Approve at least one title" in r.content.decode()
    r = web.post(f"/contents/{c.pk}/reject/", {"reason": ""}, follow=True)
    assert "Say why this content gets no push." in r.content.decode()
    assert Content.objects.get(pk=c.pk).status == ContentStatus.CANDIDATE


def test_decision_log_on_the_content_page(people, candidate):
    c = candidate()
    v = c.title_variants.filter(source="template").first()
    web = web_as(people, "editor")
    web.post(f"/contents/{c.pk}/variants/{v.pk}/edit/", {"text": "Loans get dearer today"})
    html = web.get(f"/contents/{c.pk}/").content.decode()
    assert "edited a title" in html and f"<del>{v.text}</del>" in html and "<ins>Loans get dearer today</ins>" in html
    assert "evaluator (interim scorer)" in html


def _bulk_candidates(client, n, t0, prefix):
    Content.objects.bulk_create([
        Content(client=client, external_id=f"{prefix}{i}", title=f"Candidate number {i}", category=["economy", "sports", "world"][i % 3],
                created_at=t0, expires_at=t0 + timedelta(hours=4), evaluate_at=t0, text_hash="x", status="candidate",
                push_score=1.5 + (i % 50) / 10, score_reasons=[{"feature": "early_reads_per_hour", "label": "early reads per hour", "contribution": 0.4}])
        for i in range(n)
    ])


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_queue_queries_are_bounded(people, client_a, client_b, t0, django_assert_max_num_queries, role):
    web = web_as(people, role)
    _bulk_candidates(client_a, 10, t0, "s")
    with django_assert_max_num_queries(10) as few:
        assert web.get("/contents/").status_code == 200
    _bulk_candidates(client_a, 400, t0, "m")
    _bulk_candidates(client_b, 400, t0, "m")
    with django_assert_max_num_queries(10) as many:
        assert web.get("/contents/?page=3").status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_content_page_queries_are_bounded(people, candidate, django_assert_max_num_queries):
    c = candidate()
    web = web_as(people, "editor")
    with django_assert_max_num_queries(12):
        assert web.get(f"/contents/{c.pk}/").status_code == 200


def test_rejected_but_live_contents_can_be_listed_and_overridden(people, client_a, register, reads, t0, subscriber_factory):
    """launch depends on the campaign engine (apps.orchestration.engine.campaign_launch)."""
    from apps.contents.services import title_add, title_approve
    from apps.orchestration.evaluation import contents_evaluate_due

    cold = register(client_a, "cold", title="A quiet story nobody read yet", category="society")
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    cold.refresh_from_db()
    assert cold.status == "rejected"
    web = web_as(people, "editor")
    assert cold.title not in web.get("/contents/").content.decode()
    listed = web.get("/contents/?status=rejected")
    assert [c.pk for c in listed.context["page"].object_list] == [cold.pk]
    assert "below the client&#x27;s threshold" in listed.content.decode()
    # The editor thinks the score is wrong: a title, approved, launched.
    subscriber_factory(client_a, 10, prefix="aud")
    title_approve(variant=title_add(content=cold, text="A quiet story worth your time", user=people["editor"]), user=people["editor"])
    assert web.post(f"/contents/{cold.pk}/launch/").status_code == 302
    assert Content.objects.get(pk=cold.pk).status == ContentStatus.SENDING
    assert Decision.objects.get(content=cold, action="content_approve").before == {"status": "rejected"}


def test_scores_are_coloured_by_the_clients_own_floor_and_target(candidate, people, client_a, t0):
    from apps.core.services import policy_set

    c = candidate()
    score = c.push_score
    page = "/contents/"

    def colour(html: str) -> str:
        return re.search(rf'class="score (\w+)">{score:.1f}×', html).group(1)

    policy_set(client=client_a, floor=score + 1, target=score + 2)
    assert colour(web_as(people, "editor").get(page).content.decode()) == "low"
    policy_set(client=client_a, floor=score - 1, target=score + 1)
    assert colour(web_as(people, "editor").get(page).content.decode()) == "mid"
    policy_set(client=client_a, floor=max(score - 2, 0.01), target=score - 0.5 if score > 0.6 else score)
    assert colour(web_as(people, "editor").get(page).content.decode()) == "high"
