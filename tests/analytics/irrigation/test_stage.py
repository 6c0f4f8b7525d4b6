"""The water stage through the real engine: weather, probe and valve messages in, each zone's
daily FAO-56 balance out."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.irrigation import estimator
from greeniot.analytics.irrigation.et0 import W_M2_TO_MJ_M2_DAY, daily_et0_mm
from greeniot.calibration import CalibrationSpec, ProbeQuality
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol.messages import SoilReading, ValveEvent, WeatherReading

SITE = "estate-w"
DAY0 = 1_780_012_800_000 // MS_PER_DAY * MS_PER_DAY  # a UTC midnight (UTC+8 site: 08:00)
OFFSET_H = 8.0
LOCAL0 = DAY0 - int(OFFSET_H * MS_PER_HOUR) + MS_PER_DAY  # a local midnight
CAL = CalibrationSpec("two_point", points=((20.0, 0.10), (60.0, 0.30)))


def _ctx(*, probes: bool = True) -> EstateContext:
    zone = ZoneInfo(SITE, "z1", valve_device="v1", application_rate_mm_h=12.0, efficiency=0.8,
                    theta_fc=0.30, theta_wp=0.15, root_depth_m=0.4, mad_p=0.5,
                    kc_by_month=(0.9,) * 12, lat_deg=22.3, elevation_m=50.0,
                    utc_offset_h=OFFSET_H)
    devs = [DeviceBinding(SITE, "wx", "weather"), DeviceBinding(SITE, "v1", "valve", zone="z1")]
    if probes:
        devs += [DeviceBinding(SITE, "p1", "soil", zone="z1", calibration=CAL.coefficients()),
                 DeviceBinding(SITE, "p2", "soil", zone="z1")]  # uncalibrated
    return EstateContext(devices=tuple(devs), zones=(zone,))


def _weather_day(engine: AnalyticsEngine, day: int, seq: list[int]) -> dict[str, float]:
    t0 = LOCAL0 + day * MS_PER_DAY
    temps, rhs, winds, solar, rain = [], [], [], [], 0.0
    for h in range(24):
        ts = t0 + h * MS_PER_HOUR + 30 * 60_000
        temp = 24.0 + 6.0 * np.sin(2 * np.pi * (h - 9) / 24)
        rh = 70.0 - 25.0 * np.sin(2 * np.pi * (h - 9) / 24)
        sol = max(0.0, 900.0 * np.sin(np.pi * (h - 6) / 12)) if 6 <= h <= 18 else 0.0
        r = 3.0 if (day == 1 and h in (14, 15)) else 0.0
        seq[0] += 1
        engine.ingest(SITE, "wx", WeatherReading(seq=seq[0], ts_ms=ts, wind_ms=2.5, rain_mm=r,
                                                 air_temp_c=round(temp, 1), rh_pct=round(rh),
                                                 solar_w_m2=round(sol, 1)))
        temps.append(round(temp, 1))
        rhs.append(round(rh))
        winds.append(2.5)
        solar.append(round(sol, 1))
        rain += r
    return {"tmin": min(temps), "tmax": max(temps), "rh_min": min(rhs), "rh_max": max(rhs),
            "wind": float(np.mean(winds)), "rs": float(np.mean(solar)) * W_M2_TO_MJ_M2_DAY,
            "rain": rain}


def test_daily_balance_from_readings_matches_the_pure_model() -> None:
    engine = AnalyticsEngine(_ctx())
    seq = [0]
    # Probe p1 reads index 50 → θ 0.25 → Dr 1000·(0.30 − 0.25)·0.4 = 20 mm at the start.
    engine.ingest(SITE, "p1", SoilReading(seq=1, ts_ms=LOCAL0 - 60_000, vwc_pct=50.0))
    engine.ingest(SITE, "p2", SoilReading(seq=1, ts_ms=LOCAL0 - 60_000, vwc_pct=10.0))
    start = engine.tick(LOCAL0)
    taw, raw = 60.0, 30.0
    i = start.balance.find(SITE, "z1")
    assert i is not None
    zr = np.array([0.4])
    est = estimator.update(estimator.initial(np.array([0.5 * raw]), dr_sd_mm=0.5 * raw,
                                             root_depth_m=zr),
                           dr_probe_mm=np.array([20.0]), weight_sum=np.array([1.0]),
                           taw_mm=taw, root_depth_m=zr)
    assert start.balance.dr_mm[i] == pytest.approx(float(est.dr_mm[0]))
    assert 0.0 < start.balance.alpha[i] < 1.0
    assert 15.0 < start.balance.dr_mm[i] < 20.0  # between the start guess and the probe
    assert start.balance.taw_mm[i] == pytest.approx(taw)
    assert {p[0]: p[3] for p in start.balance.probes[i]} == {
        "p1": ProbeQuality.OK, "p2": ProbeQuality.UNCALIBRATED}
    days = [_weather_day(engine, d, seq) for d in range(3)]
    # Day 1: the valve ran 30 min (12 mm/h → 6 mm gross, 4.8 mm net).
    engine.ingest(SITE, "v1", ValveEvent(seq=1, ts_ms=LOCAL0 + MS_PER_DAY + 7 * MS_PER_HOUR,
                                         state="closed", cause="cmd", open_s=1800.0))
    for d in range(3):
        # Probe p1 at each day's end: index 45 → θ 0.225 → 30 mm.
        engine.ingest(SITE, "p1", SoilReading(seq=2 + d, ts_ms=LOCAL0 + (d + 1) * MS_PER_DAY
                                              - 60_000, vwc_pct=45.0))
        res = engine.tick(LOCAL0 + (d + 1) * MS_PER_DAY + MS_PER_HOUR)
        w = days[d]
        mid = LOCAL0 + d * MS_PER_DAY + 12 * MS_PER_HOUR  # local noon, as ms UTC
        doy = dt.datetime.fromtimestamp(mid / 1000, dt.UTC).timetuple().tm_yday
        et0, pm = daily_et0_mm(tmin_c=w["tmin"], tmax_c=w["tmax"], lat_deg=22.3, doy=doy,
                               elevation_m=50.0, rs_mj_m2=w["rs"], wind_ms=w["wind"],
                               rh_min_pct=w["rh_min"], rh_max_pct=w["rh_max"])
        assert bool(pm)
        net = 4.8 if d == 1 else 0.0
        est, step = estimator.predict(est, et0_mm=et0, kc=0.9, taw_mm=taw, p=0.5,
                                      rain_mm=w["rain"], irrigation_mm=net)
        est = estimator.update(est, dr_probe_mm=np.array([30.0]), weight_sum=np.array([1.0]),
                               taw_mm=taw, root_depth_m=zr)
        b = res.balance
        assert b.et0_mm[i] == pytest.approx(float(et0), rel=1e-9)
        assert b.irrigation_mm[i] == pytest.approx(net)
        assert b.rain_mm[i] == pytest.approx(w["rain"])
        assert b.dr_model_mm[i] == pytest.approx(float(step.dr_mm[0]))
        assert b.dr_mm[i] == pytest.approx(float(est.dr_mm[0]))
        assert b.alpha[i] == pytest.approx(float(est.gain[0]))
        assert b.dr_sd_mm[i] == pytest.approx(float(est.dr_sd_mm[0]))
        assert b.et_scale[i] == pytest.approx(float(est.et_scale[0]))
        probes = dict((p[0], p) for p in b.probes[i])
        # p2 sent nothing since the start: stale, so it is missing whatever its calibration.
        assert probes["p1"][3] == ProbeQuality.OK and probes["p2"][3] == ProbeQuality.MISSING
    assert 3.0 < float(res.balance.et0_mm[i]) < 7.0


def test_without_probes_or_radiation_the_model_runs_alone_on_hargreaves() -> None:
    engine = AnalyticsEngine(_ctx(probes=False))
    engine.tick(LOCAL0)
    t0 = LOCAL0
    for h in range(24):
        engine.ingest(SITE, "wx", WeatherReading(seq=h + 1, ts_ms=t0 + h * MS_PER_HOUR,
                                                 wind_ms=2.0, air_temp_c=20.0 + h % 10))
    res = engine.tick(LOCAL0 + MS_PER_DAY + 60_000)
    i = res.balance.find(SITE, "z1")
    assert i is not None
    assert not res.balance.et0_pm[i] and res.balance.et0_mm[i] > 0
    assert res.balance.alpha[i] == 0.0
    assert res.balance.dr_mm[i] == pytest.approx(res.balance.dr_model_mm[i])
    assert res.balance.dr_mm[i] == pytest.approx(15.0 + 0.9 * res.balance.et0_mm[i])
