from django.contrib import admin

from apps.mlops.models import ModelVersion, TrainingRun


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["kind", "version", "is_active", "created_at", "activated_at"]
    list_filter = ["kind", "is_active"]


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "state", "progress", "created_at", "finished_at"]
    list_filter = ["kind", "state"]
