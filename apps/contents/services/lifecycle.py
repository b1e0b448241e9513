"""Contents as the client's system registers them: the idempotent upsert, the lifecycle's moves
(``CONTENT_TRANSITIONS``), and expiry of the contents themselves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

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


def content_transition(*, content: Content, to: str, **fields) -> Content:
    """Move a content along its lifecycle; anything off the map is refused."""
    if to != content.status and to not in CONTENT_TRANSITIONS[content.status]:
        raise IllegalTransition(f"A content cannot go from {content.status} to {to}.", field="status")
    content.status = to
    for name, value in fields.items():
        setattr(content, name, value)
    content.save(update_fields=["status", "updated_at", *fields])
    return content


def _schedule(client: Client, created_at: datetime, expires_at: datetime | None) -> tuple[datetime, datetime]:
    policy = client.policy
    return created_at + policy.evaluation_delay, expires_at or (created_at + policy.content_lifetime)


def content_upsert(*, client: Client, external_id: str, data: dict, now: datetime | None = None) -> UpsertResult:
    """Register a content or update it; the same PUT twice leaves one content, unchanged.

    Without ``created_at`` a new content is created now and an existing one keeps its own (so a PUT
    sent again later is still the same PUT). Changed text on a content that has not been pushed
    sends it back to be evaluated again.
    """
    now = now or clock.now()
    for attempt in range(2):
        try:
            with transaction.atomic():
                existing = Content.objects.select_for_update().filter(client=client, external_id=external_id).first()
                given = dict(data)
                given.setdefault("created_at", now if existing is None else existing.created_at)
                _check_lifetime(given, new=existing is None)
                if existing is None:
                    return _create(client, external_id, given)
                return _update(client, existing, given, now)
        except IntegrityError:
            if attempt:  # a concurrent PUT created it; the second try updates it
                raise
    raise AssertionError("unreachable")


def _check_lifetime(data: dict, *, new: bool) -> None:
    """``expires_at`` must come after the ``created_at`` the content will have: the one given, else
    the time of the request for a new content or its own for an existing one (the database's CHECK
    would refuse it otherwise)."""
    expires = data.get("expires_at")
    if expires is not None and expires <= data["created_at"]:
        created = data["created_at"].astimezone(dt_timezone.utc)
        default = "the time of the request" if new else "the content's own"
        raise ApiError(f"Must be after created_at ({created:%Y-%m-%dT%H:%M:%SZ}; {default} when created_at is not "
                       "given).", field="expires_at", code="invalid")


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


LIVE_STATUSES = tuple(s for s in ContentStatus.values if s not in TERMINAL_STATUSES)


def contents_lock_expiring(*, now: datetime, limit: int = 5000) -> list[tuple[int, int, str]]:
    """Live contents past their lifetime, locked (rows another sweep holds are skipped):
    (id, client id, status). Call inside a transaction."""
    return list(Content.objects.select_for_update(skip_locked=True)
                .filter(status__in=LIVE_STATUSES, expires_at__lte=now)
                .order_by("expires_at", "id").values_list("pk", "client_id", "status")[:limit])


def contents_expire(*, due: list[tuple[int, int, str]], now: datetime) -> int:
    """Mark these contents expired, with one decision row each. Their campaigns must have been
    ended first (``apps.orchestration.expiry``)."""
    if not due:
        return 0
    expired = Content.objects.filter(pk__in=[pk for pk, _, _ in due], status__in=LIVE_STATUSES).update(
        status=ContentStatus.EXPIRED, updated_at=now)
    Decision.objects.bulk_create([
        Decision(client_id=client_id, at=now, actor_type=Decision.Actor.SYSTEM, actor_name="sweep",
                 action="content_expire", content_id=pk, subject=f"content:{pk}",
                 before={"status": status}, after={"status": ContentStatus.EXPIRED})
        for pk, client_id, status in due
    ])
    return expired
