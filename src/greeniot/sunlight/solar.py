"""The sun's path over one local day, from pvlib's solar position algorithm.

pvlib's default ``nrel_numpy`` method is the NREL Solar Position Algorithm (Reda & Andreas
2004, doi:10.1016/j.solener.2003.12.003), stated accurate to ±0.0003° in elevation and azimuth;
we use its *apparent* elevation (with atmospheric refraction), as a resident sees the sun.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pvlib
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class SunPath:
    """Sun positions at a regular step over one local day."""

    date: dt.date
    step_s: int
    times_ms: NDArray[np.int64]  # ms UTC
    elevation_deg: NDArray[np.float64]  # apparent, above the horizon
    azimuth_deg: NDArray[np.float64]  # clockwise from true north


def winter_solstice(year: int, lat_deg: float) -> dt.date:
    """The local winter solstice: the day of lowest declination in December (northern
    hemisphere) or highest in June (southern), by Spencer's (1971) declination series."""
    month = 12 if lat_deg >= 0 else 6
    days = pd.date_range(f"{year}-{month:02d}-10", f"{year}-{month:02d}-30", freq="D")
    decl = pvlib.solarposition.declination_spencer71(days.day_of_year.to_numpy())
    pick = np.argmin(decl) if lat_deg >= 0 else np.argmax(decl)
    picked: dt.date = days[int(pick)].date()
    return picked


def sun_path(lat_deg: float, lon_deg: float, date: dt.date, step_s: int = 60) -> SunPath:
    """Sun elevation and azimuth at every ``step_s`` of the solar day ``date`` seen from
    ``lat_deg``/``lon_deg`` [deg].

    The solar day runs from local mean solar midnight (UTC midnight shifted by ``lon_deg``/15
    hours) for 24 h, so the whole daylight of ``date`` falls in it wherever the site is and
    whatever its civil time zone.
    """
    if not -90 <= lat_deg <= 90 or not -180 <= lon_deg <= 180:
        raise ValueError(f"lat_deg/lon_deg out of range: {lat_deg}, {lon_deg}")
    if not 1 <= step_s <= 3600:
        raise ValueError(f"step_s must be 1..3600 s, got {step_s}")
    start = pd.Timestamp(date).tz_localize("UTC") - pd.Timedelta(hours=lon_deg / 15)
    times = pd.date_range(start, start + pd.Timedelta(days=1), freq=f"{step_s}s",
                          inclusive="left")
    pos = pvlib.solarposition.get_solarposition(times, lat_deg, lon_deg)
    times_ms = (times.tz_convert("UTC").as_unit("ms").asi8).astype(np.int64)
    return SunPath(date=date, step_s=step_s, times_ms=times_ms,
                   elevation_deg=pos["apparent_elevation"].to_numpy(dtype=np.float64),
                   azimuth_deg=pos["azimuth"].to_numpy(dtype=np.float64))
