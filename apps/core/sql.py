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


def rows_update(model, names: list[str], rows) -> None:
    """``UPDATE`` the columns ``names`` of ``model``'s table, one prepared statement executed per
    row of ``rows`` (each the values in ``names``' order, then the primary key), in that order: a
    caller that sorts by key makes concurrent writers take row locks in one order. The values are
    prepared as the ORM saves them. Cheaper than ``bulk_update``, whose CASE branch per row and
    field costs more to build than the database takes to run."""
    fields = [model._meta.get_field(name) for name in names]
    ops = connection.ops
    sets = ", ".join(f"{ops.quote_name(f.column)} = %s" for f in fields)
    sql = f"UPDATE {ops.quote_name(model._meta.db_table)} SET {sets} WHERE {ops.quote_name(model._meta.pk.column)} = %s"
    with connection.cursor() as cur:
        cur.executemany(sql, [[f.get_db_prep_save(v, connection) for f, v in zip(fields, row[:-1])] + [row[-1]]
                              for row in rows])


def binary_cursor():
    """A psycopg cursor on Django's connection (PostgreSQL), whose ``%b`` parameters go to the
    server in binary: arrays of a wave's hundred thousand values, tens of megabytes of bytes."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def create_with_blob(model, field: str, data: bytes, **values):
    """``model.objects.create(**values)`` with the binary column ``field`` set to ``data``. On
    PostgreSQL the bytes go as a binary parameter of their own statement: Django sends bytes as
    hex text in the SQL, twice their size for the server to parse (a wave's pool of millions of
    people, tens of megabytes, took three times as long)."""
    if connection.vendor != "postgresql":
        return model.objects.create(**values, **{field: data})
    obj = model.objects.create(**values, **{field: b""})
    ops = connection.ops
    binary_cursor().execute(f"UPDATE {ops.quote_name(model._meta.db_table)} SET {ops.quote_name(model._meta.get_field(field).column)} = %b "
                f"WHERE {ops.quote_name(model._meta.pk.column)} = %b", [bytes(data), obj.pk])
    setattr(obj, field, data)
    return obj
