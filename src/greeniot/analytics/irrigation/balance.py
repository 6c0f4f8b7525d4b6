"""Daily root-zone water balance per zone, vectorized over zones (FAO-56 chapter 8).

State: the root-zone depletion Dr [mm] at the end of each day, 0 at field capacity, TAW at the
wilting point. One call of :func:`step` advances every zone by one day with FAO-56 eq. 85::

    Dr,i = Dr,i-1 − (P − RO)i − Ii + ETc,adj,i + DPi,      0 ≤ Dr,i ≤ TAW      (eqs. 85, 86)
    DPi  = max((P − RO)i + Ii − ETc,adj,i − Dr,i-1, 0)                           (eq. 88)
    ETc,adj = Ks Kc ET0,  Ks = (TAW − Dr,i-1) / ((1 − p) TAW) in 0..1           (eqs. 80, 84)

Capillary rise is taken as 0 (FAO-56 ch. 8: no shallow water table). ``Ii`` is the *net*
irrigation depth that infiltrates (gross depth × application efficiency).

Calibrated soil probes correct the modelled Dr (:func:`sensor_depletion_mm`, :func:`blend`):
each probe gives Dr = 1000 (θFC − θ) Zr (FAO-56 eq. 87, the same relation the chapter uses to
start the balance from a measured θ); a zone's probes are averaged with their quality weights;
the zone's Dr moves from the model toward that average by α = W / (W + W½), W the summed
probe weight. One good probe (W = 1, W½ = 1) moves it half-way, four move it 80 %: the model
carries the day-to-day physics, the probes stop its drift. This is a fixed-gain (steady-state
Kalman-like) update; W½ is the probe weight whose error variance equals the model's.

References
----------
.. [FAO56] R. G. Allen, L. S. Pereira, D. Raes, M. Smith, FAO Irrigation and Drainage Paper 56,
   1998, chapter 8 "ETc under soil water stress conditions",
   https://www.fao.org/3/x0490e/x0490e00.htm
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from greeniot.soils import depletion_fraction

F64 = NDArray[np.float64]

#: Summed probe weight at which probes and model count equally (α = 0.5) [-], project choice.
SENSOR_HALF_WEIGHT: Final = 3.0


def _f(x: ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class DayBalance:
    """One day of the balance for every zone (arrays of shape (Z,), depths in mm)."""

    dr_mm: F64  # end-of-day root-zone depletion
    etc_mm: F64  # Kc ET0, without stress
    eta_mm: F64  # Ks Kc ET0, what the crop actually used
    ks: F64  # water-stress coefficient of the day [-]
    dp_mm: F64  # deep percolation below the root zone
    raw_mm: F64  # readily available water with the day's p
    p: F64  # depletion fraction used [-]


def kc_of_month(kc: ArrayLike, month: ArrayLike) -> F64:
    """Crop coefficient per zone: ``kc`` is (Z,) constant or (Z, 12) by month (1..12)."""
    k = _f(kc)
    if k.ndim == 1:
        return k
    if k.ndim != 2 or k.shape[1] != 12:
        raise ValueError(f"kc must have shape (Z,) or (Z, 12), got {k.shape}")
    m = np.broadcast_to(np.asarray(month, dtype=np.int64), k.shape[:1])
    if np.any((m < 1) | (m > 12)):
        raise ValueError("month must be 1..12")
    return np.asarray(k[np.arange(k.shape[0]), m - 1])


def step(dr_prev_mm: ArrayLike, *, et0_mm: ArrayLike, kc: ArrayLike, taw_mm: ArrayLike,
         p: ArrayLike, rain_mm: ArrayLike = 0.0, runoff_mm: ArrayLike = 0.0,
         irrigation_mm: ArrayLike = 0.0, adjust_p: bool = False) -> DayBalance:
    """Advance every zone's root-zone depletion by one day, FAO-56 eqs. 84–88.

    Parameters
    ----------
    dr_prev_mm : array_like, shape (Z,)
        Depletion at the end of the previous day [mm].
    et0_mm : array_like
        Reference ET of the day [mm] (:mod:`greeniot.analytics.irrigation.et0`).
    kc : array_like
        Crop coefficient of the day [-] (:func:`kc_of_month`).
    taw_mm : array_like
        Total available water of the root zone [mm], FAO-56 eq. 82.
    p : array_like
        Depletion fraction (management-allowed depletion) [-], FAO-56 Table 22.
    rain_mm, runoff_mm : array_like
        Precipitation and its surface runoff [mm].
    irrigation_mm : array_like
        Net irrigation that infiltrates [mm].
    adjust_p : bool
        Adjust p for the day's ETc (FAO-56 Table 22 footnote) instead of keeping it constant.
    """
    dr_prev, taw = _f(dr_prev_mm), _f(taw_mm)
    etc = _f(kc) * _f(et0_mm)
    p_day = depletion_fraction(p, etc) if adjust_p else np.broadcast_to(_f(p), etc.shape)
    raw = p_day * taw
    denom = (1.0 - p_day) * taw
    ks = np.clip((taw - dr_prev) / np.where(denom > 0, denom, 1.0), 0.0, 1.0)
    ks = np.where(taw > 0, ks, 0.0)
    eta = ks * etc
    water_in = _f(rain_mm) - _f(runoff_mm) + _f(irrigation_mm)
    dp = np.maximum(water_in - eta - dr_prev, 0.0)
    dr = np.clip(dr_prev - water_in + eta + dp, 0.0, taw)
    return DayBalance(np.asarray(dr), np.asarray(etc), np.asarray(eta), np.asarray(ks),
                      np.asarray(dp), np.asarray(raw), np.asarray(p_day))


def simulate(dr0_mm: ArrayLike, *, et0_mm: ArrayLike, kc: ArrayLike, taw_mm: ArrayLike,
             p: ArrayLike, rain_mm: ArrayLike = 0.0, runoff_mm: ArrayLike = 0.0,
             irrigation_mm: ArrayLike = 0.0, adjust_p: bool = False) -> dict[str, F64]:
    """Run :func:`step` over D days; day-varying inputs have shape (Z, D).

    Returns a dict of (Z, D) arrays keyed like :class:`DayBalance`'s fields.
    """
    et0 = _f(et0_mm)
    if et0.ndim != 2:
        raise ValueError(f"et0_mm must have shape (Z, D), got {et0.shape}")
    n_zones, n_days = et0.shape
    cols = {name: np.broadcast_to(_f(v), (n_zones, n_days)) if np.ndim(v) != 1 else
            np.broadcast_to(_f(v)[:, None], (n_zones, n_days))
            for name, v in (("kc", kc), ("rain", rain_mm), ("runoff", runoff_mm),
                            ("irr", irrigation_mm))}
    out = {name: np.empty((n_zones, n_days)) for name in DayBalance.__slots__}
    dr = np.broadcast_to(_f(dr0_mm), (n_zones,))
    for d in range(n_days):
        day = step(dr, et0_mm=et0[:, d], kc=cols["kc"][:, d], taw_mm=taw_mm, p=p,
                   rain_mm=cols["rain"][:, d], runoff_mm=cols["runoff"][:, d],
                   irrigation_mm=cols["irr"][:, d], adjust_p=adjust_p)
        for name in DayBalance.__slots__:
            out[name][:, d] = getattr(day, name)
        dr = day.dr_mm
    return out


def probe_depletion_mm(*, theta: ArrayLike, probe_zone: ArrayLike, theta_fc: ArrayLike,
                       root_depth_m: ArrayLike, taw_mm: ArrayLike) -> F64:
    """Each probe's depletion 1000 (θFC − θ) Zr of its zone [mm] (FAO-56 eq. 87), NaN where θ
    is NaN.

    Kept unclipped within −TAW..2 TAW until a zone mean is taken: clipping every probe at 0
    would turn its noise near field capacity into a bias toward drier, and a probe reading
    above field capacity (water still draining) is real.
    """
    th = _f(theta)
    zone = np.asarray(probe_zone, dtype=np.int64)
    fc, zr, taw = _f(theta_fc), _f(root_depth_m), _f(taw_mm)
    return np.asarray(np.clip(1000.0 * (fc[zone] - th) * zr[zone], -taw[zone],
                              2.0 * taw[zone]))


def sensor_depletion_mm(*, theta: ArrayLike, weight: ArrayLike, probe_zone: ArrayLike,
                        theta_fc: ArrayLike, root_depth_m: ArrayLike, taw_mm: ArrayLike,
                        clip: bool = True) -> tuple[F64, F64]:
    """Depletion per zone from its calibrated probes, and the summed probe weight.

    Parameters
    ----------
    theta : array_like, shape (P,)
        Calibrated water content per probe [m³ m⁻³]; NaN for probes that must not count
        (:func:`greeniot.calibration.calibrate`).
    weight : array_like, shape (P,)
        Quality weight per probe [0..1] (1 = fully trusted).
    probe_zone : array_like of int, shape (P,)
        Zone row of each probe.
    clip : bool
        Clip the zone mean to 0..TAW (for :func:`blend`); the Kalman update of
        :mod:`.estimator` takes it unclipped (a probe offset can put it outside).
    theta_fc, root_depth_m, taw_mm : array_like, shape (Z,)
        Field capacity [m³ m⁻³], root depth [m], TAW [mm] per zone.

    Returns
    -------
    dr_sensor_mm : numpy.ndarray, shape (Z,)
        Weighted mean of 1000 (θFC − θ) Zr, then clipped to 0..TAW [mm]; NaN for zones
        without a usable probe.
    weight_sum : numpy.ndarray, shape (Z,)
        Summed weight of the usable probes [-].
    """
    th = _f(theta)
    zone = np.asarray(probe_zone, dtype=np.int64)
    n_zones = _f(theta_fc).shape[0]
    w = np.where(np.isfinite(th), np.clip(_f(weight), 0.0, 1.0), 0.0)
    dr_probe = np.nan_to_num(probe_depletion_mm(theta=th, probe_zone=zone, theta_fc=theta_fc,
                                                root_depth_m=root_depth_m, taw_mm=taw_mm))
    taw = _f(taw_mm)
    w_sum = np.bincount(zone, weights=w, minlength=n_zones)
    total = np.bincount(zone, weights=w * dr_probe, minlength=n_zones)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / w_sum
        dr = np.where(w_sum > 0, np.clip(mean, 0.0, taw) if clip else mean, np.nan)
    return np.asarray(dr), np.asarray(w_sum)


def blend(dr_model_mm: ArrayLike, dr_sensor_mm: ArrayLike, weight_sum: ArrayLike, *,
          half_weight: float = SENSOR_HALF_WEIGHT) -> tuple[F64, F64]:
    """Sensor-corrected depletion: Dr = Dr_model + α (Dr_sensor − Dr_model), α = W / (W + W½).

    Zones without usable probes (W = 0 or NaN Dr_sensor) keep the model value (α = 0).
    Returns (Dr [mm], α [-]).
    """
    if half_weight <= 0:
        raise ValueError(f"half_weight must be > 0, got {half_weight}")
    model, sensor, w = _f(dr_model_mm), _f(dr_sensor_mm), _f(weight_sum)
    alpha = np.where(np.isfinite(sensor) & (w > 0), w / (w + half_weight), 0.0)
    return np.asarray(model + alpha * (np.nan_to_num(sensor) - model)), np.asarray(alpha)
