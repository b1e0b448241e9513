"""Beat runs the dashboards' roll-up every five minutes (django-celery-beat's database schedule)."""

from django.db import migrations

TASK = "apps.dashboards.tasks.rollup"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.update_or_create(name="dashboards-rollup", defaults={
        "task": TASK, "interval": every, "queue": "default", "enabled": True, "expire_seconds": 280,
        "description": "Operators' dashboards: weekly actives and campaign reach (apps.dashboards.services).",
    })


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="dashboards-rollup").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(schedule, unschedule)]
