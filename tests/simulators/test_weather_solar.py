"""The simulated weather's solar radiation follows the sun: zero at night, a clear day
integrates to FAO-56's clear-sky Rso, clouds and rain cut it in Ångström form."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from greeniot.analytics.irrigation.et0 import W_M2_TO_MJ_M2_DAY, clear_sky_radiation_mj_m2
from greeniot.simulators.scenarios import DROUGHT, TYPHOON, Scenario
from greeniot.simulators.weather import WeatherModel

MIDNIGHT_UTC = dt.datetime(2026, 7, 6, tzinfo=dt.UTC)


LAT, LON = (22.3, 50.8, -33.9), (114.2, 4.35, 151.2)


def _model(scenario: Scenario = DROUGHT) -> WeatherModel:
    return WeatherModel(scenario, 86400.0, int(MIDNIGHT_UTC.timestamp() * 1000), [0.0] * 3,
                        np.random.default_rng(1), lat_deg=LAT, lon_deg=LON)


@pytest.mark.parametrize("site", [0, 1, 2])
def test_clear_day_integrates_to_fao56_rso(site: int) -> None:
    w = _model()
    t = np.arange(0.0, 86400.0, 60.0)
    ghi = w.clear_sky_w_m2(t, np.full(t.shape, site))
    rs_mj = float(ghi.mean()) * W_M2_TO_MJ_M2_DAY
    doy = MIDNIGHT_UTC.timetuple().tm_yday
    rso = float(clear_sky_radiation_mj_m2(w.lat_deg[site], doy, 0.0))
    assert rs_mj == pytest.approx(rso, rel=0.02)
    assert ghi.min() == 0.0  # night
    noon_h = (12.0 - LON[site] / 15.0) % 24.0
    assert abs(t[int(np.argmax(ghi))] / 3600.0 - noon_h) < 0.1


def test_clouds_and_rain_reduce_irradiance_but_not_below_a_third() -> None:
    sunny, stormy = _model(DROUGHT), _model(TYPHOON)
    t = np.linspace(0.0, 86400.0, 2000)
    site = np.zeros(t.shape, dtype=np.int64)
    clear = sunny.clear_sky_w_m2(t, site)
    assert np.allclose(sunny.solar_w_m2(t, site), clear)  # drought: sun 1.0, no rain
    cut = stormy.solar_w_m2(t, site)
    assert np.all(cut <= clear + 1e-9)
    day = clear > 0
    assert np.all(cut[day] >= clear[day] / 3.0 - 1e-9)
    assert cut.sum() < 0.8 * clear.sum()
