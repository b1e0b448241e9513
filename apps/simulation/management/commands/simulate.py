import json
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.simulation.runner import STRATEGIES, simulate


class Command(BaseCommand):
    help = ("Run the product's own services against a simulated world on simulated time (no Celery) and "
            "report targeting, ramp and weekly-active numbers per strategy (product, random, oracle).")

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=20_000)
        parser.add_argument("--days", type=float, default=7.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--difficulty", default="default", help="easy, default, hard, or a number 0..1")
        parser.add_argument("--strategies", default=",".join(STRATEGIES))
        parser.add_argument("--keep", action="store_true",
                            help="Keep the simulated data (for the dashboards); simulated time then ends now.")
        parser.add_argument("--no-retrain", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, subscribers, days, seed, difficulty, strategies, keep, no_retrain, **options):
        try:
            difficulty = float(difficulty)
        except ValueError:
            pass
        names = tuple(s.strip() for s in strategies.split(",") if s.strip())
        if not set(names) <= set(STRATEGIES):
            raise CommandError(f"--strategies: choose among {', '.join(STRATEGIES)}")

        def progress(strategy, share):
            print(f"  {strategy}: {share:5.0%}", file=sys.stderr, flush=True)

        start = None
        if keep:
            from datetime import timedelta

            from django.utils import timezone

            start = (timezone.now() - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        report = simulate(subscribers=subscribers, days=days, seed=seed, difficulty=difficulty, strategies=names,
                          keep=keep, retrain=not no_retrain, progress=progress, start=start)
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        w = self.stdout.write
        w(f"{subscribers} subscribers, {days:g} days, seed {seed}, difficulty {difficulty}: {report['seconds']} s")
        w(f"{'strategy':<9} {'improvement':>11} {'all':>6} {'clicks/1000':>11} {'back/1000':>9} {'pushes':>7} {'campaigns':>9}")
        for name, s in report["strategies"].items():
            w(f"{name:<9} {s['click_improvement'] or 0:>11.2f} {s['click_improvement_all'] or 0:>6.2f} "
              f"{s['clicks_per_1000'] or 0:>11.1f} {s['inactive_back_per_1000'] or 0:>9.1f} {s['pushes']:>7} {s['campaigns']:>9}")
        w(f"ramp: expanded {report['ramp']['expanded_share_below_floor']} of contents below the floor "
          f"({report['ramp']['contents_below_floor']}), {report['ramp']['expanded_share_above_target']} above the target "
          f"({report['ramp']['contents_above_target']})")
        w(f"weekly-active lift vs the 5% holdout: {report['holdout']['wau_lift']} (95% CI {report['holdout']['ci95']})")
