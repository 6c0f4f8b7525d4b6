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


# --- FAO-56 style root zone with infiltration limits and soil probes -----------------------
# The ground truth for closed-loop irrigation runs (benchmarks/irrigation_quality.py): written
# apart from the backend's model on purpose, with what that model does not know — water above
# field capacity that drains over days, infiltration-excess runoff, shade, the true Kc and
# application efficiency, and probes that read a spot of soil through an imperfect calibration.

#: Basic infiltration rate by texture [mm/h], FAO Irrigation Water Management Training Manual
#: 5 (Brouwer et al. 1988), Table 3 (sand > 30, sandy loam 20–30, loam 10–20, clay loam 5–10,
#: clay 1–5); and the drainage time constant above field capacity [days] (sand drains within
#: about a day, clay takes several, FAO-56 ch. 8 on "field capacity ... after 2–3 days").
INTAKE_MM_H = {"sand": 40.0, "loamy_sand": 30.0, "sandy_loam": 25.0, "loam": 15.0,
               "silt_loam": 12.0, "silt": 10.0, "silty_clay_loam": 6.0, "silty_clay": 4.0,
               "clay": 3.0}
DRAIN_TAU_DAYS = {"sand": 0.3, "loamy_sand": 0.4, "sandy_loam": 0.6, "loam": 0.8,
                  "silt_loam": 1.0, "silt": 1.0, "silty_clay_loam": 1.5, "silty_clay": 2.0,
                  "clay": 2.5}
#: Water the surface holds (micro-relief, mulch, thatch) before it runs off [mm].
PONDING_MM = 4.0


class RootZones:
    """Water in Z root zones [mm above the wilting point], stepped one day at a time.

    ``w_mm`` between 0 (wilting point) and ``sat_mm`` (saturation); field capacity is
    ``taw_mm``. Depletion is ``max(taw − w, 0)``. All parameters are arrays over zones:
    θFC, θWP, porosity [m³ m⁻³], root depth [m], the zone's true Kc × shade factor, its true
    depletion fraction p, intake rate [mm/h] and drainage time constant [days].
    """

    def __init__(self, *, theta_fc: F64, theta_wp: F64, porosity: F64, root_depth_m: F64,
                 kc_true: F64, p_true: F64, intake_mm_h: F64, drain_tau_days: F64,
                 depletion0_mm: F64 | None = None) -> None:
        self.theta_fc, self.theta_wp, self.porosity = theta_fc, theta_wp, porosity
        self.root_depth_m, self.kc_true, self.p_true = root_depth_m, kc_true, p_true
        self.intake_mm_h, self.drain_tau_days = intake_mm_h, drain_tau_days
        self.taw_mm = 1000.0 * (theta_fc - theta_wp) * root_depth_m
        self.sat_mm = 1000.0 * (porosity - theta_wp) * root_depth_m
        d0 = np.zeros_like(self.taw_mm) if depletion0_mm is None else depletion0_mm
        self.w_mm = np.clip(self.taw_mm - d0, 0.0, self.sat_mm)

    @property
    def depletion_mm(self) -> F64:
        return np.asarray(np.maximum(self.taw_mm - self.w_mm, 0.0))

    @property
    def raw_mm(self) -> F64:
        return np.asarray(self.p_true * self.taw_mm)

    def theta(self) -> F64:
        """Mean volumetric water content of the root zone [m³ m⁻³]."""
        return np.asarray(self.theta_wp + self.w_mm / (1000.0 * self.root_depth_m))

    def irrigate(self, *, cycle_mm: F64, n_cycles: NDArray[np.int64], rate_mm_h: F64,
                 efficiency: F64) -> tuple[F64, F64]:
        """Apply ``n_cycles`` cycles of ``cycle_mm`` gross each, with a soak between them long
        enough for the ponded water to soak in. Per cycle, ``efficiency`` of the gross reaches
        the ground (the rest drifts or evaporates); what the soil cannot take in during the
        cycle (intake rate × duration + ponding) runs off. Returns (infiltrated, runoff) [mm].
        """
        reach = cycle_mm * efficiency
        dur_h = np.where(rate_mm_h > 0, cycle_mm / np.where(rate_mm_h > 0, rate_mm_h, 1.0), 0.0)
        take = np.minimum(reach, self.intake_mm_h * dur_h + PONDING_MM)
        infil = take * n_cycles
        runoff = (reach - take) * n_cycles
        self.w_mm = np.minimum(self.w_mm + infil, self.sat_mm)
        return np.asarray(infil), np.asarray(runoff)

    def day(self, *, et0_mm: F64, rain_mm: F64, rain_hours: F64) -> dict[str, F64]:
        """One day: rain (runoff above what the soil takes in over ``rain_hours``), crop water
        use with the FAO-56 stress shape (true Kc and p), drainage above field capacity."""
        take = np.minimum(rain_mm, self.intake_mm_h * rain_hours + PONDING_MM)
        runoff = rain_mm - take
        self.w_mm = np.minimum(self.w_mm + take, self.sat_mm)
        dr = self.depletion_mm
        ks = np.clip((self.taw_mm - dr) / np.maximum((1.0 - self.p_true) * self.taw_mm, 1e-9),
                     0.0, 1.0)
        etc = self.kc_true * et0_mm
        eta = np.minimum(ks * etc, self.w_mm)
        self.w_mm = self.w_mm - eta
        excess = np.maximum(self.w_mm - self.taw_mm, 0.0)
        drain = excess * (1.0 - np.exp(-1.0 / self.drain_tau_days))
        self.w_mm = self.w_mm - drain
        return {"etc_mm": np.asarray(etc), "eta_mm": np.asarray(eta), "ks": np.asarray(ks),
                "runoff_mm": np.asarray(runoff), "drain_mm": np.asarray(drain)}


