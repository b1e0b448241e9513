"""Models belong to a client: each version was trained on one client's rows and serves that client.

Versions that existed before were trained on every client's rows. With one client they become
that client's; with several, each client gets its own copy of each row (the same artifact),
so rankings go on as before until the first per-client training replaces them. Training runs
go to the first client. With no client there is nothing to serve, and the rows are dropped.
"""

import django.db.models.deletion
from django.db import migrations, models


def assign_clients(apps, schema_editor):
    Client = apps.get_model("core", "Client")
    ModelVersion = apps.get_model("mlops", "ModelVersion")
    TrainingRun = apps.get_model("mlops", "TrainingRun")
    clients = list(Client.objects.order_by("pk"))
    if not clients:
        ModelVersion.objects.all().delete()
        TrainingRun.objects.all().delete()
        return
    first, others = clients[0], clients[1:]
    for mv in list(ModelVersion.objects.filter(client__isnull=True)):
        for other in others:
            ModelVersion.objects.create(client=other, kind=mv.kind, version=mv.version, artifact_path=mv.artifact_path,
                                        metrics=mv.metrics, params=mv.params, created_at=mv.created_at,
                                        is_active=mv.is_active, activated_at=mv.activated_at)
        mv.client = first
        mv.save(update_fields=["client"])
    TrainingRun.objects.filter(client__isnull=True).update(client=first)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0009_preference"),
        ("mlops", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="modelversion", name="model_version_unique"),
        migrations.RemoveConstraint(model_name="modelversion", name="model_one_active_per_kind"),
        migrations.AddField(
            model_name="modelversion", name="client",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="model_versions",
                                    to="core.client"),
        ),
        migrations.AddField(
            model_name="trainingrun", name="client",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="training_runs",
                                    to="core.client"),
        ),
        migrations.RunPython(assign_clients, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="modelversion", name="client",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="model_versions",
                                    to="core.client"),
        ),
        migrations.AlterField(
            model_name="trainingrun", name="client",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="training_runs",
                                    to="core.client"),
        ),
        migrations.AddField(
            model_name="modelversion", name="pinned",
            field=models.BooleanField(default=False, help_text="An active pinned version is never replaced by training; "
                                                               "only an admin activates another."),
        ),
        migrations.AddField(model_name="trainingrun", name="reason", field=models.CharField(blank=True, max_length=40)),
        migrations.AlterModelOptions(name="modelversion", options={"ordering": ["client", "kind", "-version"]}),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(fields=("client", "kind", "version"), name="model_version_unique"),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(condition=models.Q(("is_active", True)), fields=("client", "kind"),
                                               name="model_one_active_per_kind"),
        ),
    ]
