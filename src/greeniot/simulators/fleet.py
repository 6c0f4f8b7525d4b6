"""A deterministic description of a simulated estate: sites, irrigation zones, trees, devices.

Only what the registry would hold lives here (ids, species, heights, heritage flags, zone soil
figures). The hidden physics of each tree and zone (baseline lean, sensor drift, sway frequency)
is drawn by :mod:`simulators.engine` from the same seed, so the fleet can be handed to the
backend without giving the answers away.

The field names of :class:`DeviceSpec`, and the shared ones of :class:`TreeSpec` and
:class:`ZoneSpec`, are those of ``greeniot.estate`` (``DeviceBinding``, ``TreeInfo``,
``ZoneInfo``), so the CLI can convert with ``DeviceBinding(**asdict(spec))`` or by picking fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from greeniot.protocol import valid_id

DeviceKind = Literal["soil", "tilt", "valve", "weather"]

#: Common urban trees of a subtropical estate; the first two are the usual heritage species.
SPECIES: tuple[str, ...] = (
    "Ficus microcarpa", "Cinnamomum camphora", "Delonix regia", "Bauhinia blakeana",
    "Aleurites moluccana", "Lagerstroemia speciosa", "Melaleuca cajuputi",
    "Spathodea campanulata", "Khaya senegalensis", "Bombax ceiba",
)
HERITAGE_NAMES: tuple[str, ...] = (
    "Old Banyan", "Camphor Elder", "Gate Banyan", "Temple Camphor", "Hillside Banyan",
    "Well Camphor",
)
_SITE_NAMES: tuple[str, ...] = ("estate-a", "estate-b", "estate-c", "estate-d", "estate-e")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device and what it is bound to: the fields of ``analytics.context.DeviceBinding``."""

    site: str
    device: str
    kind: DeviceKind
    tree: str | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class TreeSpec:
    site: str
    tree: str
    heritage: bool
    species: str
    height_m: float
    tilt_device: str
    name: str | None = None  # heritage (named) trees only
    lat: float = 0.0
    lon: float = 0.0


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """An irrigation zone: a bucket of soil with 1–3 probes and one valve.

    Soil figures are volumetric water content [%]; ``root_depth_mm`` is the depth of the
    modelled root zone, ``flow_lpm`` the valve's flow [L/min] spread over ``area_m2``.
    """

    site: str
    zone: str
    valve_device: str
    soil_devices: tuple[str, ...]
    refill_vwc_pct: float = 18.0
    saturation_vwc_pct: float = 45.0
    field_capacity_vwc_pct: float = 32.0
    wilting_point_vwc_pct: float = 10.0
    root_depth_mm: float = 200.0
    area_m2: float = 60.0
    flow_lpm: float = 20.0
    kc: float = 0.9  # crop coefficient (planting and exposure)
    max_run_s: int = 900

    @property
    def irrigation_mm_h(self) -> float:
        """Depth of water the open valve applies [mm/h]: 1 L over 1 m² is 1 mm."""
        return self.flow_lpm * 60.0 / self.area_m2


@dataclass(frozen=True, slots=True)
class SiteSpec:
    site: str
    name: str
    weather_device: str
    lat: float
    lon: float
    utc_offset_h: float = 8.0  # local time drives the daily temperature and sun cycle