class Probes:
    """P capacitive probes in zones: each reads a spot of soil and reports the firmware's
    two-point index (0 = air, 100 = water).

    The spot differs from the zone mean by ``spot_theta`` (soil variability); the probe's
    response is linear with a per-probe slope (``resp_theta``: the θ at which it would read
    100); each reading has noise ``noise_index`` [index points]. Faults: ``stuck`` probes
    repeat their first reading, ``drift`` probes drift by ``drift_per_day`` index points a day,
    ``dead`` probes send nothing (NaN), ``unseated`` probes read air.
    """

    FAULTS = ("ok", "stuck", "drift", "dead", "unseated")

    def __init__(self, *, zone: NDArray[np.int64], porosity: F64, rng: np.random.Generator,
                 fault_rate: float = 0.05, spot_sd: float = 0.012,
                 noise_index: float = 0.6) -> None:
        n = zone.size
        self.zone = zone
        self.rng = rng
        self.spot_theta = rng.normal(0.0, spot_sd, n)
        self.resp_theta = porosity[zone] * rng.uniform(0.85, 1.15, n)
        self.noise_index = noise_index
        kinds = np.array(self.FAULTS)
        p_fault = fault_rate / (len(self.FAULTS) - 1)
        self.fault = rng.choice(kinds, n, p=[1 - fault_rate] + [p_fault] * (len(kinds) - 1))
        self.drift_per_day = rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 1.5, n)
        self._stuck: F64 | None = None
        self.days = 0

    def true_index(self, theta_zone: F64) -> F64:
        th = np.clip(theta_zone[self.zone] + self.spot_theta, 0.005, None)
        return np.asarray(100.0 * th / self.resp_theta)

    def read(self, theta_zone: F64) -> F64:
        """One reading per probe [index %], NaN for dead probes; call once per day."""
        idx = self.true_index(theta_zone) + self.rng.normal(0.0, self.noise_index, self.zone.size)
        if self._stuck is None:
            self._stuck = idx.copy()
        idx = np.where(self.fault == "stuck", self._stuck, idx)
        idx = np.where(self.fault == "drift", idx + self.drift_per_day * self.days, idx)
        idx = np.where(self.fault == "unseated", self.rng.uniform(0.0, 0.4, idx.size), idx)
        idx = np.where(self.fault == "dead", np.nan, idx)
        self.days += 1
        return np.asarray(np.clip(idx, 0.0, 100.0))

    def field_calibration(self, theta_dry: F64, theta_wet: F64, *, grav_sd: float = 0.008
                          ) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """Two-point field calibrations: readings at a dry and a wet spot θ per probe against
        gravimetric samples of error ``grav_sd`` [m³ m⁻³]: ((index, θ), (index, θ)) each."""
        n = self.zone.size
        i_lo, i_hi = self.true_index(theta_dry), self.true_index(theta_wet)
        g_lo = theta_dry[self.zone] + self.spot_theta + self.rng.normal(0.0, grav_sd, n)
        g_hi = theta_wet[self.zone] + self.spot_theta + self.rng.normal(0.0, grav_sd, n)
        return [((float(a), float(b)), (float(c), float(d)))
                for a, b, c, d in zip(i_lo, g_lo, i_hi, g_hi, strict=True)]
