"""What analytics hands to actions: typed events for people, state snapshots for control.

- :class:`Event`: one finding when a condition starts, escalates or clears (``phase``), with
  its measured value, threshold and unit as typed fields. ``detail`` is prose for people only:
  no program reads meaning from it.
- :class:`ZoneWaterState` and :class:`TreeRiskState`: per zone and per tree, every tick,
  whether or not anything changed. Irrigation reads the zone state (a dry zone stays dry until
  the state says otherwise), so a lockout or a short run never loses sight of it.

This is the contract between ``greeniot.analytics`` (producer) and ``greeniot.actions``
(consumer); change it in both at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

#: - ``lean``: residual lean (tilt minus the tree's baseline) over a graded threshold
#: - ``lean_step``: a sudden increase in residual lean that persists after the wind drops
#: - ``lean_trend``: a steadily increasing lean rate [deg/day]
#: - ``failure``: the tree has fallen or its root plate failed (tilt far past uprooting range)
#: - ``lean_storm``: non-elastic tilt offset growing while the wind blows (value = offset [deg])
#: - ``stiffness``: the tilt response per wind load rose against the tree's own earlier storms
#:   (value = stiffness drop, fraction)
#: - ``mount_moved``: the tilt sensor was moved or re-mounted (health: a device check, never a
#:   lean alarm)
#: - ``storm``: site-wide wind/sway episode (value = peak gust, mean wind or sway RMS)
#: - ``sway``: one tree's sway frequency dropped against its own past (value = RMS [deg])
#: - ``drought``: a zone's soil moisture below its refill point (value = VWC [%])
#: - ``waterlog``: a zone's soil above saturation for long enough (``duration_s`` so far)
#: - ``device_offline`` / ``low_battery`` / ``sensor_stuck`` / ``sensor_noisy`` /
#:   ``out_of_range`` / ``clock_fault`` / ``mount_moved``: device health, one alarm per
#:   (device, kind), each with a ``clear`` event when the fault ends. ``mount_moved`` is
#:   raised by the tilt family (a sensor knocked on its mount), the others by the health stage.
EventKind = Literal[
    "lean", "lean_step", "lean_trend", "failure", "storm", "sway", "drought", "waterlog",
    "device_offline", "low_battery", "sensor_stuck", "sensor_noisy", "out_of_range",
    "lean_storm", "stiffness", "clock_fault", "mount_moved",
]
Severity = Literal["info", "warning", "critical"]
#: ``start``: the condition began; ``escalate``: it got worse; ``clear``: it ended.
Phase = Literal["start", "escalate", "clear"]
Unit = Literal["deg", "deg/day", "vwc_pct", "m/s", "V", "s", "fraction"]

HEALTH_KINDS: frozenset[str] = frozenset(
    {"device_offline", "low_battery", "sensor_stuck", "sensor_noisy", "out_of_range",
     "clock_fault", "mount_moved"})
LEAN_KINDS: frozenset[str] = frozenset(
    {"lean", "lean_trend", "lean_step", "failure", "lean_storm", "stiffness"})


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    site: str
    ts_ms: int  # event time: the device timestamp that triggered it
    severity: Severity
    value: float  # the measured quantity, in ``unit``
    threshold: float  # the threshold it was compared with, in ``unit``
    unit: Unit
    phase: Phase = "start"
    device: str | None = None
    tree: str | None = None
    zone: str | None = None
    heritage: bool = False
    freq_hz: float | None = None
    duration_s: float | None = None  # how long the condition has lasted, where known [s]
    detail: str = ""  # prose for people

    @property
    def subject(self) -> str:
        """What the event is about, for de-duplication: tree, else zone, else device, else site."""
        return self.tree or self.zone or self.device or self.site


def _find_zone(sites: np.ndarray, zones: np.ndarray, site: str, zone: str) -> int | None:
    """Index of (site, zone) in per-zone columns, or None."""
    hit = np.flatnonzero((sites == site) & (zones == zone))
    return int(hit[0]) if hit.size else None


def _empty(dtype: type) -> np.ndarray:
    return np.zeros(0, dtype)


@dataclass(frozen=True, slots=True)
class ZoneWaterState:
    """Every zone's water status at one tick, as columns (one entry per zone).

    ``zone`` is None for a probe bound to no known zone (judged alone, reported by
    ``device``). Levels: 0 none, 2 warning, 3 critical (latched with hysteresis).
    """

    ts_ms: int = 0
    site: np.ndarray = field(default_factory=lambda: _empty(object))
    zone: np.ndarray = field(default_factory=lambda: _empty(object))
    device: np.ndarray = field(default_factory=lambda: _empty(object))
    vwc_pct: np.ndarray = field(default_factory=lambda: _empty(np.float64))  # median of probes
    n_probes: np.ndarray = field(default_factory=lambda: _empty(np.int64))  # usable probes
    refill_vwc_pct: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    hours_above: np.ndarray = field(default_factory=lambda: _empty(np.float64))  # saturation [h]
    newest_ts_ms: np.ndarray = field(default_factory=lambda: _empty(np.int64))  # newest reading
    drought_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    waterlog_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))

    def __len__(self) -> int:
        return int(self.site.size)

    def find(self, site: str, zone: str) -> int | None:
        """The entry of a registry zone, or None."""
        return _find_zone(self.site, self.zone, site, zone)


@dataclass(frozen=True, slots=True)
class TreeRiskState:
    """Every tilt-instrumented tree's risk at one tick, as columns (one entry per device).

    Levels 0–3 (none, watch, warning, critical) of each latched lean condition; ``lean_deg`` is
    the newest calm residual lean from the tree's baseline (NaN without a baseline or calm).
    """

    ts_ms: int = 0
    site: np.ndarray = field(default_factory=lambda: _empty(object))
    device: np.ndarray = field(default_factory=lambda: _empty(object))
    tree: np.ndarray = field(default_factory=lambda: _empty(object))
    heritage: np.ndarray = field(default_factory=lambda: _empty(bool))
    baseline_ok: np.ndarray = field(default_factory=lambda: _empty(bool))
    lean_deg: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    lean_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    step_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    trend_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    failure_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    storm_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    storm_offset_deg: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    #: elastic compliance of the newest storm [deg per unit load], NaN before any storm
    compliance: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    mount_level: np.ndarray = field(default_factory=lambda: _empty(np.int8))

    def __len__(self) -> int:
        return int(self.site.size)

    def risk_level(self) -> np.ndarray:
        """The worst of the lean conditions per tree (failure counts as critical)."""
        if not len(self):
            return _empty(np.int8)
        levels = [self.lean_level, self.step_level, self.trend_level,
                  np.where(self.failure_level > 0, 3, 0)]
        if self.storm_level.size == len(self):
            levels.append(self.storm_level)
        return np.asarray(np.max(np.stack(levels), axis=0), np.int8)


@dataclass(frozen=True, slots=True)
class ZoneBalanceState:
    """FAO-56 water balance of every water-balance zone (one with an application rate), as
    columns; depths in mm, as of the end of local day ``day`` (days since 1970-01-01 local).

    ``dr_mm`` is the sensor-corrected root-zone depletion, ``dr_model_mm`` before the probe
    correction, ``alpha`` the share taken from the probes; ``et0_mm``/``etc_mm`` the closed
    day's reference and crop ET; ``rain_mm`` and ``irrigation_mm`` (net) what the day got;
    ``et0_pm`` whether ET0 came from Penman–Monteith (else Hargreaves–Samani); ``probes`` per
    zone the (device, index %, θ, quality, offset against the zone's probe reference [mm] or
    NaN) used.
    """

    ts_ms: int = 0
    site: np.ndarray = field(default_factory=lambda: _empty(object))
    zone: np.ndarray = field(default_factory=lambda: _empty(object))
    day: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    dr_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    #: the estimate's standard deviation [mm], the learned ET scale [-] (actual ET over
    #: Kc·ET0) and the probes' learned offset [mm] (analytics/irrigation/estimator.py)
    dr_sd_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    et_scale: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    probe_offset_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    #: (Z, 14) the estimator's packed state (estimator.pack), kept with each decision
    estimator: np.ndarray = field(default_factory=lambda: np.zeros((0, 14)))
    dr_model_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    alpha: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    taw_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    raw_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    et0_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    etc_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    eta_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    rain_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    irrigation_mm: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    et0_pm: np.ndarray = field(default_factory=lambda: _empty(bool))
    probes: tuple[tuple[tuple[str, float, float, int, float], ...], ...] = ()

    def __len__(self) -> int:
        return int(self.site.size)

    def find(self, site: str, zone: str) -> int | None:
        """The entry of a registry zone, or None."""
        return _find_zone(self.site, self.zone, site, zone)


@dataclass(frozen=True, slots=True)
class TickResult:
    """One engine tick: the new events (sorted) and the state snapshots."""

    events: list[Event]
    zones: ZoneWaterState
    trees: TreeRiskState
    balance: ZoneBalanceState = field(default_factory=ZoneBalanceState)
