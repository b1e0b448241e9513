from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import health
from apps.core.errors import error_body


@never_cache
@require_GET
def healthz(request):
    """Database, Redis, workers and beat. 200 when the database and Redis answer, else 503."""
    report = health.check()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def forbidden(request, exception=None):
    return render(request, "403.html", status=403)


def not_found(request, exception=None):
    """Under ``/api/`` a path that names nothing (an id outside the documented pattern, say) is the
    API's JSON error like any other 404; elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(404, [{"field": None, "code": "not_found", "message": "No such resource."}]),
                            status=404)
    return defaults.page_not_found(request, exception)
