from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone

from apps.core import services
from apps.core.models import ApiKey, Client, Decision, Membership, Policy, Preference


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["name", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # keys are made by `manage.py create_api_key`, which shows the secret once


class PolicyInline(admin.StackedInline):
    """The client's business rules, edited on the client's page; a change is logged (policy_set)."""

    model = Policy
    can_delete = False
    fieldsets = [
        ("Evaluation", {"fields": ["evaluation_delay", "content_lifetime", "candidate_threshold"]}),
        ("Who may be pushed", {"fields": ["cap_window", "inactive_days", "quiet_hours_start", "quiet_hours_end"]}),
        ("The ramp (copied into each campaign at launch)", {"fields": [
            "first_wave_size", "growth", "max_sends", "max_waves", "observation_window", "floor", "target", "alpha"]}),
        ("Measurement (copied into each campaign at launch)", {"fields": ["exploration_share", "holdout_share"]}),
    ]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "evaluation_delay", "cap_window", "floor", "target", "api_rate"]
    list_select_related = ["policy"]
    search_fields = ["slug", "name"]
    inlines = [PolicyInline, ApiKeyInline]

    @admin.display(description="evaluation delay")
    def evaluation_delay(self, obj):
        return obj.policy.evaluation_delay

    @admin.display(description="cap window")
    def cap_window(self, obj):
        return obj.policy.cap_window

    @admin.display(description="floor")
    def floor(self, obj):
        return obj.policy.floor

    @admin.display(description="target")
    def target(self, obj):
        return obj.policy.target

    def save_formset(self, request, form, formset, change):
        if formset.model is not Policy:
            return super().save_formset(request, form, formset, change)
        policy_form = formset.forms[0] if formset.forms else None
        if policy_form is None or policy_form.instance._state.adding:  # a new client: its policy as entered
            formset.save()
            Policy.objects.get_or_create(client=form.instance)
        else:  # through the service, which logs the change; the admin's history is told what changed
            changed = policy_form.changed_data if policy_form.has_changed() else []
            policy = services.policy_set(client=form.instance, user=request.user,
                                         **{name: policy_form.cleaned_data[name] for name in changed})
            formset.new_objects, formset.deleted_objects = [], []
            formset.changed_objects = [(policy, changed)] if changed else []


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client"]
    list_filter = ["client"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    """A person's language and time zone (each person also sets their own under "My settings")."""

    list_display = ["user", "language", "time_zone", "updated_at"]
    list_filter = ["language"]
    search_fields = ["user__username", "time_zone"]
    fields = ["user", "language", "time_zone"]

    def get_readonly_fields(self, request, obj=None):
        return ["user"] if obj else []

    def save_model(self, request, obj, form, change):
        saved = services.preference_set(user=obj.user, language=obj.language, time_zone=obj.time_zone)
        obj.pk, obj.updated_at = saved.pk, saved.updated_at


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["at", "client", "actor_name", "action", "subject"]
    list_filter = ["action", "actor_type", "client"]
    readonly_fields = [f.name for f in Decision._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Login throttling (django-axes; AXES_ENABLE_ADMIN is off so that these replace axes' own) ----

@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    """Failed logins per user name, address and browser. A row whose status is "Locked Out" and
    whose "locked until" is in the future refuses that user name from that address, even with
    the right password; "Unlock" clears it (and is logged as a decision)."""

    actions = ["unlock", "cleanup_expired_attempts"]
    list_display = ["attempt_time", "username", "ip_address", "failures_since_start", "status", "locked_until",
                    "user_agent", "path_info"]
    ordering = ["-attempt_time"]

    @admin.display(description="locked until")
    def locked_until(self, obj):
        if obj.failures_since_start < settings.AXES_FAILURE_LIMIT:
            return "-"
        until = obj.attempt_time + settings.AXES_COOLOFF_TIME
        return until if until > timezone.now() else "- (ended)"

    @admin.action(description="Unlock: forget the failed logins of the selected rows")
    def unlock(self, request, queryset):
        count = services.login_lockout_clear(attempts=queryset, user=request.user)
        self.message_user(request, f"Unlocked: cleared {count} row(s) of failed logins.", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        return False  # unlocking goes through the action, which logs who did it


class _ReadOnlyAudit:
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessFailureLog)
class LoginFailureAdmin(_ReadOnlyAudit, AccessFailureLogAdmin):
    """Every failed login (user name as typed, address, browser, page, whether it was locked out)."""

    ordering = ["-attempt_time"]


@admin.register(AccessLog)
class LoginAdmin(_ReadOnlyAudit, AccessLogAdmin):
    """Successful logins and their logouts."""

    ordering = ["-attempt_time"]
