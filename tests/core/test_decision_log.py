import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from apps.core.models import Decision
from apps.core.services import decision_record


@pytest.mark.django_db
def test_decisions_are_append_only(client_a, people):
    d = decision_record(client=client_a, action="title_approve", actor_user=people["editor"], subject="title_variant:1",
                        before={"review": "pending"}, after={"review": "approved"}, numbers={"score": 2.7})
    assert (d.actor_type, d.actor_name) == ("user", "ed")
    d.note = "changed"
    with pytest.raises(ValidationError):
        d.save()
    with pytest.raises(ValidationError):
        d.delete()
    with pytest.raises(ValidationError):
        Decision.objects.filter(pk=d.pk).update(note="x")
    with pytest.raises(ValidationError):
        Decision.objects.all().delete()
    assert Decision.objects.get(pk=d.pk).note == ""


@pytest.mark.django_db
def test_postgresql_refuses_changes_below_the_orm(client_a):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite relies on the ORM guard tested above")
    d = decision_record(client=client_a, action="wave_expand", actor_name="ramp", numbers={"improvement": 2.9})
    with pytest.raises(Exception, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("UPDATE core_decision SET note = 'x' WHERE id = %s", [d.pk])
