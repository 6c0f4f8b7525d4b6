"""Soil water limits of a zone: texture defaults, total and readily available water.

References
----------
.. [FAO56] R. G. Allen, L. S. Pereira, D. Raes, M. Smith, FAO Irrigation and Drainage Paper 56,
   1998, chapter 8, https://www.fao.org/3/x0490e/x0490e00.htm — Table 19 "Typical soil water
   characteristics for different soil types" (θFC and θWP ranges, m³ m⁻³), eqs. 82 (TAW) and
   83 (RAW), Table 22 and its footnote for the ETc adjustment of p.
.. [Rawls82] W. J. Rawls, D. L. Brakensiek, K. E. Saxton, "Estimation of soil water
   properties", Transactions of the ASAE 25(5) (1982) 1316–1320, doi:10.13031/2013.33720 —
   Table 2, mean total porosity and saturated hydraulic conductivity by texture class.
.. [AquaCrop] D. Raes, P. Steduto, T. C. Hsiao, E. Fereres, AquaCrop Reference Manual
   (FAO, version 6, 2017), ch. 3 "drainage": the drainage characteristic
   τ = 0.0866 Ksat^0.35 (Ksat in mm/day), the share of the water above field capacity that
   drains in a day, 0 < τ ≤ 1, https://www.fao.org/aquacrop/resources/referencemanuals
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SoilTexture:
    """Hydraulic defaults of one texture class [m³ m⁻³].

    ``theta_fc`` and ``theta_wp`` are the midpoints of the FAO-56 Table 19 ranges (given in
    ``fc_range`` and ``wp_range``); ``porosity`` is the mean total porosity of [Rawls82]_, used
    as saturation by the per-soil probe calibration.
    """

    name: str
    theta_fc: float
    theta_wp: float
    porosity: float
    fc_range: tuple[float, float]
    wp_range: tuple[float, float]


def _tex(name: str, fc: tuple[float, float], wp: tuple[float, float], porosity: float
         ) -> SoilTexture:
    return SoilTexture(name, round(sum(fc) / 2, 3), round(sum(wp) / 2, 3), porosity, fc, wp)


#: FAO-56 Table 19, coarse to fine. Midpoint θFC − θWP: sand 0.075 … clay 0.14.
TEXTURES: Final[dict[str, SoilTexture]] = {
    t.name: t for t in (
        _tex("sand", (0.07, 0.17), (0.02, 0.07), 0.437),
        _tex("loamy_sand", (0.11, 0.19), (0.03, 0.10), 0.437),
        _tex("sandy_loam", (0.18, 0.28), (0.06, 0.16), 0.453),
        _tex("loam", (0.20, 0.30), (0.07, 0.17), 0.463),
        _tex("silt_loam", (0.22, 0.36), (0.09, 0.21), 0.501),
        _tex("silt", (0.28, 0.36), (0.12, 0.22), 0.501),
        _tex("silty_clay_loam", (0.30, 0.37), (0.17, 0.24), 0.471),
        _tex("silty_clay", (0.30, 0.42), (0.17, 0.29), 0.479),
        _tex("clay", (0.32, 0.40), (0.20, 0.24), 0.475),
    )
}


#: Saturated hydraulic conductivity by texture [mm/h], [Rawls82]_ Table 2 (silt has no class
#: of its own there: silt loam's). Used for how fast water above field capacity drains.
KSAT_MM_H: Final[dict[str, float]] = {
    "sand": 210.0, "loamy_sand": 61.1, "sandy_loam": 25.9, "loam": 13.2, "silt_loam": 6.8,
    "silt": 6.8, "silty_clay_loam": 1.5, "silty_clay": 0.9, "clay": 0.6}
#: Spread [m³ m⁻³] of θFC and θWP from a laboratory soil test (pressure plate at −33 and
#: −1500 kPa on a few cores of a zone): ±0.01, project choice from the usual replicate scatter.
SOIL_TEST_SD_THETA: Final = 0.01


def texture(name: str) -> SoilTexture:
    """The texture class ``name``; a KeyError lists the valid names."""
    try:
        return TEXTURES[name]
    except KeyError:
        raise KeyError(f"unknown soil texture {name!r}; valid: {', '.join(TEXTURES)}") from None


def soil_limits(*, texture_name: str | None = None, theta_fc: float | None = None,
                theta_wp: float | None = None) -> tuple[float, float]:
    """(θFC, θWP) [m³ m⁻³]: the explicit values, else the texture's, else a ValueError.

    An explicit θ overrides the texture default of the same quantity, so a zone may give a
    texture and a measured field capacity.
    """
    tex = texture(texture_name) if texture_name is not None else None
    fc = theta_fc if theta_fc is not None else (tex.theta_fc if tex else None)
    wp = theta_wp if theta_wp is not None else (tex.theta_wp if tex else None)
    if fc is None or wp is None:
        raise ValueError("soil needs theta_fc and theta_wp [m3/m3] or a texture class "
                         f"({', '.join(TEXTURES)})")
    if not 0.0 <= wp < fc <= 1.0:
        raise ValueError(f"soil limits must satisfy 0 <= theta_wp < theta_fc <= 1, "
                         f"got theta_wp={wp}, theta_fc={fc}")
    return fc, wp


def limits_sd(texture_name: str | None, *, measured: bool) -> tuple[float, float]:
    """Standard deviation of (θFC, θWP) [m³ m⁻³] of a zone's registered soil.

    A soil test (``measured``): :data:`SOIL_TEST_SD_THETA` each. A texture default: its FAO-56
    Table 19 range taken as ±2 standard deviations (range / 4); loam when no texture is known.
    """
    if measured:
        return SOIL_TEST_SD_THETA, SOIL_TEST_SD_THETA
    t = texture(texture_name or "loam")
    return (t.fc_range[1] - t.fc_range[0]) / 4.0, (t.wp_range[1] - t.wp_range[0]) / 4.0


def taw_sd_mm(texture_name: str | None, *, measured: bool, root_depth_m: float) -> float:
    """Standard deviation of TAW [mm] from :func:`limits_sd` (θFC and θWP independent)."""
    sfc, swp = limits_sd(texture_name, measured=measured)
    return float(1000.0 * root_depth_m * np.hypot(sfc, swp))


def drain_fraction_per_day(texture_name: str | None) -> float:
    """Share of the water above field capacity that drains below the root zone in a day [-]:
    AquaCrop's τ = 0.0866 Ksat^0.35 (Ksat [mm/day] of :data:`KSAT_MM_H`), within 0.05..1.
    Sand ≈ 1 (drained within the day, the FAO-56 eq. 88 assumption), loam ≈ 0.65, clay ≈ 0.22.
    """
    ksat = KSAT_MM_H[texture(texture_name or "loam").name] * 24.0
    return float(np.clip(0.0866 * ksat ** 0.35, 0.05, 1.0))


def total_available_water_mm(theta_fc: ArrayLike, theta_wp: ArrayLike,
                             root_depth_m: ArrayLike) -> F64:
    """TAW = 1000 (θFC − θWP) Zr [mm], FAO-56 eq. 82.

    Parameters
    ----------
    theta_fc, theta_wp : array_like
        Water content at field capacity and at wilting point [m³ m⁻³].
    root_depth_m : array_like
        Rooting depth Zr [m].
    """
    fc, wp, zr = (np.asarray(x, dtype=np.float64) for x in (theta_fc, theta_wp, root_depth_m))
    return np.asarray(1000.0 * (fc - wp) * zr)


def depletion_fraction(p_table: ArrayLike, etc_mm_day: ArrayLike | None = None) -> F64:
    """Depletion fraction p [-]: the table value, or adjusted for the day's ETc.

    FAO-56 Table 22 footnote: p = p_table + 0.04 (5 − ETc), limited to 0.1 ≤ p ≤ 0.8, with
    ETc [mm day-1]. Without ``etc_mm_day`` the table value is returned as is.
    """
    p = np.asarray(p_table, dtype=np.float64)
    if etc_mm_day is None:
        return p
    return np.asarray(np.clip(p + 0.04 * (5.0 - np.asarray(etc_mm_day, dtype=np.float64)),
                              0.1, 0.8))


def readily_available_water_mm(p: ArrayLike, taw_mm: ArrayLike) -> F64:
    """RAW = p · TAW [mm], FAO-56 eq. 83."""
    return np.asarray(np.asarray(p, dtype=np.float64) * np.asarray(taw_mm, dtype=np.float64))
