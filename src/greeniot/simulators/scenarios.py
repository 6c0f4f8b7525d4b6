"""Scenarios: schedules over event time that drive the weather and the trees' fate.

A scenario is data. Every schedule is a piecewise-linear curve over the *fraction* of the run
(0 = start, 1 = end), so the same typhoon plays in a 6 h test or a 2 day demo; physical rates
(rain mm/h, evapotranspiration) stay absolute, which is why each scenario names the span it was
written for (``default_span_s``): a drought needs days of sun to dry a zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class Keyframes:
    """A piecewise-linear schedule: value ``y[i]`` at run fraction ``x[i]``."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y) or not self.x:
            raise ValueError("Keyframes x and y must be non-empty and of equal length")
        if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ValueError(f"Keyframes x must be non-decreasing, got {self.x}")

    @classmethod
    def const(cls, value: float) -> Keyframes:
        return cls((0.0, 1.0), (value, value))

    def at(self, frac: ArrayLike) -> NDArray[np.float64]:
        return np.interp(np.asarray(frac, dtype=np.float64), self.x, self.y)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Weather schedules plus the tree events of a scenario.

    Winds are 10-min means [m/s] (gusts come on top, ~1.3–1.6×); ``wind_dir_deg`` is where the
    wind blows *to*, which is the way trees lean; ``rain_mm_h`` is the mean rain rate (showers
    modulate it); ``sun`` scales clear-sky sunshine (0–1) for evapotranspiration.
    """

    name: str
    description: str
    default_span_s: float
    wind_mean_ms: Keyframes
    wind_dir_deg: Keyframes
    rain_mm_h: Keyframes
    air_temp_mean_c: Keyframes
    air_temp_amp_c: Keyframes
    rh_pct: Keyframes
    sun: Keyframes
    #: Soil at the start [VWC %]: the zones that dry fastest start at the low end.
    initial_vwc_pct: tuple[float, float] = (26.0, 32.0)
    #: Share of each site's zones (the fastest drying, at least one) meant to fall below their
    #: refill point by ``dry_margin_pct`` over the span, while the others stay above it by as
    #: much; 0 leaves the soil to the plain initial range.
    dry_zone_share: float = 0.0
    dry_margin_pct: float = 2.5
    #: Share of each site's trees that acquire a persistent lean step, its size [deg] and the
    #: window (run fractions) in which the steps happen.
    lean_step_share: float = 0.0
    lean_step_deg: tuple[float, float] = (1.0, 2.0)
    lean_step_window: tuple[float, float] = (0.0, 0.0)
    #: Trees per site that fail (uproot) at ``failure_at``, after a precursor lean growing to
    #: ``precursor_deg`` over ``precursor_frac`` of the run, ending at ``fallen_deg``.
    failures_per_site: int = 0
    failure_at: float = 0.5
    precursor_frac: float = 0.03
    precursor_deg: float = 2.5
    fallen_deg: tuple[float, float] = (55.0, 80.0)
    #: A storm is a mean wind above this [m/s] (gale, Beaufort 8).
    storm_wind_ms: float = 17.2
    tags: tuple[str, ...] = field(default=())


CALM = Scenario(
    name="calm",
    description="Fair weather: light breeze, one light shower, nothing should be raised.",
    default_span_s=24 * HOUR_S,
    wind_mean_ms=Keyframes((0.0, 0.3, 0.6, 1.0), (2.5, 4.5, 3.5, 2.5)),
    wind_dir_deg=Keyframes.const(200.0),
    rain_mm_h=Keyframes((0.0, 0.55, 0.6, 0.65, 0.7, 1.0), (0.0, 0.0, 0.6, 0.6, 0.0, 0.0)),
    air_temp_mean_c=Keyframes.const(26.0),
    air_temp_amp_c=Keyframes.const(4.0),
    rh_pct=Keyframes.const(70.0),
    sun=Keyframes.const(0.8),
    initial_vwc_pct=(26.0, 32.0),
)

DROUGHT = Scenario(
    name="drought",
    description="Hot, dry and sunny for days: the most exposed zones fall below refill.",
    default_span_s=72 * HOUR_S,
    wind_mean_ms=Keyframes((0.0, 0.5, 1.0), (2.5, 4.0, 2.5)),
    wind_dir_deg=Keyframes.const(60.0),
    rain_mm_h=Keyframes.const(0.0),
    air_temp_mean_c=Keyframes((0.0, 0.5, 1.0), (30.0, 31.5, 31.0)),
    air_temp_amp_c=Keyframes.const(5.0),
    rh_pct=Keyframes.const(45.0),
    sun=Keyframes.const(1.0),
    initial_vwc_pct=(22.0, 30.0),
    dry_zone_share=0.5,
)

TYPHOON = Scenario(
    name="typhoon",
    description=("A typhoon passes: wind rises to typhoon force (gusts ~45–50 m/s) with heavy "
                 "rain; a few trees are left leaning, one is uprooted; then calm."),
    default_span_s=48 * HOUR_S,
    wind_mean_ms=Keyframes((0.0, 0.2, 0.35, 0.44, 0.5, 0.56, 0.65, 0.74, 1.0),
                           (3.0, 5.0, 16.0, 27.0, 31.0, 27.0, 12.0, 3.5, 3.0)),
    wind_dir_deg=Keyframes((0.0, 0.35, 0.5, 0.65, 1.0), (225.0, 240.0, 270.0, 300.0, 300.0)),
    rain_mm_h=Keyframes((0.0, 0.28, 0.38, 0.48, 0.58, 0.68, 0.72, 1.0),
                        (0.0, 0.0, 8.0, 30.0, 25.0, 4.0, 0.0, 0.0)),
    air_temp_mean_c=Keyframes((0.0, 0.3, 0.5, 0.7, 1.0), (29.0, 27.5, 25.5, 26.5, 28.0)),
    air_temp_amp_c=Keyframes((0.0, 0.3, 0.5, 0.7, 1.0), (3.5, 1.5, 0.8, 1.5, 3.5)),
    rh_pct=Keyframes((0.0, 0.3, 0.5, 0.7, 1.0), (72.0, 85.0, 95.0, 85.0, 72.0)),
    sun=Keyframes((0.0, 0.3, 0.38, 0.68, 0.75, 1.0), (0.8, 0.6, 0.1, 0.1, 0.7, 0.8)),
    initial_vwc_pct=(26.0, 32.0),
    lean_step_share=0.1,
    lean_step_deg=(1.0, 2.0),
    lean_step_window=(0.44, 0.54),
    failures_per_site=1,
    failure_at=0.5,
    tags=("storm",),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (CALM, DROUGHT, TYPHOON)}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a KeyError lists the valid names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; valid: {sorted(SCENARIOS)}") from None
