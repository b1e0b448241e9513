"""Every number of the simulated world, with where it comes from, and the difficulty knob.

:class:`Calibration` holds the defaults (each one is listed in :data:`SOURCES` with its public
source, or marked as an assumption). :func:`resolve` applies a difficulty in ``[0, 1]`` (or one
of ``"easy"``, ``"default"``, ``"hard"``) and returns the :class:`Resolved` parameters the world
runs with: at difficulty 0.5 (``"default"``) they are exactly the calibrated defaults.

Pure library: numpy/scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np
from scipy import optimize, special

__all__ = [
    "Calibration",
    "DIFFICULTY_KNOB",
    "DIFFICULTY_PRESETS",
    "Resolved",
    "SOURCES",
    "STATES",
    "delay_cdf",
    "delay_fast_share",
    "difficulty_value",
    "resolve",
    "stationary",
]

STATES = ("active", "lapsing", "inactive")
ACTIVE, LAPSING, INACTIVE = 0, 1, 2

DIFFICULTY_PRESETS = {"easy": 0.0, "default": 0.5, "hard": 1.0}


@dataclass(frozen=True)
class Calibration:
    """The world's defaults. Units: seconds for delays, hours where the name says ``_h``.

    Dict-like settings are tuples of ``(key, value)`` pairs so the dataclass stays hashable.
    """

    # -- subscribers -----------------------------------------------------------------------
    android_share: tuple = (("ko", 0.72), ("en", 0.58))
    opt_in: tuple = (("ios", 0.4389), ("android", 0.7091))
    timezones: tuple = (
        ("ko", (("Asia/Seoul", 0.96), ("America/Los_Angeles", 0.015), ("America/New_York", 0.01),
                ("Asia/Tokyo", 0.015))),
        ("en", (("Asia/Seoul", 0.35), ("America/New_York", 0.2), ("America/Los_Angeles", 0.15),
                ("Europe/London", 0.15), ("Australia/Sydney", 0.15))),
    )
    # -- push CTR --------------------------------------------------------------------------
    push_ctr: tuple = (("ios", 0.0443), ("android", 0.0508))   # population mean, per platform
    ctr_state_ratio: tuple = (1.0, 0.45, 0.15)                  # active, lapsing, inactive
    ctr_user_sd: float = 0.5                                    # lognormal sd between people
    p_max: float = 0.9
    # -- activity ------------------------------------------------------------------------------
    # weekly Markov chain, rows = from (active, lapsing, inactive), columns = to
    transition: tuple = (
        (0.85, 0.11, 0.04),
        (0.30, 0.40, 0.30),
        (0.02, 0.03, 0.95),
    )
    opens_per_week: tuple = (2.0, 0.7, 0.0)                     # app opens by state
    open_rate_sd: float = 0.6                                   # lognormal sd between people
    reads_per_open: float = 1.5                                 # Poisson mean
    # local-hour weights of app opens (0h..23h), normalised to mean 1 by the world
    open_hours: tuple = (0.5, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 1.4, 1.6, 1.3, 1.1, 1.1,
                         1.4, 1.2, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.4, 0.9)
    sleep_hours: tuple = (0, 7)                                 # local [start, end)
    reactivated_transition: str = "lapsing"                     # row used by clickers brought back
    # -- contents --------------------------------------------------------------------------
    publish_hours: tuple = (0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.0, 1.4, 1.6, 1.5, 1.4, 1.3,
                            1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.1, 1.0, 0.9, 0.7, 0.5)
    publish_timezone: str = "Asia/Seoul"
    quality_sd: float = 0.5                                     # lognormal sd of content quality
    topic_appeal_sd: float = 0.3                                # lognormal sd of topic appeal
    topic_zipf: float = 0.8                                     # topic popularity ~ rank^-s
    secondary_share: float = 0.2                                # body sentences from a 2nd topic
    body_sentences: tuple = (3, 6)                              # inclusive range
    attention_tau_h: float = 1.0                                # organic attention (1 + a/tau)^-beta
    attention_beta: float = 1.5
    live_window_h: float = 72.0
    push_freshness_h: float = 24.0                              # push CTR x 1 / (1 + age / this)
    # -- tastes ----------------------------------------------------------------------------
    taste_concentration: float = 1.5                            # Dirichlet total over own-language topics
    other_language_weight: float = 0.08                         # taste mass on the other language
    taste_weight: float = 0.5                                   # w in aff = (1 - w) + w * ratio
    idiosyncratic_sd: float = 0.3                               # lognormal noise per (person, content)
    popularity_noise_sd: float = 0.3                            # organic pull = quality x noise
    organic_multiplier: float = 1.0
    ctr_multiplier: float = 1.0
    # -- click delays (seconds) ------------------------------------------------------------
    delay_median_s: tuple = (("ios", 420.0), ("android", 2880.0))
    delay_fast_median_s: float = 180.0
    delay_fast_sigma: float = 1.0
    delay_slow_median_s: float = 7200.0
    delay_slow_sigma: float = 1.2
    # -- push history before the start -------------------------------------------------------
    history_weeks: tuple = (4, 52)                              # tenure, uniform
    history_pushes_per_week: float = 1.0

    def get(self, name: str, key: str):
        return dict(getattr(self, name))[key]


# Where each default comes from. "assumption" means no public figure was found; the text says
# what the number was chosen to achieve.
SOURCES: dict[str, str] = {
    "android_share": "Korea: Android about 70-80% of smartphones (Yonhap via carriers, 2011: 70%; Global "
                     "Digital Media Trendbook 2015: 80%). English readers (US/UK/AU mix): iOS about 40% "
                     "(GDMT 2015: US 41%, Australia 39%).",
    "opt_in": "Pushwoosh media-app push benchmark 2021 (104 news apps): average opt-in 43.89% iOS, "
              "70.91% Android.",
    "timezones": "assumption: a Korean-first app; English readers partly in Korea, partly abroad.",
    "push_ctr": "Pushwoosh media-app push benchmark 2021: average CTR 4.43% iOS, 5.08% Android "
                "(Airship reports 3.4% iOS / 4.6% Android direct opens across verticals).",
    "ctr_state_ratio": "assumption: inactive people open pushes far less often (1/7 of active); "
                       "normalised so the population mean equals push_ctr.",
    "ctr_user_sd": "assumption (Pushwoosh: apps' CTRs vary about 10x around the mean; people vary too).",
    "p_max": "assumption: nobody opens every push.",
    "transition": "assumption, tuned so the stationary mix is about 25% active / 8% lapsing / 67% "
                  "inactive and the simulated DAU/MAU is in the media range (Sequoia via June.so: "
                  "media apps average 12%, good 18%; simulated 18%).",
    "opens_per_week": "assumption, tuned with transition to DAU/MAU in the media range above.",
    "open_rate_sd": "assumption.",
    "reads_per_open": "assumption: 1.5 articles per app session (a few pages per visit is typical "
                      "of news sites).",
    "open_hours": "stylised local-time curve: low at night, morning and evening peaks (Böhmer et al., "
                  "MobileHCI 2011, 'Falling asleep with Angry Birds, Facebook and Kindle': news apps "
                  "peak in the morning; Leanplum: APAC users most engaged 7h-13h).",
    "sleep_hours": "assumption: a push delivered between 0h and 7h local waits in the notification "
                   "centre until the person wakes up.",
    "reactivated_transition": "assumption: someone a push brought back is as fragile as a lapsing user "
                              "at the next weekly transition.",
    "publish_hours": "assumption: a Korean newsroom publishes from 6h to 23h KST.",
    "publish_timezone": "assumption.",
    "quality_sd": "assumption: with topic_appeal_sd, contents' CTRs differ about 4x between the 90th "
                  "and the 10th percentile.",
    "topic_appeal_sd": "assumption.",
    "topic_zipf": "assumption: a few topics draw most interest.",
    "secondary_share": "assumption: a fifth of a story's sentences come from a neighbouring topic.",
    "body_sentences": "assumption.",
    "attention_tau_h": "organic attention decays as a power law (Dezső et al., Phys. Rev. E 73, 066132, "
                       "2006: news visits decay as a power law, most access gone after 36 h); with "
                       "tau = 1 h and beta = 1.5 half the attention comes in the first 3 h (bitly, 2011: "
                       "mean link half-life 2.8-3.4 h) and 84% within 36 h.",
    "attention_beta": "see attention_tau_h.",
    "live_window_h": "assumption: contents older than 3 days get no organic reads (they would get 12% "
                     "of the attention under the power law).",
    "push_freshness_h": "assumption: a push about a day-old story gets half the clicks of a fresh one.",
    "taste_concentration": "assumption: a person follows one to three topics closely.",
    "other_language_weight": "assumption.",
    "taste_weight": "chosen so that perfect targeting of the best 5% of the audience gives about "
                    "3-4x the usual clicks, the size of the gains reported for targeted/personalised "
                    "pushes (Leanplum 2016: personalised content 4x the open rate of generic; "
                    "Accengage: advanced targeting about 3x).",
    "idiosyncratic_sd": "assumption: interest in one story that its topic does not explain.",
    "popularity_noise_sd": "assumption: how much organic reads say about push quality.",
    "organic_multiplier": "1 at the default difficulty.",
    "ctr_multiplier": "1 at the default difficulty.",
    "delay_median_s": "Leanplum 2016 (1.5 billion pushes): median time to open 7 min on iOS, 48 min on "
                      "Android.",
    "delay_fast_median_s": "Pielot et al., MobileHCI 2014: notifications are typically viewed within "
                           "minutes; fast component 3 min median.",
    "delay_fast_sigma": "assumption.",
    "delay_slow_median_s": "assumption: a slow component (notification seen later) of 2 h median; the "
                           "platform's share of fast clicks is solved from delay_median_s.",
    "delay_slow_sigma": "assumption.",
    "history_weeks": "assumption: subscribers joined 1 to 12 months ago.",
    "history_pushes_per_week": "the product's own cap: one content push per person per 7 days.",
}

# (easy, default, hard) for the parameters the difficulty knob moves; linear in between.
DIFFICULTY_KNOB: dict[str, tuple[float, float, float]] = {
    "taste_weight": (0.75, 0.5, 0.2),             # weaker taste signal
    "taste_concentration": (1.0, 1.5, 3.0),       # flatter tastes
    "idiosyncratic_sd": (0.2, 0.3, 0.4),          # more unexplained interest
    "popularity_noise_sd": (0.15, 0.3, 0.8),      # reads say less about quality
    "organic_multiplier": (1.5, 1.0, 0.5),        # fewer organic reads
    "ctr_multiplier": (1.25, 1.0, 0.6),           # lower CTRs
}


def difficulty_value(difficulty) -> float:
    if isinstance(difficulty, str):
        if difficulty not in DIFFICULTY_PRESETS:
            raise ValueError(f"difficulty must be a number in [0, 1] or one of {sorted(DIFFICULTY_PRESETS)}")
        return DIFFICULTY_PRESETS[difficulty]
    d = float(difficulty)
    if not 0.0 <= d <= 1.0 or math.isnan(d):
        raise ValueError("difficulty must be in [0, 1]")
    return d


def _knob(triple: tuple[float, float, float], d: float) -> float:
    easy, mid, hard = triple
    return easy + (mid - easy) * d / 0.5 if d <= 0.5 else mid + (hard - mid) * (d - 0.5) / 0.5


def stationary(transition) -> np.ndarray:
    """Stationary distribution of a row-stochastic matrix."""
    p = np.asarray(transition, float)
    w, v = np.linalg.eig(p.T)
    s = np.real(v[:, np.argmin(np.abs(w - 1))])
    return s / s.sum()


def _lognormal_cdf(t, median, sigma):
    t = np.asarray(t, float)
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(t, 1e-300)) - math.log(median)) / sigma
    return np.where(t > 0, special.ndtr(z), 0.0)


def delay_fast_share(median_s: float, cal: Calibration) -> float:
    """Share of the fast component that makes the mixture's median equal ``median_s``."""

    def f(w):
        return (w * _lognormal_cdf(median_s, cal.delay_fast_median_s, cal.delay_fast_sigma)
                + (1 - w) * _lognormal_cdf(median_s, cal.delay_slow_median_s, cal.delay_slow_sigma) - 0.5)

    if f(0.0) >= 0:
        return 0.0
    if f(1.0) <= 0:
        return 1.0
    return float(optimize.brentq(f, 0.0, 1.0, xtol=1e-12))


