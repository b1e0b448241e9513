"""Small pieces of SQL the apps write by hand, one per database the project runs on."""

from __future__ import annotations

from django.db import connection


def epoch_sql(column: str, vendor: str | None = None) -> str:
    """``column`` (a datetime) as float seconds since 1970, computed by the database: PostgreSQL's
    ``EXTRACT(EPOCH ...)``, SQLite's Julian day (fractions of a second kept). Contains no ``%``,
    so it can sit in SQL run with parameters."""
    vendor = vendor or connection.vendor
    if vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})::float8"
    if vendor == "sqlite":
        return f"((julianday({column}) - 2440587.5) * 86400.0)"
    raise NotImplementedError(f"epoch_sql on {vendor}")
