"""Vectorised weather per site: wind with gusts, showers, the daily temperature and sun cycle.

Every quantity is a deterministic function of (simulated time, site), evaluated on numpy arrays,
so the weather station, the trees' sway and the soil buckets all see the *same* gust or shower.
Gusts and showers are sums of a few sinusoids with random periods and phases per site: smooth,
repeatable, cheap, and without per-step state.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from greeniot.simulators.scenarios import Scenario

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_GUST_PERIODS_S = (15.0, 600.0)
_SHOWER_PERIODS_S = (900.0, 4 * 3600.0)
_N_SINES = 6
#: Solar constant [W m-2] and the clear-sky transmittance of FAO-56 eq. 37 at sea level [-]:
#: integrated over a day, clear-sky irradiance then equals Rso = 0.75 Ra.
SOLAR_CONSTANT_W_M2 = 1367.0
CLEAR_SKY_TRANSMITTANCE = 0.75
#: Ångström coefficients (FAO-56 eq. 35): an overcast day still gets as/(as+bs) of clear sky.
ANGSTROM_AS, ANGSTROM_BS = 0.25, 0.50
#: Standard deviation of the gust factor around 1; the 3-s peak over 5 min is then ~1.4–1.6×
#: the mean, typical of the gust factors reported for tropical cyclones over built-up terrain.
GUST_SIGMA = 0.25


class _Sines:
    """Per-site sum of sinusoids, normalised to unit standard deviation."""

    def __init__(self, rng: np.random.Generator, n_sites: int, periods_s: tuple[float, float]
                 ) -> None:
        lo, hi = np.log(periods_s[0]), np.log(periods_s[1])
        self.freq_hz = 1.0 / np.exp(rng.uniform(lo, hi, (n_sites, _N_SINES)))
        self.phase = rng.uniform(0.0, 2 * np.pi, (n_sites, _N_SINES))
        amp = rng.uniform(0.5, 1.0, (n_sites, _N_SINES))
        self.amp = amp / np.sqrt((amp**2).sum(axis=1, keepdims=True) / 2.0)

    def __call__(self, t_s: F64, site: I64) -> F64:
        arg = 2 * np.pi * self.freq_hz[site] * t_s[..., None] + self.phase[site]
        return np.asarray((self.amp[site] * np.sin(arg)).sum(axis=-1))


class WeatherModel:
    """The scenario's weather at any simulated time ``t_s`` [s since run start] and site index.

    Parameters
    ----------
    scenario : Scenario
        Supplies the schedules (fractions of ``span_s``).
    span_s : float
        Simulated span of the run [s].
    start_ms : int
        Timestamp of ``t_s = 0`` [ms UTC]; with ``utc_offset_h`` it fixes the local hour.
    utc_offset_h : array of float, shape (sites,)
    rng : numpy Generator
        Draws the gust and shower processes and small per-site offsets.
    lat_deg, lon_deg : array of float, shape (sites,), optional
        Site position [degrees] for the sun's path (solar radiation). Without a latitude the
        sites sit at 22.3° N; without a longitude solar noon is at 12:00 local clock time.
    """

    def __init__(self, scenario: Scenario, span_s: float, start_ms: int,
                 utc_offset_h: ArrayLike, rng: np.random.Generator, *,
                 lat_deg: ArrayLike | None = None, lon_deg: ArrayLike | None = None) -> None:
        self.scenario = scenario
        self.span_s = float(span_s)
        self.start_ms = int(start_ms)
        self.utc_offset_h = np.asarray(utc_offset_h, dtype=np.float64)
        n = self.utc_offset_h.size
        self._gust = _Sines(rng, n, _GUST_PERIODS_S)
        self._shower = _Sines(rng, n, _SHOWER_PERIODS_S)
        self._temp_offset_c = rng.normal(0.0, 0.3, n)
        self._wind_scale = rng.uniform(0.93, 1.07, n)
        self.lat_deg = np.full(n, 22.3) if lat_deg is None else np.asarray(lat_deg, float)
        self._lon_deg = None if lon_deg is None else np.asarray(lon_deg, dtype=np.float64)

    # -- schedules -----------------------------------------------------------------------------
    def _frac(self, t_s: F64) -> F64:
        return np.clip(t_s / self.span_s, 0.0, 1.0)

    def local_hour(self, t_s: F64, site: I64) -> F64:
        utc_h = (self.start_ms / 3.6e6 + t_s / 3600.0) % 24.0
        return np.asarray((utc_h + self.utc_offset_h[site]) % 24.0)

    def wind_mean_ms(self, t_s: F64, site: I64) -> F64:
        """10-min mean wind [m/s]."""
        return np.asarray(self.scenario.wind_mean_ms.at(self._frac(t_s)) * self._wind_scale[site])

    def gust_factor(self, t_s: F64, site: I64) -> F64:
        """Instantaneous wind over the mean wind [-]."""
        return np.maximum(1.0 + GUST_SIGMA * self._gust(t_s, site), 0.2)

    def wind_ms(self, t_s: F64, site: I64) -> F64:
        """Instantaneous (3-s) wind [m/s]."""
        return self.wind_mean_ms(t_s, site) * self.gust_factor(t_s, site)

    def wind_to_rad(self, t_s: F64, site: I64) -> F64:
        """Direction the wind blows towards [rad, clockwise from north]; estate-wide, so
        ``site`` only fixes the shape."""
        deg = self.scenario.wind_dir_deg.at(self._frac(t_s))
        return np.asarray(np.deg2rad(np.broadcast_to(deg, np.broadcast_shapes(deg.shape,
                                                                              np.shape(site)))))

    def rain_rate_mm_h(self, t_s: F64, site: I64) -> F64:
        mean = self.scenario.rain_mm_h.at(self._frac(t_s))
        return mean * np.maximum(1.0 + 0.9 * self._shower(t_s, site), 0.0)

    def rain_mm(self, t0_s: F64, t1_s: F64, site: I64, max_dt_s: float = 60.0) -> F64:
        """Rain that fell in ``[t0_s, t1_s]`` [mm], integrated on a grid of at most ``max_dt_s``."""
        t0 = np.asarray(t0_s, dtype=np.float64)
        t1 = np.asarray(t1_s, dtype=np.float64)
        if t0.size == 0:
            return np.zeros(0)
        n = max(2, int(np.ceil(float(np.max(t1 - t0)) / max_dt_s)) + 1)
        u = np.linspace(0.0, 1.0, n)
        grid = t0[..., None] + (t1 - t0)[..., None] * u
        rate = self.rain_rate_mm_h(grid, np.asarray(site)[..., None])
        area = 0.5 * (rate[..., 1:] + rate[..., :-1]) * np.diff(grid, axis=-1)
        return np.asarray(area.sum(axis=-1) / 3600.0)

    def air_temp_c(self, t_s: F64, site: I64) -> F64:
        f = self._frac(t_s)
        phase = 2 * np.pi * (self.local_hour(t_s, site) - 9.0) / 24.0  # warmest ~15:00
        return (self.scenario.air_temp_mean_c.at(f) + self._temp_offset_c[site]
                + self.scenario.air_temp_amp_c.at(f) * np.sin(phase))

    def sun_frac(self, t_s: F64, site: I64) -> F64:
        """Sunshine relative to a clear midday [-]: day arc × scenario cloudiness × rain."""
        arc = np.maximum(np.sin(np.pi * (self.local_hour(t_s, site) - 6.0) / 12.0), 0.0)
        rain = np.minimum(self.rain_rate_mm_h(t_s, site) / 5.0, 1.0)
        return arc * self.scenario.sun.at(self._frac(t_s)) * (1.0 - 0.7 * rain)

    def solar_hour(self, t_s: F64, site: I64) -> F64:
        """Local solar time [h] (mean sun, no equation of time)."""
        if self._lon_deg is None:
            return self.local_hour(t_s, site)
        utc_h = (self.start_ms / 3.6e6 + t_s / 3600.0) % 24.0
        return np.asarray((utc_h + self._lon_deg[site] / 15.0) % 24.0)

    def clear_sky_w_m2(self, t_s: F64, site: I64) -> F64:
        """Clear-sky global horizontal irradiance [W m-2] from the sun's elevation.

        Solar declination and Earth–Sun distance as in FAO-56 eqs. 23–24, the hour angle from
        solar time; times the transmittance of FAO-56 eq. 37, so a clear day integrates to
        Rso = 0.75 Ra.
        """
        day = np.floor((self.start_ms / 1000.0 + np.asarray(t_s)) / 86400.0)
        doy = (day - 10957.0) % 365.2425 + 1.0  # days since 2000-01-01 → day of year (approx.)
        dec = 0.409 * np.sin(2 * np.pi * doy / 365.0 - 1.39)
        dr = 1.0 + 0.033 * np.cos(2 * np.pi * doy / 365.0)
        phi = np.deg2rad(self.lat_deg[site])
        omega = np.pi / 12.0 * (self.solar_hour(t_s, site) - 12.0)
        cos_z = np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(omega)
        return np.asarray(CLEAR_SKY_TRANSMITTANCE * SOLAR_CONSTANT_W_M2 * dr
                          * np.maximum(cos_z, 0.0))

    def solar_w_m2(self, t_s: F64, site: I64) -> F64:
        """Global horizontal irradiance [W m-2]: clear sky × the scenario's cloudiness and rain
        in Ångström form (FAO-56 eq. 35: overcast keeps as/(as+bs) = 1/3 of clear sky)."""
        rain = np.minimum(self.rain_rate_mm_h(t_s, site) / 5.0, 1.0)
        sun = np.clip(self.scenario.sun.at(self._frac(t_s)), 0.0, 1.0) * (1.0 - 0.7 * rain)
        return np.asarray(self.clear_sky_w_m2(t_s, site)
                          * (ANGSTROM_AS + ANGSTROM_BS * sun) / (ANGSTROM_AS + ANGSTROM_BS))

    def rh_pct(self, t_s: F64, site: I64) -> F64:
        f = self._frac(t_s)
        dt = self.air_temp_c(t_s, site) - self.scenario.air_temp_mean_c.at(f)
        rain = np.minimum(self.rain_rate_mm_h(t_s, site) / 5.0, 1.0)
        return np.clip(self.scenario.rh_pct.at(f) - 2.5 * dt + 25.0 * rain, 15.0, 100.0)

    # -- what a station reports ----------------------------------------------------------------
    def station(self, t_prev_s: F64, t_s: F64, site: I64, sample_s: float = 3.0
                ) -> tuple[F64, F64, F64]:
        """Mean wind, peak 3-s gust [m/s] and rain [mm] over each ``(t_prev_s, t_s]``."""
        t0 = np.asarray(t_prev_s, dtype=np.float64)
        t1 = np.asarray(t_s, dtype=np.float64)
        n = max(2, int(np.ceil(float(np.max(t1 - t0, initial=0.0)) / sample_s)) + 1)
        grid = t0[:, None] + (t1 - t0)[:, None] * np.linspace(0.0, 1.0, n)[1:]
        w = self.wind_ms(grid, np.asarray(site)[:, None])
        return w.mean(axis=1), w.max(axis=1), self.rain_mm(t0, t1, site)
