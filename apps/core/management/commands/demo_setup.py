from django.core.management.base import BaseCommand

from apps.core.demo import demo_world_load, people_reset


class Command(BaseCommand):
    help = "Create the demo accounts (new passwords each run) and load a small demo world."

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=2000)
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, subscribers, url, **options):
        world = demo_world_load(subscribers=subscribers)
        passwords = people_reset(client=world["client"])
        w = self.stdout.write
        w("")
        w(f"pushadmin demo is at {url}  (API docs: {url}api/docs/, health: {url}healthz)")
        w("Log in as:")
        for user, password in passwords.items():
            w(f"  {user:<9} password: {password}")
        w(f"Demo client 'demo-news': {world['subscribers']} subscribers, {world['contents']} contents, {world['reads']} reads.")
        w(f"Its API key: {world['api_key']}")
        w("")
