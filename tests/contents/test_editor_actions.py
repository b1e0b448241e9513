"""The editors' decisions as services: every one a row in the decision log with before and after;
cut titles, expired contents and contents without an approved title cannot go out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.campaigns.models import Campaign
from apps.contents.models import AutoApprovePolicy, Content, ContentStatus, TitleVariant
from apps.orchestration.evaluation import contents_evaluate_due
from apps.orchestration.expiry import contents_expire_due
from apps.orchestration.launch import content_launch
from apps.contents.services import (
    CannotLaunch,
    NotEditable,
    auto_approve_policy_set,
    content_reject,
    title_add,
    title_approve,
    title_edit,
    title_reject,
)
from apps.core.errors import ApiError
from apps.core.models import Decision

pytestmark = pytest.mark.django_db


def _pending(content):
    return list(content.title_variants.filter(review="pending").order_by("id"))


def test_edit_approve_reject_are_logged_with_before_and_after(candidate, people, t0):
    c = candidate()
    editor = people["editor"]
    v, w = _pending(c)[1:3]
    now = t0 + timedelta(minutes=35)
    title_edit(variant=v, text="  Rates up   half a point ", user=editor, now=now)
    v.refresh_from_db()
    assert (v.text, v.source, v.review) == ("Rates up half a point", "editor", "pending")
    title_approve(variant=v, user=editor, now=now)
    title_reject(variant=w, user=editor, now=now)
    log = list(Decision.objects.filter(content=c, actor_user=editor).order_by("id"))
    assert [d.action for d in log] == ["title_edit", "title_approve", "title_reject"]
    assert log[0].before["text"] != log[0].after["text"] == "Rates up half a point"
    assert log[1].before["review"] == "pending" and log[1].after["review"] == "approved"
    assert log[2].after == {"text": w.text, "review": "rejected", "source": w.source}
    assert all(d.at == now and d.actor_name == "ed" and d.subject.startswith("title_variant:") for d in log)
    v.refresh_from_db()
    assert v.reviewed_by == editor and v.reviewed_at == now
    # Editing an approved title sends it back to review.
    title_edit(variant=v, text="Rates up by half a point", user=editor, now=now)
    v.refresh_from_db()
    assert v.review == "pending" and v.reviewed_by is None


def test_edit_refuses_empty_and_duplicate_titles(candidate, people):
    c = candidate()
    v, w = _pending(c)[:2]
    with pytest.raises(ApiError, match="empty") as e:
        title_edit(variant=v, text="   ", user=people["editor"])
    assert e.value.field == "text"
    with pytest.raises(ApiError, match="already says that"):
        title_edit(variant=v, text=w.text.upper() + "!", user=people["editor"])
    with pytest.raises(ApiError, match="already says that"):
        title_add(content=c, text=w.text, user=people["editor"])
    assert not Decision.objects.filter(content=c, action__in=["title_edit", "title_add"]).exists()


def test_a_title_that_would_be_cut_cannot_be_approved(candidate, people):
    c = candidate()
    long = title_add(content=c, text="This push title is far too long to fit on one line of a lock screen",
                     user=people["editor"])
    with pytest.raises(ApiError, match=r"cut off \(iOS shows 40 columns, this takes 67; Android shows 44 columns, this takes 67; Web") as e:
        title_approve(variant=long, user=people["editor"])
    assert e.value.detail.code == "too_long"
    long.refresh_from_db()
    assert long.review == "pending"
    hangul = title_add(content=c, text="가" * 21, user=people["editor"])  # 42 columns: cut on iOS only
    with pytest.raises(ApiError, match=r"cut off \(iOS shows 40 columns, this takes 42\)"):
        title_approve(variant=hangul, user=people["editor"])


def test_reject_content_needs_a_reason_and_is_logged(candidate, people, t0):
    c = candidate()
    with pytest.raises(ApiError, match="Say why") as e:
        content_reject(content=c, user=people["editor"], reason="  ")
    assert e.value.field == "reason"
    content_reject(content=c, user=people["editor"], reason="Duplicate of this morning's story", now=t0 + timedelta(minutes=40))
    c.refresh_from_db()
    assert (c.status, c.rejection_reason) == ("rejected", "Duplicate of this morning's story")
    d = Decision.objects.get(content=c, action="content_reject")
    assert d.before["status"] == "candidate" and d.after == {"status": "rejected", "rejection_reason": c.rejection_reason}


def test_launch_needs_an_approved_title(candidate, people):
    c = candidate()
    with pytest.raises(CannotLaunch, match="Approve at least one title"):
        content_launch(content=c, user=people["editor"])
    c.refresh_from_db()
    assert c.status == "candidate" and not Decision.objects.filter(content=c, action="content_approve").exists()


def test_approve_and_launch_starts_the_campaign(candidate, people, subscriber_factory, client_a, t0):
    """Depends on the campaign engine (apps.orchestration.engine.campaign_launch)."""
    subscriber_factory(client_a, 20, prefix="aud")
    c = candidate()
    v = _pending(c)[1]
    now = t0 + timedelta(minutes=40)
    title_approve(variant=v, user=people["editor"], now=now)
    campaign = content_launch(content=c, user=people["editor"], now=now)
    c.refresh_from_db()
    assert c.status == ContentStatus.SENDING
    assert Campaign.objects.get(content=c) == campaign and campaign.state == "running" and campaign.created_by == people["editor"]
    approve = Decision.objects.get(content=c, action="content_approve")
    assert approve.before == {"status": "candidate"} and approve.after["approved_titles"] == [v.text]
    # Once launched, nothing can be edited or launched again.
    with pytest.raises(CannotLaunch):
        content_launch(content=c, user=people["editor"], now=now)
    with pytest.raises(NotEditable):
        title_edit(variant=v, text="Too late", user=people["editor"], now=now)


def test_expired_content_cannot_be_launched_or_edited(candidate, people, t0):
    c = candidate()
    v = _pending(c)[1]
    title_approve(variant=v, user=people["editor"], now=t0 + timedelta(minutes=40))
    at_expiry = c.expires_at
    with pytest.raises(CannotLaunch, match="expired"):
        content_launch(content=c, user=people["editor"], now=at_expiry)
    with pytest.raises(NotEditable, match="expired"):
        title_reject(variant=v, user=people["editor"], now=at_expiry)
    assert contents_expire_due(now=at_expiry) == 1
    c.refresh_from_db()
    assert c.status == "expired"
    with pytest.raises(CannotLaunch):
        content_launch(content=c, user=people["editor"], now=at_expiry - timedelta(minutes=1))


def test_a_running_campaign_stops_at_expiry(candidate, people, subscriber_factory, client_a, t0):
    """Depends on the campaign engine (apps.orchestration.engine.campaign_launch)."""
    subscriber_factory(client_a, 10, prefix="aud")
    c = candidate()
    title_approve(variant=_pending(c)[1], user=people["editor"], now=t0 + timedelta(minutes=40))
    campaign = content_launch(content=c, user=people["editor"], now=t0 + timedelta(minutes=40))
    contents_expire_due(now=c.expires_at)
    campaign.refresh_from_db()
    assert (campaign.state, campaign.end_reason) == ("done", "content expired")
    assert Content.objects.get(pk=c.pk).status == "expired"


def test_auto_approve_policy_launches_matching_candidates(client_a, register, reads, people, subscriber_factory, t0):
    """Depends on the campaign engine (apps.orchestration.engine.campaign_launch)."""
    subscriber_factory(client_a, 20, prefix="aud")
    auto_approve_policy_set(client=client_a, enabled=True, min_score=1.5, categories="Economy, politics",
                            user=people["editor"], now=t0)
    match = register(client_a, "m", title="Central bank raises rates", category="economy", language="en")
    other_cat = register(client_a, "o", title="Cup final tonight", category="sports", language="en")
    reads(match, 60)
    reads(other_cat, 60)
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    match.refresh_from_db()
    other_cat.refresh_from_db()
    assert match.status == ContentStatus.SENDING and Campaign.objects.filter(content=match).exists()
    assert other_cat.status == ContentStatus.CANDIDATE
    approved = match.title_variants.filter(review="approved")
    assert approved.exists() and not approved.filter(reviewed_by__isnull=False).exists()
    actors = set(Decision.objects.filter(content=match, action__in=["title_approve", "content_approve"]).values_list("actor_name", "actor_type"))
    assert actors == {("auto-approve policy", "system")}
    assert Decision.objects.filter(content=match, action="campaign_launch").exists()


def test_policy_changes_are_logged_and_validated(client_a, people, t0):
    p = auto_approve_policy_set(client=client_a, enabled=True, min_score="2.5", categories=" economy,,Politics ",
                                user=people["editor"], now=t0)
    assert (p.enabled, p.min_score, p.categories) == (True, 2.5, ["economy", "politics"])
    d = Decision.objects.get(action="auto_approve_policy_set")
    assert d.before == {"enabled": False} and d.after == {"enabled": True, "min_score": 2.5, "categories": ["economy", "politics"]}
    auto_approve_policy_set(client=client_a, enabled=True, min_score=2.5, categories=["politics", "economy"], user=people["editor"])
    assert Decision.objects.filter(action="auto_approve_policy_set").count() == 1  # no change, no row
    for bad in ("many", "-1", "nan"):
        with pytest.raises(ApiError) as e:
            auto_approve_policy_set(client=client_a, enabled=True, min_score=bad, categories="", user=people["editor"])
        assert e.value.field == "min_score"
    assert AutoApprovePolicy.objects.get(client=client_a).min_score == 2.5


def test_titles_of_a_content_are_unique_in_the_database(candidate):
    from django.db import IntegrityError, transaction

    c = candidate()
    v = _pending(c)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        TitleVariant.objects.create(content=c, text=v.text, source="editor")


def test_auto_approve_that_cannot_launch_is_logged_and_waits_for_editors(client_a, register, reads, people, t0):
    from apps.contents.models import TitleTemplate

    TitleTemplate.objects.update(is_active=False)  # only the original title, which every phone cuts
    auto_approve_policy_set(client=client_a, enabled=True, min_score=1.0, categories=[], user=people["editor"], now=t0)
    c = register(client_a, "long", title="An unusually long headline that no lock screen could ever show whole", language="en")
    reads(c, 60)
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    c.refresh_from_db()
    assert c.status == ContentStatus.CANDIDATE and not Campaign.objects.filter(content=c).exists()
    assert not c.title_variants.filter(review="approved").exists()
    failed = Decision.objects.get(content=c, action="auto_approve_failed")
    assert failed.actor_name == "auto-approve policy" and "Approve at least one title" in failed.note
    assert failed.numbers["min_score"] == 1.0
