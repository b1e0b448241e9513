from django.core.management.base import BaseCommand, CommandError

from apps.core.models import Client
from apps.mlops import artifacts
from apps.mlops.models import ModelVersion


class Command(BaseCommand):
    help = ("Upload the model versions kept in this machine's PUSHADMIN_ARTIFACTS_DIR to the shared artifact store "
            "(PUSHADMIN_ARTIFACTS_S3_BUCKET): once, when an installation moves from one machine to several. "
            "Versions the store has whole already are left alone; safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--client", default="", help="A client's slug (default: every client).")

    def handle(self, *args, client, **options):
        if not artifacts.is_shared():
            raise CommandError("PUSHADMIN_ARTIFACTS_S3_BUCKET is not set: the artifacts live in the local folder "
                               f"{artifacts.artifacts_root()} and there is no shared store to upload to.")
        versions = ModelVersion.objects.order_by("client_id", "kind", "version")
        if client:
            found = Client.objects.filter(slug=client).first()
            if found is None:
                raise CommandError(f"--client: no client with slug {client!r}")
            versions = versions.filter(client=found)
        counts = {"published": 0, "in store": 0, "missing": 0}
        for v in versions.iterator():
            got = artifacts.publish_kept(v.artifact_path)
            counts[got] += 1
            if got == "missing":
                self.stderr.write(f"client {v.client_id} {v.kind} v{v.version}: not in {artifacts.artifacts_root()} "
                                  f"nor in the store ({v.artifact_path})")
        self.stdout.write(f"{counts['published']} versions uploaded, {counts['in store']} already in the store, "
                          f"{counts['missing']} missing.")
        if counts["missing"]:
            raise CommandError(f"{counts['missing']} versions are in neither place: their models cannot be loaded "
                               "until they are trained again (see the lines above).")
