from django.core.management.base import BaseCommand

from apps.demo.world import demo_world_load, people_reset


class Command(BaseCommand):
    help = "Create the demo accounts (new passwords each run) and load a small demo world."

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=2000,
                            help="Size of the static demo world; 0 = none (the live world brings its own).")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")
        parser.add_argument("--key-file", default="", help="Also write the demo client's API key to this file (mode 600).")

    def handle(self, *args, subscribers, url, key_file, **options):
        world = demo_world_load(subscribers=subscribers)
        if key_file:
            import os

            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(world["api_key"])
        passwords = people_reset(client=world["client"])
        if key_file:  # beside the key: the logins, for scripts/demo_check.py
            import json
            import os

            path = os.path.join(os.path.dirname(key_file), "demo-logins.json")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(passwords, f)
        w = self.stdout.write
        w("")
        w(f"pushadmin demo is at {url}  (API docs: {url}api/docs/, health: {url}healthz)")
        w("Log in as:")
        for user, password in passwords.items():
            w(f"  {user:<9} password: {password}")
        if world["subscribers"]:
            w(f"Demo client 'demo-news': {world['subscribers']} subscribers, {world['contents']} contents, {world['reads']} reads.")
        else:
            w("Demo client 'demo-news': the live world is registering its subscribers and contents through the API.")
        w(f"Its API key: {world['api_key']}")
        w("")
