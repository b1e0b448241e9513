"""Editors' pages (filled in by the editorial workflow)."""

from django.urls import path  # noqa: F401

app_name = "contents"
urlpatterns: list = []
