from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import pgettext_lazy

from apps.core.models import Client


class ContentStatus(models.TextChoices):
    # Labels in the reader's language (the same words as apps.core.labels "content_status").
    REGISTERED = "registered", pgettext_lazy("content status", "registered")
    CANDIDATE = "candidate", pgettext_lazy("content status", "candidate")
    REJECTED = "rejected", pgettext_lazy("content status", "rejected")
    APPROVED = "approved", pgettext_lazy("content status", "approved")
    SENDING = "sending", pgettext_lazy("content status", "sending")
    DONE = "done", pgettext_lazy("content status", "done")
    EXPIRED = "expired", pgettext_lazy("content status", "expired")


# The lifecycle, explicitly: a status may move only along these edges
# (``apps.contents.services.content_transition`` enforces it). Evaluation moves a registered
# content to candidate or rejected in one step.
CONTENT_TRANSITIONS: dict[str, frozenset[str]] = {
    ContentStatus.REGISTERED: frozenset({ContentStatus.CANDIDATE, ContentStatus.REJECTED, ContentStatus.EXPIRED}),
    # Changed text before a push sends a content back to be evaluated again.
    ContentStatus.CANDIDATE: frozenset({ContentStatus.APPROVED, ContentStatus.REJECTED, ContentStatus.REGISTERED, ContentStatus.EXPIRED}),
    ContentStatus.REJECTED: frozenset({ContentStatus.CANDIDATE, ContentStatus.APPROVED, ContentStatus.REGISTERED, ContentStatus.EXPIRED}),
    ContentStatus.APPROVED: frozenset({ContentStatus.SENDING, ContentStatus.REJECTED, ContentStatus.DONE, ContentStatus.EXPIRED}),
    ContentStatus.SENDING: frozenset({ContentStatus.DONE, ContentStatus.EXPIRED}),
    ContentStatus.DONE: frozenset(),
    ContentStatus.EXPIRED: frozenset(),
}
PUSHED_STATUSES = frozenset({ContentStatus.APPROVED, ContentStatus.SENDING, ContentStatus.DONE})
TERMINAL_STATUSES = frozenset({ContentStatus.DONE, ContentStatus.EXPIRED})


class Content(models.Model):
    """A fresh piece of content (news, post) registered by a client, and what was decided on it."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contents")
    external_id = models.CharField(max_length=128)
    title = models.CharField(max_length=500)
    body = models.TextField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    category = models.CharField(max_length=64, blank=True, db_index=True)
    language = models.CharField(max_length=8, blank=True, help_text="ISO 639-1, e.g. ko or en; empty = detect.")
    created_at = models.DateTimeField(help_text="When the content was created in the client's system.")
    expires_at = models.DateTimeField()
    registered_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    text_hash = models.CharField(max_length=64, help_text="SHA-256 of title and body, to notice changed text.")
    status = models.CharField(max_length=16, choices=ContentStatus.choices, default=ContentStatus.REGISTERED)
    evaluate_at = models.DateTimeField(help_text="When the beat sweep evaluates it: created_at + the client's delay.")
    evaluated_at = models.DateTimeField(null=True, blank=True)
    push_score = models.FloatField(null=True, blank=True, help_text="Predicted click improvement.")
    score_model_version = models.ForeignKey(
        "mlops.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="scored_contents"
    )
    score_reasons = models.JSONField(default=list, blank=True)
    early_reads = models.PositiveIntegerField(default=0, help_text="Organic reads seen at evaluation.")
    early_read_share = models.FloatField(
        null=True, blank=True,
        help_text="At evaluation: its early reads' share of the site's reads of fresh contents over the same window.")
    rejection_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "external_id"], name="content_client_external_id"),
            models.CheckConstraint(condition=models.Q(status__in=ContentStatus.values), name="content_status_valid"),
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("created_at")), name="content_expires_after_created"),
        ]
        indexes = [
            models.Index(fields=["client", "status", "-created_at"], name="content_client_status_created"),
            models.Index(fields=["client", "-created_at"], name="content_client_created"),
            models.Index(fields=["status", "evaluate_at"], name="content_due_evaluation"),
            models.Index(fields=["status", "expires_at"], name="content_due_expiry"),
            # The editors' queue: candidates by predicted improvement, then time left.
            models.Index(fields=["status", "-push_score", "expires_at"], name="content_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.external_id}"


class TitleVariant(models.Model):
    """One push title for a content: the original, a template's output, or an editor's text."""

    class Source(models.TextChoices):
        ORIGINAL = "original"
        TEMPLATE = "template"
        EDITOR = "editor"

    class Review(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="title_variants")
    text = models.CharField(max_length=300)
    source = models.CharField(max_length=10, choices=Source.choices)
    template_name = models.CharField(max_length=100, blank=True)
    review = models.CharField(max_length=10, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sends = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["content", "text"], name="title_variant_unique_text"),
            models.CheckConstraint(condition=~models.Q(text=""), name="title_variant_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text


TEMPLATE_SLOTS = ("keyphrase", "keyphrase2", "category", "title")


class TitleTemplate(models.Model):
    """A push-title pattern that admins edit, with slots filled from the content.

    Slots: ``{keyphrase}`` (the most salient phrase of the text), ``{keyphrase2}`` (the second),
    ``{category}`` (the category's label in the template's language) and ``{title}`` (the
    original title). A template whose slot has nothing to fill it is skipped for that content.
    """

    class Language(models.TextChoices):
        KO = "ko", "Korean"
        EN = "en", "English"

    name = models.SlugField(max_length=100, unique=True)
    language = models.CharField(max_length=2, choices=Language.choices)
    pattern = models.CharField(max_length=200, help_text="e.g. '{keyphrase}: what we know so far'. Slots: "
                               + ", ".join("{%s}" % s for s in TEMPLATE_SLOTS) + ".")
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower comes first when more templates fit than are needed.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "priority", "name"]
        indexes = [models.Index(fields=["language", "is_active", "priority"], name="title_template_lookup")]

    def clean(self):
        from django.core.exceptions import ValidationError

        from apps.contents.titles import template_slots

        try:
            slots = template_slots(self.pattern)
        except ValueError as exc:
            raise ValidationError({"pattern": str(exc)}) from None
        if not slots:
            raise ValidationError({"pattern": "A template needs at least one slot, e.g. {keyphrase}."})

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class AutoApprovePolicy(models.Model):
    """A client's auto-approve rule: a fresh candidate scoring at least ``min_score`` in one of
    ``categories`` (empty list = any category) gets its titles approved and is launched by the system."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="auto_approve_policy")
    enabled = models.BooleanField(default=False)
    min_score = models.FloatField(default=3.0, help_text="Predicted click improvement at or above which a candidate is launched.")
    categories = models.JSONField(default=list, blank=True, help_text="Categories it applies to; empty = every category.")
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(min_score__gte=0.0), name="auto_approve_min_score_nonneg")]

    def applies_to(self, *, score: float | None, category: str) -> bool:
        return bool(self.enabled and score is not None and score >= self.min_score
                    and (not self.categories or category in self.categories))

    def __str__(self) -> str:
        return f"auto-approve {self.client_id} ({'on' if self.enabled else 'off'})"
