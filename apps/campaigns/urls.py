"""Campaign pages for operators and editors (read-only for editors)."""

from django.urls import path  # noqa: F401

app_name = "campaigns"
urlpatterns: list = []
