from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import health


@never_cache
@require_GET
def healthz(request):
    """Database, Redis, workers and beat. 200 when the database and Redis answer, else 503."""
    report = health.check()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def forbidden(request, exception=None):
    return render(request, "403.html", status=403)
