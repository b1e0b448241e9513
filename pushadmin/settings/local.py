"""Development and the demo: the default of ``manage.py``, the Celery app and ``bin/demo``.

Everything from ``base``, plus:

- the demo and the simulated world's apps (``apps.demo``, ``apps.simulation``);
- a development secret when ``DJANGO_SECRET_KEY`` is unset (short and marked insecure, so
  ``production`` refuses it);
- static files served by WhiteNoise straight from their sources, without ``collectstatic``,
  whether ``DEBUG`` is on or off.

``DEBUG`` stays off unless ``DJANGO_DEBUG=true``.
"""

import os

DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-only"
# base requires DJANGO_SECRET_KEY and reads it when imported, so the fallback goes into the
# environment first (unset or empty counts as missing, as in pushadmin.env).
if not os.environ.get("DJANGO_SECRET_KEY", "").strip():
    os.environ["DJANGO_SECRET_KEY"] = DEVELOPMENT_SECRET_KEY

from .base import *  # noqa: E402,F401,F403
from .base import INSTALLED_APPS, STORAGES  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "apps.demo", "apps.simulation"]

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
