from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.policy import DEFAULTS, default_content_lifetime, default_evaluation_delay

RATE_RE = r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$"


class Client(models.Model):
    """A tenant: one content system or app that registers contents, subscribers and events."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    api_rate = models.CharField(
        max_length=32,
        blank=True,
        validators=[RegexValidator(RATE_RE, "Use N/s, N/min, N/h or N/day.")],
        help_text="API requests allowed per window for this client; empty = the site default.",
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Policy(models.Model):
    """A client's business rules, in one object: when contents are judged, who may be pushed,
    how a campaign ramps. Defaults in ``apps.core.policy``; the campaign engine copies the ramp
    into each campaign at launch, so an edit applies to campaigns launched after it."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, primary_key=True, related_name="policy")
    # Evaluation
    evaluation_delay = models.DurationField(
        default=default_evaluation_delay,
        help_text="How long after its creation a content is evaluated (its first reads are used). 0 = at once.")
    content_lifetime = models.DurationField(
        default=default_content_lifetime, help_text="A content expires this long after its creation; its push ends with it.")
    candidate_threshold = models.FloatField(
        default=DEFAULTS.candidate_threshold, validators=[MinValueValidator(0.0)],
        help_text="A content whose predicted click improvement is at least this becomes a push candidate.")
    # Who may be pushed
    cap_window = models.DurationField(
        default=DEFAULTS.cap_window, help_text="Nobody gets more than one content push within this rolling window.")
    inactive_days = models.PositiveSmallIntegerField(
        default=DEFAULTS.inactive_days, validators=[MinValueValidator(1)],
        help_text="A subscriber with no open, click or read for this many days is inactive: whom pushes are for.")
    quiet_hours_start = models.PositiveSmallIntegerField(
        default=DEFAULTS.quiet_hours_start, validators=[MaxValueValidator(23)],
        help_text="Local hour (the subscriber's time zone) from which nobody is pushed ...")
    quiet_hours_end = models.PositiveSmallIntegerField(
        default=DEFAULTS.quiet_hours_end, validators=[MaxValueValidator(23)], help_text="... until this local hour.")
    # The ramp
    first_wave_size = models.PositiveIntegerField(
        default=DEFAULTS.first_wave_size, validators=[MinValueValidator(1)], help_text="Recipients of a campaign's first wave.")
    growth = models.FloatField(
        default=DEFAULTS.growth, validators=[MinValueValidator(1.0)], help_text="An expanded wave is this many times the last.")
    max_sends = models.PositiveIntegerField(
        default=DEFAULTS.max_sends, validators=[MinValueValidator(1)], help_text="At most this many recipients per content.")
    max_waves = models.PositiveSmallIntegerField(
        default=DEFAULTS.max_waves, validators=[MinValueValidator(1)],
        help_text="A campaign still undecided after this many waves stops ('budget').")
    observation_window = models.DurationField(
        default=DEFAULTS.observation_window, help_text="A wave is judged this long after its last push left.")
    floor = models.FloatField(
        default=DEFAULTS.floor, validators=[MinValueValidator(0.01)],
        help_text="Expand only when confident the click improvement is above this.")
    target = models.FloatField(
        default=DEFAULTS.target, validators=[MinValueValidator(0.01)],
        help_text="Stop for futility when confident the click improvement is below this.")
    alpha = models.FloatField(
        default=DEFAULTS.alpha, validators=[MinValueValidator(0.001), MaxValueValidator(0.49)],
        help_text="Error of each one-sided test, valid however often the waves are looked at.")
    # Measurement
    exploration_share = models.FloatField(
        default=DEFAULTS.exploration_share, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of a campaign's first wave drawn at random from the eligible people outside the ranked top, "
                  "so the logs show what the ranker passed over. 0 = none.")
    holdout_share = models.FloatField(
        default=DEFAULTS.holdout_share, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of the people ranked into each wave who are held out at random and never get this content, "
                  "so the push's own effect can be told from what would have happened anyway. 0 = none.")
    # The weekly slot
    slot_objective = models.CharField(
        max_length=16, default=DEFAULTS.slot_objective,
        choices=[("clicks", "clicks"), ("reactivations", "clicks by inactive people"), ("first_come", "first come")],
        help_text="What each person's weekly slot is spent for, and so who campaigns are for: clicks, everyone opted in; "
                  "reactivations and first_come, the inactive. With a click model, a content goes to a person only when "
                  "its value (the click probability; for reactivations, only of inactive people) is at least their slot's "
                  "price, what their slot is expected to find in the coming days. first_come: to whoever ranks first.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(evaluation_delay__gte=timedelta(0)), name="policy_eval_delay_nonneg"),
            models.CheckConstraint(condition=models.Q(content_lifetime__gt=timedelta(0)), name="policy_lifetime_positive"),
            models.CheckConstraint(condition=models.Q(cap_window__gt=timedelta(0)), name="policy_cap_window_positive"),
            models.CheckConstraint(condition=models.Q(target__gte=models.F("floor")), name="policy_target_ge_floor"),
            models.CheckConstraint(condition=models.Q(growth__gte=1.0), name="policy_growth_ge_1"),
        ]

    def clean(self):
        if self.floor is not None and self.target is not None and self.target < self.floor:
            raise ValidationError({"target": "The target must be at least the floor."})

    def __str__(self) -> str:
        return f"policy of {self.client_id}"