def delay_cdf(t, platform: str, cal: Calibration | None = None) -> np.ndarray:
    """CDF of the click delay (seconds after delivery, awake recipient) for a platform."""
    cal = cal or Calibration()
    w = delay_fast_share(cal.get("delay_median_s", platform), cal)
    return (w * _lognormal_cdf(t, cal.delay_fast_median_s, cal.delay_fast_sigma)
            + (1 - w) * _lognormal_cdf(t, cal.delay_slow_median_s, cal.delay_slow_sigma))


@dataclass(frozen=True)
class Resolved:
    """Parameters at one difficulty: the calibration with the knob's fields replaced."""

    difficulty: float
    cal: Calibration
    state_ratio: np.ndarray = field(repr=False)      # CTR factor per state, stationary mean 1
    stationary: np.ndarray = field(repr=False)
    delay_fast: dict = field(repr=False)              # platform -> fast share


def resolve(cal: Calibration, difficulty) -> Resolved:
    d = difficulty_value(difficulty)
    # the knob scales each field relative to its default-difficulty value, so a calibration
    # with other numbers keeps them at 0.5 and moves them by the same factors
    scaled = {name: getattr(cal, name) * _knob(triple, d) / triple[1] for name, triple in DIFFICULTY_KNOB.items()}
    scaled["taste_weight"] = min(1.0, scaled["taste_weight"])
    cal_d = replace(cal, **scaled)
    _validate(cal_d)
    stat = stationary(cal_d.transition)
    ratio = np.asarray(cal_d.ctr_state_ratio, float)
    ratio = ratio / float(stat @ ratio)
    fast = {p: delay_fast_share(m, cal_d) for p, m in cal_d.delay_median_s}
    return Resolved(d, cal_d, ratio, stat, fast)


def _validate(cal: Calibration) -> None:
    t = np.asarray(cal.transition, float)
    if t.shape != (3, 3) or (t < 0).any() or not np.allclose(t.sum(1), 1.0):
        raise ValueError("transition must be a 3x3 row-stochastic matrix")
    if len(cal.open_hours) != 24 or len(cal.publish_hours) != 24:
        raise ValueError("open_hours and publish_hours need 24 values")
    if cal.reactivated_transition not in STATES:
        raise ValueError(f"reactivated_transition must be one of {STATES}")
    for name in ("quality_sd", "ctr_user_sd", "idiosyncratic_sd", "popularity_noise_sd", "open_rate_sd"):
        if getattr(cal, name) < 0:
            raise ValueError(f"{name} must be >= 0")
    if not 0 < cal.p_max <= 1:
        raise ValueError("p_max must be in (0, 1]")
    lo, hi = cal.body_sentences
    if not 1 <= lo <= hi:
        raise ValueError("body_sentences must be (lo, hi) with 1 <= lo <= hi")


def calibration_fields() -> list[str]:
    return [f.name for f in fields(Calibration)]
