"""``python -m recsys.simulate``: run the reference strategies against fresh worlds and print
their numbers (the same seed gives the same world for every strategy).

    python -m recsys.simulate --subscribers 20000 --days 7 --difficulty default --audience 300
    python -m recsys.simulate --difficulty hard --json
    python -m recsys.simulate --read-signal --days 14   # what early reads say of quality, by window
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from recsys.simulate.measure import summarize, weekly_active_lift  # noqa: E402
from recsys.simulate.reference import read_signal, run_reference  # noqa: E402
from recsys.simulate.vocab import build_vocabulary  # noqa: E402
from recsys.simulate.world import DAY, WEEK, World, WorldConfig  # noqa: E402


def _oracle_truth(world: World, share: float) -> tuple[float, float]:
    s = world.subscribers
    cand = np.flatnonzero(s.push_opt_in & ~s.holdout)
    k = max(1, int(share * len(cand)))
    vals = [world.true_improvement(c.index, world.oracle_rank(c.index, cand, k)) for c in world.contents]
    return float(np.mean(vals)), float(np.median(vals))


def run(args) -> dict:
    cfg = WorldConfig(n_subscribers=args.subscribers, seed=args.seed, difficulty=args.difficulty,
                      contents_per_day=args.contents_per_day, holdout_share=args.holdout)
    t = time.perf_counter()
    build_vocabulary(cfg.topics_per_language())
    out = {"settings": vars(args), "vocabulary_s": time.perf_counter() - t, "strategies": {}}
    until = args.days * DAY
    for name in ("random", "oracle"):
        t = time.perf_counter()
        world = World(cfg)
        built = time.perf_counter() - t
        log = run_reference(world, name, until=until, audience_size=args.audience, seed=args.seed,
                            cap_s=0.0 if args.no_cap else 7 * DAY)
        elapsed = time.perf_counter() - t
        weeks = int(np.ceil(until / WEEK))
        out["strategies"][name] = {
            "summary": summarize(log).as_dict(),
            "weekly_active_lift": [weekly_active_lift(world, w).as_dict() for w in range(weeks)],
            "world_seconds": elapsed, "build_seconds": built,
            "contents": len(world.contents), "pushed_contents": int(len(np.unique(log.content))),
        }
        if name == "random":
            q = np.array([c.quality for c in world.contents])
            out["mean_quality"] = float(q.mean())
            out["mean_quality_se"] = float(q.std() / np.sqrt(len(q)))
            out["oracle_truth_top5pct"] = _oracle_truth(world, 0.05)
            out["oracle_truth_top1pct"] = _oracle_truth(world, 0.01)
    return out


def _markdown(out: dict) -> str:
    a = out["settings"]
    lines = [
        f"{a['subscribers']:,} subscribers, {a['days']} days, difficulty {a['difficulty']}, seed {a['seed']}, "
        f"audience {a['audience']} per content, {'no cap' if a['no_cap'] else '7-day cap'}; "
        f"mean quality of contents {out['mean_quality']:.3f} (se {out['mean_quality_se']:.3f}); oracle truth over "
        f"all contents, top 5% of the pushable: mean {out['oracle_truth_top5pct'][0]:.2f} / median "
        f"{out['oracle_truth_top5pct'][1]:.2f}; top 1%: {out['oracle_truth_top1pct'][0]:.2f} / "
        f"{out['oracle_truth_top1pct'][1]:.2f}",
        "",
        "| strategy | pushes | clicks | improvement [95% CI] | true improvement | clicks / 1,000 | "
        "inactive back / 1,000 | WAU lift week 0 [95% CI] | world s |",
        "|---|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for name, r in out["strategies"].items():
        s = r["summary"]
        lift = r["weekly_active_lift"][0]
        lines.append(
            f"| {name} | {s['pushes']:,} | {s['clicks']:,} | {s['improvement']:.2f} "
            f"[{s['improvement_ci'][0]:.2f}, {s['improvement_ci'][1]:.2f}] | {s['true_improvement']:.2f} | "
            f"{s['clicks_per_1000']:.1f} | {s['reactivated_per_1000']:.1f} | "
            f"{100 * lift['lift']:+.1f} pp [{100 * lift['ci'][0]:+.1f}, {100 * lift['ci'][1]:+.1f}] | "
            f"{r['world_seconds']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m recsys.simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--difficulty", default="default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--audience", type=int, default=300)
    p.add_argument("--contents-per-day", type=float, default=48.0)
    p.add_argument("--holdout", type=float, default=0.05)
    p.add_argument("--no-cap", action="store_true", help="ignore the 7-day cap (every content gets its audience)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--read-signal", action="store_true",
                   help="only measure how well a content's read share, watched 30 minutes to a day, ranks its quality")
    args = p.parse_args(argv)
    try:
        args.difficulty = float(args.difficulty)
    except ValueError:
        pass
    if args.read_signal:
        cfg = WorldConfig(n_subscribers=args.subscribers, seed=args.seed, difficulty=args.difficulty,
                          contents_per_day=args.contents_per_day, holdout_share=args.holdout)
        print(json.dumps({"settings": vars(args), **read_signal(World(cfg), until=args.days * DAY)}, indent=1))
        return 0
    out = run(args)
    print(json.dumps(out, indent=1, default=float) if args.json else _markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
