"""Helpers for tests that start other processes (Celery workers) on the test database."""

from django.db import connection


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that points another process at the database of the running test."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
