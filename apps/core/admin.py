from django.contrib import admin

from apps.core.models import ApiKey, Client, Decision, Membership


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["name", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # keys are made by `manage.py create_api_key`, which shows the secret once


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "evaluation_delay", "content_lifetime", "candidate_threshold", "api_rate"]
    search_fields = ["slug", "name"]
    inlines = [ApiKeyInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client"]
    list_filter = ["client"]


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
