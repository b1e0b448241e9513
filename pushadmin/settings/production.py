"""Production settings: everything from ``base`` plus the deployment hardening.

Passes ``manage.py check --deploy --fail-level WARNING``. ``DJANGO_SECRET_KEY`` (50+ random
characters, not the development or test key) and ``DJANGO_ALLOWED_HOSTS`` (the site's host names:
no ``*``, not empty) are required here; there is no fallback. ``DEBUG`` is off unless
``DJANGO_DEBUG`` says otherwise (as in ``base``). Neither the demo nor the simulated world is
installed. Static files are served from ``collectstatic``'s output, with hashed names.
"""

from django.core.exceptions import ImproperlyConfigured

from pushadmin.env import env_bool, env_int, env_list

from .base import *  # noqa: F401,F403
from .base import SECRET_KEY, STORAGES

if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured("Environment variable DJANGO_SECRET_KEY must be at least 50 random characters (not a development or test key).")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS or any("*" in host for host in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        "Environment variable DJANGO_ALLOWED_HOSTS must list the site's host names, e.g. push.example.com "
        "(.example.com for it and its subdomains); a wildcard '*' would accept any Host header, got "
        f"{', '.join(ALLOWED_HOSTS) or 'no host'}."
    )

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
