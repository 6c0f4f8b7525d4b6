"""Sensor-corrected root-zone depletion as a small Kalman filter per zone, vectorized (pure).

State per zone: ``x = [Dr, b, k]`` — root-zone depletion Dr [mm] (FAO-56 ch. 8), the offset b
[mm] of the zone's probes (their depletion minus the true one), and an ET scale k [-] (the
zone's actual crop water use over Kc·ET0 from the registry: shade, a wrong Kc, a biased ET0).

Why three states. A probe's depletion 1000 (θFC − θ) Zr (FAO-56 eq. 87) carries a *constant*
error: the spot it sits in is wetter or drier than the zone, its calibration is off by
~0.01 m³/m³, the zone's θFC is a texture default or a soil test. Over a 0.4 m root zone that
is ±5–8 mm, more than a day's ETc, while its day-to-day noise is ~1 mm. A fixed-gain blend of
model and probe converges to that offset; the model alone drifts by (k − 1)·ETc a day. The
two errors have different time signatures and the balance itself tells them apart:

* after a wetting that exceeds the depletion the root zone is at field capacity — FAO-56
  ch. 8 (eq. 88): "it is assumed that the soil water content is at θFC within the same day of
  the wetting event" — so Dr ≈ 0 is known there whatever the probes say, and the next
  readings measure the probes' offset b (a field-capacity reading taken in place, as
  sensor-based scheduling sets its upper limit from a reading after a thorough wetting);
* between wettings Dr grows by k·Ks·Kc·ET0 a day, so the trend of the probes measures k.

:func:`predict` advances the balance one day with FAO-56 eqs. 84–88 (:func:`.balance.step`,
with Kc·k), and the covariance with the linearised step; a wetting that clears the depletion
by more than two standard deviations resets Dr to 0 with the small variance of a drained
profile. :func:`update` folds in the day's probe depletion (weighted mean of the usable probes,
unclipped), z = Dr + b + v, with noise σ²/W (W the summed probe weight) plus the surplus that
may still be draining (water above field capacity takes days to drain from fine soils, so a
probe reads wet for a while after a heavy rain: that reading must not teach b).

Numbers (project choices, each with its reason):

* :data:`PROBE_NOISE_MM` 2 mm: one field-calibrated probe's day-to-day scatter around its own
  offset (index noise and the slope error of a two-point calibration across the band);
* :data:`OFFSET_SD_THETA` 0.02 m³/m³: prior spread of b — spot variability ~0.012, a two-point
  calibration ~0.01, θFC of a soil test ~0.01;
* :data:`ET_SCALE_SD` 0.3: prior spread of k (shade cuts crop ET to 0.6–0.8 of open sky; Kc of
  urban plantings is uncertain by ±10–20 %);
* :data:`ET_REL_SD` 0.1 of ETc and :data:`WATER_REL_SD` 0.1 of rain and irrigation per day:
  process noise of the daily balance (ET0 from a station, rain gauge catch, emitter rates);
* :data:`FC_SD_MM` 1.5 mm: depletion left after a wetting that cleared the deficit.

References
----------
.. [FAO56] R. G. Allen, L. S. Pereira, D. Raes, M. Smith, FAO Irrigation and Drainage Paper 56,
   1998, chapter 8 (eqs. 84–88 and the text on field capacity after wetting),
   https://www.fao.org/3/x0490e/x0490e00.htm
.. [Kalman] R. E. Kalman, "A new approach to linear filtering and prediction problems",
   J. Basic Eng. 82(1) (1960) 35–45, doi:10.1115/1.3662552
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from greeniot.analytics.irrigation import balance

F64 = NDArray[np.float64]

PROBE_NOISE_MM: Final = 2.0
OFFSET_SD_THETA: Final = 0.02
ET_SCALE_SD: Final = 0.3
ET_REL_SD: Final = 0.1
WATER_REL_SD: Final = 0.1
FC_SD_MM: Final = 1.5
#: Slow wander of the probes' offset and of k per day (a probe settling, a canopy growing).
OFFSET_WALK_MM: Final = 0.3
ET_SCALE_WALK: Final = 0.01
#: The ET scale is kept within these bounds [-] (no plant uses 3× its Kc·ET0 or nothing).
ET_SCALE_RANGE: Final = (0.3, 2.0)
#: Share of a surplus still draining the next day (e-fold time of one day: FAO-56 ch. 8 has
#: a profile reach field capacity within 2–3 days of a heavy wetting).
DRAIN_CARRY: Final = float(np.exp(-1.0))
#: A change of the summed probe weight by more than this share means another set of probes:
#: their offset is learned again [-].
WEIGHT_CHANGE: Final = 0.1


@dataclass(frozen=True, slots=True)
class EstimatorState:
    """Filter state of Z zones: means (Z,), covariance (Z, 3, 3) over [Dr, b, k], the surplus
    that may still drain [mm], and the summed weight of the probes b belongs to."""

    dr_mm: F64
    offset_mm: F64
    et_scale: F64
    cov: F64
    draining_mm: F64
    probe_weight: F64
    #: Dr gain of the last update [-] (0: no usable probe): how far the probes moved Dr.
    gain: F64

    @property
    def dr_sd_mm(self) -> F64:
        return np.asarray(np.sqrt(np.maximum(self.cov[:, 0, 0], 0.0)))

    def take(self, rows: ArrayLike) -> EstimatorState:
        r = np.asarray(rows, dtype=np.int64)
        return EstimatorState(*(getattr(self, f)[r] for f in self.__slots__))

    def put(self, rows: ArrayLike, other: EstimatorState) -> EstimatorState:
        """A copy with ``rows`` replaced by ``other``'s."""
        r = np.asarray(rows, dtype=np.int64)
        out = [getattr(self, f).copy() for f in self.__slots__]
        for a, f in zip(out, self.__slots__, strict=True):
            a[r] = getattr(other, f)
        return EstimatorState(*out)


