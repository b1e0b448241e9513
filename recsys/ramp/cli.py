"""Command line: ``python -m recsys.ramp simulate | table | coverage``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from recsys.ramp.config import DEFAULT_CONFIG, RampConfig
from recsys.ramp.simulation import coverage, simulate

_DESCRIPTION = "Wave-ramp statistics: click improvement, anytime-valid ramp decisions, click delays."


def _config_from_args(args: argparse.Namespace) -> RampConfig:
    base = DEFAULT_CONFIG
    return RampConfig(
        floor=args.floor if args.floor is not None else base.floor,
        target=args.target if args.target is not None else base.target,
        alpha=args.alpha if args.alpha is not None else base.alpha,
        initial_size=base.initial_size,
        growth=base.growth,
        max_waves=args.max_waves if args.max_waves is not None else base.max_waves,
        observation_window_s=args.window if args.window is not None else base.observation_window_s,
        mixture_shape=args.mixture_shape if args.mixture_shape is not None else base.mixture_shape,
        delay_band=args.delay_band if args.delay_band is not None else base.delay_band,
        resend_maturity=args.resend_maturity if args.resend_maturity is not None else base.resend_maturity,
        final_maturity=args.final_maturity if args.final_maturity is not None else base.final_maturity,
        max_wait_s=args.max_wait if args.max_wait is not None else base.max_wait_s,
    )


def _profile(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rank-profile wants numbers separated by commas, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"--rank-profile wants non-negative numbers, got {text!r}")
    return values


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--floor", type=float)
    p.add_argument("--target", type=float)
    p.add_argument("--alpha", type=float)
    p.add_argument("--max-waves", type=int)
    p.add_argument("--window", type=float, help="observation window in seconds")
    p.add_argument("--mixture-shape", type=float)
    p.add_argument("--delay-band", type=float,
                   help="evidence valid for true delays within this factor of the curve (1 = trust it)")
    p.add_argument("--ctr-shape", type=float, default=2.0,
                   help="Beta shape of recipients' CTRs around the baseline; 0 = all equal")
    p.add_argument("--delay-scale", type=float, default=1.0,
                   help="true delays = model delays x this (tests a wrong delay model)")
    p.add_argument("--naive-level", type=float, default=0.95,
                   help="two-sided level of the naive policy's normal interval")
    p.add_argument("--resend-maturity", type=float,
                   help="wait instead of re-sending while the evidence is less mature than this (0 = never)")
    p.add_argument("--final-maturity", type=float,
                   help="out of budget: wait instead of stopping while the evidence is less mature than this")
    p.add_argument("--max-wait", type=float, help="never wait once the last wave is this many seconds old")


def _add_campaigns(p: argparse.ArgumentParser) -> None:
    """Options of the commands that run whole campaigns as the product does."""
    p.add_argument("--rank-profile", type=_profile,
                   help="true improvement of the successive ranked audiences A,B[,C...]: the first wave-size "
                        "ranks at A, the next growth x wave-size at B, ...")
    p.add_argument("--person-sd", type=float,
                   help="sd (log) of each person's improvement around their audience's (default 0.3 with "
                        "--rank-profile, 0 without)")
    p.add_argument("--design", choices=("window", "ranked"), default="window",
                   help="window: waves sample the ranks an expansion would reach (the product); ranked: each "
                        "wave the next ranks (before windows)")
    p.add_argument("--strata", type=int, default=5, help="rank strata of a window's probes")
    p.add_argument("--refit-every", type=int, default=200,
                   help="trials run in order in batches of this many; the delay curve is refit on the earlier "
                        "batches' clicks before each (0 = never refit: the curve stays as given)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys.ramp", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sim = sub.add_parser("simulate", help="run one policy on simulated campaigns")
    sim.add_argument("--true-improvement", type=float, help="everyone's (required without --rank-profile)")
    sim.add_argument("--baseline-ctr", type=float, required=True)
    sim.add_argument("--wave-size", type=int, required=True)
    sim.add_argument("--policy", choices=("anytime", "naive"), default="anytime")
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(sim)
    _add_campaigns(sim)
    tab = sub.add_parser("table", help="markdown table over improvements and both policies")
    tab.add_argument("--baseline-ctr", type=float, required=True)
    tab.add_argument("--wave-size", type=int, required=True)
    tab.add_argument("--improvements", default="1.0,1.5,2.0,2.4,3.0")
    _add_common(tab)
    _add_campaigns(tab)
    cov = sub.add_parser("coverage", help="how often each interval ever misses the truth over many looks")
    cov.add_argument("--true-improvement", type=float, required=True)
    cov.add_argument("--baseline-ctr", type=float, required=True)
    cov.add_argument("--wave-size", type=int, required=True)
    cov.add_argument("--looks", type=int, default=20)
    cov.add_argument("--waves", type=int, help="waves sent (one per look, default: every look); later looks only watch")
    cov.add_argument("--json", action="store_true")
    _add_common(cov)
    args = parser.parse_args(argv)
    try:
        config = _config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    shape = None if args.ctr_shape == 0 else args.ctr_shape
    naive_alpha = (1 - args.naive_level) / 2
    campaigns = {}
    if args.cmd in ("simulate", "table"):
        campaigns = {"rank_profile": args.rank_profile, "person_sd": args.person_sd, "design": args.design,
                     "strata": args.strata, "refit_every": args.refit_every}
        if args.refit_every < 0 or args.strata < 1:
            parser.error("--refit-every must be >= 0 and --strata >= 1")
    if args.cmd == "simulate":
        if args.true_improvement is None and args.rank_profile is None:
            parser.error("give --true-improvement or --rank-profile")
        res = simulate(
            args.true_improvement, args.baseline_ctr, args.wave_size, args.trials,
            policy=args.policy, seed=args.seed, config=config, ctr_shape=shape,
            delay_scale=args.delay_scale, naive_alpha=naive_alpha, **campaigns,
        )
        if args.json:
            print(json.dumps(res))
        else:
            what = f"R={args.true_improvement}" if args.rank_profile is None else \
                f"profile={','.join(f'{x:g}' for x in args.rank_profile)}"
            print(
                f"policy={args.policy} {what} ctr={args.baseline_ctr} "
                f"wave={args.wave_size} trials={args.trials}: expanded {res['expanded_share']:.2%} "
                f"(+-{res['expanded_share_se']:.2%}; below the floor {res['expanded_below_floor_share']:.2%}), "
                f"stopped {res['stopped_share']:.2%}, budget {res['budget_share']:.2%}, "
                f"mean sends {res['mean_sends']:.0f}, mean waves {res['mean_waves']:.2f}, "
                f"minutes to decision {res['minutes_to_decision']:.0f}, waited {res['waited_share']:.0%}"
            )
        return 0
    if args.cmd == "coverage":
        res = coverage(
            args.true_improvement, args.baseline_ctr, args.wave_size, args.trials,
            looks=args.looks, seed=args.seed, config=config, ctr_shape=shape,
            delay_scale=args.delay_scale, waves=args.waves,
        )
        if args.json:
            print(json.dumps(res))
        else:
            print(
                f"R={args.true_improvement} ctr={args.baseline_ctr} wave={args.wave_size} "
                f"looks={args.looks} trials={args.trials}; share ever wrong (allowed {config.alpha:.0%} "
                f"per side): anytime lower {res['anytime_lower_end_ever_above_truth']:.2%}, "
                f"anytime upper {res['anytime_upper_end_ever_below_truth']:.2%}; normal lower "
                f"{res['normal_lower_end_ever_above_truth']:.2%}, normal upper "
                f"{res['normal_upper_end_ever_below_truth']:.2%}"
            )
        return 0
    rs = [float(x) for x in args.improvements.split(",")]
    print(f"baseline CTR {args.baseline_ctr}, waves of {args.wave_size}, {args.trials} trials, "
          f"seed {args.seed}, max {config.max_waves} waves\n")
    print("| true improvement | policy | expanded | stopped (futility) | budget | mean sends | mean waves |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rs:
        for pol in ("anytime", "naive"):
            res = simulate(
                r, args.baseline_ctr, args.wave_size, args.trials, policy=pol, seed=args.seed,
                config=config, ctr_shape=shape, delay_scale=args.delay_scale, naive_alpha=naive_alpha,
                **campaigns,
            )
            print(
                f"| {r:g} | {pol} | {res['expanded_share']:.1%} | {res['stopped_share']:.1%} | "
                f"{res['budget_share']:.1%} | {res['mean_sends']:.0f} | {res['mean_waves']:.2f} |"
            )
            sys.stdout.flush()
    return 0
