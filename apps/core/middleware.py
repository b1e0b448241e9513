"""Each request in its person's language and time zone.

After ``LocaleMiddleware`` (which chose from the switch's cookie, the browser's Accept-Language or
``LANGUAGE_CODE``) and ``AuthenticationMiddleware``: a logged-in person's ``Preference`` wins
where it says something. The time zone is activated for every request (the person's, else
``settings.TIME_ZONE``) and deactivated after it, so nothing carries over between requests.
The API (``/api/``) answers in English whatever the request says: its clients are machines and
its errors carry stable codes.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils import timezone, translation

from apps.core.selectors import preference_values

API_PREFIX = "/api/"


class PreferenceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            timezone.deactivate()
            return self.get_response(request)
        language, zone = "", ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language, zone = preference_values(user.pk)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone)) if zone else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()  # a name the system no longer knows: UTC rather than a 500
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
