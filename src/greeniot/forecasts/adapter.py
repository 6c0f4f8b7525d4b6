"""The weather-service adapter interface: provider data → daily rows → a site forecast.

An adapter is anything with a ``name`` and ``parse(data: bytes) -> list[DailyForecast]``
(:class:`WeatherService`), optionally ``url(lat_deg, lon_deg) -> str`` for fetching. It only
translates a provider's format and units; it never decides. :func:`site_forecast` turns the
rows into the one message the ``forecast`` channel carries (:class:`SiteForecast`): today's and
tomorrow's rain, today's min/max and tomorrow's min temperature, the day's mean wind, the
highest mean wind and gust over the two days, and a storm signal where one is issued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from greeniot.protocol.messages import SiteForecast

MS_PER_DAY = 86_400_000


class ForecastInputError(ValueError):
    """Provider data or a forecast file that cannot be read; the message names what and
    where (row, field)."""


@dataclass(frozen=True, slots=True)
class DailyForecast:
    """One forecast day at the site, local calendar date. Units: mm, °C, m s-1.

    ``wind_mean_ms``: the day's mean 10 m wind; ``wind_max_ms``: the day's highest (hourly or
    10-min) mean wind; ``gust_max_ms``: the day's highest gust; ``signal``: a tropical
    cyclone warning signal number where the weather service issues one. None = not given.
    """

    date: dt.date
    rain_mm: float = 0.0
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    wind_mean_ms: float | None = None
    wind_max_ms: float | None = None
    gust_max_ms: float | None = None
    signal: int | None = None


class WeatherService(Protocol):
    """What an adapter provides."""

    name: str

    def parse(self, data: bytes) -> list[DailyForecast]:
        """Daily rows from one provider response; :class:`ForecastInputError` naming what is
        wrong."""
        ...


def _max(*values: float | None) -> float | None:
    got = [v for v in values if v is not None]
    return max(got) if got else None


def _local_date(ts_ms: int, utc_offset_h: float) -> dt.date:
    return dt.datetime.fromtimestamp(ts_ms / 1000 + utc_offset_h * 3600, dt.UTC).date()


def site_forecast(days: Sequence[DailyForecast], *, issued_ms: int, utc_offset_h: float = 0.0,
                  source: str | None = None) -> SiteForecast:
    """The site forecast as of ``issued_ms``: today is the row of the local date of
    ``issued_ms`` (site offset ``utc_offset_h``), tomorrow the next date's row.
    :class:`ForecastInputError` when there is no row for today or a value is out of range."""
    by_date = {d.date: d for d in days}
    today_date = _local_date(issued_ms, utc_offset_h)
    today = by_date.get(today_date)
    if today is None:
        have = ", ".join(str(d) for d in sorted(by_date)) or "none"
        raise ForecastInputError(f"no forecast row for today ({today_date}, site time); rows: "
                                 f"{have}")
    tomorrow = by_date.get(today_date + dt.timedelta(days=1))
    signals = [s for s in (today.signal, tomorrow.signal if tomorrow else None) if s is not None]
    try:
        return SiteForecast(
            ts_ms=issued_ms, rain_today_mm=today.rain_mm,
            rain_tomorrow_mm=tomorrow.rain_mm if tomorrow else 0.0,
            temp_min_c=today.temp_min_c, temp_max_c=today.temp_max_c,
            temp_min_tomorrow_c=tomorrow.temp_min_c if tomorrow else None,
            wind_ms=today.wind_mean_ms,
            wind_max_ms=_max(today.wind_max_ms, tomorrow.wind_max_ms if tomorrow else None),
            gust_max_ms=_max(today.gust_max_ms, tomorrow.gust_max_ms if tomorrow else None),
            signal=max(signals) if signals else None, source=source)
    except ValidationError as err:
        raise ForecastInputError(f"forecast for {today_date}: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'forecast'}: {e['msg']}"
            for e in err.errors())) from None


def daily_site_forecasts(days: Sequence[DailyForecast], *, utc_offset_h: float = 0.0,
                         source: str | None = None, until_ms: int | None = None
                         ) -> list[SiteForecast]:
    """One forecast per row, each issued at its date's local midnight (a backfill or a
    replay of several days, e.g. a file of past forecasts); rows after ``until_ms`` are left
    out (a forecast is never issued in the future)."""
    out = []
    for d in sorted(days, key=lambda d: d.date):
        midnight = dt.datetime(d.date.year, d.date.month, d.date.day, tzinfo=dt.UTC)
        issued = int(midnight.timestamp() * 1000 - utc_offset_h * 3_600_000)
        if until_ms is not None and issued > until_ms:
            continue
        out.append(site_forecast(days, issued_ms=issued, utc_offset_h=utc_offset_h,
                                 source=source))
    return out
