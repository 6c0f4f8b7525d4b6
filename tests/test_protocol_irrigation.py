"""Protocol additions for irrigation: solar irradiance on the weather channel, site forecasts."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from pydantic import ValidationError

from greeniot.config import InfluxSettings
from greeniot.protocol import decode
from greeniot.protocol.messages import SiteForecast, WeatherReading
from greeniot.services import InfluxProcess
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import PRECISION, tag_suffix, to_lines

TS = 1_795_510_737_944


def test_weather_reading_carries_optional_solar_irradiance() -> None:
    raw = {"v": 1, "seq": 5, "ts_ms": TS, "wind_ms": 2.0, "rain_mm": 0.0, "solar_w_m2": 412.5}
    out = decode("greeniot/v1/estate-a/wx-1/weather", json.dumps(raw).encode())
    assert out.rejections == []
    (msg,) = out.messages
    assert isinstance(msg, WeatherReading) and msg.solar_w_m2 == 412.5
    assert WeatherReading(seq=1, ts_ms=TS, wind_ms=1.0).solar_w_m2 is None
    with pytest.raises(ValidationError, match="solar_w_m2"):
        WeatherReading(seq=1, ts_ms=TS, wind_ms=1.0, solar_w_m2=-3.0)


@pytest.mark.services
def test_solar_irradiance_is_stored_as_a_float_field(influxdb: InfluxProcess) -> None:
    db = f"t_{uuid.uuid4().hex[:8]}"
    msg = WeatherReading(seq=1, ts_ms=TS, wind_ms=1.0, solar_w_m2=800)

    async def go() -> tuple[list[dict], list[dict]]:
        async with InfluxClient(InfluxSettings(url=influxdb.url, database=db)) as c:
            await c.write(to_lines(msg, tag_suffix("estate-a", "wx-1"), TS), precision=PRECISION)
            rows = await c.query("SELECT solar_w_m2 FROM weather")
            types = await c.query("SHOW FIELD KEYS FROM weather")
            return rows, types

    rows, types = asyncio.run(go())
    assert [(r["time"], r["solar_w_m2"]) for r in rows] == [(TS, 800.0)]
    assert {r["fieldKey"]: r["fieldType"] for r in types}["solar_w_m2"] == "float"


def test_site_forecast_model() -> None:
    f = SiteForecast(ts_ms=TS, rain_today_mm=6.0, rain_tomorrow_mm=0.5, temp_min_c=-1.0,
                     temp_max_c=7.0, temp_min_tomorrow_c=-4.0, wind_ms=3.0, source="api")
    assert f.rain_today_mm == 6.0
    with pytest.raises(ValidationError, match="temp_min_c"):
        SiteForecast(ts_ms=TS, temp_min_c=9.0, temp_max_c=3.0)
    with pytest.raises(ValidationError, match="rain_today_mm"):
        SiteForecast(ts_ms=TS, rain_today_mm=-1.0)
    with pytest.raises(ValidationError, match="extra"):
        SiteForecast.model_validate({"ts_ms": TS, "snow_mm": 1.0})
