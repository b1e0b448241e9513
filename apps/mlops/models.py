from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import pgettext_lazy


class ModelKind(models.TextChoices):
    # Labels in the reader's language (the same words as apps.core.labels "model_kind").
    PUSH_WORTHINESS = "push_worthiness", pgettext_lazy("model kind", "push-worthiness")
    CLICK = "click", pgettext_lazy("model kind", "click model")
    MF = "mf", pgettext_lazy("model kind", "matrix factorization")
    EMBEDDINGS = "embeddings", pgettext_lazy("model kind", "text embeddings")
    CLICK_DELAY = "click_delay", pgettext_lazy("model kind", "click delay")


class ModelVersion(models.Model):
    """A trained artifact (implicit .npz, LightGBM text, gensim native) with its offline metrics.

    Every version belongs to one client: it was trained on that client's rows only and ranks or
    scores that client's contents only. At most one active version per client and kind; a new
    one is activated only if it beats the active one on data neither trained on
    (``apps.mlops.services``), unless the active one is pinned by an admin.
    """

    client = models.ForeignKey("core.Client", on_delete=models.CASCADE, related_name="model_versions")
    kind = models.CharField(max_length=24, choices=ModelKind.choices)
    version = models.PositiveIntegerField()
    artifact_path = models.CharField(max_length=500, help_text="Relative to PUSHADMIN ARTIFACTS_DIR.")
    metrics = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    is_active = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False, help_text="An active pinned version is never replaced by training; "
                                                          "only an admin activates another.")
    activated_at = models.DateTimeField(null=True, blank=True)
    training_run = models.ForeignKey("TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions")

    class Meta:
        ordering = ["client", "kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["client", "kind", "version"], name="model_version_unique"),
            models.UniqueConstraint(fields=["client", "kind"], condition=models.Q(is_active=True),
                                    name="model_one_active_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}{' (active)' if self.is_active else ''}"


class TrainingRun(models.Model):
    """Progress of a long job, written as it goes so pages can poll it."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    client = models.ForeignKey("core.Client", on_delete=models.CASCADE, related_name="training_runs")
    kind = models.CharField(max_length=24, choices=ModelKind.choices)
    # Why it ran: asked for on the Models page, or the schedule (nightly, new campaigns, first version)
    reason = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0.0) & models.Q(progress__lte=1.0), name="training_progress_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.state})"
