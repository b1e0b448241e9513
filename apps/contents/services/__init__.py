"""Writes of contents, by concern:

- ``lifecycle``: registration (the idempotent upsert), the moves of ``CONTENT_TRANSITIONS``, expiry;
- ``evaluation``: scoring registered contents when their time comes, machine-made title variants;
- ``editorial``: the editors' decisions on titles and contents, approval for launch (by a person or
  the auto-approve policy), the auto-approve policy, the template library, title variants' counts.

The public writes are re-exported here, so callers say ``apps.contents.services.title_approve``.
"""

from apps.contents.services.editorial import (
    AUTO_APPROVE_ACTOR,
    REVIEWABLE_STATUSES,
    CannotLaunch,
    NotEditable,
    auto_approve_policy_set,
    content_approve_for_launch,
    content_auto_approve,
    content_reject,
    title_add,
    title_approve,
    title_edit,
    title_reject,
    title_template_save,
    title_variants_count,
)
from apps.contents.services.evaluation import EVALUATION_BATCH, EVALUATION_MAX_BATCHES, contents_evaluate_batch
from apps.contents.services.lifecycle import (
    IllegalTransition,
    UpsertResult,
    content_transition,
    content_upsert,
    contents_expire,
    contents_lock_expiring,
    text_hash,
)

__all__ = [
    "AUTO_APPROVE_ACTOR", "EVALUATION_BATCH", "EVALUATION_MAX_BATCHES", "REVIEWABLE_STATUSES", "CannotLaunch",
    "IllegalTransition", "NotEditable", "UpsertResult", "auto_approve_policy_set", "content_approve_for_launch",
    "content_auto_approve", "content_reject", "content_transition", "content_upsert", "contents_evaluate_batch",
    "contents_expire", "contents_lock_expiring", "text_hash", "title_add", "title_approve", "title_edit",
    "title_reject", "title_template_save", "title_variants_count",
]