@dataclass(frozen=True, slots=True)
class Fleet:
    seed: int
    sites: tuple[SiteSpec, ...]
    zones: tuple[ZoneSpec, ...]
    trees: tuple[TreeSpec, ...]

    @classmethod
    def generate(cls, sites: int = 1, trees_per_site: int = 20, zones_per_site: int = 4,
                 seed: int = 1, *, site_ids: list[str] | tuple[str, ...] | None = None) -> Fleet:
        """Build a fleet; the same arguments always give the same fleet.

        Ids are unique across the whole fleet (trees ``t001``…, zones ``z01``…, weather
        stations ``wx-1``…), so a registry keyed by device id alone also works. ``site_ids``
        overrides the default ``estate-a``, ``estate-b``… (tests pass unique ones).
        """
        if sites < 1 or trees_per_site < 0 or zones_per_site < 0:
            raise ValueError("sites must be >= 1, trees_per_site and zones_per_site >= 0")
        ids = list(site_ids) if site_ids is not None else [
            _SITE_NAMES[i] if i < len(_SITE_NAMES) else f"estate-{i + 1}" for i in range(sites)
        ]
        if len(ids) != sites:
            raise ValueError(f"site_ids has {len(ids)} ids for sites={sites}")
        for sid in ids:
            if not valid_id(sid):
                raise ValueError(f"site id {sid!r} does not match [a-z0-9][a-z0-9_-]{{0,63}}")
        rng = np.random.default_rng([seed, 0x5EED])
        tw = max(3, len(str(sites * trees_per_site)))
        zw = max(2, len(str(sites * zones_per_site)))
        site_specs: list[SiteSpec] = []
        zone_specs: list[ZoneSpec] = []
        tree_specs: list[TreeSpec] = []
        names = iter(HERITAGE_NAMES * (1 + sites * trees_per_site // len(HERITAGE_NAMES)))
        for s, sid in enumerate(ids):
            lat0, lon0 = 22.30 + 0.02 * s, 114.17 + 0.02 * s
            site_specs.append(SiteSpec(sid, f"Estate {chr(65 + s % 26)}", f"wx-{s + 1}",
                                       lat0, lon0))
            for z in range(zones_per_site):
                num = s * zones_per_site + z + 1
                zid = f"z{num:0{zw}d}"
                n_probes = int(rng.integers(1, 4))
                zone_specs.append(ZoneSpec(
                    site=sid, zone=zid, valve_device=f"valve-{zid}",
                    soil_devices=tuple(f"soil-{zid}-{p + 1}" for p in range(n_probes)),
                    field_capacity_vwc_pct=round(float(rng.uniform(30.0, 34.0)), 1),
                    wilting_point_vwc_pct=round(float(rng.uniform(9.0, 12.0)), 1),
                    root_depth_mm=round(float(rng.uniform(150.0, 300.0)), -1),
                    area_m2=round(float(rng.uniform(40.0, 120.0)), 0),
                    flow_lpm=round(float(rng.uniform(12.0, 30.0)), 0),
                    kc=round(float(rng.uniform(0.6, 1.1)), 2),
                ))
            n_heritage = max(1, trees_per_site // 10) if trees_per_site else 0
            for i in range(trees_per_site):
                num = s * trees_per_site + i + 1
                tid = f"t{num:0{tw}d}"
                heritage = i < n_heritage
                if heritage:
                    species = SPECIES[i % 2]
                    height = float(rng.uniform(18.0, 28.0))
                else:
                    species = SPECIES[int(rng.integers(0, len(SPECIES)))]
                    height = float(rng.uniform(4.0, 18.0))
                tree_specs.append(TreeSpec(
                    site=sid, tree=tid, heritage=heritage, species=species,
                    height_m=round(height, 1), tilt_device=f"tilt-{tid}",
                    name=next(names) if heritage else None,
                    lat=round(lat0 + float(rng.uniform(-0.002, 0.002)), 6),
                    lon=round(lon0 + float(rng.uniform(-0.002, 0.002)), 6),
                ))
        return cls(seed, tuple(site_specs), tuple(zone_specs), tuple(tree_specs))

    # -- views ---------------------------------------------------------------------------------
    def devices(self) -> tuple[DeviceSpec, ...]:
        """Every device with its binding: weather stations, soil probes, valves, tilt sensors."""
        out: list[DeviceSpec] = []
        for site in self.sites:
            out.append(DeviceSpec(site.site, site.weather_device, "weather"))
            for z in self.zones:
                if z.site != site.site:
                    continue
                out.extend(DeviceSpec(z.site, d, "soil", zone=z.zone) for d in z.soil_devices)
                out.append(DeviceSpec(z.site, z.valve_device, "valve", zone=z.zone))
            out.extend(DeviceSpec(t.site, t.tilt_device, "tilt", tree=t.tree)
                       for t in self.trees if t.site == site.site)
        return tuple(out)

    def zone(self, zone: str) -> ZoneSpec:
        for z in self.zones:
            if z.zone == zone:
                return z
        raise KeyError(f"no zone {zone!r}; zones: {[z.zone for z in self.zones]}")

    def tree(self, tree: str) -> TreeSpec:
        for t in self.trees:
            if t.tree == tree:
                return t
        raise KeyError(f"no tree {tree!r}")

    def registry(self) -> dict[str, list[dict[str, Any]]]:
        """Plain, JSON-ready records to seed the registry: ``sites``, ``zones``, ``trees``,
        ``devices`` (each a list of dicts with the dataclass fields; tuples become lists)."""

        def plain(obj: Any) -> dict[str, Any]:
            return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(obj).items()}

        return {
            "sites": [plain(s) for s in self.sites],
            "zones": [plain(z) for z in self.zones],
            "trees": [plain(t) for t in self.trees],
            "devices": [plain(d) for d in self.devices()],
        }
