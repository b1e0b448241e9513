"""pytest (``DJANGO_SETTINGS_MODULE`` in ``pyproject.toml``).

Like ``local``: the demo and simulation apps are installed (the suite tests them) and static files need no
``collectstatic``. The secret is fixed, whatever the environment says, and the SQLite test
database sits beside the development one under ``PUSHADMIN_VAR_DIR``.
"""

import os

TEST_SECRET_KEY = "django-insecure-tests-only"
# base requires DJANGO_SECRET_KEY and reads it when imported.
if not os.environ.get("DJANGO_SECRET_KEY", "").strip():
    os.environ["DJANGO_SECRET_KEY"] = TEST_SECRET_KEY

from .base import *  # noqa: E402,F401,F403
from .base import DATABASES, INSTALLED_APPS, STORAGES, VAR_DIR  # noqa: E402

SECRET_KEY = TEST_SECRET_KEY

INSTALLED_APPS = [*INSTALLED_APPS, "apps.demo", "apps.simulation"]

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test-pushadmin.sqlite3")
