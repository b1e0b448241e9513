"""The person's own settings: language and time zone."""

from __future__ import annotations

from functools import lru_cache

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    from zoneinfo import available_timezones

    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))))


def time_zone_choices():
    # Seoul first: the time zone of the newsroom the product serves first.
    return [("", _("UTC (the default)")), ("Asia/Seoul", "Asia/Seoul"),
            *((z, z) for z in _zone_names() if z != "Asia/Seoul")]


def language_choices():
    return [("", _("The browser's language")), *settings.LANGUAGES]


class PreferenceForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), required=False, choices=language_choices)
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False, choices=time_zone_choices,
                                  help_text=_("Dates and times on every page are shown on this clock."))
