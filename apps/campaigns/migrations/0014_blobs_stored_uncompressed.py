"""PostgreSQL: the planning's numpy blobs (a wave's window, its kept pool and features) are
stored out of line without PostgreSQL's own compression. They are compressed already (zlib, in
``npz_bytes``), so pglz's attempt on each (tens of megabytes for a pool of millions) only cost
time. Nothing to do on other databases."""

from django.db import migrations

COLUMNS = [("campaigns_wave", "window"), ("campaigns_wavepool", "arrays"), ("campaigns_wavefeatures", "arrays")]


def storage(value):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        quote = schema_editor.quote_name
        for table, column in COLUMNS:
            schema_editor.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET STORAGE {value}")
    return run


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0013_segment_help")]

    operations = [migrations.RunPython(storage("EXTERNAL"), storage("EXTENDED"))]
