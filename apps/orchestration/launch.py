"""Launching a content's push: an editor's "approve and launch", or the client's auto-approve
policy on a fresh candidate. The approval is the contents app's; the campaign is the engine's."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.contents.models import Content
from apps.contents.selectors import auto_approve_rule
from apps.contents.services import AUTO_APPROVE_ACTOR, content_approve_for_launch, content_auto_approve
from apps.core import clock
from apps.core.errors import ApiError
from apps.core.services import decision_record
from apps.orchestration.engine import RankerFor, campaign_launch


@transaction.atomic
def content_launch(*, content: Content, user, now: datetime | None = None, ranker_for: RankerFor | None = None):
    """Approve a content with its approved titles and launch its push. All or nothing: if the
    campaign cannot start, the content stays as it was. The caller dispatches."""
    now = now or clock.now()
    content = content_approve_for_launch(content=content, user=user, now=now)
    return campaign_launch(content=content, user=user, now=now, ranker_for=ranker_for)


def content_auto_launch(*, content_id: int, now: datetime, ranker_for: RankerFor | None = None):
    """Apply the client's auto-approve policy to a fresh candidate and launch it, logged as the
    policy. A launch the engine refuses is logged too, and the content waits for the editors."""
    try:
        with transaction.atomic():
            content = content_auto_approve(content_id=content_id, now=now)
            if content is None:
                return None
            return campaign_launch(content=content, user=None, now=now, ranker_for=ranker_for)
    except ApiError as exc:
        content = Content.objects.get(pk=content_id)
        decision_record(client=content.client_id, action="auto_approve_failed", actor_name=AUTO_APPROVE_ACTOR,
                        content=content, subject=f"content:{content.pk}",
                        numbers={"push_score": content.push_score, **auto_approve_rule(client_id=content.client_id)},
                        note=str(exc.detail), now=now)
        return None
