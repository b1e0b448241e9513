import json
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.simulation.runner import ALL_STRATEGIES, STRATEGIES, simulate


class Command(BaseCommand):
    help = ("Run the product's own services against a simulated world on simulated time (no Celery) and "
            "report targeting, ramp and weekly-active numbers per strategy (product, random, oracle; also activity, dae).")

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=20_000)
        parser.add_argument("--days", type=float, default=7.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--seeds", default="", help="Several worlds, e.g. 0,1,2: each reported, and the mean with its spread.")
        parser.add_argument("--difficulty", default="default", help="easy, default, hard, or a number 0..1")
        parser.add_argument("--strategies", default=",".join(STRATEGIES))
        parser.add_argument("--keep", action="store_true",
                            help="Keep the simulated data (for the dashboards); simulated time then ends now.")
        parser.add_argument("--no-retrain", action="store_true")
        parser.add_argument("--ope-check", action="store_true",
                            help="Also check the off-policy estimates of other rankers against the world's truth.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, subscribers, days, seed, seeds, difficulty, strategies, keep, no_retrain, **options):
        try:
            difficulty = float(difficulty)
        except ValueError:
            pass
        try:
            seed_list = [int(x) for x in seeds.split(",") if x.strip()] or [seed]
        except ValueError:
            raise CommandError("--seeds: whole numbers separated by commas, e.g. 0,1,2") from None
        names = tuple(s.strip() for s in strategies.split(",") if s.strip())
        if not set(names) <= set(ALL_STRATEGIES):
            raise CommandError(f"--strategies: choose among {', '.join(ALL_STRATEGIES)}")

        def progress(strategy, share):
            print(f"  {strategy}: {share:5.0%}", file=sys.stderr, flush=True)

        start = None
        if keep:
            from datetime import timedelta

            from django.utils import timezone

            start = (timezone.now() - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        report = simulate(subscribers=subscribers, days=days, seeds=seed_list, difficulty=difficulty, strategies=names,
                          keep=keep, retrain=not no_retrain, progress=progress, start=start,
                          ope_check=options["ope_check"])
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        w = self.stdout.write
        w(f"{subscribers} subscribers, {days:g} days, seeds {','.join(map(str, seed_list))}, difficulty {difficulty}: "
          f"{report['seconds']} s")
        w(f"{'seed':<5} {'strategy':<17} {'improvement':>11} {'all':>6} {'vs true':>7} {'clicks/1000':>11} {'back/1000':>9} "
          f"{'pushes':>7} {'campaigns':>9} {'wave1/truth':>11} {'of hindsight: clicks':>20} {'reactivations':>13} "
          f"{'steady':>6} {'steady':>6} {'wau lift':>8}")
        rows = [(str(k), r["strategies"]) for k, r in report["seeds"]["runs"].items()]
        if len(rows) > 1:
            rows.append(("mean", report["strategies"]))
        for label, strategies_ in rows:
            for name, s in strategies_.items():
                share, steady = s.get("share_of_hindsight") or {}, s.get("share_of_hindsight_steady") or {}
                w(f"{label:<5} {name:<17} {s.get('click_improvement') or 0:>11.2f} {s.get('click_improvement_all') or 0:>6.2f} "
                  f"{s['click_improvement_true_ctr'] or 0:>7.2f} {s.get('clicks_per_1000') or 0:>11.1f} "
                  f"{s.get('inactive_back_per_1000') or 0:>9.1f} {s['pushes']:>7.0f} {s.get('campaigns', s.get('contents')) or 0:>9.0f} "
                  f"{(s.get('wave1_vs_truth_ranked') or {}).get('ratio') or 0:>11.2f} {share.get('clicks') or 0:>20.2f} "
                  f"{share.get('reactivations') or 0:>13.2f} {steady.get('clicks') or 0:>6.2f} "
                  f"{steady.get('reactivations') or 0:>6.2f} {s['wau']['lift']:>+8.3f}")
        w(f"ramp: expanded {report['ramp']['expanded_share_below_floor']} of contents below the floor "
          f"({report['ramp']['contents_below_floor']}), {report['ramp']['expanded_share_above_target']} above the target "
          f"({report['ramp']['contents_above_target']}); of {report['ramp']['expansions']} expansions, "
          f"{report['ramp']['marginal_below_floor_share']} reached an audience below the floor")
        for name, r in report["ramp"]["per_strategy"].items():
            w(f"  {name:<9} expanded {r['expanded_share_above_target']} of contents above the target, "
              f"{r['expanded_share_below_floor']} below the floor; {r['expansions']} expansions, "
              f"{r['marginal_below_floor_share']} to an audience below the floor")
        w(f"weekly-active lift vs the 5% holdout: {report['holdout']['wau_lift']} (95% CI {report['holdout']['ci95']})")
