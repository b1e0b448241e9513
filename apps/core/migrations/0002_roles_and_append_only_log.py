from django.db import migrations

ROLES = ("editor", "operator", "admin")

TRIGGER = """
CREATE OR REPLACE FUNCTION core_decision_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the decision log is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_decision_append_only BEFORE UPDATE OR DELETE ON core_decision
  FOR EACH ROW EXECUTE FUNCTION core_decision_append_only();
"""
DROP = "DROP TRIGGER IF EXISTS core_decision_append_only ON core_decision; DROP FUNCTION IF EXISTS core_decision_append_only();"


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def append_only(apps, schema_editor):
    # On PostgreSQL the database itself refuses to change or delete a logged decision.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(append_only, drop_append_only),
    ]
