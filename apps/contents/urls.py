"""Editors' pages: the queue, the content page and its actions (POST only, CSRF-protected). Launching
a content starts its campaign, which is the engine's: ``apps.orchestration.views.content_launch``."""

from django.urls import path

from apps.contents import views

app_name = "contents"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("policy/<int:client_id>/", views.policy_set, name="policy_set"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/variants/add/", views.variant_add, name="variant_add"),
    path("<int:pk>/variants/<int:vid>/edit/", views.variant_edit, name="variant_edit"),
    path("<int:pk>/variants/<int:vid>/approve/", views.variant_approve, name="variant_approve"),
    path("<int:pk>/variants/<int:vid>/reject/", views.variant_reject, name="variant_reject"),
]
