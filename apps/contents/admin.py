from django.contrib import admin

from apps.contents import services
from apps.contents.models import AutoApprovePolicy, Content, TitleTemplate, TitleVariant


class TitleVariantInline(admin.TabularInline):
    model = TitleVariant
    fields = ["text", "source", "template_name", "review", "reviewed_by", "sends", "clicks"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    list_display = ["external_id", "client", "title", "status", "push_score", "created_at", "expires_at"]
    list_filter = ["client", "status", "category"]
    search_fields = ["external_id", "title"]
    readonly_fields = ["status", "text_hash", "evaluate_at", "evaluated_at", "push_score", "score_model_version", "score_reasons"]
    inlines = [TitleVariantInline]
    show_full_result_count = False


@admin.register(TitleTemplate)
class TitleTemplateAdmin(admin.ModelAdmin):
    """The push-title template library: slots {keyphrase}, {keyphrase2}, {category}, {title}."""

    list_display = ["name", "language", "pattern", "priority", "is_active", "updated_at"]
    list_editable = ["priority", "is_active"]
    list_filter = ["language", "is_active"]
    search_fields = ["name", "pattern"]
    ordering = ["language", "priority", "name"]

    def save_model(self, request, obj, form, change):
        services.title_template_save(template=obj)


@admin.register(AutoApprovePolicy)
class AutoApprovePolicyAdmin(admin.ModelAdmin):
    list_display = ["client", "enabled", "min_score", "categories", "updated_at", "updated_by"]
    list_filter = ["enabled"]
    fields = ["client", "enabled", "min_score", "categories"]

    def save_model(self, request, obj, form, change):
        saved = services.auto_approve_policy_set(client=obj.client, enabled=obj.enabled, min_score=obj.min_score,
                                                 categories=obj.categories or [], user=request.user)
        obj.pk = saved.pk
