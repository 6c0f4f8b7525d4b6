"""Forecast files: several days as CSV or JSON, one row per local date.

Columns / keys (units in the names; every one but ``date`` optional): ``date`` (ISO,
site-local), ``rain_mm``, ``temp_min_c``, ``temp_max_c``, ``wind_ms`` (day mean),
``wind_max_ms``, ``gust_max_ms``, ``signal``. JSON is a list of such objects or
``{"days": [...]}``; a file in Open-Meteo's own format (``daily`` key) goes to that adapter.
A bad row is an error naming its row and column; nothing is published from a file with one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from greeniot.forecasts.adapter import DailyForecast, ForecastInputError
from greeniot.forecasts.openmeteo import OpenMeteo

FLOATS = ("rain_mm", "temp_min_c", "temp_max_c", "wind_ms", "wind_max_ms", "gust_max_ms")
COLUMNS = ("date", *FLOATS, "signal")


def _row(raw: dict[str, Any], where: str) -> DailyForecast:
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        raise ForecastInputError(f"{where}: unknown column(s) {', '.join(unknown)} (known: "
                                 f"{', '.join(COLUMNS)})")
    try:
        date = dt.date.fromisoformat(str(raw.get("date", "")).strip())
    except ValueError:
        raise ForecastInputError(f"{where}: date {raw.get('date')!r} is not an ISO date "
                                 "(YYYY-MM-DD)") from None
    vals: dict[str, float | None] = {}
    for name in FLOATS:
        x = raw.get(name)
        if x is None or (isinstance(x, str) and not x.strip()):
            vals[name] = None
            continue
        try:
            if isinstance(x, bool):
                raise ValueError
            vals[name] = float(x)
        except (TypeError, ValueError):
            raise ForecastInputError(f"{where}: {name} {x!r} is not a number") from None
    sig = raw.get("signal")
    signal: int | None = None
    if sig is not None and not (isinstance(sig, str) and not sig.strip()):
        try:
            if isinstance(sig, bool) or (isinstance(sig, float) and not sig.is_integer()):
                raise ValueError
            signal = int(sig)
        except (TypeError, ValueError):
            raise ForecastInputError(f"{where}: signal {sig!r} is not an integer") from None
    return DailyForecast(date=date, rain_mm=vals["rain_mm"] or 0.0,
                         temp_min_c=vals["temp_min_c"], temp_max_c=vals["temp_max_c"],
                         wind_mean_ms=vals["wind_ms"], wind_max_ms=vals["wind_max_ms"],
                         gust_max_ms=vals["gust_max_ms"], signal=signal)


def parse_days(data: bytes, name: str = "forecast") -> list[DailyForecast]:
    """Rows of a CSV or JSON forecast file (by content: JSON starts with ``[`` or ``{``)."""
    text = data.decode("utf-8-sig", errors="strict")
    if text.lstrip()[:1] in ("[", "{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ForecastInputError(f"{name}: not JSON ({err})") from None
        if isinstance(doc, dict) and "daily" in doc:
            return OpenMeteo().parse(data)
        items = doc.get("days") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ForecastInputError(f"{name}: expected a list of days or {{\"days\": [...]}}")
        days = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ForecastInputError(f"{name} item {i}: expected an object")
            days.append(_row(item, f"{name} item {i}"))
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "date" not in reader.fieldnames:
            raise ForecastInputError(f"{name}: a CSV needs a header with a 'date' column")
        days = [_row({k: v for k, v in r.items() if k is not None}, f"{name} line {i}")
                for i, r in enumerate(reader, start=2)]
    if not days:
        raise ForecastInputError(f"{name}: no forecast days")
    dates = [d.date for d in days]
    dup = sorted({d for d in dates if dates.count(d) > 1})
    if dup:
        raise ForecastInputError(f"{name}: date(s) given twice: {', '.join(map(str, dup))}")
    return days


def read_days(path: Path) -> list[DailyForecast]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ForecastInputError(f"cannot read {path}: {err.strerror}") from None
    try:
        return parse_days(data, path.name)
    except UnicodeDecodeError:
        raise ForecastInputError(f"{path.name}: not UTF-8 text") from None
