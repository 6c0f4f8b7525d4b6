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


@dataclass(frozen=True, slots=True)
class TreeInfo:
    site: str
    tree: str
    heritage: bool = False  # ancient or named tree: stricter thresholds, handled first
    species: str | None = None
    height_m: float | None = None


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    site: str
    zone: str
    #: Refill point: irrigate below this volumetric water content [%].
    refill_vwc_pct: float = 18.0
    #: Waterlogging: drainage needed when above this for ``waterlog_hours`` [%].
    saturation_vwc_pct: float = 45.0
    waterlog_hours: float = 12.0
    valve_device: str | None = None
    #: The valve node closes itself after this long [s].
    max_run_s: int = 900
    #: Minimum time between two irrigations of this zone [s].
    min_interval_s: int = 6 * 3600
    #: Daily cap of valve-open time [s].
    daily_max_s: int = 3600


@dataclass(frozen=True, slots=True)
class EstateContext:
    devices: tuple[DeviceBinding, ...] = ()
    trees: tuple[TreeInfo, ...] = ()
    zones: tuple[ZoneInfo, ...] = ()
