"""Daily grass-reference evapotranspiration ET0, vectorized over sites (FAO-56 chapters 2–4).

FAO-56 Penman–Monteith (eq. 6) with the chapter-3 auxiliary equations, and Hargreaves–Samani
(eq. 52) where solar radiation is missing. Every function takes numpy arrays (or scalars) that
broadcast against each other, one element per site-day, and returns arrays; nothing loops.

Units follow FAO-56: temperature [°C], pressure [kPa], radiation [MJ m-2 day-1], wind [m s-1],
relative humidity [%], latitude [degrees, north positive], elevation [m], ET0 [mm day-1].

References
----------
.. [FAO56] R. G. Allen, L. S. Pereira, D. Raes, M. Smith, "Crop evapotranspiration —
   Guidelines for computing crop water requirements", FAO Irrigation and Drainage Paper 56,
   FAO, Rome, 1998. https://www.fao.org/3/x0490e/x0490e00.htm
.. [HS85] G. H. Hargreaves, Z. A. Samani, "Reference crop evapotranspiration from
   temperature", Applied Engineering in Agriculture 1(2) (1985) 96–99,
   doi:10.13031/2013.26773.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

#: Solar constant [MJ m-2 min-1] (FAO-56 eq. 21).
SOLAR_CONSTANT_MJ_M2_MIN: Final = 0.0820
#: Stefan–Boltzmann constant [MJ K-4 m-2 day-1] (FAO-56 eq. 39).
STEFAN_BOLTZMANN_MJ_K4_M2_DAY: Final = 4.903e-9
#: Albedo of the grass reference crop [-] (FAO-56 eq. 38).
ALBEDO_GRASS: Final = 0.23
#: Ångström coefficients without local calibration [-] (FAO-56 eq. 35).
ANGSTROM_AS: Final = 0.25
ANGSTROM_BS: Final = 0.50
#: Hargreaves–Samani coefficient [-] (FAO-56 eq. 52).
HARGREAVES_COEF: Final = 0.0023
#: MJ m-2 day-1 → mm day-1 of evaporated water: 1 / λ with λ = 2.45 MJ kg-1 (FAO-56 eq. 20).
MJ_TO_MM: Final = 0.408
#: W m-2 held for one day → MJ m-2 day-1.
W_M2_TO_MJ_M2_DAY: Final = 0.0864


def _f(x: ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


# --- atmosphere (FAO-56 chapter 3, "Atmospheric parameters") -------------------------------

def atmospheric_pressure_kpa(elevation_m: ArrayLike) -> F64:
    """Atmospheric pressure from elevation [kPa], FAO-56 eq. 7.

    Parameters
    ----------
    elevation_m : array_like
        Site elevation above sea level [m].
    """
    z = _f(elevation_m)
    return np.asarray(101.3 * ((293.0 - 0.0065 * z) / 293.0) ** 5.26)


def psychrometric_constant_kpa_c(pressure_kpa: ArrayLike) -> F64:
    """Psychrometric constant γ [kPa °C-1], FAO-56 eq. 8 (γ = 0.665·10⁻³ P)."""
    return np.asarray(0.665e-3 * _f(pressure_kpa))


# --- humidity ----------------------------------------------------------------------------

def saturation_vapour_pressure_kpa(temp_c: ArrayLike) -> F64:
    """Saturation vapour pressure e°(T) [kPa] at air temperature ``temp_c`` [°C], eq. 11."""
    t = _f(temp_c)
    return np.asarray(0.6108 * np.exp(17.27 * t / (t + 237.3)))


def mean_saturation_vapour_pressure_kpa(tmin_c: ArrayLike, tmax_c: ArrayLike) -> F64:
    """Daily mean saturation vapour pressure es [kPa], FAO-56 eq. 12."""
    return np.asarray(0.5 * (saturation_vapour_pressure_kpa(tmax_c)
                             + saturation_vapour_pressure_kpa(tmin_c)))


def svp_slope_kpa_c(tmean_c: ArrayLike) -> F64:
    """Slope Δ of the saturation vapour pressure curve [kPa °C-1] at ``tmean_c``, eq. 13."""
    t = _f(tmean_c)
    return np.asarray(4098.0 * saturation_vapour_pressure_kpa(t) / (t + 237.3) ** 2)


def actual_vapour_pressure_kpa(tmin_c: ArrayLike, tmax_c: ArrayLike, *,
                               rh_min_pct: ArrayLike | None = None,
                               rh_max_pct: ArrayLike | None = None,
                               rh_mean_pct: ArrayLike | None = None) -> F64:
    """Actual vapour pressure ea [kPa] from relative humidity [%].

    Uses FAO-56 eq. 17 (RHmax and RHmin) where both are finite, else eq. 18 (RHmax only),
    else eq. 19 (RHmean). Elements with none of them give NaN.

    Parameters
    ----------
    tmin_c, tmax_c : array_like
        Daily minimum and maximum air temperature [°C].
    rh_min_pct, rh_max_pct, rh_mean_pct : array_like, optional
        Daily minimum, maximum and mean relative humidity [%]; NaN where not measured.
    """
    e_min = saturation_vapour_pressure_kpa(tmin_c)
    e_max = saturation_vapour_pressure_kpa(tmax_c)
    nan = np.full(np.broadcast(e_min, e_max).shape, np.nan)
    rh_lo = nan if rh_min_pct is None else _f(rh_min_pct)
    rh_hi = nan if rh_max_pct is None else _f(rh_max_pct)
    rh_mean = nan if rh_mean_pct is None else _f(rh_mean_pct)
    eq17 = 0.5 * (e_min * rh_hi / 100.0 + e_max * rh_lo / 100.0)
    eq18 = e_min * rh_hi / 100.0
    eq19 = rh_mean / 100.0 * 0.5 * (e_max + e_min)
    out = np.where(np.isfinite(eq17), eq17, np.where(np.isfinite(eq18), eq18, eq19))
    return np.asarray(out)


# --- radiation ---------------------------------------------------------------------------

def solar_declination_rad(doy: ArrayLike) -> F64:
    """Solar declination δ [rad] on day of year ``doy`` (1..366), FAO-56 eq. 24."""
    return np.asarray(0.409 * np.sin(2.0 * np.pi * _f(doy) / 365.0 - 1.39))


def inverse_relative_distance(doy: ArrayLike) -> F64:
    """Inverse relative Earth–Sun distance dr [-], FAO-56 eq. 23."""
    return np.asarray(1.0 + 0.033 * np.cos(2.0 * np.pi * _f(doy) / 365.0))


def sunset_hour_angle_rad(lat_deg: ArrayLike, doy: ArrayLike) -> F64:
    """Sunset hour angle ωs [rad], FAO-56 eq. 25 (clipped for polar day and night)."""
    phi = np.deg2rad(_f(lat_deg))
    arg = -np.tan(phi) * np.tan(solar_declination_rad(doy))
    return np.asarray(np.arccos(np.clip(arg, -1.0, 1.0)))


def extraterrestrial_radiation_mj_m2(lat_deg: ArrayLike, doy: ArrayLike) -> F64:
    """Daily extraterrestrial radiation Ra [MJ m-2 day-1], FAO-56 eq. 21.

    Parameters
    ----------
    lat_deg : array_like
        Latitude [degrees], north positive.
    doy : array_like
        Day of the year, 1 (1 January) .. 365 or 366.
    """
    phi = np.deg2rad(_f(lat_deg))
    dec = solar_declination_rad(doy)
    ws = sunset_hour_angle_rad(lat_deg, doy)
    ra = (24.0 * 60.0 / np.pi * SOLAR_CONSTANT_MJ_M2_MIN * inverse_relative_distance(doy)
          * (ws * np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.sin(ws)))
    return np.asarray(np.maximum(ra, 0.0))


def daylight_hours(lat_deg: ArrayLike, doy: ArrayLike) -> F64:
    """Maximum possible sunshine duration N [h], FAO-56 eq. 34."""
    return np.asarray(24.0 / np.pi * sunset_hour_angle_rad(lat_deg, doy))


def solar_radiation_from_sunshine_mj_m2(sunshine_h: ArrayLike, lat_deg: ArrayLike,
                                        doy: ArrayLike) -> F64:
    """Solar radiation Rs [MJ m-2 day-1] from sunshine hours n [h] (Ångström), FAO-56 eq. 35."""
    n_max = daylight_hours(lat_deg, doy)
    ratio = np.where(n_max > 0, _f(sunshine_h) / np.where(n_max > 0, n_max, 1.0), 0.0)
    ra = extraterrestrial_radiation_mj_m2(lat_deg, doy)
    return np.asarray((ANGSTROM_AS + ANGSTROM_BS * ratio) * ra)


def clear_sky_radiation_mj_m2(lat_deg: ArrayLike, doy: ArrayLike,
                              elevation_m: ArrayLike) -> F64:
    """Clear-sky solar radiation Rso [MJ m-2 day-1], FAO-56 eq. 37."""
    return np.asarray((0.75 + 2e-5 * _f(elevation_m))
                      * extraterrestrial_radiation_mj_m2(lat_deg, doy))


def net_longwave_radiation_mj_m2(tmin_c: ArrayLike, tmax_c: ArrayLike, ea_kpa: ArrayLike,
                                 rs_mj_m2: ArrayLike, rso_mj_m2: ArrayLike) -> F64:
    """Net outgoing longwave radiation Rnl [MJ m-2 day-1], FAO-56 eq. 39.

    Notes
    -----
    Rs/Rso is limited to ≤ 1.0 as FAO-56 prescribes, and to ≥ 0.3 as ASCE-EWRI (2005) eq. 18
    does for the cloudiness term (FAO-56 leaves the lower end open; 0.3 keeps the term positive
    under the heaviest overcast).
    """
    tk4 = 0.5 * ((_f(tmax_c) + 273.16) ** 4 + (_f(tmin_c) + 273.16) ** 4)
    rso = _f(rso_mj_m2)
    rel = np.clip(_f(rs_mj_m2) / np.where(rso > 0, rso, np.nan), 0.3, 1.0)
    rel = np.where(rso > 0, rel, 0.5)  # polar night: no sun, FAO-56 gives no Rso to compare
    return np.asarray(STEFAN_BOLTZMANN_MJ_K4_M2_DAY * tk4 * (0.34 - 0.14 * np.sqrt(_f(ea_kpa)))
                      * (1.35 * rel - 0.35))


def net_radiation_mj_m2(tmin_c: ArrayLike, tmax_c: ArrayLike, ea_kpa: ArrayLike,
                        rs_mj_m2: ArrayLike, lat_deg: ArrayLike, doy: ArrayLike,
                        elevation_m: ArrayLike) -> F64:
    """Net radiation Rn = Rns − Rnl [MJ m-2 day-1], FAO-56 eqs. 38, 37, 39 and 40."""
    rs = _f(rs_mj_m2)
    rns = (1.0 - ALBEDO_GRASS) * rs
    rso = clear_sky_radiation_mj_m2(lat_deg, doy, elevation_m)
    return np.asarray(rns - net_longwave_radiation_mj_m2(tmin_c, tmax_c, ea_kpa, rs, rso))


# --- wind --------------------------------------------------------------------------------

def wind_speed_2m_ms(wind_ms: ArrayLike, height_m: ArrayLike) -> F64:
    """Wind speed at 2 m [m s-1] from a measurement at ``height_m`` [m] above ground, eq. 47."""
    z = _f(height_m)
    if np.any(z <= 0.1):
        raise ValueError(f"height_m must be above 0.1 m (FAO-56 eq. 47), got {z.min()}")
    return np.asarray(_f(wind_ms) * 4.87 / np.log(67.8 * z - 5.42))


# --- reference ET ------------------------------------------------------------------------

def et0_penman_monteith_mm(*, tmin_c: ArrayLike, tmax_c: ArrayLike, ea_kpa: ArrayLike,
                           rs_mj_m2: ArrayLike, u2_ms: ArrayLike, lat_deg: ArrayLike,
                           doy: ArrayLike, elevation_m: ArrayLike) -> F64:
    """Daily FAO-56 Penman–Monteith grass-reference ET0 [mm day-1], FAO-56 eq. 6.

    Parameters
    ----------
    tmin_c, tmax_c : array_like
        Daily minimum and maximum air temperature [°C]; Tmean is their mean (eq. 9).
    ea_kpa : array_like
        Actual vapour pressure [kPa] (:func:`actual_vapour_pressure_kpa`).
    rs_mj_m2 : array_like
        Incoming solar (shortwave) radiation [MJ m-2 day-1].
    u2_ms : array_like
        Daily mean wind speed at 2 m [m s-1] (:func:`wind_speed_2m_ms`).
    lat_deg, doy, elevation_m : array_like
        Latitude [degrees north], day of year [1..366], elevation [m].

    Returns
    -------
    numpy.ndarray
        ET0 [mm day-1], never negative.

    Notes
    -----
    Soil heat flux G is taken as 0 for a day (FAO-56 eq. 42). γ comes from the elevation
    through eqs. 7 and 8, Δ from Tmean through eq. 13, es from eq. 12.
    """
    tmin, tmax = _f(tmin_c), _f(tmax_c)
    tmean = 0.5 * (tmin + tmax)
    gamma = psychrometric_constant_kpa_c(atmospheric_pressure_kpa(elevation_m))
    delta = svp_slope_kpa_c(tmean)
    vpd = np.maximum(mean_saturation_vapour_pressure_kpa(tmin, tmax) - _f(ea_kpa), 0.0)
    rn = net_radiation_mj_m2(tmin, tmax, ea_kpa, rs_mj_m2, lat_deg, doy, elevation_m)
    u2 = _f(u2_ms)
    num = MJ_TO_MM * delta * rn + gamma * 900.0 / (tmean + 273.0) * u2 * vpd
    return np.asarray(np.maximum(num / (delta + gamma * (1.0 + 0.34 * u2)), 0.0))


def et0_hargreaves_mm(*, tmin_c: ArrayLike, tmax_c: ArrayLike, lat_deg: ArrayLike,
                      doy: ArrayLike) -> F64:
    """Daily Hargreaves–Samani ET0 [mm day-1], FAO-56 eq. 52, for days without radiation.

    ET0 = 0.0023 (Tmean + 17.8) (Tmax − Tmin)^0.5 Ra, with Ra (eq. 21) in mm day-1.

    Notes
    -----
    FAO-56 recommends it only where Rs, RH or wind are missing; it tends to over-predict in
    humid and under-predict in windy climates [FAO56]_, [HS85]_.
    """
    tmin, tmax = _f(tmin_c), _f(tmax_c)
    ra_mm = MJ_TO_MM * extraterrestrial_radiation_mj_m2(lat_deg, doy)
    et0 = (HARGREAVES_COEF * (0.5 * (tmin + tmax) + 17.8) * np.sqrt(np.maximum(tmax - tmin, 0.0))
           * ra_mm)
    return np.asarray(np.maximum(et0, 0.0))


def daily_et0_mm(*, tmin_c: ArrayLike, tmax_c: ArrayLike, lat_deg: ArrayLike, doy: ArrayLike,
                 elevation_m: ArrayLike, rs_mj_m2: ArrayLike | None = None,
                 wind_ms: ArrayLike | None = None, wind_height_m: ArrayLike = 2.0,
                 rh_min_pct: ArrayLike | None = None, rh_max_pct: ArrayLike | None = None,
                 rh_mean_pct: ArrayLike | None = None) -> tuple[F64, NDArray[np.bool_]]:
    """ET0 per site-day: Penman–Monteith where radiation is known, Hargreaves–Samani elsewhere.

    Missing humidity falls back to ea ≈ e°(Tmin) (FAO-56 eq. 48) and missing wind to 2 m/s
    (FAO-56 eq. 47 notes, "2 m/s ... as a temporary estimate"), as FAO-56 chapter 3 advises
    for missing data.

    Returns
    -------
    et0_mm : numpy.ndarray
        ET0 [mm day-1]; NaN where Tmin or Tmax is missing.
    penman_monteith : numpy.ndarray of bool
        True where eq. 6 was used, False where eq. 52 was.
    """
    tmin, tmax = _f(tmin_c), _f(tmax_c)
    shape = np.broadcast_shapes(tmin.shape, tmax.shape, np.shape(lat_deg), np.shape(doy))
    rs = np.full(shape, np.nan) if rs_mj_m2 is None else np.broadcast_to(_f(rs_mj_m2), shape)
    ea = actual_vapour_pressure_kpa(tmin, tmax, rh_min_pct=rh_min_pct, rh_max_pct=rh_max_pct,
                                    rh_mean_pct=rh_mean_pct)
    ea = np.where(np.isfinite(ea), ea, saturation_vapour_pressure_kpa(tmin))
    u = np.full(shape, 2.0) if wind_ms is None else _f(wind_ms)
    u2 = np.where(np.isfinite(u), wind_speed_2m_ms(np.nan_to_num(u), wind_height_m), 2.0)
    pm = et0_penman_monteith_mm(tmin_c=tmin, tmax_c=tmax, ea_kpa=ea, rs_mj_m2=np.nan_to_num(rs),
                                u2_ms=u2, lat_deg=lat_deg, doy=doy, elevation_m=elevation_m)
    hs = et0_hargreaves_mm(tmin_c=tmin, tmax_c=tmax, lat_deg=lat_deg, doy=doy)
    use_pm = np.broadcast_to(np.isfinite(rs), shape)
    out = np.where(use_pm, pm, hs)
    out = np.where(np.isfinite(tmin) & np.isfinite(tmax), out, np.nan)
    return np.asarray(out, dtype=np.float64), np.asarray(use_pm & np.isfinite(out))
