"""The editors' decisions: title variants (edit, add, approve, reject), rejecting a content,
approving one for launch (by an editor or the client's auto-approve policy), the auto-approve
policy itself and the template library. The launch that follows an approval is the campaign
engine's (``apps.orchestration.launch``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core import clock
from apps.core.errors import ApiError
from apps.core.models import Client
from apps.core.services import decision_record
from apps.contents.models import AutoApprovePolicy, Content, ContentStatus, TitleVariant
from apps.contents.services.lifecycle import content_transition
from apps.contents.titles import cut_platforms, dedupe_key, normalize


class CannotLaunch(ApiError):
    status_code = 409
    default_code = "cannot_launch"


class NotEditable(ApiError):
    status_code = 409
    default_code = "not_editable"


# Statuses in which editors may still change titles and decide on a content.
REVIEWABLE_STATUSES = frozenset({ContentStatus.CANDIDATE, ContentStatus.REJECTED, ContentStatus.APPROVED})


def _lock_content(content: Content) -> Content:
    return Content.objects.select_for_update().select_related("client").get(pk=content.pk)


# Refusals in the reader's language (the API's requests are always English), by what was tried.
_EXPIRED = {"edited": gettext_lazy("This content expired at %(at)s: it can no longer be edited."),
            "reviewed": gettext_lazy("This content expired at %(at)s: it can no longer be reviewed."),
            "rejected": gettext_lazy("This content expired at %(at)s: it can no longer be rejected."),
            "launched": gettext_lazy("This content expired at %(at)s: it can no longer be launched.")}
_CLOSED = {"edited": gettext_lazy("This content is %(status)s: it can no longer be edited."),
           "reviewed": gettext_lazy("This content is %(status)s: it can no longer be reviewed."),
           "rejected": gettext_lazy("This content is %(status)s: it can no longer be rejected.")}


def _expired_at(content: Content) -> str:
    at = timezone.localtime(content.expires_at)  # the reader's clock (UTC for the API)
    return f"{at:%H:%M} {at.tzname()}"


def _status(content: Content) -> str:
    from apps.core.labels import label

    return label("content_status", content.status)


def _require_reviewable(content: Content, now: datetime, what: str) -> None:
    if content.status == ContentStatus.EXPIRED or content.expires_at <= now:
        raise NotEditable(str(_EXPIRED[what]) % {"at": _expired_at(content)}, field="content")
    if content.status not in REVIEWABLE_STATUSES:
        raise NotEditable(str(_CLOSED[what]) % {"status": _status(content)}, field="content")


def _variant_state(v) -> dict:
    return {"text": v.text, "review": v.review, "source": v.source}


@transaction.atomic
def title_edit(*, variant, text: str, user, now: datetime | None = None):
    """Change a title's text; it becomes the editor's title and waits for approval again."""
    now = now or clock.now()
    content = _lock_content(variant.content)
    _require_reviewable(content, now, "edited")
    variant = TitleVariant.objects.select_for_update().get(pk=variant.pk, content=content)
    text = normalize(text)
    if not text:
        raise ApiError(_("A push title cannot be empty."), field="text")
    if len(text) > 300:
        raise ApiError(_("A push title has at most 300 characters; this one has %(n)s.") % {"n": len(text)}, field="text")
    if text == variant.text:
        return variant
    others = content.title_variants.exclude(pk=variant.pk).values_list("text", flat=True)
    if dedupe_key(text) in {dedupe_key(t) for t in others}:
        raise ApiError(_("Another variant of this content already says that."), field="text", code="duplicate")
    before = _variant_state(variant)
    variant.text, variant.source = text, TitleVariant.Source.EDITOR
    variant.review, variant.reviewed_by, variant.reviewed_at = TitleVariant.Review.PENDING, None, None
    variant.save(update_fields=["text", "source", "review", "reviewed_by", "reviewed_at"])
    decision_record(client=content.client, action="title_edit", actor_user=user, content=content,
                    subject=f"title_variant:{variant.pk}", before=before, after=_variant_state(variant), now=now)
    return variant


@transaction.atomic
def title_add(*, content: Content, text: str, user, now: datetime | None = None):
    """An editor's own title for a content (pending until approved)."""
    now = now or clock.now()
    content = _lock_content(content)
    _require_reviewable(content, now, "edited")
    text = normalize(text)
    if not text:
        raise ApiError(_("A push title cannot be empty."), field="text")
    if len(text) > 300:
        raise ApiError(_("A push title has at most 300 characters; this one has %(n)s.") % {"n": len(text)}, field="text")
    if dedupe_key(text) in {dedupe_key(t) for t in content.title_variants.values_list("text", flat=True)}:
        raise ApiError(_("Another variant of this content already says that."), field="text", code="duplicate")
    variant = TitleVariant.objects.create(content=content, text=text, source=TitleVariant.Source.EDITOR)
    decision_record(client=content.client, action="title_add", actor_user=user, content=content,
                    subject=f"title_variant:{variant.pk}", after=_variant_state(variant), now=now)
    return variant