def initial(dr_mm: ArrayLike, *, dr_sd_mm: ArrayLike, root_depth_m: ArrayLike,
            offset_sd_theta: float = OFFSET_SD_THETA, et_scale_sd: float = ET_SCALE_SD,
            offset_mm: ArrayLike = 0.0, et_scale: ArrayLike = 1.0) -> EstimatorState:
    """A first state: Dr and its spread [mm], no known offset, k = 1."""
    dr = np.asarray(dr_mm, dtype=np.float64)
    n = dr.shape[0]
    cov = np.zeros((n, 3, 3))
    cov[:, 0, 0] = np.broadcast_to(np.asarray(dr_sd_mm, dtype=np.float64), (n,)) ** 2
    cov[:, 1, 1] = (1000.0 * offset_sd_theta * np.broadcast_to(
        np.asarray(root_depth_m, dtype=np.float64), (n,))) ** 2
    cov[:, 2, 2] = et_scale_sd ** 2
    return EstimatorState(dr.copy(), np.broadcast_to(np.asarray(offset_mm, np.float64),
                                                     (n,)).copy(),
                          np.broadcast_to(np.asarray(et_scale, np.float64), (n,)).copy(), cov,
                          np.zeros(n), np.zeros(n), np.zeros(n))


def predict(s: EstimatorState, *, et0_mm: ArrayLike, kc: ArrayLike, taw_mm: ArrayLike,
            p: ArrayLike, rain_mm: ArrayLike = 0.0, runoff_mm: ArrayLike = 0.0,
            irrigation_mm: ArrayLike = 0.0, adjust_p: bool = False,
            drain_frac: ArrayLike | None = None
            ) -> tuple[EstimatorState, balance.DayBalance]:
    """One day of the FAO-56 balance (eqs. 84–88) with Kc·k, and its covariance.

    ``drain_frac`` (per zone, 0 < τ ≤ 1, :func:`greeniot.soils.drain_fraction_per_day`):
    water above field capacity drains τ of itself a day instead of all of it the same day
    (FAO-56 eq. 88's simplification, right for sand, not for clay: a clay profile stays above
    field capacity for days after a heavy rain while the crop draws on it). Dr is then signed
    — negative is water above field capacity still draining — and the probes reading wet are
    an observation of it, not noise. None keeps eq. 88 (:func:`_predict_eq88`).

    Returns the predicted state and the day's balance (``etc_mm`` is Kc·k·ET0; its ``dr_mm``
    is the depletion, ≥ 0).
    """
    if drain_frac is None:
        return _predict_eq88(s, et0_mm=et0_mm, kc=kc, taw_mm=taw_mm, p=p, rain_mm=rain_mm,
                             runoff_mm=runoff_mm, irrigation_mm=irrigation_mm,
                             adjust_p=adjust_p)
    n = s.dr_mm.shape[0]
    tau = np.clip(np.broadcast_to(np.asarray(drain_frac, np.float64), (n,)), 1e-3, 1.0)
    taw = np.broadcast_to(np.asarray(taw_mm, np.float64), (n,))
    kc_eff = np.asarray(kc, dtype=np.float64) * s.et_scale
    depl = np.maximum(s.dr_mm, 0.0)
    day = balance.step(depl, et0_mm=et0_mm, kc=kc_eff, taw_mm=taw_mm, p=p, rain_mm=0.0,
                       adjust_p=adjust_p)  # Ks, ETc and ETa from the depletion at the start
    ks = np.where(s.dr_mm < 0.0, 1.0, day.ks)
    eta = ks * day.etc_mm
    water = np.broadcast_to(np.asarray(rain_mm, np.float64) - np.asarray(runoff_mm, np.float64)
                            + np.asarray(irrigation_mm, np.float64), (n,))
    x = s.dr_mm - water + eta  # signed: < 0 is water above field capacity
    wet = x < 0.0
    surplus = np.minimum(np.maximum(-x, 0.0), taw)  # beyond ~TAW above FC it would run off
    dp = tau * surplus
    dr = np.where(wet, -(surplus - dp), np.minimum(x, taw))
    etc_base = np.broadcast_to(np.asarray(kc, np.float64) * np.asarray(et0_mm, np.float64),
                               (n,))
    f = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    denom = np.maximum((1.0 - day.p) * taw, 1e-9)
    stressed = (s.dr_mm >= 0.0) & (ks < 1.0)
    f[:, 0, 0] = np.where(stressed, 1.0 - s.et_scale * etc_base / denom, 1.0)
    f[:, 0, 2] = ks * etc_base
    f[wet, 0, :] *= (1.0 - tau[wet])[:, None]
    f[wet, 0, 0] = (1.0 - tau[wet])
    q = np.zeros((n, 3, 3))
    q[:, 0, 0] = (ET_REL_SD * eta) ** 2 + (WATER_REL_SD * water) ** 2
    q[:, 1, 1] = OFFSET_WALK_MM ** 2
    q[:, 2, 2] = ET_SCALE_WALK ** 2
    cov = f @ s.cov @ f.transpose(0, 2, 1) + q
    # A wetting that leaves water above field capacity by more than 2 sd: what is left is
    # the drainage's (small) error, not the day's inputs' (FAO-56 eq. 88 with its time).
    sd = np.sqrt(np.maximum(cov[:, 0, 0], 0.0))
    reset = wet & (surplus > 2.0 * sd + 1e-9) & (s.dr_mm >= 0.0)
    left = surplus - dp
    cov[reset, 0, :] = 0.0
    cov[reset, :, 0] = 0.0
    cov[reset, 0, 0] = FC_SD_MM ** 2 + (WATER_REL_SD * left[reset]) ** 2
    cov[:, 0, 0] = np.maximum(cov[:, 0, 0], FC_SD_MM ** 2)
    out = balance.DayBalance(np.maximum(dr, 0.0), day.etc_mm, eta, ks, dp, day.raw_mm, day.p)
    return replace(s, dr_mm=dr, cov=cov, draining_mm=np.zeros(n)), out


