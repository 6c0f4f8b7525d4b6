"""Registry rows → the irrigation model's parameters (soil limits, hydraulics, calibrations).

Plain functions of ORM rows, no session: the caller loads zones and their probes. A zone
without an application rate cannot have its run time computed and yields no hydraulics; a
zone without soil data falls back to loam (FAO-56 Table 19) and says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo as TimeZone

from greeniot.calibration import CALIBRATION_WEIGHT, CalibrationSpec
from greeniot.estate import ZoneHydraulics
from greeniot.registry.models import Device, Site, Zone
from greeniot.registry.schemas import ProbeCalibration
from greeniot.soils import (
    readily_available_water_mm,
    soil_limits,
    total_available_water_mm,
)

#: Texture assumed for a zone that gives neither θ values nor a texture class.
DEFAULT_TEXTURE = "loam"


@dataclass(frozen=True, slots=True)
class ZoneSoil:
    """A zone's root zone: θFC, θWP [m³ m⁻³], Zr [m], TAW, RAW [mm], p [-], Kc by month."""

    theta_fc: float
    theta_wp: float
    root_depth_m: float
    taw_mm: float
    raw_mm: float
    p: float
    kc_by_month: tuple[float, ...]  # 12 values
    assumed_texture: bool  # True when the loam default was used


def zone_soil(zone: Zone) -> ZoneSoil:
    assumed = zone.soil_texture is None and (zone.theta_fc is None or zone.theta_wp is None)
    fc, wp = soil_limits(texture_name=zone.soil_texture or (DEFAULT_TEXTURE if assumed else None),
                         theta_fc=zone.theta_fc, theta_wp=zone.theta_wp)
    taw = float(total_available_water_mm(fc, wp, zone.root_depth_m))
    kc = tuple(zone.kc_monthly) if zone.kc_monthly else (zone.kc,) * 12
    return ZoneSoil(fc, wp, zone.root_depth_m, taw,
                    float(readily_available_water_mm(zone.mad_p, taw)), zone.mad_p, kc, assumed)


def zone_hydraulics(zone: Zone) -> ZoneHydraulics | None:
    """The zone's equipment and limits, or None when it has no application rate."""
    if zone.application_rate_mm_h is None:
        return None
    return ZoneHydraulics(
        site=zone.site, zone=zone.id, application_rate_mm_h=zone.application_rate_mm_h,
        efficiency=zone.efficiency, kind=zone.irrigation_kind, area_m2=zone.area_m2,
        max_run_s=zone.max_run_s, soak_s=zone.soak_s, min_interval_s=zone.min_interval_s,
        daily_max_s=zone.daily_max_s, daily_budget_l=zone.water_budget_l_day,
        target_dr_mm=zone.target_dr_mm)


def probe_specs(probes: Sequence[Device], zone: Zone) -> list[CalibrationSpec | None]:
    """Calibration per probe (None = uncalibrated: it will not correct the balance)."""
    out: list[CalibrationSpec | None] = []
    for device in probes:
        if device.calibration is None:
            out.append(None)
            continue
        cal = ProbeCalibration.model_validate(device.calibration)
        out.append(cal.spec(zone.soil_texture or DEFAULT_TEXTURE))
    return out


def utc_offset_h(tz: str | None, at: dt.datetime | None = None) -> float:
    """The offset of IANA time zone ``tz`` from UTC [h] (now, or at ``at``); 0 without one."""
    if not tz:
        return 0.0
    offset = (at or dt.datetime.now(dt.UTC)).astimezone(TimeZone(tz)).utcoffset()
    return 0.0 if offset is None else offset.total_seconds() / 3600.0


def water_fields(zones: Sequence[Zone], sites: Sequence[Site]) -> dict[tuple[str, str],
                                                                       dict[str, Any]]:
    """The water-balance fields of :class:`greeniot.estate.ZoneInfo` per (site, zone)."""
    by_site = {s.id: s for s in sites}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for z in zones:
        soil = zone_soil(z)
        site = by_site.get(z.site)
        out[(z.site, z.id)] = {
            "application_rate_mm_h": z.application_rate_mm_h,
            "irrigation_kind": z.irrigation_kind, "theta_fc": soil.theta_fc,
            "theta_wp": soil.theta_wp, "root_depth_m": soil.root_depth_m,
            "soil_texture": z.soil_texture or (DEFAULT_TEXTURE if soil.assumed_texture else None),
            "soil_from_texture": z.theta_fc is None or z.theta_wp is None,
            "kc_by_month": soil.kc_by_month, "mad_p": soil.p, "efficiency": z.efficiency,
            "area_m2": z.area_m2, "soak_s": z.soak_s, "water_budget_l_day": z.water_budget_l_day,
            "target_dr_mm": z.target_dr_mm,
            "lat_deg": site.lat_deg if site else None,
            "elevation_m": (site.elevation_m or 0.0) if site else 0.0,
            "utc_offset_h": utc_offset_h(site.tz if site else None)}
    return out


def probe_fields(device: Device, zones: Mapping[tuple[str, str], Zone]) -> dict[str, Any]:
    """Calibration (as polynomial + θ limit), weight and fault flag of a soil probe."""
    zone = zones.get((device.site, device.zone_id)) if device.zone_id else None
    cal, weight = None, device.probe_weight
    if device.calibration is not None and zone is not None:
        (spec,) = probe_specs([device], zone)
        if spec is not None:
            cal = spec.coefficients()
            weight *= CALIBRATION_WEIGHT[spec.kind]
    return {"calibration": cal, "probe_weight": weight, "probe_faulty": device.probe_faulty}
