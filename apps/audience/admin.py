from django.contrib import admin

from apps.audience.models import Subscriber


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["external_id", "client", "push_opt_in", "platform", "last_activity_at", "last_content_push_at", "push_sends", "push_clicks"]
    list_filter = ["client", "push_opt_in", "platform"]
    search_fields = ["external_id"]
    show_full_result_count = False
