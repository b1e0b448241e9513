import json

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from apps.simulation.runner import first_wave_report


class Command(BaseCommand):
    help = ("What a first wave's ranking can attain in the simulated world, judged as `simulate` judges rankers "
            "(pool_top_tenth_vs_truth): the top tenth of random pools by the truth, by taste known exactly, by the "
            "history's category shares, and at random. No product involved: a yardstick for the rankers' numbers.")

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=20_000)
        parser.add_argument("--days", type=float, default=1.0, help="Contents published in this many days are judged.")
        parser.add_argument("--seeds", default="0,1,2")
        parser.add_argument("--difficulty", default="default", help="easy, default, hard, or a number 0..1")
        parser.add_argument("--pool", type=int, default=1000, help="People in each content's pool.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, subscribers, days, seeds, difficulty, pool, **options):
        from recsys.simulate.reference import RANKING_CEILINGS, ranking_ceilings
        from recsys.simulate.world import DAY, World, WorldConfig

        try:
            difficulty = float(difficulty)
        except ValueError:
            pass
        try:
            seed_list = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError:
            raise CommandError("--seeds: whole numbers separated by commas, e.g. 0,1,2") from None
        if not seed_list:
            raise CommandError("--seeds: give at least one seed")
        if days <= 0 or pool < 10:
            raise CommandError("--days must be positive and --pool at least 10")
        rows = {name: [] for name in RANKING_CEILINGS if name not in ("truth", "random")}
        per_seed = {}
        for seed in seed_list:
            world = World(WorldConfig(n_subscribers=subscribers, seed=seed, difficulty=difficulty))
            world.advance(days * DAY)
            got = ranking_ceilings(world, pool_size=pool, rng=np.random.default_rng([seed, 1]))
            per_seed[seed] = {}
            for name in rows:
                # (the ranking's top, the truth's top, the pool's own, the share): first_wave_report's rows
                mine = [(a, b, r, 0.1) for a, b, r in zip(got[name], got["truth"], got["random"])]
                rows[name] += mine
                per_seed[seed][name] = first_wave_report(mine)
        report = {"settings": {"subscribers": subscribers, "days": days, "seeds": seed_list, "difficulty": difficulty,
                               "pool": pool},
                  "rankings": {name: first_wave_report(v) for name, v in rows.items()}, "seeds": per_seed}
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        taste = report["rankings"]["taste"]
        self.stdout.write(f"contents judged: {taste['waves']}; top tenth of pools of {pool}; at random: "
                          f"{taste['random_window_true_improvement'] / taste['truth_ranked_true_improvement']:.3f} of the truth's")
        for name, r in report["rankings"].items():
            self.stdout.write(f"  {name:18s} of the truth's: {r['ratio']:.3f} {r['ratio_ci95']}   share of the gain "
                              f"over random: {r['share_of_attainable_gain']} {r['share_of_attainable_gain_ci95']}")
