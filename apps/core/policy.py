"""A client's business rules have one source: its ``Policy`` row (``apps.core.models``), which
admins edit on the client's admin page. Their defaults live here and nowhere else; the ramp's
come from ``recsys.ramp``'s documented defaults, so a number is written once.

Who reads what:

- contents: ``evaluation_delay``, ``content_lifetime``, ``candidate_threshold``;
- the engine at launch: the ramp (``first_wave_size``, ``growth``, ``max_sends``, ``max_waves``,
  ``observation_window``, ``floor``, ``target``, ``alpha``), the measurement shares
  (``exploration_share``, ``holdout_share``) and the segment (``slot_objective``,
  ``inactive_days``), copied into the
  campaign so that a later change does not alter a running push;
- the engine at every wave: ``cap_window`` (the slot) and the quiet hours;
- features and dashboards: ``inactive_days``; pages and charts: ``floor`` and ``target``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from recsys.ramp import DEFAULT_CONFIG


@dataclass(frozen=True)
class Defaults:
    candidate_threshold: float = 1.5  # predicted click improvement that makes a content a candidate
    cap_window: timedelta = timedelta(days=7)  # one content push per person per this rolling window
    inactive_days: int = 7  # no activity for this many days: inactive (the default segment)
    quiet_hours_start: int = 22  # local hour from which nobody is pushed ...
    quiet_hours_end: int = 8  # ... until this local hour
    first_wave_size: int = DEFAULT_CONFIG.initial_size
    growth: float = DEFAULT_CONFIG.growth
    max_sends: int = 100_000
    max_waves: int = DEFAULT_CONFIG.max_waves
    observation_window: timedelta = timedelta(seconds=DEFAULT_CONFIG.observation_window_s)
    floor: float = DEFAULT_CONFIG.floor
    target: float = DEFAULT_CONFIG.target
    alpha: float = DEFAULT_CONFIG.alpha
    exploration_share: float = 0.10  # of wave 1, drawn at random from the eligible outside the ranked top
    holdout_share: float = 0.05  # of the people ranked into each wave, kept from this content at random
    # what a person's weekly slot is spent for: clicks, reactivations, or first_come (no price).
    # clicks: in the simulated world the product's own prices beat first-come on every seed
    # (docs/simulator.md, "The read share, the calibrated rule, and promotion on an interval")
    slot_objective: str = "clicks"


DEFAULTS = Defaults()


def default_evaluation_delay() -> timedelta:
    """How long after its creation a content is judged (``PUSHADMIN_EVALUATION_DELAY``, 30 minutes)."""
    from django.conf import settings

    return settings.PUSHADMIN["EVALUATION_DELAY"]


def default_content_lifetime() -> timedelta:
    """How long a content lives (``PUSHADMIN_CONTENT_LIFETIME``, 4 hours)."""
    from django.conf import settings

    return settings.PUSHADMIN["CONTENT_LIFETIME"]


RAMP_FIELDS = {  # campaign field -> policy field
    "initial_size": "first_wave_size", "growth": "growth", "max_sends": "max_sends", "max_waves": "max_waves",
    "observation_window": "observation_window", "floor": "floor", "target": "target", "alpha": "alpha",
    "exploration_share": "exploration_share", "holdout_share": "holdout_share",
}


def segment_of(inactive_days: int) -> dict:
    """The default segment: subscribers inactive for ``inactive_days``, whom pushes are for."""
    return {"activity": "inactive", "inactive_days": int(inactive_days)}


def default_segment() -> dict:
    """A campaign row's segment when none is given: what a client with the default policy gets."""
    return segment_for(DEFAULTS)


def segment_for(policy) -> dict:
    """Who a client's campaigns are for, by what its weekly slots are spent for: with the
    ``clicks`` objective everyone opted in (each person's slot is their own, so pushing an active
    person takes nobody else's; the price decides whether a content is worth their slot), with
    ``reactivations`` or ``first_come`` the people inactive for ``inactive_days``."""
    if policy.slot_objective == "clicks":
        return {"activity": "any", "inactive_days": int(policy.inactive_days)}
    return segment_of(policy.inactive_days)


def campaign_settings(policy) -> dict:
    """What a campaign copies from its client's policy at launch."""
    return {**{field: getattr(policy, name) for field, name in RAMP_FIELDS.items()},
            "segment": segment_for(policy)}
