"""Ramp configuration and the data types passed in and out of the decision."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


ACTIONS = ("expand", "resend", "wait", "stop")


# --------------------------------------------------------------------------------------------
# Configuration and data types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RampConfig:
    """Settings of the ramp. Defaults are the product defaults (see docs/ramp.md)."""

    floor: float = 1.5  # expand only when confident the improvement is above this
    target: float = 2.4  # stop for futility when confident the improvement is below this
    alpha: float = 0.05  # error of each one-sided test, valid under continuous monitoring
    initial_size: int = 300  # size of wave 1
    growth: float = 4.0  # next wave = growth x last wave on "expand"
    max_waves: int = 16  # budget: "stop/budget" when still undecided after this many waves
    observation_window_s: float = 1200.0  # a wave is judged only after this many seconds
    mixture_shape: float = 10.0  # Gamma shape of the mixing distribution (larger = more focused)
    # Robustness of the evidence to a wrong click-delay curve: the e-values stay valid when the
    # true delays are anywhere from 1/delay_band to delay_band times the curve's. Expansion counts
    # exposure as if clicks came delay_band x faster, futility as if delay_band x slower.
    # 1 = trust the curve exactly. See docs/ramp.md ("Delay band").
    delay_band: float = 8.0
    # Waiting for late clicks (docs/ramp.md, "Waiting"). The evidence's maturity is the share of
    # the exposure counted by the expansion test (fast side of the band) that the futility test
    # (slow side) counts too: the expansion test sees at least maturity x the true improvement.
    # Undecided and less mature than resend_maturity: wait (observe, send nothing) instead of
    # re-sending. Out of budget and less mature than final_maturity: wait instead of stopping.
    # Never wait once the last wave is older than max_wait_s.
    resend_maturity: float = 0.0
    final_maturity: float = 0.9
    max_wait_s: float = 6 * 3600.0

    def __post_init__(self) -> None:
        if not (self.floor > 0 and math.isfinite(self.floor)):
            raise ValueError(f"floor must be a positive number, got {self.floor!r}")
        if not (self.target >= self.floor and math.isfinite(self.target)):
            raise ValueError(f"target must be >= floor ({self.floor}), got {self.target!r}")
        if not (0 < self.alpha < 0.5):
            raise ValueError(f"alpha must be in (0, 0.5), got {self.alpha!r}")
        if int(self.initial_size) != self.initial_size or self.initial_size < 1:
            raise ValueError(f"initial_size must be a positive integer, got {self.initial_size!r}")
        if not (self.growth >= 1 and math.isfinite(self.growth)):
            raise ValueError(f"growth must be >= 1, got {self.growth!r}")
        if int(self.max_waves) != self.max_waves or self.max_waves < 1:
            raise ValueError(f"max_waves must be a positive integer, got {self.max_waves!r}")
        if not (self.observation_window_s >= 0):
            raise ValueError(
                f"observation_window_s must be >= 0, got {self.observation_window_s!r}"
            )
        if not (self.mixture_shape > 0 and math.isfinite(self.mixture_shape)):
            raise ValueError(f"mixture_shape must be positive, got {self.mixture_shape!r}")
        if not (self.delay_band >= 1 and math.isfinite(self.delay_band)):
            raise ValueError(f"delay_band must be a finite number >= 1, got {self.delay_band!r}")
        for name in ("resend_maturity", "final_maturity"):
            v = getattr(self, name)
            if not (0 <= v <= 1):
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        if not (self.max_wait_s >= 0 and math.isfinite(self.max_wait_s)):
            raise ValueError(f"max_wait_s must be a finite number >= 0, got {self.max_wait_s!r}")

    # Mixing distributions of the two one-sided tests, on theta = true / null improvement.
    @property
    def _mix_up(self) -> tuple[float, float]:
        mean = max(self.target / self.floor, 1.25)
        return self.mixture_shape, self.mixture_shape / mean

    @property
    def _mix_down(self) -> tuple[float, float]:
        mean = min(self.floor / self.target, 0.8)
        return self.mixture_shape, self.mixture_shape / mean


DEFAULT_CONFIG = RampConfig()


@dataclass(frozen=True)
class WaveStats:
    """What one wave has shown so far. Build it with :func:`wave_stats` from per-recipient arrays.

    sends            recipients in the wave
    expected_clicks  sum of the recipients' baseline CTRs (full horizon, no delay correction)
    clicks           clicks from this wave observed so far (late clicks keep counting)
    completion       expected share of the wave's eventual clicks arrived by now, in [0, 1]
                     (sum ctr_i * F(now - sent_at_i) / sum ctr_i, F the click-delay CDF)
    ctr_sq_sum       sum of squared CTRs; None = assume equal CTRs (sends * mean^2)
    ctr_max          largest CTR in the wave; None = assume equal CTRs (the mean)
    clicked_gap      sum over clickers of ctr_i * (F(now - sent_i) - F(click_i - sent_i)); the
                     exposure a clicker can no longer use. 0 is a fine approximation for small CTRs
    age_seconds      seconds since the wave's last send (None = unknown, no window check)
    delay_band       the band factor the next four were computed with (None = no band: the
                     decision then uses ``completion`` and ``clicked_gap`` on both sides)
    completion_fast  ``completion`` if clicks came ``delay_band`` x faster than the curve,
    clicked_gap_fast   and the matching gap (used by the expansion test)
    completion_slow  ``completion`` if clicks came ``delay_band`` x slower,
    clicked_gap_slow   and the matching gap (used by the futility test)

    The three optional moments make the test exact for large and uneven CTRs; with CTRs of a few
    percent they change the numbers by about a percent.
    """

    sends: int
    expected_clicks: float
    clicks: int
    completion: float = 1.0
    ctr_sq_sum: float | None = None
    ctr_max: float | None = None
    clicked_gap: float = 0.0
    age_seconds: float | None = None
    delay_band: float | None = None
    completion_fast: float | None = None
    completion_slow: float | None = None
    clicked_gap_fast: float | None = None
    clicked_gap_slow: float | None = None

    def __post_init__(self) -> None:
        if int(self.sends) != self.sends or self.sends < 0:
            raise ValueError(f"sends must be a non-negative integer, got {self.sends!r}")
        if not (0 <= self.expected_clicks <= self.sends) or not math.isfinite(self.expected_clicks):
            raise ValueError(
                f"expected_clicks must be in [0, sends={self.sends}], got {self.expected_clicks!r}"
            )
        if int(self.clicks) != self.clicks or self.clicks < 0:
            raise ValueError(f"clicks must be a non-negative integer, got {self.clicks!r}")
        if self.clicks > self.sends:
            raise ValueError(f"clicks ({self.clicks}) cannot exceed sends ({self.sends})")
        if not (0 <= self.completion <= 1):
            raise ValueError(f"completion must be in [0, 1], got {self.completion!r}")
        if self.ctr_sq_sum is not None and not (
            0 <= self.ctr_sq_sum <= self.expected_clicks + 1e-9
        ):
            raise ValueError(
                f"ctr_sq_sum must be in [0, expected_clicks], got {self.ctr_sq_sum!r}"
            )
        if self.ctr_max is not None and not (0 <= self.ctr_max <= 1):
            raise ValueError(f"ctr_max must be in [0, 1], got {self.ctr_max!r}")
        if not (self.clicked_gap >= 0) or not math.isfinite(self.clicked_gap):
            raise ValueError(f"clicked_gap must be >= 0, got {self.clicked_gap!r}")
        if self.age_seconds is not None and not (self.age_seconds >= 0):
            raise ValueError(f"age_seconds must be >= 0, got {self.age_seconds!r}")
        if self.delay_band is not None and not (self.delay_band >= 1 and math.isfinite(self.delay_band)):
            raise ValueError(f"delay_band must be None or a finite number >= 1, got {self.delay_band!r}")
        for name in ("completion_fast", "completion_slow"):
            v = getattr(self, name)
            if v is not None and not (0 <= v <= 1):
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        for name in ("clicked_gap_fast", "clicked_gap_slow"):
            v = getattr(self, name)
            if v is not None and (not (v >= 0) or not math.isfinite(v)):
                raise ValueError(f"{name} must be >= 0, got {v!r}")

    def side(self, which: str) -> tuple[float, float]:
        """(completion, clicked_gap) for the expansion ("fast") or futility ("slow") test."""
        if self.delay_band is None:
            return self.completion, self.clicked_gap
        c = self.completion_fast if which == "fast" else self.completion_slow
        g = self.clicked_gap_fast if which == "fast" else self.clicked_gap_slow
        return (self.completion if c is None else c), (self.clicked_gap if g is None else g)

    # Moments with the "equal CTRs" defaults filled in.
    def _sq(self) -> float:
        if self.ctr_sq_sum is not None:
            return float(self.ctr_sq_sum)
        return self.expected_clicks**2 / self.sends if self.sends else 0.0

    def _max(self) -> float:
        if self.ctr_max is not None:
            return float(self.ctr_max)
        return self.expected_clicks / self.sends if self.sends else 0.0


@dataclass(frozen=True)
class RampDecision:
    """The outcome of :func:`decide`.

    action     "expand", "resend", "wait" or "stop"
    next_size  size of the next wave (0 when stopping or waiting)
    reason     one human-readable sentence with the numbers
    code       machine-readable reason: "above_floor", "undecided", "immature" (wait), "futility",
               "budget", "cap"
    numbers    JSON-able snapshot of everything the decision saw (store it with the decision)
    """

    action: str
    next_size: int
    reason: str
    code: str
    numbers: dict[str, Any] = field(default_factory=dict)