def _review(variant, user, review: str, now: datetime, *, actor_name: str = "", note: str = ""):
    content = _lock_content(variant.content)
    _require_reviewable(content, now, "reviewed")
    variant = TitleVariant.objects.select_for_update().get(pk=variant.pk, content=content)
    if review == TitleVariant.Review.APPROVED:
        cut = cut_platforms(variant.text)
        if cut:
            where = "; ".join(_("%(platform)s shows %(limit)s columns, this takes %(width)s") % {
                "platform": f.label, "limit": f.limit, "width": f.width} for f in cut)
            raise ApiError(_("This title would be cut off (%(where)s). Shorten it before approving.") % {"where": where},
                           field="text", code="too_long")
    if variant.review == review:
        return variant
    before = _variant_state(variant)
    variant.review, variant.reviewed_by, variant.reviewed_at = review, user, now
    variant.save(update_fields=["review", "reviewed_by", "reviewed_at"])
    decision_record(client=content.client, action=f"title_{'approve' if review == 'approved' else 'reject'}",
                    actor_user=user, actor_name=actor_name, content=content, subject=f"title_variant:{variant.pk}",
                    before=before, after=_variant_state(variant), note=note, now=now)
    return variant


@transaction.atomic
def title_approve(*, variant, user, now: datetime | None = None):
    """Approve a title for sending; a title that some platform would cut off is refused."""
    return _review(variant, user, TitleVariant.Review.APPROVED, now or clock.now())


@transaction.atomic
def title_reject(*, variant, user, now: datetime | None = None):
    return _review(variant, user, TitleVariant.Review.REJECTED, now or clock.now())


@transaction.atomic
def content_reject(*, content: Content, user, reason: str, now: datetime | None = None) -> Content:
    """An editor decides a content gets no push, and says why."""
    now = now or clock.now()
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApiError(_("Say why this content gets no push."), field="reason")
    if len(reason) > 500:
        raise ApiError(_("The reason has at most 500 characters."), field="reason")
    content = _lock_content(content)
    _require_reviewable(content, now, "rejected")
    before = {"status": content.status, "rejection_reason": content.rejection_reason}
    content_transition(content=content, to=ContentStatus.REJECTED, rejection_reason=reason)
    decision_record(client=content.client, action="content_reject", actor_user=user, content=content,
                    subject=f"content:{content.pk}", before=before,
                    after={"status": content.status, "rejection_reason": reason}, note=reason, now=now)
    return content


def _approve(content: Content, now: datetime, *, user=None, actor_name: str = "") -> None:
    approved = list(content.title_variants.filter(review=TitleVariant.Review.APPROVED).values_list("text", flat=True))
    if not approved:
        raise CannotLaunch(_("Approve at least one title before launching."), field="title_variants")
    if content.status != ContentStatus.APPROVED:
        before = {"status": content.status}
        content_transition(content=content, to=ContentStatus.APPROVED)
        decision_record(client=content.client, action="content_approve", actor_user=user, actor_name=actor_name,
                        content=content, subject=f"content:{content.pk}", before=before,
                        after={"status": content.status, "approved_titles": approved},
                        numbers={"push_score": content.push_score}, now=now)


