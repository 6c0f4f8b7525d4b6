"""Soil-probe calibration: the firmware's two-point index → volumetric water content θ.

The soil node reports ``vwc_pct`` as a two-point *index* (0 = probe in air, 100 = probe in
water), not volumetric water content: a capacitive probe's response depends on the soil, so θ
needs a calibration per probe (gravimetric samples at two wetness levels, or a fitted
polynomial) or, failing that, per soil texture. The raw index is always kept; θ is derived.

A probe that is uncalibrated, flagged faulty, or reads outside the plausible range gets θ = NaN
and a :class:`ProbeQuality` flag other than ``OK``, and so never corrects the water balance.

References
----------
.. [Rawls82] W. J. Rawls, D. L. Brakensiek, K. E. Saxton, Transactions of the ASAE 25(5)
   (1982) 1316–1320, doi:10.13031/2013.33720 (total porosity by texture, the saturation point
   of the per-soil calibration).
.. [Topp80] G. C. Topp, J. L. Davis, A. P. Annan, "Electromagnetic determination of soil water
   content", Water Resources Research 16(3) (1980) 574–582, doi:10.1029/WR016i003p00574
   (a third-order polynomial in the sensor reading is the classic general calibration form).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from greeniot.soils import texture

F64 = NDArray[np.float64]

#: Highest polynomial degree a calibration may have (Topp-style cubic).
MAX_DEGREE: Final = 3
#: Index readings at or beyond these ends mean a probe out of the soil (≈ air) or in standing
#: water / shorted (≈ water): no soil reads exactly like either reference [project choice].
INDEX_MIN_PCT: Final = 0.5
INDEX_MAX_PCT: Final = 99.5
#: θ may exceed the soil's porosity by this much before it counts as out of range [m³ m⁻³].
THETA_MARGIN: Final = 0.05


#: Trust in a probe by how it was calibrated [0–1], multiplied with the probe's own weight: a
#: field calibration against gravimetric samples is fully trusted, the per-soil default (whose
#: slope error is ±15 % of θ, ~±16 mm over a 0.4 m root zone) a quarter [project choice].
CALIBRATION_WEIGHT: Final[dict[str, float]] = {"two_point": 1.0, "poly": 1.0, "soil": 0.25}


class ProbeQuality(IntEnum):
    """Why a probe does or does not correct the balance."""

    OK = 0
    UNCALIBRATED = 1
    FAULTY = 2
    OUT_OF_RANGE = 3
    MISSING = 4
    #: Set aside by the water stage: it drifts against its zone's other probes
    #: (:mod:`greeniot.analytics.irrigation.probe_drift`).
    DRIFTING = 5


@dataclass(frozen=True, slots=True)
class CalibrationSpec:
    """How one probe turns its index into θ.

    ``kind``:
    * ``two_point``: ``points`` = ((index_a, θ_a), (index_b, θ_b)), linear through both;
    * ``poly``: ``coef`` = (c0, c1, …) lowest order first, θ = Σ c_k · index^k;
    * ``soil``: θ = porosity(``texture``) · index / 100, a rough per-soil default.
    """

    kind: Literal["two_point", "poly", "soil"]
    points: tuple[tuple[float, float], tuple[float, float]] | None = None
    coef: tuple[float, ...] | None = None
    texture: str | None = None

    def coefficients(self) -> tuple[tuple[float, ...], float]:
        """(polynomial coefficients lowest first, θ upper limit [m³ m⁻³])."""
        if self.kind == "two_point":
            if self.points is None:
                raise ValueError("two_point calibration needs points ((index, theta), ...)")
            (xa, ya), (xb, yb) = self.points
            if xa == xb:
                raise ValueError(f"two_point calibration needs two distinct indices, got {xa}")
            slope = (yb - ya) / (xb - xa)
            return (ya - slope * xa, slope), max(ya, yb) + 0.2
        if self.kind == "poly":
            if not self.coef or len(self.coef) > MAX_DEGREE + 1:
                raise ValueError(f"poly calibration needs 1..{MAX_DEGREE + 1} coefficients")
            return tuple(self.coef), 0.6
        if self.texture is None:
            raise ValueError("soil calibration needs a texture")
        porosity = texture(self.texture).porosity
        return (0.0, porosity / 100.0), porosity


@dataclass(frozen=True, slots=True)
class CalibrationTable:
    """Calibrations of P probes as arrays: ``coef`` (P, MAX_DEGREE+1), ``theta_max`` (P,),
    ``weight`` (P,) from :data:`CALIBRATION_WEIGHT`.

    Rows of uncalibrated probes are NaN (weight 0).
    """

    coef: F64
    theta_max: F64
    weight: F64

    @classmethod
    def build(cls, specs: Sequence[CalibrationSpec | None]) -> CalibrationTable:
        coef = np.full((len(specs), MAX_DEGREE + 1), np.nan)
        theta_max = np.full(len(specs), np.nan)
        weight = np.zeros(len(specs))
        for i, spec in enumerate(specs):
            if spec is None:
                continue
            c, top = spec.coefficients()
            coef[i] = 0.0
            coef[i, : len(c)] = c
            theta_max[i] = top
            weight[i] = CALIBRATION_WEIGHT[spec.kind]
        return cls(coef, theta_max, weight)


def calibrate(index_pct: ArrayLike, table: CalibrationTable, *,
              faulty: ArrayLike | None = None) -> tuple[F64, NDArray[np.int8]]:
    """θ [m³ m⁻³] and a :class:`ProbeQuality` code per probe reading.

    Parameters
    ----------
    index_pct : array_like, shape (P,) or (P, T)
        The firmware's two-point index [%] (``vwc_pct``); NaN where no reading.
    table : CalibrationTable
        One row per probe.
    faulty : array_like of bool, shape (P,), optional
        Probes known to be faulty (device health, crew report).

    Returns
    -------
    theta : numpy.ndarray
        Volumetric water content [m³ m⁻³]; NaN unless the quality is ``OK``.
    quality : numpy.ndarray of int8
        ``ProbeQuality`` per reading.
    """
    x = np.asarray(index_pct, dtype=np.float64)
    if x.shape[:1] != table.theta_max.shape:
        raise ValueError(f"index_pct has {x.shape[:1]} probes, the table {table.theta_max.shape}")
    extra = (1,) * (x.ndim - 1)
    coef = table.coef.reshape(table.coef.shape + extra)
    theta = np.zeros_like(x)
    for k in range(MAX_DEGREE, -1, -1):  # Horner
        theta = theta * x + coef[:, k]
    top = table.theta_max.reshape(table.theta_max.shape + extra)
    quality = np.full(x.shape, ProbeQuality.OK, dtype=np.int8)
    out_of_range = ((x <= INDEX_MIN_PCT) | (x >= INDEX_MAX_PCT) | (theta < 0.0)
                    | (theta > top + THETA_MARGIN))
    quality[out_of_range] = ProbeQuality.OUT_OF_RANGE
    quality[np.broadcast_to(~np.isfinite(top), x.shape)] = ProbeQuality.UNCALIBRATED
    if faulty is not None:
        bad = np.asarray(faulty, dtype=bool).reshape(table.theta_max.shape + extra)
        quality[np.broadcast_to(bad, x.shape)] = ProbeQuality.FAULTY
    quality[~np.isfinite(x)] = ProbeQuality.MISSING
    theta = np.where(quality == ProbeQuality.OK, theta, np.nan)
    return np.asarray(theta), quality
