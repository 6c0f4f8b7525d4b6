"""Weather-service adapters and forecast files → the forecast channel's payload (no network:
a saved Open-Meteo response and small files)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from greeniot.forecasts import DailyForecast, ForecastInputError, site_forecast
from greeniot.forecasts.adapter import daily_site_forecasts
from greeniot.forecasts.files import parse_days, read_days
from greeniot.forecasts.openmeteo import OpenMeteo
from greeniot.protocol import decode, encode, forecast_topic

DATA = Path(__file__).parent / "data"
HK = 8.0


def _ms(y: int, m: int, d: int, h: int = 0, offset_h: float = HK) -> int:
    return int(dt.datetime(y, m, d, h, tzinfo=dt.UTC).timestamp() * 1000 - offset_h * 3.6e6)


def test_open_meteo_sample_converts_units_and_maps_today_and_tomorrow() -> None:
    days = OpenMeteo().parse((DATA / "open_meteo_daily.json").read_bytes())
    assert [d.date for d in days] == [dt.date(2026, 9, 14), dt.date(2026, 9, 15),
                                      dt.date(2026, 9, 16)]
    assert days[1].wind_max_ms == pytest.approx(88.2 / 3.6)  # km/h in the file → m/s
    fc = site_forecast(days, issued_ms=_ms(2026, 9, 14, 6), utc_offset_h=HK, source="open-meteo")
    assert (fc.rain_today_mm, fc.rain_tomorrow_mm) == (12.4, 86.1)
    assert (fc.temp_min_c, fc.temp_max_c, fc.temp_min_tomorrow_c) == (26.1, 31.9, 24.8)
    assert fc.wind_ms == pytest.approx(14.8 / 3.6)
    # the typhoon day is tomorrow: the two-day maxima carry it (Beaufort 8+ and 40 m/s gusts)
    assert fc.wind_max_ms == pytest.approx(24.5) and fc.gust_max_ms == pytest.approx(142.9 / 3.6)
    # the payload is what the channel takes
    d = decode(forecast_topic("estate-a"), encode(fc))
    assert d.rejections == [] and d.messages == [fc]


def test_open_meteo_url_asks_for_metres_per_second_and_the_daily_variables() -> None:
    url = OpenMeteo().url(22.3, 114.17)
    assert url.startswith("https://api.open-meteo.com/v1/forecast?latitude=22.3000")
    assert "wind_speed_unit=ms" in url and "precipitation_sum" in url and "timezone=auto" in url


@pytest.mark.parametrize(("doc", "match"), [
    (b"<html>", "not JSON"),
    (b'{"error":true,"reason":"Latitude must be in range of -90 to 90"}', "Latitude must be"),
    (b'{"daily":{"time":["2026-09-14"]}}', "precipitation_sum is missing"),
    (b'{"daily":{"time":["2026-09-14"],"precipitation_sum":[1,2]}}', "not a list of 1"),
    (b'{"daily":{"time":["x"],"precipitation_sum":[1]}}', r"daily.time\[0\]"),
    (b'{"daily":{"time":["2026-09-14"],"precipitation_sum":["wet"]}}', "is no number"),
    (b'{"daily_units":{"wind_speed_10m_max":"beaufort"},"daily":{"time":["2026-09-14"],'
     b'"precipitation_sum":[1],"wind_speed_10m_max":[3]}}', "unit 'beaufort'"),
])
def test_open_meteo_bad_input_is_named(doc: bytes, match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        OpenMeteo().parse(doc)


def test_csv_file_of_several_days_one_forecast_per_day() -> None:
    days = read_days(DATA / "forecast_days.csv")
    assert len(days) == 3 and days[1].temp_min_c == -2.0 and days[0].signal is None
    fcs = daily_site_forecasts(days, utc_offset_h=HK, source="file")
    assert [f.ts_ms for f in fcs] == [_ms(2026, 12, 1), _ms(2026, 12, 2), _ms(2026, 12, 3)]
    # 1 December: tomorrow's freeze is visible the day before (winter watering)
    assert fcs[0].temp_min_tomorrow_c == -2.0 and fcs[1].rain_tomorrow_mm == 7.0
    assert fcs[2].rain_tomorrow_mm == 0.0 and fcs[2].temp_min_tomorrow_c is None
    assert daily_site_forecasts(days, utc_offset_h=HK, source="file",
                                until_ms=_ms(2026, 12, 2, 5)) == fcs[:2]


def test_json_file_and_open_meteo_json_by_content() -> None:
    doc = {"days": [{"date": "2026-12-01", "rain_mm": 6, "signal": 8},
                    {"date": "2026-12-02", "wind_max_ms": 30.5}]}
    days = parse_days(json.dumps(doc).encode())
    assert days == [DailyForecast(dt.date(2026, 12, 1), rain_mm=6.0, signal=8),
                    DailyForecast(dt.date(2026, 12, 2), wind_max_ms=30.5)]
    assert len(parse_days((DATA / "open_meteo_daily.json").read_bytes())) == 3


@pytest.mark.parametrize(("text", "match"), [
    ("day,rain_mm\n2026-12-01,1\n", "header with a 'date' column"),
    ("date,rain_mm\n2026-13-01,1\n", "line 2: date '2026-13-01'"),
    ("date,rain_mm\n2026-12-01,lots\n", "line 2: rain_mm 'lots' is not a number"),
    ("date,snow_cm\n2026-12-01,1\n", "unknown column"),
    ("date,signal\n2026-12-01,8.5\n", "signal '8.5' is not an integer"),
    ("date\n2026-12-01\n2026-12-01\n", "given twice"),
    ("date\n", "no forecast days"),
    ('[{"date":"2026-12-01","rain_mm":true}]', "item 0: rain_mm True"),
])
def test_bad_files_name_row_and_column(text: str, match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        parse_days(text.encode(), "f")


def test_out_of_range_value_and_missing_today_are_errors() -> None:
    days = [DailyForecast(dt.date(2026, 12, 1), rain_mm=-3.0)]
    with pytest.raises(ForecastInputError, match="rain_today_mm"):
        site_forecast(days, issued_ms=_ms(2026, 12, 1, 6), utc_offset_h=HK)
    with pytest.raises(ForecastInputError, match=r"no forecast row for today \(2026-12-05"):
        site_forecast(days, issued_ms=_ms(2026, 12, 5, 6), utc_offset_h=HK)
