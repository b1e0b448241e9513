"""The project's URLs plus one view that fails, for the error-page tests (tests/core/test_settings.py)."""

from django.urls import path

from pushadmin.urls import urlpatterns as project_urlpatterns


def fail(request):
    raise RuntimeError("secret-internal-detail")


urlpatterns = [path("fail/", fail), *project_urlpatterns]