class ApiKey(models.Model):
    """An API key of a client. Only a SHA-256 of the secret is stored; the key is shown once.

    Keys are 256-bit random tokens, so a fast hash is enough (no password stretching needed),
    and lookup is by the non-secret prefix.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.client.slug}:{self.prefix}"


class Membership(models.Model):
    """Which clients a person works for. Admins see every client; editors and operators only theirs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.client}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("The decision log is append-only: rows are never updated.")

    def delete(self):
        raise ValidationError("The decision log is append-only: rows are never deleted.")


class Decision(models.Model):
    """One human or automatic decision, with who or what made it and the numbers it saw.

    Append-only: written by ``apps.core.services.decision_record`` and never changed.
    """

    class Actor(models.TextChoices):
        USER = "user", "person"
        SYSTEM = "system", "system"

    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions",
                               help_text="Empty for decisions about the whole system, e.g. pausing all sending.")
    at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=8, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="User name, or the component that decided.")
    action = models.CharField(max_length=64)
    content = models.ForeignKey("contents.Content", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    subject = models.CharField(max_length=200, blank=True, help_text="What was decided on, e.g. 'title_variant:12'.")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    numbers = models.JSONField(default=dict, blank=True, help_text="The numbers the decision saw.")
    note = models.TextField(blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["content", "-at"], name="decision_content_at"),
            models.Index(fields=["campaign", "-at"], name="decision_campaign_at"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("The decision log is append-only: rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The decision log is append-only: rows are never deleted.")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.subject}"


class Watermark(models.Model):
    """How far a sweep has processed an append-only table (by id).

    ``position``: rows up to it are done. ``pending``: the highest id seen at the previous sweep;
    the next sweep processes up to it, so a row is handled at least one sweep after its id was
    taken, when the transaction that wrote it has long committed.
    """

    name = models.CharField(max_length=64, unique=True)
    position = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


class Switch(models.Model):
    """An operator's switch, e.g. ``sending_paused``: read by the dispatcher before every batch.
    One per client (an operator's, for the clients they work for) and one for every client
    (``client`` empty: a superuser's)."""

    name = models.CharField(max_length=64)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE, related_name="switches",
                               help_text="Whose switch; empty: every client's.")
    on = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "client"], name="switch_one_per_client"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(client__isnull=True), name="switch_one_global"),
        ]

    def __str__(self) -> str:
        return f"{self.name}[{self.client_id or 'all'}]={'on' if self.on else 'off'}"


def language_choices():
    """The languages of the pages (``settings.LANGUAGES``): Korean and English."""
    return settings.LANGUAGES


def validate_time_zone(value: str) -> None:
    from zoneinfo import available_timezones

    if value and value not in available_timezones():
        raise ValidationError(_("%(zone)s is not a time zone name such as Asia/Seoul."), params={"zone": value},
                              code="invalid_time_zone")


class Preference(models.Model):
    """A person's language and time zone for the pages (``apps.core.middleware.PreferenceMiddleware``
    activates them for each of their requests). Empty language: the browser's (its
    Accept-Language); empty time zone: ``settings.TIME_ZONE`` (UTC)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(_("language"), max_length=8, blank=True, choices=language_choices,
                                help_text=_("Empty: the browser's language."))
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone],
                                 help_text=_("A name such as Asia/Seoul. Empty: UTC."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'} {self.time_zone or '-'}"