def content_approve_for_launch(*, content: Content, user, now: datetime) -> Content:
    """An editor approves a content with its approved titles, to launch it at once ("approve and
    launch"). Locks the content; call inside the launch's transaction."""
    content = _lock_content(content)
    if content.status == ContentStatus.EXPIRED or content.expires_at <= now:
        raise CannotLaunch(str(_EXPIRED["launched"]) % {"at": _expired_at(content)}, field="content")
    if content.status not in REVIEWABLE_STATUSES:
        raise CannotLaunch(_("This content is %(status)s: it cannot be launched again.") % {"status": _status(content)},
                           field="content")
    _approve(content, now, user=user)
    return content


AUTO_APPROVE_ACTOR = "auto-approve policy"


def content_auto_approve(*, content_id: int, now: datetime) -> Content | None:
    """Apply the client's auto-approve policy to a fresh candidate: approve its titles that every
    platform shows whole, then the content. Returns the content (locked), or None when the policy
    does not apply. Call inside the launch's transaction."""
    content = Content.objects.select_for_update().select_related("client").get(pk=content_id)
    policy = AutoApprovePolicy.objects.filter(client_id=content.client_id).first()
    if (content.status != ContentStatus.CANDIDATE or content.expires_at <= now or policy is None
            or not policy.applies_to(score=content.push_score, category=content.category)):
        return None
    for v in content.title_variants.select_for_update().filter(review=TitleVariant.Review.PENDING):
        if not cut_platforms(v.text):
            _review(v, None, TitleVariant.Review.APPROVED, now, actor_name=AUTO_APPROVE_ACTOR,
                    note=f"score {content.push_score:.2f} >= {policy.min_score:.2f}")
    _approve(content, now, actor_name=AUTO_APPROVE_ACTOR)
    return content


def title_variants_count(*, sends: Mapping[int, int] | None = None, clicks: Mapping[int, int] | None = None) -> None:
    """Add to the title variants' sends and clicks (variant id -> change; negative for cancelled sends)."""
    for field, counts in (("sends", sends or {}), ("clicks", clicks or {})):
        for pk, n in sorted(counts.items()):
            if n:
                TitleVariant.objects.filter(pk=pk).update(**{field: F(field) + n})


@transaction.atomic
def auto_approve_policy_set(*, client: Client, enabled: bool, min_score: float, categories, user,
                            now: datetime | None = None):
    """Turn a client's auto-approve policy on or off, or change its rule."""
    now = now or clock.now()
    try:
        min_score = float(min_score)
    except (TypeError, ValueError):
        raise ApiError(_("The minimum score must be a number, e.g. 3.0."), field="min_score") from None
    if not (0.0 <= min_score <= 100.0) or min_score != min_score:
        raise ApiError(_("The minimum score must be between 0 and 100."), field="min_score")
    if isinstance(categories, str):
        categories = categories.split(",")
    cats = sorted({c.strip().lower() for c in categories or [] if c and c.strip()})
    if any(len(c) > 64 for c in cats):
        raise ApiError(_("A category has at most 64 characters."), field="categories")
    policy = AutoApprovePolicy.objects.select_for_update().filter(client=client).first()
    before = ({"enabled": policy.enabled, "min_score": policy.min_score, "categories": policy.categories}
              if policy else {"enabled": False})
    if policy is None:
        policy = AutoApprovePolicy(client=client)
    policy.enabled, policy.min_score, policy.categories = bool(enabled), min_score, cats
    policy.updated_at, policy.updated_by = now, user
    policy.save()
    after = {"enabled": policy.enabled, "min_score": policy.min_score, "categories": policy.categories}
    if after != before:
        decision_record(client=client, action="auto_approve_policy_set", actor_user=user,
                        subject=f"auto_approve_policy:{client.slug}", before=before, after=after, now=now)
    return policy


@transaction.atomic
def title_template_save(*, template):
    """Save a template of the library after checking its slots (the admin page calls this)."""
    template.full_clean()
    template.save()
    return template
