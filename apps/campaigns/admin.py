from django.contrib import admin

from apps.campaigns.models import Campaign, Wave


class WaveInline(admin.TabularInline):
    model = Wave
    fields = ["number", "state", "planned_size", "sends", "clicks", "expected_clicks", "decision", "decided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["pk", "content", "client", "state", "sends", "clicks", "expected_clicks", "created_at"]
    list_filter = ["client", "state"]
    readonly_fields = ["sends", "clicks", "expected_clicks"]
    inlines = [WaveInline]
