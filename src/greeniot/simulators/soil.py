"""Soil moisture per irrigation zone as a single bucket, vectorised over zones.

Water in: rain and irrigation. Water out: evapotranspiration (a crop coefficient times a
reference ET driven by temperature and sunshine, reduced as the soil dries, in the spirit of the
FAO-56 water balance) and drainage of whatever lies above field capacity. Deliberately simple:
it only has to make soil dry in a drought, wet in a typhoon and rise while a valve is open, with
the right orders of magnitude; the backend's own water balance is what gets validated.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

#: Reference ET per °C above −5 °C at full sun [mm/h/°C]. With ~7.6 sun-hours-equivalent in a
#: subtropical summer day it gives ~6–7 mm/day at 30–35 °C and ~4 mm/day at 25 °C, the usual
#: range of grass reference ET in a hot climate.
ET0_COEF_MM_H_C = 0.0224
#: Time constant of drainage above field capacity [s].
DRAIN_TAU_S = 6 * 3600.0
#: Share of available water that can go before plants are stressed (FAO-56 ``p``) [-].
DEPLETION_P = 0.5
#: Total porosity: the bucket cannot hold more; the rest runs off [VWC %].
POROSITY_VWC_PCT = 50.0


def et0_mm_h(air_temp_c: F64, sun_frac: F64) -> F64:
    """Reference evapotranspiration rate [mm/h] from air temperature [°C] and sunshine [0–1]."""
    return ET0_COEF_MM_H_C * np.maximum(air_temp_c + 5.0, 0.0) * np.clip(sun_frac, 0.0, 1.0)


def stress_coef(vwc_pct: F64, fc_pct: F64, wp_pct: F64) -> F64:
    """Water-stress coefficient Ks [0–1]: 1 until ``DEPLETION_P`` of the available water is gone,
    then falling linearly to 0 at the wilting point."""
    avail = np.clip((vwc_pct - wp_pct) / np.maximum(fc_pct - wp_pct, 1e-6), 0.0, 1.0)
    return np.asarray(np.clip(avail / (1.0 - DEPLETION_P), 0.0, 1.0))


def bucket_step(vwc_pct: F64, *, dt_s: float, rain_mm: F64, irrigation_mm: F64, et0_mm: F64,
                kc: F64, root_depth_mm: F64, fc_pct: F64, wp_pct: F64) -> F64:
    """Advance every zone's volumetric water content [%] by ``dt_s`` seconds.

    ``rain_mm``, ``irrigation_mm`` and ``et0_mm`` are depths over the step [mm]; a depth ``d`` on
    a root zone ``D`` mm deep changes VWC by ``100·d/D`` percentage points.
    """
    et_mm = kc * et0_mm * stress_coef(vwc_pct, fc_pct, wp_pct)
    vwc = vwc_pct + 100.0 * (rain_mm + irrigation_mm - et_mm) / root_depth_mm
    excess = np.maximum(vwc - fc_pct, 0.0)
    vwc = vwc - excess * (1.0 - np.exp(-dt_s / DRAIN_TAU_S))
    return np.asarray(np.clip(vwc, 0.5 * wp_pct, POROSITY_VWC_PCT))
