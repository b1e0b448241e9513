from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import health
from apps.core.permissions import Action, require, roles_of, visible_clients
from apps.core.selectors import client_overview


@require(Action.VIEW_CONTENTS)
def home(request):
    clients = visible_clients(request.user)
    return render(request, "home.html", {
        "roles": sorted(r.value for r in roles_of(request.user)),
        "clients": client_overview(clients=clients),
    })


@never_cache
@require_GET
def healthz(request):
    """Database, Redis, workers and beat. 200 when the database and Redis answer, else 503."""
    report = health.check()
    return JsonResponse(report, status=200 if report["ok"] else 503)


def forbidden(request, exception=None):
    return render(request, "403.html", status=403)
