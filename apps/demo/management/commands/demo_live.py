import time

from django.core.management.base import BaseCommand

from apps.demo.live import LiveWorld


class Command(BaseCommand):
    help = "Drive a running pushadmin with the simulated world through its REST API (the live demo)."

    def add_arguments(self, parser):
        parser.add_argument("--api", default="http://127.0.0.1:8000")
        parser.add_argument("--key", required=True, help="The demo client's API key.")
        parser.add_argument("--subscribers", type=int, default=20000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--receiver-port", type=int, default=8099)
        parser.add_argument("--secret", required=True, help="The webhook secret the product signs pushes with.")
        parser.add_argument("--interval", type=float, default=1.0, help="Real seconds between two steps.")

    def handle(self, *args, api, key, subscribers, seed, receiver_port, secret, interval, **options):
        live = LiveWorld(api=api, key=key, subscribers=subscribers, seed=seed, secret=secret)
        live.serve(receiver_port)
        live.register_subscribers()
        self.stdout.write(f"live world: {subscribers} subscribers; pushes received on 127.0.0.1:{receiver_port}")
        totals = {"contents": 0, "reads": 0, "clicks": 0}
        last_report = time.monotonic()
        while True:
            done = live.step()
            for k in totals:
                totals[k] += done[k]
            if time.monotonic() - last_report > 30:
                self.stdout.write(f"live world so far: {totals['contents']} contents, {totals['reads']} reads, "
                                  f"{done['pushes']} pushes received, {totals['clicks']} clicks reported")
                last_report = time.monotonic()
            time.sleep(interval)
