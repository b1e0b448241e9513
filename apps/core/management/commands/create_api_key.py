from django.core.management.base import BaseCommand, CommandError

from apps.core.models import Client
from apps.core.services import api_key_create, client_create


class Command(BaseCommand):
    help = "Create an API key for CLIENT (its slug) and print it once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("client", help="The client's slug.")
        parser.add_argument("--name", default="", help="A label for the key, e.g. 'cms-prod'.")
        parser.add_argument("--create-client", action="store_true", help="Create the client if it does not exist.")

    def handle(self, *args, client, name, create_client, **options):
        try:
            obj = Client.objects.get(slug=client)
        except Client.DoesNotExist:
            if not create_client:
                raise CommandError(f"No client with slug {client!r}. Use --create-client to create it.") from None
            obj = client_create(slug=client, name=client)
        _, plain = api_key_create(client=obj, name=name)
        self.stdout.write(plain)
        self.stderr.write(f"API key for client {obj.slug!r}: store it now, it is not shown again.")
