from django.contrib import admin

from apps.delivery.models import Send


@admin.register(Send)
class SendAdmin(admin.ModelAdmin):
    list_display = ["pk", "campaign", "wave", "subscriber", "state", "provider", "sent_at", "clicked_at"]
    list_filter = ["state", "provider"]
    raw_id_fields = ["campaign", "wave", "subscriber", "title_variant"]
    show_full_result_count = False
