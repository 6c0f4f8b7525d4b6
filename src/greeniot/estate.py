"""The neutral estate model: sites, trees, zones, devices and their bindings, as plain data.

Registry, analytics and actions all import this module and nothing of each other: the registry
builds an :class:`EstateContext` from SQL (``registry.context.load_context``), the process
runtime hands it to analytics and actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DeviceKind = Literal["soil", "tilt", "valve", "weather"]


@dataclass(frozen=True, slots=True)
class DeviceBinding:
    site: str
    device: str
    kind: DeviceKind
    tree: str | None = None  # tilt sensors are bound to a tree
    zone: str | None = None  # soil probes and valves are bound to an irrigation zone
    #: Soil probes: index → θ polynomial (lowest order first) and θ upper limit [m3/m3], from
    #: the registry's calibration (None: uncalibrated, the probe never corrects the balance);
    #: trust weight [0–1] (× the calibration kind's); flagged faulty by crews or health.
    calibration: tuple[tuple[float, ...], float] | None = None
    probe_weight: float = 1.0
    probe_faulty: bool = False
    #: Tilt sensors: when a crew last confirmed the sensor's re-mount [ms UTC]; analytics
    #: re-learns the tree's baseline from then on (:mod:`greeniot.registry.remount`).
    remount_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TreeInfo:
    site: str
    tree: str
    heritage: bool = False  # ancient or named tree: stricter thresholds, handled first
    species: str | None = None
    height_m: float | None = None
    #: Latitude of the tree or its site [deg, south < 0] (the sway stage's leaf calendar) and
    #: its leaf habit, ``deciduous`` | ``evergreen`` (None: from the species' genus).
    lat_deg: float | None = None
    leaf_habit: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    site: str
    zone: str
    #: Refill point: irrigate below this volumetric water content [%].
    refill_vwc_pct: float = 18.0
    #: Waterlogging of a zone without a field-calibrated probe: drainage needed when the raw
    #: index stays above this for ``waterlog_hours`` [index %]. The index's wet end is the
    #: probe in water, so a saturated soil reads near it whatever its texture, while field
    #: capacity reads anywhere from ~25 (sand) to ~80 (clay): below the saturated end the raw
    #: index cannot tell a waterlogged zone from a moist one. Zones with calibrated probes are
    #: judged on θ above field capacity instead (analytics/soil/stage.py).
    saturation_vwc_pct: float = 90.0
    #: How long a zone may stay waterlogged before a drain task [h]; on calibrated θ at least
    #: the soil's own free-drainage time (``soil.detect.free_drain_hours``).
    waterlog_hours: float = 12.0
    #: The site's rainy season: local ("MM-DD", "MM-DD") windows of its ``drainage_round``
    #: calendar rules (docs/estate.md); waterlogging is judged inside them. Empty: all year.
    rainy_season: tuple[tuple[str, str], ...] = ()
    valve_device: str | None = None
    #: The valve node closes itself after this long [s].
    max_run_s: int = 900
    #: Minimum time between two irrigations of this zone [s].
    min_interval_s: int = 6 * 3600
    #: Daily cap of valve-open time [s].
    daily_max_s: int = 3600
    # FAO-56 water balance (docs/irrigation.md). A zone with an application rate is watered by
    # its root-zone depletion; one without keeps the refill-point rule above.
    application_rate_mm_h: float | None = None
    irrigation_kind: str | None = None  # drip | bubbler | rotor | spray
    theta_fc: float = 0.25  # field capacity [m3/m3] (texture default resolved at load)
    theta_wp: float = 0.12  # wilting point [m3/m3]
    #: the soil's texture class, and whether θFC/θWP are its Table 19 defaults rather than a
    #: soil test: how uncertain TAW is (greeniot.soils.taw_sd_mm) and how fast water drains
    soil_texture: str | None = None
    soil_from_texture: bool = False
    root_depth_m: float = 0.3
    kc_by_month: tuple[float, ...] = (0.8,) * 12
    mad_p: float = 0.5
    efficiency: float = 0.8
    area_m2: float | None = None
    soak_s: int = 1800
    water_budget_l_day: float | None = None
    target_dr_mm: float = 0.0
    # The zone's site: position for ET0 and local time for the daily decision.
    lat_deg: float | None = None
    elevation_m: float = 0.0
    utc_offset_h: float = 0.0


@dataclass(frozen=True, slots=True)
class EstateContext:
    devices: tuple[DeviceBinding, ...] = ()
    trees: tuple[TreeInfo, ...] = ()
    zones: tuple[ZoneInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneHydraulics:
    """A zone's watering equipment and limits (from the registry).

    Attributes
    ----------
    application_rate_mm_h : float
        Precipitation rate of the emitters over the zone [mm h-1] (drip ~4, rotor ~12,
        spray ~40).
    efficiency : float
        Application efficiency [0–1]: the share of the applied water that reaches the root
        zone.
    max_run_s : int
        Longest single cycle [s]; longer runs are split with ``soak_s`` between cycles.
    daily_max_s : int or None
        Valve-open budget per rolling 24 h [s].
    daily_budget_l : float or None
        Water budget per rolling 24 h [l]; needs ``area_m2`` (1 l over 1 m² = 1 mm).
    target_dr_mm : float
        Depletion to refill to [mm]; 0 = field capacity.
    """

    site: str
    zone: str
    application_rate_mm_h: float
    efficiency: float = 0.8
    kind: str | None = None
    area_m2: float | None = None
    max_run_s: int = 3600
    soak_s: int = 1800
    min_interval_s: int = 6 * 3600
    daily_max_s: int | None = None
    daily_budget_l: float | None = None
    target_dr_mm: float = 0.0

    def __post_init__(self) -> None:
        if not self.application_rate_mm_h > 0:
            raise ValueError(f"zone {self.zone}: application_rate_mm_h must be > 0")
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"zone {self.zone}: efficiency must be in (0, 1]")
        if self.max_run_s < 1:
            raise ValueError(f"zone {self.zone}: max_run_s must be >= 1")


@dataclass(frozen=True, slots=True)
class SeasonBaseline:
    """One tree's sway baseline in one foliage state: what analytics learns
    (:mod:`greeniot.analytics.sway.seasons`) and the registry keeps for a restart."""

    site: str
    device: str
    state: int
    freq_hz: float
    damping: float  # NaN: unknown
    n_bursts: int
    newest_ms: int
    scatter: float = 0.0  # burst-to-burst scatter of the frequency, relative σ [-]
