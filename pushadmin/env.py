"""Reading settings from the environment, with errors that name the variable.

A missing or malformed variable stops start-up with ``ImproperlyConfigured`` saying which
variable is wrong and what was expected, instead of a failure somewhere later.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MISSING = object()


def _raw(name: str, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return None
    return value.strip()


def env_str(name: str, default=_MISSING) -> str:
    value = _raw(name, default)
    return default if value is None else value


def env_bool(name: str, default=_MISSING) -> bool:
    value = _raw(name, default)
    if value is None:
        return default
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ImproperlyConfigured(f"Environment variable {name} must be true or false (1/0, yes/no, on/off), got {value!r}.")


def env_int(name: str, default=_MISSING, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"Environment variable {name} must be an integer, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"Environment variable {name} must be at least {minimum}, got {number}.")
    return number


def env_list(name: str, default=_MISSING) -> list[str]:
    value = _raw(name, default)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_duration(name: str, default=_MISSING) -> timedelta:
    """A duration like ``30m``, ``4h``, ``90s``, ``1d`` or plain seconds."""
    value = _raw(name, default)
    if value is None:
        return default
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.lower()
    try:
        if text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text)
    except (ValueError, IndexError):
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a duration such as 30m, 4h, 90s or a number of seconds, got {value!r}."
        ) from None
    if seconds < 0:
        raise ImproperlyConfigured(f"Environment variable {name} must not be negative, got {value!r}.")
    return timedelta(seconds=seconds)


def env_url(name: str, default=_MISSING, *, schemes: tuple[str, ...]) -> str | None:
    from urllib.parse import urlsplit

    value = _raw(name, default)
    if value is None:
        return default
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a URL with scheme {' or '.join(schemes)}, got {value!r}."
        )
    return value
