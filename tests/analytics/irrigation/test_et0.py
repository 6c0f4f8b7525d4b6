"""ET0 against the FAO-56 worked examples and against refet (ASCE-EWRI daily, grass)."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.irrigation import et0 as e

BRUSSELS = {"lat_deg": 50 + 48 / 60, "doy": 187, "elevation_m": 100.0}  # FAO-56 Example 18


def test_fao56_example_3_pressure_and_psychrometric_constant() -> None:
    p = e.atmospheric_pressure_kpa(1800.0)
    assert p == pytest.approx(81.8, abs=0.05)
    assert e.psychrometric_constant_kpa_c(p) == pytest.approx(0.054, abs=0.0005)


def test_fao56_example_5_actual_vapour_pressure() -> None:
    ea = e.actual_vapour_pressure_kpa(18.0, 25.0, rh_min_pct=54.0, rh_max_pct=82.0)
    assert ea == pytest.approx(1.70, abs=0.005)


def test_fao56_examples_8_and_9_radiation_geometry() -> None:
    # 20°S on 3 September: Ra = 32.2 MJ m-2 day-1, N = 11.7 h.
    assert e.extraterrestrial_radiation_mj_m2(-20.0, 246) == pytest.approx(32.2, abs=0.05)
    assert e.daylight_hours(-20.0, 246) == pytest.approx(11.7, abs=0.05)


def test_fao56_example_14_wind_at_two_metres() -> None:
    assert round(float(e.wind_speed_2m_ms(3.2, 10.0)), 1) == 2.4
    with pytest.raises(ValueError, match="height_m"):
        e.wind_speed_2m_ms(3.2, 0.05)


def test_fao56_example_18_brussels_6_july() -> None:
    """Daily ET0 for Brussels on 6 July: 3.9 mm/day, with the example's intermediate values."""
    lat, doy, z = BRUSSELS["lat_deg"], BRUSSELS["doy"], BRUSSELS["elevation_m"]
    assert e.extraterrestrial_radiation_mj_m2(lat, doy) == pytest.approx(41.09, abs=0.01)
    assert e.daylight_hours(lat, doy) == pytest.approx(16.1, abs=0.05)
    rs = e.solar_radiation_from_sunshine_mj_m2(9.25, lat, doy)
    assert rs == pytest.approx(22.07, abs=0.01)
    assert e.clear_sky_radiation_mj_m2(lat, doy, z) == pytest.approx(30.90, abs=0.01)
    ea = e.actual_vapour_pressure_kpa(12.3, 21.5, rh_min_pct=63.0, rh_max_pct=84.0)
    assert ea == pytest.approx(1.409, abs=0.001)
    u2 = e.wind_speed_2m_ms(10.0 / 3.6, 10.0)  # 10 km/h at 10 m
    assert u2 == pytest.approx(2.078, abs=0.001)
    assert e.net_radiation_mj_m2(12.3, 21.5, ea, rs, lat, doy, z) == pytest.approx(13.28,
                                                                                     abs=0.01)
    et0 = e.et0_penman_monteith_mm(tmin_c=12.3, tmax_c=21.5, ea_kpa=ea, rs_mj_m2=rs, u2_ms=u2,
                                   lat_deg=lat, doy=doy, elevation_m=z)
    assert round(float(et0), 1) == 3.9


def test_daily_et0_picks_penman_monteith_or_hargreaves_per_element() -> None:
    rs = e.solar_radiation_from_sunshine_mj_m2(9.25, BRUSSELS["lat_deg"], BRUSSELS["doy"])
    out, pm = e.daily_et0_mm(tmin_c=[12.3, 12.3, np.nan], tmax_c=[21.5, 21.5, 21.5],
                             rs_mj_m2=[float(rs), np.nan, float(rs)], wind_ms=10 / 3.6,
                             wind_height_m=10.0, rh_min_pct=63.0, rh_max_pct=84.0,
                             **BRUSSELS)
    assert round(float(out[0]), 1) == 3.9
    hs = e.et0_hargreaves_mm(tmin_c=12.3, tmax_c=21.5, lat_deg=BRUSSELS["lat_deg"],
                             doy=BRUSSELS["doy"])
    # Eq. 52 by hand: 0.0023 (16.9 + 17.8) sqrt(9.2) · 0.408 · 41.09
    assert float(hs) == pytest.approx(0.0023 * 34.7 * np.sqrt(9.2) * 0.408 * 41.088, rel=1e-3)
    assert out[1] == pytest.approx(float(hs))
    assert np.isnan(out[2])
    assert pm.tolist() == [True, False, False]


def _generated_days(n_sites: int, n_days: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-45.0, 55.0, (n_sites, 1))
    elev = rng.uniform(0.0, 1500.0, (n_sites, 1))
    doy = np.broadcast_to(np.arange(150, 150 + n_days)[None, :], (n_sites, n_days))
    tmin = rng.uniform(2.0, 22.0, (n_sites, n_days))
    tmax = tmin + rng.uniform(4.0, 15.0, (n_sites, n_days))
    rso = e.clear_sky_radiation_mj_m2(lat, doy, elev)
    rs = rso * rng.uniform(0.3, 1.0, (n_sites, n_days))
    rh_max = rng.uniform(60.0, 100.0, (n_sites, n_days))
    rh_min = rh_max * rng.uniform(0.3, 0.9, (n_sites, n_days))
    wind10 = rng.uniform(0.5, 8.0, (n_sites, n_days))
    return {"lat": lat, "elev": elev, "doy": doy, "tmin": tmin, "tmax": tmax, "rs": rs,
            "rh_max": rh_max, "rh_min": rh_min, "wind10": wind10}


def test_penman_monteith_matches_refet_on_generated_month() -> None:
    refet = pytest.importorskip("refet")
    d = _generated_days(n_sites=8, n_days=35, seed=7)
    ours, pm = e.daily_et0_mm(tmin_c=d["tmin"], tmax_c=d["tmax"], rs_mj_m2=d["rs"],
                              wind_ms=d["wind10"], wind_height_m=10.0, rh_min_pct=d["rh_min"],
                              rh_max_pct=d["rh_max"], lat_deg=d["lat"], doy=d["doy"],
                              elevation_m=d["elev"])
    assert pm.all()
    ea = e.actual_vapour_pressure_kpa(d["tmin"], d["tmax"], rh_min_pct=d["rh_min"],
                                      rh_max_pct=d["rh_max"])
    ref = np.empty_like(ours)
    for s in range(ours.shape[0]):
        ref[s] = refet.Daily(tmin=d["tmin"][s], tmax=d["tmax"][s], ea=ea[s], rs=d["rs"][s],
                             uz=d["wind10"][s], zw=10.0, elev=float(d["elev"][s, 0]),
                             lat=float(d["lat"][s, 0]), doy=d["doy"][s], method="asce"
                             ).eto()
    assert ours.shape == (8, 35)
    assert np.max(np.abs(ours - ref)) < 0.05, np.max(np.abs(ours - ref))
    print("max |ours - refet| mm/day", np.max(np.abs(ours - ref)))
    assert float(ours.mean()) > 1.0  # a real month, not zeros on both sides
