"""Operators' pages (and the campaign pages, read-only for editors). Actions are POST only, CSRF-protected."""

from django.urls import path

from apps.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign, name="campaign"),
    path("campaigns/<int:pk>/stop/", views.campaign_stop, name="campaign_stop"),
    path("contents/", views.contents, name="contents"),
    path("contents.csv", views.contents_csv, name="contents_csv"),
    path("contents/<int:content_pk>/results/", views.content_results, name="content_results"),
    path("results/recent/", views.recent_results, name="recent_results"),
    path("models/", views.models, name="models"),
    path("models/runs/", views.training_runs, name="training_runs"),
    path("models/retrain/", views.model_retrain, name="model_retrain"),
    path("models/versions/<int:pk>/activate/", views.model_activate, name="model_activate"),
    path("models/versions/<int:pk>/unpin/", views.model_unpin, name="model_unpin"),
    path("system/", views.system, name="system"),
    path("settings/", views.client_settings, name="client_settings_first"),
    path("settings/<int:client_id>/", views.client_settings, name="client_settings"),
    path("system/pause/", views.sending_pause, name="sending_pause"),
]
