from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.contents.models import Content
from apps.core.models import Client
from apps.core.policy import DEFAULTS, default_segment


class Campaign(models.Model):
    """The push of one content: its settings, state and running totals (sums of its waves)."""

    class State(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"
        DONE = "done"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="campaigns")
    content = models.OneToOneField(Content, on_delete=models.PROTECT, related_name="campaign")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)
    # The ramp and the segment, copied from the client's policy at launch (apps.core.policy), so a
    # later change of the policy does not alter a running push.
    initial_size = models.PositiveIntegerField(default=DEFAULTS.first_wave_size)
    growth = models.FloatField(default=DEFAULTS.growth)
    max_sends = models.PositiveIntegerField(default=DEFAULTS.max_sends)
    floor = models.FloatField(default=DEFAULTS.floor)
    target = models.FloatField(default=DEFAULTS.target)
    alpha = models.FloatField(default=DEFAULTS.alpha)
    observation_window = models.DurationField(default=DEFAULTS.observation_window)
    max_waves = models.PositiveSmallIntegerField(default=DEFAULTS.max_waves, help_text="Stop with 'budget' after this many waves.")
    exploration_share = models.FloatField(default=DEFAULTS.exploration_share,
                                          help_text="Of wave 1, drawn at random outside the ranked top.")
    holdout_share = models.FloatField(default=DEFAULTS.holdout_share,
                                      help_text="Of the people ranked into each wave, held out at random: never sent this content.")
    segment = models.JSONField(default=default_segment, help_text="Who may get it (copied from the client's policy at launch).")
    sends = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    expected_clicks = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=["running", "stopped", "done"]), name="campaign_state_valid"),
            models.CheckConstraint(condition=models.Q(growth__gte=1.0), name="campaign_growth_ge_1"),
        ]
        indexes = [models.Index(fields=["client", "state", "-created_at"], name="campaign_client_state")]

    @property
    def improvement(self) -> float | None:
        return self.clicks / self.expected_clicks if self.expected_clicks > 0 else None

    def __str__(self) -> str:
        return f"campaign {self.pk} ({self.content})"


class Wave(models.Model):
    """A staged batch of a campaign, with its numbers and the decision taken after it."""

    class State(models.TextChoices):
        PLANNED = "planned"
        SENDING = "sending"
        OBSERVING = "observing"
        DECIDED = "decided"

    class Decision(models.TextChoices):
        EXPAND = "expand"
        RESEND = "resend"
        STOP = "stop"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveSmallIntegerField()
    planned_size = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    observe_until = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    expected_clicks = models.FloatField(default=0.0)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_numbers = models.JSONField(default=dict, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    allocation = models.JSONField(default=dict, blank=True, help_text="Recipients per title variant and why (Thompson sampling).")
    ranker = models.CharField(max_length=64, blank=True, help_text="Which audience ranking chose the recipients.")
    model_versions = models.JSONField(default=dict, blank=True, help_text="The active model versions when the wave was planned.")
    plan_numbers = models.JSONField(
        default=dict, blank=True,
        help_text="What planning counted: the target after the campaign's maximum, the eligible people, those held back "
                  "by their slot's price, held out to measure, and slots another content took meanwhile.")
    # Marginal decisions (docs/ramp.md): a wave's probes are a rank-stratified sample of its window,
    # the ranks that it and the expansion after it would cover, so the ramp's test is about the
    # people an expansion reaches. An expansion sends to the window's unsent rest and starts the
    # next stage with a new window.
    stage = models.PositiveSmallIntegerField(default=1, help_text="Which window the wave's probes sample (1 = wave 1's).")
    probe_size = models.PositiveIntegerField(default=0, help_text="Probes planned: people drawn from the window.")
    window = models.BinaryField(null=True, blank=True, help_text="numpy .npz: ids, scores of the window, in the ranker's order.")
    waiting_since = models.DateTimeField(
        null=True, blank=True,
        help_text="Since when the ramp waits for late clicks before deciding (the last look's numbers and reason are "
                  "kept in decision_numbers and decision_reason until it decides).")

    class Meta:
        ordering = ["campaign_id", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="wave_campaign_number")]
        indexes = [models.Index(fields=["state", "observe_until"], name="wave_due_decision")]

    @property
    def improvement(self) -> float | None:
        return self.clicks / self.expected_clicks if self.expected_clicks > 0 else None

    def __str__(self) -> str:
        return f"wave {self.number} of campaign {self.campaign_id}"


class WavePool(models.Model):
    """Who was eligible when an exploring wave was planned, as the ranker saw them: the ids, each
    one's usual push CTR (expected clicks) and language. With the wave's sends (rank, propensity)
    it lets another ranker be judged on this wave offline (``apps.mlops.ope``)."""

    wave = models.OneToOneField(Wave, on_delete=models.CASCADE, related_name="pool")
    size = models.PositiveIntegerField()
    arrays = models.BinaryField(help_text="numpy .npz: ids (int64), ctr (float32), language (str).")

    def __str__(self) -> str:
        return f"pool of {self.wave} ({self.size})"


class WaveFeatures(models.Model):
    """The click model's inputs for each person a wave chose, as the ranker computed them when it
    chose (``recsys.audience.product_features``): with the sends' clicks they are the rows the
    click model learns from, so training sees what ranking saw, nothing recomputed later."""

    wave = models.OneToOneField(Wave, on_delete=models.CASCADE, related_name="features")
    size = models.PositiveIntegerField()
    names = models.JSONField(help_text="Feature names, in column order.")
    arrays = models.BinaryField(help_text="numpy .npz: ids (int64), x (float32, one row per id).")

    def __str__(self) -> str:
        return f"features of {self.wave} ({self.size})"
