"""Settings from the environment: clear errors for bad variables; production passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, env_extra=None, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.pop("DATABASE_URL", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("DJANGO_DEBUG", "maybe", "true or false"),
        ("DATABASE_URL", "mysql//nope", "scheme"),
        ("REDIS_URL", "localhost:6379", "scheme"),
        ("CELERY_VISIBILITY_TIMEOUT", "soon", "integer"),
        ("CELERY_VISIBILITY_TIMEOUT", "5", "at least 60"),
        ("PUSHADMIN_EVALUATION_DELAY", "half an hour", "duration"),
    ],
)
def test_malformed_variable_stops_startup_naming_it(name, value, words):
    r = manage("check", env_extra={name: value})
    assert r.returncode != 0
    assert name in r.stderr and words in r.stderr, r.stderr[-500:]


def test_production_requires_secret_key():
    r = manage("check", env_extra={"DJANGO_SETTINGS_MODULE": "pushadmin.settings.production", "DJANGO_ALLOWED_HOSTS": "x"},
               drop=("DJANGO_SECRET_KEY",))
    assert r.returncode != 0 and "DJANGO_SECRET_KEY" in r.stderr and "required" in r.stderr


def test_production_passes_check_deploy():
    r = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_extra={
            "DJANGO_SETTINGS_MODULE": "pushadmin.settings.production",
            "DJANGO_SECRET_KEY": "k8#Qz!v2Lm9@xT4pR7&wY1nB5cJ0hF3gD6sA8eU2iO4yK7tZ9qW",
            "DJANGO_ALLOWED_HOSTS": "push.example.com",
        },
    )
    assert r.returncode == 0, r.stderr[-1500:]
    assert "no issues" in r.stdout


def test_database_url_selects_postgresql(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    env = {**os.environ, "DATABASE_URL": "postgres://u:p@127.0.0.1:5999/x", "DJANGO_SETTINGS_MODULE": "pushadmin.settings"}
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "django.db.backends.postgresql", out.stderr
    env.pop("DATABASE_URL")
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "django.db.backends.sqlite3", out.stderr
