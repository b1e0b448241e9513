"""Events partitioned by month on PostgreSQL; the unique key of a repeat holds ``occurred_at``.

The constraint ``UNIQUE(client, event_id)`` becomes ``UNIQUE(client, event_id, occurred_at)`` on
both databases (a unique index of a partitioned table must hold the partition key; what remains
guaranteed about repeats: ``apps.events.models.Event``).

SQLite keeps one table: only the constraint changes.

PostgreSQL: the table is rebuilt, in this migration's transaction and under an exclusive lock,
as one partitioned by range of ``occurred_at``, one partition per calendar month in UTC named
``events_event_yYYYYmMM`` (as ``apps.events.partitions`` names them; written out here so that
this migration stays what it was): partitions for every month an event occurred in and for
every month of the retention window up to the next one; the rows copied with their ids; the
sequence going on from where it was (ids keep increasing); the primary key ``(id,
occurred_at)``; then the table's other indexes, checks and foreign keys recreated as they were
(read from the catalog, names included); the old table dropped. Migrating back rebuilds one
table with ``UNIQUE(client, event_id)``, which fails, naming the key, if an event_id was stored
twice with two ``occurred_at``.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.migrations.operations.base import Operation

TABLE = "events_event"
OLD = "events_event_rebuilt"  # the table being replaced, while the new one is filled
COLUMNS = "id, event_id, type, occurred_at, received_at, client_id, content_id, send_id, subscriber_id"
BY_EVENT_ID = models.UniqueConstraint(fields=("client", "event_id"), name="event_client_event_id")
BY_EVENT_ID_AT = models.UniqueConstraint(fields=("client", "event_id", "occurred_at"), name="event_client_event_id_at")


class NotOnPostgreSQL(Operation):
    """``operations`` applied to the state on every database, and to the database itself on all
    but PostgreSQL (where the rebuild below makes the table as they describe it). On SQLite,
    where changing a constraint remakes the table, the ids' counter (``sqlite_sequence``) is
    carried over: the remade table would start again after the largest id left, and give a
    deleted event's id to a new one."""

    reversible = True

    def __init__(self, operations):
        self.operations = operations

    def state_forwards(self, app_label, state):
        for operation in self.operations:
            operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return
        counter = _sqlite_counter(schema_editor.connection)
        for operation in self.operations:
            to_state = from_state.clone()
            operation.state_forwards(app_label, to_state)
            operation.database_forwards(app_label, schema_editor, from_state, to_state)
            from_state = to_state
        _sqlite_counter_keep(schema_editor.connection, counter)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return
        counter = _sqlite_counter(schema_editor.connection)
        states = []
        for operation in self.operations:
            states.append(to_state)
            to_state = to_state.clone()
            operation.state_forwards(app_label, to_state)
        for operation, before in zip(reversed(self.operations), reversed(states)):
            operation.database_backwards(app_label, schema_editor, to_state, before)
            to_state = before
        _sqlite_counter_keep(schema_editor.connection, counter)

    def describe(self):
        return "; ".join(operation.describe() for operation in self.operations) + " (the table itself: not on PostgreSQL)"


def _sqlite_counter(connection):
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [TABLE])
        got = cur.fetchone()
    return got[0] if got else None


def _sqlite_counter_keep(connection, counter):
    if counter is None:
        return
    with connection.cursor() as cur:
        cur.execute("UPDATE sqlite_sequence SET seq = MAX(seq, %s) WHERE name = %s", [counter, TABLE])
        if not cur.rowcount:
            cur.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [TABLE, counter])


def _month_after(month):
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def _bound(at):
    return at.strftime("%Y-%m-%d %H:%M:%S+00")


def _rebuild(cur, *, partitioned: bool):
    """``events_event`` rebuilt, partitioned by month or as one table, rows and ids kept."""
    cur.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    # What the table has besides its keys, to be made again as it is: plain indexes (any index
    # that backs no constraint) and the CHECK and FOREIGN KEY constraints.
    cur.execute("SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
                "AND c.conrelid = i.indrelid WHERE i.indrelid = %s::regclass AND c.oid IS NULL ORDER BY 1", [TABLE])
    indexes = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype IN ('c', 'f') ORDER BY contype, conname", [TABLE])
    constraints = cur.fetchall()
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    sequence = cur.fetchone()[0]
    cur.execute(f"SELECT last_value, is_called FROM {sequence}")
    last_value, is_called = cur.fetchone()
    cur.execute(f"SELECT MAX(id) FROM {TABLE}")
    max_id = cur.fetchone()[0]

    cur.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    cur.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
                [OLD])
    for (name,) in cur.fetchall():  # index names are the schema's: the new table's are the same
        cur.execute(f'ALTER INDEX "{name}" RENAME TO "{("rebuilt_" + name)[:63]}"')
    cur.execute(f"ALTER SEQUENCE {sequence} RENAME TO {OLD}_id_seq")

    cur.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY)"
                + (" PARTITION BY RANGE (occurred_at)" if partitioned else ""))
    if partitioned:
        cur.execute(f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM {OLD}")
        months = {at.replace(tzinfo=UTC) for (at,) in cur.fetchall()}
        now = datetime.now(UTC)
        month = (now - timedelta(days=settings.PUSHADMIN.get("EVENT_RETENTION_DAYS", 365))).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0)
        while month <= _month_after(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)):
            months.add(month)
            month = _month_after(month)
        for month in sorted(months):
            cur.execute(f"CREATE TABLE {TABLE}_y{month.year:04d}m{month.month:02d} PARTITION OF {TABLE} "
                        f"FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(_month_after(month))}')")
    cur.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD}")
    if partitioned:
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, occurred_at)")
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {BY_EVENT_ID_AT.name} UNIQUE (client_id, event_id, occurred_at)")
    else:
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {BY_EVENT_ID.name} UNIQUE (client_id, event_id)")
    for sql in indexes:
        cur.execute(sql)
    for name, definition in constraints:
        cur.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    cur.execute(f"DROP TABLE {OLD}")
    cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)",
                [TABLE, max(last_value, max_id or 0), bool(is_called or max_id)])
    cur.execute(f"ANALYZE {TABLE}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cur:
            _rebuild(cur, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cur:
            _rebuild(cur, partitioned=False)


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0001_initial"),
    ]

    operations = [
        NotOnPostgreSQL([
            migrations.RemoveConstraint(model_name="event", name=BY_EVENT_ID.name),
            migrations.AddConstraint(model_name="event", constraint=BY_EVENT_ID_AT),
        ]),
        migrations.RunPython(partition, unpartition),
    ]
