from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core import health
from apps.core.errors import error_body
from apps.core.forms import PreferenceForm
from apps.core.selectors import preference_of
from apps.core.services import preference_set


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


@require_POST
def language_set(request):
    """The header's language switch: Django's ``set_language`` (a cookie, then back to ``next``),
    and for a logged-in person their preference too, so that it follows them to other browsers."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        preference_set(user=request.user, language=language)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """My settings: the language and time zone of my pages."""
    preference = preference_of(request.user)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            language, time_zone = form.cleaned_data["language"], form.cleaned_data["time_zone"]
            preference_set(user=request.user, language=language, time_zone=time_zone)
            translation.activate(language or translation.get_language_from_request(request))
            messages.success(request, _("Your settings are saved."))
            response = HttpResponseRedirect(reverse("preferences"))
            # The switch's cookie says the same (the login page too, after logging out), or
            # nothing when the browser's language is to decide.
            if language:
                response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
                                    samesite=settings.LANGUAGE_COOKIE_SAMESITE, secure=settings.LANGUAGE_COOKIE_SECURE,
                                    httponly=settings.LANGUAGE_COOKIE_HTTPONLY, path=settings.LANGUAGE_COOKIE_PATH)
            else:
                response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH)
            return response
    else:
        form = PreferenceForm(initial={"language": preference.language, "time_zone": preference.time_zone})
    return render(request, "preferences.html", {"form": form, "preference": preference})
