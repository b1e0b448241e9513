"""Writes of contents: registration (idempotent upsert), the lifecycle, evaluation, title variants,
the editors' decisions, the auto-approve policy, expiry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from apps.core import clock
from apps.core.errors import ApiError
from apps.core.models import Client, Decision
from apps.core.services import decision_record
from apps.contents.models import CONTENT_TRANSITIONS, PUSHED_STATUSES, TERMINAL_STATUSES, Content, ContentStatus

_UPDATABLE = ("title", "body", "url", "category", "language", "created_at", "expires_at")


def text_hash(title: str, body: str) -> str:
    return hashlib.sha256(f"{title}\x00{body}".encode()).hexdigest()


@dataclass(frozen=True)
class UpsertResult:
    content: Content
    created: bool
    changed: bool
    reevaluate: bool


class IllegalTransition(ApiError):
    status_code = 409
    default_code = "illegal_transition"


def content_transition(*, content: Content, to: str, now: datetime | None = None, **fields) -> Content:
    """Move a content along its lifecycle; anything off the map is refused."""
    if to != content.status and to not in CONTENT_TRANSITIONS[content.status]:
        raise IllegalTransition(f"A content cannot go from {content.status} to {to}.", field="status")
    content.status = to
    for name, value in fields.items():
        setattr(content, name, value)
    content.save(update_fields=["status", "updated_at", *fields])
    return content


def _schedule(client: Client, created_at: datetime, expires_at: datetime | None) -> tuple[datetime, datetime]:
    return created_at + client.evaluation_delay, expires_at or (created_at + client.content_lifetime)


def content_upsert(*, client: Client, external_id: str, data: dict, now: datetime | None = None) -> UpsertResult:
    """Register a content or update it; the same PUT twice leaves one content, unchanged.

    Changed text on a content that has not been pushed sends it back to be evaluated again.
    """
    now = now or clock.now()
    data = dict(data)
    data.setdefault("created_at", now)
    for attempt in range(2):
        try:
            with transaction.atomic():
                existing = Content.objects.select_for_update().filter(client=client, external_id=external_id).first()
                if existing is None:
                    return _create(client, external_id, data)
                return _update(client, existing, data, now)
        except IntegrityError:
            if attempt:  # a concurrent PUT created it; the second try updates it
                raise
    raise AssertionError("unreachable")


def _create(client: Client, external_id: str, data: dict) -> UpsertResult:
    evaluate_at, expires_at = _schedule(client, data["created_at"], data.get("expires_at"))
    content = Content.objects.create(
        client=client,
        external_id=external_id,
        title=data["title"],
        body=data.get("body", ""),
        url=data.get("url", ""),
        category=data.get("category", ""),
        language=data.get("language", ""),
        created_at=data["created_at"],
        expires_at=expires_at,
        evaluate_at=evaluate_at,
        text_hash=text_hash(data["title"], data.get("body", "")),
    )
    return UpsertResult(content, created=True, changed=True, reevaluate=True)


def _update(client: Client, content: Content, data: dict, now: datetime) -> UpsertResult:
    new = {name: data.get(name, getattr(content, name)) for name in _UPDATABLE}
    if "expires_at" not in data or data["expires_at"] is None:
        new["expires_at"] = content.expires_at if new["created_at"] == content.created_at else None
    evaluate_at, new["expires_at"] = _schedule(client, new["created_at"], new["expires_at"])
    changed = [name for name in _UPDATABLE if getattr(content, name) != new[name]]
    if not changed:
        return UpsertResult(content, created=False, changed=False, reevaluate=False)
    new_hash = text_hash(new["title"], new["body"])
    reevaluate = (
        new_hash != content.text_hash
        and content.status not in PUSHED_STATUSES
        and content.status not in TERMINAL_STATUSES
        and content.status != ContentStatus.REGISTERED
    )
    for name in changed:
        setattr(content, name, new[name])
    content.text_hash = new_hash
    update_fields = [*changed, "text_hash", "updated_at"]
    if content.status == ContentStatus.REGISTERED:
        content.evaluate_at = evaluate_at
        update_fields.append("evaluate_at")
    content.save(update_fields=update_fields)
    if reevaluate:
        before = content.status
        content_transition(content=content, to=ContentStatus.REGISTERED, evaluate_at=max(evaluate_at, now),
                           push_score=None, score_reasons=[], evaluated_at=None)
        decision_record(client=client, action="content_reevaluate", actor_name="api", content=content,
                        subject=f"content:{content.pk}", before={"status": before},
                        after={"status": ContentStatus.REGISTERED}, note="text changed before any push", now=now)
    return UpsertResult(content, created=False, changed=True, reevaluate=reevaluate or content.status == ContentStatus.REGISTERED)


def contents_expire_due(*, now: datetime | None = None) -> int:
    """Expire every content past its lifetime; its running campaign ends with it."""
    from apps.campaigns.models import Campaign

    now = now or clock.now()
    live = [s for s in ContentStatus.values if s not in TERMINAL_STATUSES]
    expired = 0
    with transaction.atomic():
        due = list(
            Content.objects.select_for_update(skip_locked=True)
            .filter(status__in=live, expires_at__lte=now)
            .values_list("pk", "client_id", "status")[:5000]
        )
        if not due:
            return 0
        ids = [pk for pk, _, _ in due]
        expired = Content.objects.filter(pk__in=ids, status__in=live).update(status=ContentStatus.EXPIRED, updated_at=now)
        running = list(
            Campaign.objects.filter(content_id__in=ids, state__in=[Campaign.State.RUNNING, Campaign.State.PAUSED])
            .values_list("pk", "client_id", "content_id")
        )
        Campaign.objects.filter(pk__in=[c[0] for c in running]).update(
            state=Campaign.State.DONE, ended_at=now, end_reason="content expired"
        )
        Decision.objects.bulk_create(
            [
                Decision(client_id=client_id, at=now, actor_type=Decision.Actor.SYSTEM, actor_name="sweep",
                         action="content_expire", content_id=pk, subject=f"content:{pk}",
                         before={"status": status}, after={"status": ContentStatus.EXPIRED})
                for pk, client_id, status in due
            ]
            + [
                Decision(client_id=client_id, at=now, actor_type=Decision.Actor.SYSTEM, actor_name="sweep",
                         action="campaign_end", campaign_id=pk, content_id=content_id, subject=f"campaign:{pk}",
                         after={"state": Campaign.State.DONE}, note="content expired")
                for pk, client_id, content_id in running
            ]
        )
    return expired



# ---------------------------------------------------------------------------------- evaluation

EVALUATION_BATCH = 200
EVALUATION_MAX_BATCHES = 10  # per sweep tick; what is left waits one minute


class CannotLaunch(ApiError):
    status_code = 409
    default_code = "cannot_launch"


class NotEditable(ApiError):
    status_code = 409
    default_code = "not_editable"


# Statuses in which editors may still change titles and decide on a content.
REVIEWABLE_STATUSES = frozenset({ContentStatus.CANDIDATE, ContentStatus.REJECTED, ContentStatus.APPROVED})


def contents_evaluate_due(*, now: datetime | None = None) -> int:
    """Evaluate every registered content whose evaluation time has come; returns how many.

    Called by the minute sweep. Each content is scored once per text: a content is picked only
    in status ``registered`` (row locked, skipping rows another sweep holds), and leaves it in
    the same transaction. Changed text before a push puts it back (``content_upsert``).
    Candidates that match their client's auto-approve policy are then approved and launched.
    """
    now = now or clock.now()
    if not _due_for_evaluation(now).exists():  # the usual minute: nothing due, no model loading
        return 0
    from apps.contents.scoring import active_scorer

    scorer = active_scorer()
    total = 0
    for _ in range(EVALUATION_MAX_BATCHES):
        evaluated, candidates = _evaluate_batch(scorer, now)
        total += evaluated
        for content_id in candidates:
            content_auto_approve(content_id=content_id, now=now)
        if evaluated < EVALUATION_BATCH:
            break
    return total


def _due_for_evaluation(now: datetime):
    return Content.objects.filter(status=ContentStatus.REGISTERED, evaluate_at__lte=now, expires_at__gt=now)


def _evaluate_batch(scorer, now: datetime) -> tuple[int, list[int]]:
    from apps.contents.models import AutoApprovePolicy
    from apps.contents.selectors import evaluation_inputs

    with transaction.atomic():
        contents = list(_due_for_evaluation(now).select_for_update(skip_locked=True)
                        .order_by("evaluate_at", "id")[:EVALUATION_BATCH])
        if not contents:
            return 0, []
        clients = {c.pk: c for c in Client.objects.filter(pk__in={c.client_id for c in contents})}
        inputs = evaluation_inputs(contents=contents, now=now, scorer=scorer)
        templates = _templates_by_language()
        policies = {p.client_id: p for p in AutoApprovePolicy.objects.filter(client_id__in=clients, enabled=True)}
        candidates = []
        for content in contents:
            client = clients[content.client_id]
            became = _evaluate_one(content, client, scorer, inputs[content.pk], templates, now)
            policy = policies.get(content.client_id)
            if became == ContentStatus.CANDIDATE and policy and policy.applies_to(score=content.push_score, category=content.category):
                candidates.append(content.pk)
        return len(contents), candidates


def _templates_by_language() -> dict[str, list]:
    from apps.contents.models import TitleTemplate
    from apps.contents.titles import TemplateSpec

    out: dict[str, list] = {"ko": [], "en": []}
    for t in TitleTemplate.objects.filter(is_active=True).order_by("priority", "name"):
        out.setdefault(t.language, []).append(TemplateSpec(t.name, t.pattern))
    return out


def content_language(content: Content) -> str:
    from recsys.text import LANGUAGES, detect_language

    lang = (content.language or "").split("-")[0].lower()
    return lang if lang in LANGUAGES else detect_language(f"{content.title}\n{content.body[:2000]}")


def _evaluate_one(content: Content, client: Client, scorer, features, templates, now: datetime) -> str:
    score, reasons = scorer.score(features)
    threshold = client.candidate_threshold
    to = ContentStatus.CANDIDATE if score >= threshold else ContentStatus.REJECTED
    reason = "" if to == ContentStatus.CANDIDATE else (
        f"Predicted click improvement {score:.2f} is below the client's threshold {threshold:.2f}.")
    before = {"status": content.status, "push_score": content.push_score}
    content_transition(content=content, to=to, push_score=score, score_model_version=scorer.model_version,
                       score_reasons=reasons, evaluated_at=now, early_reads=features.early_reads,
                       rejection_reason=reason)
    variants = _variants_generate(content, templates, now) if to == ContentStatus.CANDIDATE else []
    decision_record(
        client=client, action="content_evaluate", actor_name=f"evaluator ({scorer.name})", content=content,
        subject=f"content:{content.pk}", before=before,
        after={"status": to, "push_score": round(score, 4), "model_version": scorer.name, "variants": variants},
        numbers={"threshold": threshold, "early_reads": features.early_reads, "early_clicks": features.early_clicks,
                 "age_minutes": round(features.age_minutes, 1),
                 "early_readers_inactive_share": round(features.early_readers_inactive_share, 4),
                 "early_readers_mean_ctr": round(features.early_readers_mean_ctr, 5),
                 "reasons": reasons},
        note=reason, now=now,
    )
    return to


def _variants_generate(content: Content, templates: dict[str, list], now: datetime) -> list[str]:
    """Replace the machine-made title variants of a content (editors' own titles stay, back to pending)."""
    from apps.contents.models import TitleVariant
    from apps.contents.titles import dedupe_key, propose
    from recsys.text import extract_keyphrases

    language = content_language(content)
    keyphrases = extract_keyphrases(content.title, content.body[:5000], language=language, k=5)
    proposals = propose(title=content.title, category=content.category, language=language,
                        keyphrases=keyphrases, templates=templates.get(language, []))
    content.title_variants.exclude(source=TitleVariant.Source.EDITOR).delete()
    content.title_variants.update(review=TitleVariant.Review.PENDING, reviewed_by=None, reviewed_at=None)
    kept = {dedupe_key(t) for t in content.title_variants.values_list("text", flat=True)}
    new = [
        TitleVariant(content=content, text=p.text[:300], template_name=p.template_name,
                     source=TitleVariant.Source.TEMPLATE if p.template_name else TitleVariant.Source.ORIGINAL)
        for p in proposals if dedupe_key(p.text) not in kept
    ]
    TitleVariant.objects.bulk_create(new)
    return [v.text for v in new]


# ---------------------------------------------------------------------------------- editors

def _lock_content(content: Content) -> Content:
    return Content.objects.select_for_update().select_related("client").get(pk=content.pk)


def _require_reviewable(content: Content, now: datetime, what: str) -> None:
    if content.status == ContentStatus.EXPIRED or content.expires_at <= now:
        raise NotEditable(f"This content expired at {content.expires_at:%H:%M} UTC: it can no longer be {what}.", field="content")
    if content.status not in REVIEWABLE_STATUSES:
        raise NotEditable(f"This content is {content.status}: it can no longer be {what}.", field="content")


def _variant_state(v) -> dict:
    return {"text": v.text, "review": v.review, "source": v.source}


@transaction.atomic
def title_edit(*, variant, text: str, user, now: datetime | None = None):
    """Change a title's text; it becomes the editor's title and waits for approval again."""
    from apps.contents.models import TitleVariant
    from apps.contents.titles import dedupe_key, normalize

    now = now or clock.now()
    content = _lock_content(variant.content)
    _require_reviewable(content, now, "edited")
    variant = TitleVariant.objects.select_for_update().get(pk=variant.pk, content=content)
    text = normalize(text)
    if not text:
        raise ApiError("A push title cannot be empty.", field="text")
    if len(text) > 300:
        raise ApiError(f"A push title has at most 300 characters; this one has {len(text)}.", field="text")
    if text == variant.text:
        return variant
    others = content.title_variants.exclude(pk=variant.pk).values_list("text", flat=True)
    if dedupe_key(text) in {dedupe_key(t) for t in others}:
        raise ApiError("Another variant of this content already says that.", field="text", code="duplicate")
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
    from apps.contents.models import TitleVariant
    from apps.contents.titles import dedupe_key, normalize

    now = now or clock.now()
    content = _lock_content(content)
    _require_reviewable(content, now, "edited")
    text = normalize(text)
    if not text:
        raise ApiError("A push title cannot be empty.", field="text")
    if len(text) > 300:
        raise ApiError(f"A push title has at most 300 characters; this one has {len(text)}.", field="text")
    if dedupe_key(text) in {dedupe_key(t) for t in content.title_variants.values_list("text", flat=True)}:
        raise ApiError("Another variant of this content already says that.", field="text", code="duplicate")
    variant = TitleVariant.objects.create(content=content, text=text, source=TitleVariant.Source.EDITOR)
    decision_record(client=content.client, action="title_add", actor_user=user, content=content,
                    subject=f"title_variant:{variant.pk}", after=_variant_state(variant), now=now)
    return variant


def _review(variant, user, review: str, now: datetime, *, actor_name: str = "", note: str = ""):
    from apps.contents.models import TitleVariant
    from apps.contents.titles import cut_platforms

    content = _lock_content(variant.content)
    _require_reviewable(content, now, "reviewed")
    variant = TitleVariant.objects.select_for_update().get(pk=variant.pk, content=content)
    if review == TitleVariant.Review.APPROVED:
        cut = cut_platforms(variant.text)
        if cut:
            where = "; ".join(f"{f.label} shows {f.limit} columns, this takes {f.width}" for f in cut)
            raise ApiError(f"This title would be cut off ({where}). Shorten it before approving.", field="text", code="too_long")
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
    from apps.contents.models import TitleVariant

    return _review(variant, user, TitleVariant.Review.APPROVED, now or clock.now())


@transaction.atomic
def title_reject(*, variant, user, now: datetime | None = None):
    from apps.contents.models import TitleVariant

    return _review(variant, user, TitleVariant.Review.REJECTED, now or clock.now())


@transaction.atomic
def content_reject(*, content: Content, user, reason: str, now: datetime | None = None) -> Content:
    """An editor decides a content gets no push, and says why."""
    now = now or clock.now()
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApiError("Say why this content gets no push.", field="reason")
    if len(reason) > 500:
        raise ApiError("The reason has at most 500 characters.", field="reason")
    content = _lock_content(content)
    _require_reviewable(content, now, "rejected")
    before = {"status": content.status, "rejection_reason": content.rejection_reason}
    content_transition(content=content, to=ContentStatus.REJECTED, rejection_reason=reason)
    decision_record(client=content.client, action="content_reject", actor_user=user, content=content,
                    subject=f"content:{content.pk}", before=before,
                    after={"status": content.status, "rejection_reason": reason}, note=reason, now=now)
    return content


def _approve_for_launch(content: Content, now: datetime, *, user=None, actor_name: str = "") -> None:
    from apps.contents.models import TitleVariant

    approved = list(content.title_variants.filter(review=TitleVariant.Review.APPROVED).values_list("text", flat=True))
    if not approved:
        raise CannotLaunch("Approve at least one title before launching.", field="title_variants")
    if content.status != ContentStatus.APPROVED:
        before = {"status": content.status}
        content_transition(content=content, to=ContentStatus.APPROVED)
        decision_record(client=content.client, action="content_approve", actor_user=user, actor_name=actor_name,
                        content=content, subject=f"content:{content.pk}", before=before,
                        after={"status": content.status, "approved_titles": approved},
                        numbers={"push_score": content.push_score}, now=now)


@transaction.atomic
def content_launch(*, content: Content, user, now: datetime | None = None):
    """Approve a content with its approved titles and launch its push ("approve and launch").

    All or nothing: if the campaign cannot start, the content stays as it was.
    """
    from apps.campaigns.services import campaign_launch

    now = now or clock.now()
    content = _lock_content(content)
    if content.status == ContentStatus.EXPIRED or content.expires_at <= now:
        raise CannotLaunch(f"This content expired at {content.expires_at:%H:%M} UTC: it can no longer be launched.", field="content")
    if content.status not in REVIEWABLE_STATUSES:
        raise CannotLaunch(f"This content is {content.status}: it cannot be launched again.", field="content")
    _approve_for_launch(content, now, user=user)
    return campaign_launch(content=content, user=user, now=now)


AUTO_APPROVE_ACTOR = "auto-approve policy"


def content_auto_approve(*, content_id: int, now: datetime | None = None):
    """Apply the client's auto-approve policy to a fresh candidate: approve its titles that every
    platform shows whole and launch it. Logged as the policy. A launch the campaign engine
    refuses is logged too, and the content waits for the editors."""
    from apps.campaigns.services import campaign_launch
    from apps.contents.models import AutoApprovePolicy, TitleVariant
    from apps.contents.titles import cut_platforms

    now = now or clock.now()
    rule: dict = {}
    try:
        with transaction.atomic():
            content = Content.objects.select_for_update().select_related("client").get(pk=content_id)
            policy = AutoApprovePolicy.objects.filter(client_id=content.client_id).first()
            if (content.status != ContentStatus.CANDIDATE or content.expires_at <= now or policy is None
                    or not policy.applies_to(score=content.push_score, category=content.category)):
                return None
            rule = {"min_score": policy.min_score, "categories": policy.categories}
            for v in content.title_variants.select_for_update().filter(review=TitleVariant.Review.PENDING):
                if not cut_platforms(v.text):
                    _review(v, None, TitleVariant.Review.APPROVED, now, actor_name=AUTO_APPROVE_ACTOR,
                            note=f"score {content.push_score:.2f} >= {policy.min_score:.2f}")
            _approve_for_launch(content, now, actor_name=AUTO_APPROVE_ACTOR)
            return campaign_launch(content=content, user=None, now=now)
    except ApiError as exc:
        content = Content.objects.get(pk=content_id)
        decision_record(client=content.client_id, action="auto_approve_failed", actor_name=AUTO_APPROVE_ACTOR,
                        content=content, subject=f"content:{content.pk}", numbers={"push_score": content.push_score, **rule},
                        note=str(exc.detail), now=now)
        return None


@transaction.atomic
def auto_approve_policy_set(*, client: Client, enabled: bool, min_score: float, categories, user,
                            now: datetime | None = None):
    """Turn a client's auto-approve policy on or off, or change its rule."""
    from apps.contents.models import AutoApprovePolicy

    now = now or clock.now()
    try:
        min_score = float(min_score)
    except (TypeError, ValueError):
        raise ApiError("The minimum score must be a number, e.g. 3.0.", field="min_score") from None
    if not (0.0 <= min_score <= 100.0) or min_score != min_score:
        raise ApiError("The minimum score must be between 0 and 100.", field="min_score")
    if isinstance(categories, str):
        categories = categories.split(",")
    cats = sorted({c.strip().lower() for c in categories or [] if c and c.strip()})
    if any(len(c) > 64 for c in cats):
        raise ApiError("A category has at most 64 characters.", field="categories")
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
def title_template_save(*, template, user=None):
    """Save a template of the library after checking its slots (the admin page calls this)."""
    template.full_clean()
    template.save()
    return template
