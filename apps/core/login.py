"""Login throttling with django-axes: the client address it counts by, and the page a locked-out
login gets. Configured in ``pushadmin.settings.base`` ("Login throttling"); see docs/security.md.

Failed logins are counted per user name and client address, whether the user name exists or
not, so the lockout says nothing about which accounts exist.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils.translation import ngettext

LOCKED_STATUS = 429  # Too Many Requests


def client_ip(request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or with ``PUSHADMIN_TRUSTED_PROXIES`` = N > 0 the
    N-th address from the right of ``X-Forwarded-For`` (the one the outermost of our proxies
    saw; what the client wrote further left is ignored). ``REMOTE_ADDR`` when the header is
    shorter than N or that entry is not an address."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.PUSHADMIN["TRUSTED_PROXIES"]
    if not proxies:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:
        return remote


def duration_text(delta: timedelta) -> str:
    """``30 minutes``, ``1 hour``, ``90 seconds`` (in the active language)."""
    seconds = int(delta.total_seconds())
    units = (
        (86400, lambda n: ngettext("%(count)d day", "%(count)d days", n)),
        (3600, lambda n: ngettext("%(count)d hour", "%(count)d hours", n)),
        (60, lambda n: ngettext("%(count)d minute", "%(count)d minutes", n)),
    )
    for size, words in units:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return words(count) % {"count": count}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, status 429, saying that logging in is locked and for how long.
    Used by both login pages (ours and the admin site's): the form posts back to where it came from."""
    return render(request, "login.html", {
        "form": AuthenticationForm(request),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "locked_for": duration_text(settings.AXES_COOLOFF_TIME),
    }, status=LOCKED_STATUS)
