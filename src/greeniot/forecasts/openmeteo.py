"""Open-Meteo's forecast API (https://open-meteo.com/en/docs), daily aggregation, as an adapter.

Request (no API key; CC BY 4.0 attribution to Open-Meteo):
``https://api.open-meteo.com/v1/forecast?latitude=..&longitude=..&daily=precipitation_sum,
temperature_2m_min,temperature_2m_max,wind_speed_10m_mean,wind_speed_10m_max,
wind_gusts_10m_max&wind_speed_unit=ms&timezone=auto&forecast_days=3``. The response holds
``daily.time`` (local ISO dates) and one list per variable, and ``daily_units`` naming each
unit; wind in km/h, mph or kn is converted to m/s, temperature in °F to °C, precipitation in
inch to mm. Open-Meteo issues no cyclone signal: ``signal`` stays None.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from greeniot.forecasts.adapter import DailyForecast, ForecastInputError

API = "https://api.open-meteo.com/v1/forecast"
DAILY = ("precipitation_sum", "temperature_2m_min", "temperature_2m_max", "wind_speed_10m_mean",
         "wind_speed_10m_max", "wind_gusts_10m_max")
#: Unit spellings Open-Meteo uses in ``daily_units`` → factor to m/s, °C offsets, mm.
WIND_TO_MS = {"m/s": 1.0, "km/h": 1 / 3.6, "mp/h": 0.44704, "mph": 0.44704, "kn": 0.514444}
RAIN_TO_MM = {"mm": 1.0, "inch": 25.4}


class OpenMeteo:
    """Adapter for Open-Meteo's daily forecast JSON."""

    name = "open-meteo"

    def url(self, lat_deg: float, lon_deg: float, days: int = 3) -> str:
        return API + "?" + urlencode({
            "latitude": f"{lat_deg:.4f}", "longitude": f"{lon_deg:.4f}", "daily": ",".join(DAILY),
            "wind_speed_unit": "ms", "timezone": "auto", "forecast_days": days})

    def parse(self, data: bytes) -> list[DailyForecast]:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ForecastInputError(f"open-meteo: not JSON ({err})") from None
        if not isinstance(doc, dict):
            raise ForecastInputError("open-meteo: expected a JSON object")
        if doc.get("error"):
            raise ForecastInputError(f"open-meteo: the service said: {doc.get('reason')}")
        daily, units = doc.get("daily"), doc.get("daily_units") or {}
        if not isinstance(daily, dict) or not isinstance(daily.get("time"), list):
            raise ForecastInputError("open-meteo: no daily.time list (request daily=...)")
        times: list[Any] = daily["time"]
        n = len(times)
        cols: dict[str, list[Any]] = {}
        for var in DAILY:
            col = daily.get(var)
            if col is None:
                continue
            if not isinstance(col, list) or len(col) != n:
                raise ForecastInputError(f"open-meteo: daily.{var} is not a list of {n} values")
            cols[var] = col
        if "precipitation_sum" not in cols:
            raise ForecastInputError("open-meteo: daily.precipitation_sum is missing")
        wind = self._factor(units, ("wind_speed_10m_max", "wind_speed_10m_mean",
                                    "wind_gusts_10m_max"), WIND_TO_MS, "m/s")
        rain = self._factor(units, ("precipitation_sum",), RAIN_TO_MM, "mm")
        fahrenheit = any(units.get(v) == "°F" for v in ("temperature_2m_min", "temperature_2m_max"))

        def val(var: str, i: int, scale: float = 1.0) -> float | None:
            x = cols.get(var, [None] * n)[i]
            if x is None:
                return None
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise ForecastInputError(f"open-meteo: daily.{var}[{i}] = {x!r} is no number")
            return float(x) * scale

        def temp(var: str, i: int) -> float | None:
            x = val(var, i)
            return None if x is None else ((x - 32) * 5 / 9 if fahrenheit else x)

        out = []
        for i, t in enumerate(times):
            try:
                date = dt.date.fromisoformat(str(t))
            except ValueError:
                raise ForecastInputError(f"open-meteo: daily.time[{i}] = {t!r} is no date "
                                         "(request timeformat=iso8601)") from None
            out.append(DailyForecast(
                date=date, rain_mm=val("precipitation_sum", i, rain) or 0.0,
                temp_min_c=temp("temperature_2m_min", i), temp_max_c=temp("temperature_2m_max", i),
                wind_mean_ms=val("wind_speed_10m_mean", i, wind),
                wind_max_ms=val("wind_speed_10m_max", i, wind),
                gust_max_ms=val("wind_gusts_10m_max", i, wind)))
        return out

    @staticmethod
    def _factor(units: dict[str, Any], names: tuple[str, ...], table: dict[str, float],
                default: str) -> float:
        given = {units.get(n) for n in names if units.get(n) is not None}
        if len(given) > 1:
            raise ForecastInputError(f"open-meteo: mixed units {sorted(map(str, given))} "
                                     f"for {names}")
        unit = given.pop() if given else default
        if unit not in table:
            raise ForecastInputError(f"open-meteo: unit {unit!r} of {names[0]} is not one of "
                                     f"{sorted(table)}")
        return table[unit]
