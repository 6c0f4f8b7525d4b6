"""A tree's reference position and its sensor's temperature model. Pure.

Cheap MEMS accelerometers drift with temperature by the equivalent of degrees over their range
[Domain], so each device gets its own coefficient ``k`` [deg/°C] per axis, fitted by least
squares over a calm reference period, and its baseline is the median of the compensated calm
tilt over that period. Residual lean, steps and trends (:mod:`greeniot.analytics.tilt.detect`) are
all measured from here.

References: see :mod:`greeniot.analytics.params` ([Domain], [Hui2022]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import (
    F64,
    Bool,
    as_1d,
    detector_inputs,
    masked_mean,
    masked_median,
)
from greeniot.analytics.params import TILT_PARAMS
from greeniot.clock import MS_PER_HOUR

_STD = TILT_PARAMS["standard"]  # keyword defaults


@dataclass(frozen=True, slots=True)
class TiltBaseline:
    """Per-row reference position and temperature model (one entry per row).

    ``ok`` is false until a full calm reference period was seen; other fields are then NaN.
    """

    pitch_deg: F64
    roll_deg: F64
    k_pitch_deg_per_c: F64
    k_roll_deg_per_c: F64
    temp_ref_c: F64
    ok: Bool

    @classmethod
    def empty(cls, rows: int) -> TiltBaseline:
        nan = np.full(rows, np.nan)
        return cls(nan.copy(), nan.copy(), np.zeros(rows), np.zeros(rows), nan.copy(),
                   np.zeros(rows, bool))

    def take(self, rows: np.ndarray | slice) -> TiltBaseline:
        return TiltBaseline(self.pitch_deg[rows], self.roll_deg[rows],
                            self.k_pitch_deg_per_c[rows], self.k_roll_deg_per_c[rows],
                            self.temp_ref_c[rows], self.ok[rows])


def compensate(x_deg: np.ndarray, temp_c: np.ndarray, k_deg_per_c: np.ndarray,
               temp_ref_c: np.ndarray) -> F64:
    """Remove the temperature effect: ``x − k · (T − T_ref)``; rows/samples without a
    temperature (NaN) are left as measured.

    Parameters
    ----------
    x_deg : (rows, samples) tilt [deg]
    temp_c : (rows, samples) sensor temperature [°C]
    k_deg_per_c, temp_ref_c : (rows,) coefficient [deg/°C] and reference temperature [°C]
    """
    corr = k_deg_per_c[:, None] * (temp_c - temp_ref_c[:, None])
    return np.where(np.isfinite(corr), x_deg - corr, x_deg).astype(np.float64)


def compensate_tilt(pitch_deg: np.ndarray, roll_deg: np.ndarray, temp_c: np.ndarray,
                    baseline: TiltBaseline) -> tuple[F64, F64]:
    """:func:`compensate` both axes with the baseline's coefficients (rows without a
    baseline have coefficient 0: left as measured)."""
    kp = np.nan_to_num(baseline.k_pitch_deg_per_c)
    kr = np.nan_to_num(baseline.k_roll_deg_per_c)
    return (compensate(pitch_deg, temp_c, kp, baseline.temp_ref_c),
            compensate(roll_deg, temp_c, kr, baseline.temp_ref_c))


def fit_baseline(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
                 temp_c: np.ndarray, calm: np.ndarray, now_ms: int,
                 since_ms: np.ndarray | int = 0, *,
                 baseline_hours: float = _STD.baseline_hours,
                 temp_fit_min_span_c: float = _STD.temp_fit_min_span_c,
                 min_samples: int = _STD.min_samples) -> TiltBaseline:
    """Baseline from the first full calm reference period after ``since_ms``.

    The reference period is the ``baseline_hours`` after the first calm sample at or
    after ``since_ms`` (an installation, or a re-baselining after crews straightened the tree).
    Per axis, the temperature coefficient is the least-squares slope of tilt on temperature
    over that period when its temperatures span at least ``temp_fit_min_span_c`` [°C]
    (otherwise it cannot be told from noise and is 0); the baseline is the median of the
    compensated tilt, so a few outliers do not move it.

    Parameters
    ----------
    ts_ms : (rows, samples) int64 sample times [ms UTC], 0 for empty slots
    pitch_deg, roll_deg : (rows, samples) tilt [deg] (typically hourly calm medians)
    temp_c : (rows, samples) sensor temperature [°C], NaN if not reported
    calm : (rows, samples) bool, samples usable as reference
    now_ms : int, event time [ms UTC]; samples after it are ignored
    since_ms : (rows,) or scalar [ms UTC]
    baseline_hours : length of the reference period [h]
    temp_fit_min_span_c : temperature span needed to fit a temperature coefficient [°C]
    min_samples : fewest samples of a complete reference period
    (defaults: ``analytics.params.TILT_PARAMS``; the time windows are shared by every set)

    Returns
    -------
    TiltBaseline with ``ok`` where the reference period is complete: its samples span at
    least ``baseline_hours`` − 1.5 h and number at least max(min_samples, baseline_hours / 2)
    (hourly medians: storm hours may be missing).

    Notes
    -----
    A tree's baseline is its own calm position, whatever its natural lean: residual lean is
    measured from there, as the alarm levels in [Hui2022] are relative to each tree.
    """
    a = detector_inputs(now_ms, ts_ms=ts_ms, pitch_deg=pitch_deg, roll_deg=roll_deg,
                        temp_c=temp_c, calm=calm)
    ts = a["ts_ms"].astype(np.int64)
    p, r, t = a["pitch_deg"], a["roll_deg"], a["temp_c"]
    rows = ts.shape[0]
    since = as_1d("since_ms", since_ms, rows, np.int64)
    base = (a["calm"].astype(bool) & (ts > 0) & (ts <= now_ms) & (ts >= since[:, None])
            & np.isfinite(p) & np.isfinite(r))
    first = np.where(base, ts, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
    period_ms = int(baseline_hours * MS_PER_HOUR)
    ref = base & (ts < (first + period_ms)[:, None])
    n = ref.sum(axis=1)
    tmax = np.where(ref, ts, 0).max(axis=1, initial=0)
    span_ms = np.where(n > 0, tmax - np.where(n > 0, first, 0), 0)
    ok = (span_ms >= period_ms - 1.5 * MS_PER_HOUR) & (
        n >= max(min_samples, baseline_hours / 2))

    tref = masked_mean(t, ref)
    has_t = ref & np.isfinite(t)
    tmin_c = np.where(has_t, t, np.inf).min(axis=1, initial=np.inf)
    tmax_c = np.where(has_t, t, -np.inf).max(axis=1, initial=-np.inf)
    fit_t = (tmax_c - tmin_c) >= temp_fit_min_span_c
    dt = np.where(has_t, t - tref[:, None], 0.0)
    stt = (dt * dt).sum(axis=1)
    ks = []
    for x in (p, r):
        xm = masked_mean(x, has_t)
        dx = np.where(has_t, x - xm[:, None], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            k = (dt * dx).sum(axis=1) / stt
        ks.append(np.where(fit_t & np.isfinite(k), k, 0.0))
    kp, kr = ks
    p0 = masked_median(compensate(p, t, kp, tref), ref)
    r0 = masked_median(compensate(r, t, kr, tref), ref)
    nan = np.full(rows, np.nan)
    return TiltBaseline(
        pitch_deg=np.where(ok, p0, nan), roll_deg=np.where(ok, r0, nan),
        k_pitch_deg_per_c=np.where(ok, kp, 0.0), k_roll_deg_per_c=np.where(ok, kr, 0.0),
        temp_ref_c=np.where(ok, tref, nan), ok=ok,
    )
