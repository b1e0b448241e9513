"""Settings per environment, from the environment: safe defaults (DEBUG off, a required secret),
what each module installs, clear errors for bad variables; production passes check --deploy.

Each case runs in its own process: settings are read once per process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "pushadmin.settings.production",
    "DJANGO_SECRET_KEY": "k8#Qz!v2Lm9@xT4pR7&wY1nB5cJ0hF3gD6sA8eU2iO4yK7tZ9qW",
    "DJANGO_ALLOWED_HOSTS": "push.example.com",
}


def _env(env_extra, drop):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.pop("DATABASE_URL", None)
    env.setdefault("DJANGO_SETTINGS_MODULE", TEST_SETTINGS)
    env.update(env_extra or {})
    if "DJANGO_SETTINGS_MODULE" in drop:
        env.pop("DJANGO_SETTINGS_MODULE")
    return env


def manage(*args, env_extra=None, drop=()):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(env_extra, drop),
                          capture_output=True, text=True, timeout=120)


def python(code, *, env_extra=None, drop=()):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(env_extra, drop),
                          capture_output=True, text=True, timeout=120)


def setting(module, expression, *, env_extra=None, drop=()):
    """The value of ``expression`` (on ``settings``) under settings ``module``, as printed."""
    r = python(f"from django.conf import settings; print({expression})",
               env_extra={**(env_extra or {}), "DJANGO_SETTINGS_MODULE": module}, drop=drop)
    assert r.returncode == 0, r.stderr[-1500:]
    return r.stdout.strip()


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("DJANGO_DEBUG", "maybe", "true or false"),
        ("DATABASE_URL", "mysql//nope", "scheme"),
        ("REDIS_URL", "localhost:6379", "scheme"),
        ("CELERY_VISIBILITY_TIMEOUT", "soon", "integer"),
        ("CELERY_VISIBILITY_TIMEOUT", "5", "at least 60"),
        ("PUSHADMIN_EVALUATION_DELAY", "half an hour", "duration"),
        ("PUSHADMIN_FCM_BASE_URL", "http://fcm.googleapis.com", "scheme https"),
        ("PUSHADMIN_LOGIN_FAILURE_LIMIT", "0", "at least 1"),
        ("PUSHADMIN_LOGIN_LOCKOUT", "0", "at least 1s"),
        ("PUSHADMIN_LOGIN_LOCKOUT", "a while", "duration"),
        ("PUSHADMIN_TRUSTED_PROXIES", "-1", "at least 0"),
        ("PUSHADMIN_PUSH_SEND_BACKOFF", "soon", "integer"),
        ("PUSHADMIN_PUSH_COOLDOWN", "0", "at least 1"),
        ("PUSHADMIN_EVENT_RETENTION_DAYS", "a year", "integer"),
        # shorter than the matrix factorization's 180 days of events (the system check pushadmin.E001)
        ("PUSHADMIN_EVENT_RETENTION_DAYS", "179", "at least 180 days"),
    ],
)
def test_malformed_variable_stops_startup_naming_it(name, value, words):
    r = manage("check", env_extra={name: value})
    assert r.returncode != 0
    assert name in r.stderr and words in r.stderr, r.stderr[-500:]


@pytest.mark.parametrize("module", ["pushadmin.settings.base", "pushadmin.settings.local", "pushadmin.settings.production"])
def test_debug_is_off_unless_asked(module):
    env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": module}
    assert setting(module, "settings.DEBUG", env_extra=env, drop=("DJANGO_DEBUG",)) == "False"
    assert setting(module, "settings.DEBUG", env_extra={**env, "DJANGO_DEBUG": "true"}) == "True"


def test_base_requires_the_secret_key():
    r = python("from django.conf import settings; settings.SECRET_KEY",
               env_extra={"DJANGO_SETTINGS_MODULE": "pushadmin.settings.base"}, drop=("DJANGO_SECRET_KEY",))
    assert r.returncode != 0 and "DJANGO_SECRET_KEY" in r.stderr and "required" in r.stderr, r.stderr[-500:]


def test_local_falls_back_to_a_development_secret_that_production_refuses():
    key = setting("pushadmin.settings.local", "settings.SECRET_KEY", drop=("DJANGO_SECRET_KEY",))
    assert key.startswith("django-insecure-")
    assert setting("pushadmin.settings.local", "settings.SECRET_KEY", env_extra={"DJANGO_SECRET_KEY": "mine"}) == "mine"
    r = manage("check", env_extra={**PRODUCTION_ENV, "DJANGO_SECRET_KEY": key})
    assert r.returncode != 0 and "DJANGO_SECRET_KEY" in r.stderr and "50 random characters" in r.stderr


def test_each_environment_installs_its_apps():
    def apps(module):
        return set(setting(module, "' '.join(settings.INSTALLED_APPS)", env_extra=PRODUCTION_ENV).split())

    production, local, test = (apps(f"pushadmin.settings.{m}") for m in ("production", "local", "test"))
    assert "apps.core" in production
    assert not production & {"apps.demo", "apps.simulation"}
    assert {"apps.demo", "apps.simulation"} <= local
    assert {"apps.demo", "apps.simulation"} <= test


def test_local_serves_static_files_without_collectstatic_with_debug_off(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings; from django.test import Client\n"
        "assert not settings.DEBUG\n"
        "web = Client()\n"
        "page = web.get('/login/')\n"
        "assert page.status_code == 200 and b'/static/pushadmin.css' in page.content, page.status_code\n"
        "css = web.get('/static/pushadmin.css')\n"
        "assert css.status_code == 200 and b''.join(css.streaming_content), css.status_code\n"
        "print('ok')\n"
    )
    r = python(code, env_extra={"DJANGO_SETTINGS_MODULE": "pushadmin.settings.local", "PUSHADMIN_VAR_DIR": str(tmp_path)},
               drop=("DJANGO_DEBUG",))
    assert r.stdout.strip() == "ok", r.stderr[-1500:]


ERROR_PAGES = (
    "import django; django.setup()\n"
    "from django.conf import settings; from django.test import Client, override_settings\n"
    "with override_settings(ROOT_URLCONF='tests.core.failing_urls'):\n"
    "    web = Client(raise_request_exception=False)\n"
    "    missing, failed = web.get('/no-such-page/'), web.get('/fail/')\n"
    "print(settings.DEBUG, missing.status_code, failed.status_code)\n"
    "print(missing.content.decode() + failed.content.decode())\n"
)


def test_base_settings_serve_no_debug_page_unless_asked(tmp_path):
    """With base settings and no DJANGO_DEBUG, a missing page and a failing view answer plain
    error pages: no URL patterns, no traceback, no settings. DJANGO_DEBUG=true shows the debug pages."""
    env = {"DJANGO_SETTINGS_MODULE": "pushadmin.settings.base", "DJANGO_SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"],
           "PUSHADMIN_VAR_DIR": str(tmp_path)}
    plain = python(ERROR_PAGES, env_extra=env, drop=("DJANGO_DEBUG",))
    debug = python(ERROR_PAGES, env_extra={**env, "DJANGO_DEBUG": "true"})

    assert plain.stdout.splitlines()[0] == "False 404 500", plain.stderr[-1500:]
    assert debug.stdout.splitlines()[0] == "True 404 500", debug.stderr[-1500:]
    for tell in ("Traceback", "secret-internal-detail", "pushadmin.urls", "DEBUG = True", "SECRET_KEY"):
        assert tell not in plain.stdout, tell
    assert "Server Error (500)" in plain.stdout and "Not Found" in plain.stdout
    assert "secret-internal-detail" in debug.stdout and "DEBUG = True" in debug.stdout  # the pages the test guards against


@pytest.mark.parametrize("hosts, shown", [("*", "*"), ("push.example.com,*", "push.example.com, *"),
                                          ("*.example.com", "*.example.com"), (" , ", "no host")])
def test_production_refuses_wildcard_or_empty_allowed_hosts(hosts, shown):
    r = manage("check", env_extra={**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": hosts})
    assert r.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must list the site's host names" in r.stderr and f"got {shown}." in r.stderr, r.stderr[-500:]


def test_production_accepts_host_names_and_subdomain_patterns():
    hosts = setting("pushadmin.settings.production", "settings.ALLOWED_HOSTS",
                    env_extra={**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": "push.example.com, .example.org"})
    assert hosts == "['push.example.com', '.example.org']"


def test_production_requires_secret_key():
    r = manage("check", env_extra={"DJANGO_SETTINGS_MODULE": "pushadmin.settings.production", "DJANGO_ALLOWED_HOSTS": "x"},
               drop=("DJANGO_SECRET_KEY",))
    assert r.returncode != 0 and "DJANGO_SECRET_KEY" in r.stderr and "required" in r.stderr


def test_production_passes_check_deploy():
    r = manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION_ENV)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "no issues" in r.stdout


def test_entry_points_default_to_their_environment():
    """manage.py and the Celery app default to local, the WSGI application to production."""
    show = "from django.conf import settings; print(settings.SETTINGS_MODULE)"
    r = manage("shell", "--no-imports", "-c", show, env_extra=PRODUCTION_ENV, drop=("DJANGO_SETTINGS_MODULE",))
    assert r.stdout.strip() == "pushadmin.settings.local", r.stderr[-1500:]
    for module, expected in (("pushadmin.celery", "local"), ("pushadmin.wsgi", "production")):
        r = python(f"import {module}; {show}", env_extra=PRODUCTION_ENV, drop=("DJANGO_SETTINGS_MODULE",))
        assert r.stdout.strip() == f"pushadmin.settings.{expected}", r.stderr[-1500:]


def test_database_url_selects_postgresql():
    expression = "settings.DATABASES['default']['ENGINE']"
    assert setting(TEST_SETTINGS, expression, env_extra={"DATABASE_URL": "postgres://u:p@127.0.0.1:5999/x"}) == \
        "django.db.backends.postgresql"
    # A kept connection is checked before reuse: a request after a database restart reconnects.
    kept = "(settings.DATABASES['default']['CONN_MAX_AGE'], settings.DATABASES['default']['CONN_HEALTH_CHECKS'])"
    assert setting(TEST_SETTINGS, kept, env_extra={"DATABASE_URL": "postgres://u:p@127.0.0.1:5999/x"}) == "(60, True)"
    assert setting(TEST_SETTINGS, expression) == "django.db.backends.sqlite3"
