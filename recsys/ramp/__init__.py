"""Wave-ramp statistics: click improvement, anytime-valid ramp decisions, click delays.

A campaign sends a content in waves. After each wave's observation window the campaign asks
:func:`decide` whether to **expand** (next wave = ``growth`` x the last one), **re-send** (same
size again) or **stop**, given everything observed so far (cumulative over all waves).

Click improvement = clicks observed / clicks expected, where expected clicks are the recipients'
usual push CTRs (:func:`smoothed_ctr`) weighted by the share of their eventual clicks that should
have arrived by now (:class:`ClickDelayModel`).

When neither is reached and the evidence is still immature (late clicks to come), the decision
may **wait**: observe longer without sending. The decision is a pair of one-sided mixture sequential probability ratio tests (equivalently the
two ends of a confidence sequence): expand when the e-value against "improvement <= floor"
reaches ``1/alpha``; stop for futility when the e-value against "improvement >= target" reaches
``1/alpha``. Both e-values are nonnegative supermartingales under their null for Bernoulli clicks
with any per-recipient CTRs and any wave sizes, so by Ville's inequality the error stays below
``alpha`` however often the campaign looks. See ``docs/ramp.md``.

Pure library: numpy/scipy only, arrays and frozen dataclasses in and out.
``python -m recsys.ramp simulate ...`` runs the policy on simulated campaigns.

The package: ``config`` (RampConfig, WaveStats, RampDecision), ``prior`` (baseline CTRs),
``delay`` (ClickDelayModel, PlatformDelays, wave_stats), ``evidence`` (e-values, confidence sequence),
``decision`` (decide), ``window`` (marginal decisions: waves drawn from the ranks an expansion
would reach), ``simulation`` (simulate, coverage), ``cli`` (``python -m recsys.ramp``).
Everything importable from ``recsys.ramp`` before the split still is.
"""

from __future__ import annotations

from recsys.ramp.config import ACTIONS, DEFAULT_CONFIG, RampConfig, RampDecision, WaveStats
from recsys.ramp.prior import fit_population_prior, merge_pooled, pooled_pairs, smoothed_ctr
from recsys.ramp.delay import _HORIZON_S, _KNOT_LO_S, _N_KNOTS, ClickDelayModel, PlatformDelays, _default_cdf, wave_stats
from recsys.ramp.evidence import (
    _e_values,
    _log_e_down,
    _log_e_up,
    _log_gammainc,
    _log_gammaincc,
    _lower_exposure,
    _upper_exposure,
    improvement_interval,
    normal_interval,
)
from recsys.ramp.decision import _finite, _fmt, _pool, decide, decision_due, maturity
from recsys.ramp.window import block_counts, probe_counts, strata_summary, stratified_pick, window_size
from recsys.ramp.simulation import _check_sim_args, _simulated_looks, coverage, simulate
from recsys.ramp.cli import _add_common, _config_from_args, main

__all__ = [
    "ClickDelayModel",
    "PlatformDelays",
    "RampConfig",
    "RampDecision",
    "WaveStats",
    "coverage",
    "decide",
    "decision_due",
    "fit_population_prior",
    "merge_pooled",
    "pooled_pairs",
    "improvement_interval",
    "maturity",
    "normal_interval",
    "probe_counts",
    "simulate",
    "smoothed_ctr",
    "strata_summary",
    "stratified_pick",
    "wave_stats",
    "window_size",
]