def _predict_eq88(s: EstimatorState, *, et0_mm: ArrayLike, kc: ArrayLike, taw_mm: ArrayLike,
                  p: ArrayLike, rain_mm: ArrayLike, runoff_mm: ArrayLike,
                  irrigation_mm: ArrayLike, adjust_p: bool
                  ) -> tuple[EstimatorState, balance.DayBalance]:
    """:func:`predict` with FAO-56 eq. 88 as it stands: all water above field capacity
    drains the same day; a surplus that may still be draining only widens the probes' noise.
    """
    n = s.dr_mm.shape[0]
    kc_eff = np.asarray(kc, dtype=np.float64) * s.et_scale
    day = balance.step(s.dr_mm, et0_mm=et0_mm, kc=kc_eff, taw_mm=taw_mm, p=p, rain_mm=rain_mm,
                       runoff_mm=runoff_mm, irrigation_mm=irrigation_mm, adjust_p=adjust_p)
    taw = np.broadcast_to(np.asarray(taw_mm, np.float64), (n,))
    etc_base = np.broadcast_to(np.asarray(kc, np.float64) * np.asarray(et0_mm, np.float64),
                               (n,))
    water = np.broadcast_to(np.asarray(rain_mm, np.float64) - np.asarray(runoff_mm, np.float64)
                            + np.asarray(irrigation_mm, np.float64), (n,))
    # Linearised step: dDr/dDr = 1 − k Kc ET0 / ((1 − p) TAW) where Ks < 1; dDr/dk = Ks Kc ET0.
    f = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    denom = np.maximum((1.0 - day.p) * taw, 1e-9)
    f[:, 0, 0] = np.where(day.ks < 1.0, 1.0 - s.et_scale * etc_base / denom, 1.0)
    f[:, 0, 2] = day.ks * etc_base
    q = np.zeros((n, 3, 3))
    q[:, 0, 0] = (ET_REL_SD * day.eta_mm) ** 2 + (WATER_REL_SD * water) ** 2
    q[:, 1, 1] = OFFSET_WALK_MM ** 2
    q[:, 2, 2] = ET_SCALE_WALK ** 2
    cov = f @ s.cov @ f.transpose(0, 2, 1) + q
    # A wetting that clears the depletion: the profile is at field capacity (FAO-56 eq. 88).
    sd = np.sqrt(np.maximum(cov[:, 0, 0], 0.0))
    surplus = water - day.eta_mm - s.dr_mm  # > 0: water went below the root zone
    reset = surplus > 2.0 * sd
    cov[reset, 0, :] = 0.0
    cov[reset, :, 0] = 0.0
    cov[reset, 0, 0] = FC_SD_MM ** 2
    partial = ~reset & (day.dp_mm > 0)  # cleared in the mean only: the spread shrinks
    shrink = np.where(partial, 0.5, 1.0)
    cov[:, 0, :] *= shrink[:, None]
    cov[:, :, 0] *= shrink[:, None]
    cov[:, 0, 0] = np.maximum(cov[:, 0, 0], FC_SD_MM ** 2)
    draining = s.draining_mm * DRAIN_CARRY + day.dp_mm
    return replace(s, dr_mm=day.dr_mm, cov=cov, draining_mm=draining), day


