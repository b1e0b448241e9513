import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from apps.core.models import Client
from apps.mlops.ope import RANKERS, ope_estimate


class Command(BaseCommand):
    help = ("Estimate the click improvement another ranker would have had on the logged waves that explored "
            "(inverse propensity, self-normalized, with a bootstrap interval), before it sends anything.")

    def add_arguments(self, parser):
        parser.add_argument("--ranker", required=True, choices=RANKERS)
        parser.add_argument("--client", default="", help="A client's slug (default: every client).")
        parser.add_argument("--since", default="", help="Only waves planned from then on (ISO-8601).")
        parser.add_argument("--level", type=float, default=0.9)
        parser.add_argument("--boot", type=int, default=1000, help="Bootstrap resamples.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, ranker, client, since, level, boot, **options):
        client_id = None
        if client:
            found = Client.objects.filter(slug=client).first()
            if found is None:
                raise CommandError(f"--client: no client with slug {client!r}")
            client_id = found.pk
        start = None
        if since:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                raise CommandError("--since: an ISO-8601 date-time such as 2026-12-01T00:00:00+00:00") from None
            if start.tzinfo is None:
                raise CommandError("--since: give the time zone, e.g. +00:00")
        if not 0.5 <= level < 1 or boot < 100:
            raise CommandError("--level in [0.5, 1), --boot at least 100")
        report = ope_estimate(ranker=ranker, client_id=client_id, since=start, level=level, n_boot=boot)
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        if not report["waves"]:
            self.stdout.write(f"No logged wave that explored{' for this client' if client else ''}: nothing to judge {ranker} on.")
            return
        lo, hi = report["interval"]
        self.stdout.write(f"{ranker}: estimated click improvement {report['estimate']} "
                          f"({level:.0%} interval {lo} to {hi}) on {report['waves']} waves; "
                          f"the logged waves achieved {report['logged_improvement']}.")
        share = report.get("explored_share")
        self.stdout.write(f"It rests on {report.get('explored_clicks', 0)} clicks of explored sends"
                          + (f", which stand for {share:.0%} of its expected clicks" if share is not None else "")
                          + ": the fewer they are, the wider the interval.")
