from django.contrib import admin

from apps.events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "client", "type", "subscriber", "content", "send", "occurred_at"]
    list_filter = ["type", "client"]
    raw_id_fields = ["subscriber", "content", "send"]
    show_full_result_count = False
