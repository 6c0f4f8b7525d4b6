"""One water-balance zone with three calibrated soil probes, for the probe tests that drive the
real engine (test_probe_drift.py, test_probe_offsets.py)."""

from __future__ import annotations

from greeniot.calibration import CalibrationSpec
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo

OFFSET_H = 8.0
#: A local midnight of a UTC+8 site [ms].
LOCAL0 = 1_780_012_800_000 // MS_PER_DAY * MS_PER_DAY - int(OFFSET_H * MS_PER_HOUR) + MS_PER_DAY
#: index 0..100 → θ = index / 250 (index 75 is θ 0.30).
CAL = CalibrationSpec("two_point", points=((25.0, 0.10), (75.0, 0.30)))
PROBES = ("p1", "p2", "p3")


def three_probe_zone(site: str, *, theta_wp: float, mad_p: float,
                     calibrations: dict[str, CalibrationSpec] | None = None) -> EstateContext:
    """Zone z1 (loam-like, θFC 0.30, 0.4 m roots, a 12 mm/h rotor) with a weather station, a
    valve and probes p1..p3, each with ``CAL`` unless ``calibrations`` names another."""
    zone = ZoneInfo(site, "z1", valve_device="v1", application_rate_mm_h=12.0, efficiency=0.8,
                    theta_fc=0.30, theta_wp=theta_wp, root_depth_m=0.4, mad_p=mad_p,
                    kc_by_month=(0.8,) * 12, lat_deg=22.3, elevation_m=50.0,
                    utc_offset_h=OFFSET_H)
    cals = calibrations or {}
    devs = [DeviceBinding(site, "wx", "weather"), DeviceBinding(site, "v1", "valve", zone="z1")]
    devs += [DeviceBinding(site, p, "soil", zone="z1",
                           calibration=cals.get(p, CAL).coefficients()) for p in PROBES]
    return EstateContext(devices=tuple(devs), zones=(zone,))