def update(s: EstimatorState, *, dr_probe_mm: ArrayLike, weight_sum: ArrayLike,
           taw_mm: ArrayLike, root_depth_m: ArrayLike, noise_mm: float = PROBE_NOISE_MM,
           offset_sd_theta: float = OFFSET_SD_THETA, signed: bool = False,
           relearn: ArrayLike | None = None, fresh: ArrayLike | None = None
           ) -> EstimatorState:
    """Fold in the day's probe depletion z = Dr + b + v per zone.

    ``dr_probe_mm`` is the weighted mean of the usable probes' 1000 (θFC − θ) Zr, *unclipped*
    (:func:`.balance.sensor_depletion_mm` with ``clip=False``), NaN without a usable probe;
    ``weight_sum`` their summed weight W (noise σ²/W). Zones without a reading keep their
    prediction. A changed probe set (W off by more than :data:`WEIGHT_CHANGE`) learns its
    offset again. ``signed``: Dr may be negative (water above field capacity, the
    ``drain_frac`` model of :func:`predict`). ``relearn`` (per zone) says instead of the
    change of W when the offset is learned again: :mod:`.probe_offsets` keeps one reference
    while probes come and go, and says when it had to start a new one; where it says
    ``fresh`` (the plain mean of today's probes), the change of W decides as before.
    """
    z = np.asarray(dr_probe_mm, dtype=np.float64)
    w = np.asarray(weight_sum, dtype=np.float64)
    n = s.dr_mm.shape[0]
    ok = np.isfinite(z) & (w > 0)
    cov = s.cov.copy()
    w_changed = ok & (np.abs(w - s.probe_weight) > WEIGHT_CHANGE * np.maximum(
        s.probe_weight, 1e-9))
    if relearn is None:
        changed = w_changed
    else:
        plain = np.zeros(n, bool) if fresh is None else np.broadcast_to(
            np.asarray(fresh, bool), (n,))
        changed = ok & (np.broadcast_to(np.asarray(relearn, bool), (n,)) | (plain & w_changed))
    prior_b = (1000.0 * offset_sd_theta * np.broadcast_to(np.asarray(root_depth_m, np.float64),
                                                          (n,))) ** 2
    cov[changed, 1, :] = 0.0
    cov[changed, :, 1] = 0.0
    cov[changed, 1, 1] = prior_b[changed]
    offset = np.where(changed, 0.0, s.offset_mm)
    r = noise_mm ** 2 / np.where(ok, w, 1.0) + s.draining_mm ** 2
    innov = np.where(ok, z - s.dr_mm - offset, 0.0)
    ph = cov[:, :, 0] + cov[:, :, 1]  # P Hᵀ with H = [1, 1, 0]
    sv = ph[:, 0] + ph[:, 1] + r
    gain = np.where(ok[:, None], ph / sv[:, None], 0.0)
    x = np.stack([s.dr_mm, offset, s.et_scale], axis=1) + gain * innov[:, None]
    hp = cov[:, 0, :] + cov[:, 1, :]
    cov = cov - gain[:, :, None] * hp[:, None, :]
    cov = 0.5 * (cov + cov.transpose(0, 2, 1))
    taw = np.broadcast_to(np.asarray(taw_mm, np.float64), (n,))
    lo = -taw if signed else 0.0
    return EstimatorState(np.clip(x[:, 0], lo, taw), x[:, 1],
                          np.clip(x[:, 2], *ET_SCALE_RANGE), cov, s.draining_mm,
                          np.where(ok, w, s.probe_weight), gain[:, 0])


#: Length of one zone's packed state (:func:`pack`): Dr, b, k, the 3×3 covariance, the
#: draining surplus, the probe weight.
PACKED: Final = 14


def pack(s: EstimatorState) -> F64:
    """(Z, PACKED) rows, for storage with a decision and :func:`unpack` after a restart."""
    n = s.dr_mm.shape[0]
    return np.concatenate([s.dr_mm[:, None], s.offset_mm[:, None], s.et_scale[:, None],
                           s.cov.reshape(n, 9), s.draining_mm[:, None],
                           s.probe_weight[:, None]], axis=1)


def unpack(rows: ArrayLike) -> EstimatorState:
    """The inverse of :func:`pack`; raises ValueError for rows of the wrong length."""
    a = np.asarray(rows, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != PACKED or not np.all(np.isfinite(a)):
        raise ValueError(f"packed estimator rows must be finite, shape (Z, {PACKED}); "
                         f"got {a.shape}")
    n = a.shape[0]
    return EstimatorState(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(),
                          a[:, 3:12].reshape(n, 3, 3).copy(), a[:, 12].copy(), a[:, 13].copy(),
                          np.zeros(n))
