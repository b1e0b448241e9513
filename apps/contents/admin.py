from django.contrib import admin

from apps.contents.models import Content, TitleVariant


class TitleVariantInline(admin.TabularInline):
    model = TitleVariant
    fields = ["text", "source", "review", "sends", "clicks"]
    extra = 0


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    list_display = ["external_id", "client", "title", "status", "push_score", "created_at", "expires_at"]
    list_filter = ["client", "status", "category"]
    search_fields = ["external_id", "title"]
    readonly_fields = ["status", "text_hash", "evaluate_at", "evaluated_at", "push_score", "score_model_version", "score_reasons"]
    inlines = [TitleVariantInline]
    show_full_result_count = False
