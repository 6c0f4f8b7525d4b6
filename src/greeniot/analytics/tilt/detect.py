"""Tree lean from trunk-base tilt: residual lean, steps, trend, failure, graded levels. Pure.

Arrays are (trees × samples): ``ts_ms`` int64 (0 = empty slot), ``pitch_deg``/``roll_deg``/
``temp_c`` float, and a boolean ``calm`` mask from :mod:`greeniot.analytics.storm.detect`
(sway while the wind blows is not lean). Every function works on all rows at once and returns
one value per row, NaN where the data do not allow an answer. Thresholds live in
:mod:`greeniot.analytics.params` (``TiltParams``), with their sources.

Model: a tree's calm tilt is ``baseline + k · (T − T_ref) + lean``, per axis; ``k`` [deg/°C]
is the sensor's temperature coefficient (cheap MEMS accelerometers drift by the equivalent of
degrees over their temperature range [Domain]), fitted per device by least squares over the
calm reference period (:mod:`greeniot.analytics.tilt.baseline`). The residual lean is the magnitude
of the compensated pitch/roll minus the baseline — direction-free, since a tree may lean any
way.

References: see :mod:`greeniot.analytics.params` ([SAG], [James2013], [Dundee], [Hui2022],
[Domain]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import (
    F64,
    I64,
    Bool,
    as_1d,
    as_2d,
    detector_inputs,
    group_median,
    masked_median,
    robust_linfit,
    same_shape,
)
from greeniot.analytics.params import TILT_PARAMS, Grades
from greeniot.analytics.tilt.baseline import TiltBaseline, compensate_tilt
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN

_STD = TILT_PARAMS["standard"]  # keyword defaults (time windows are shared by every set)


@dataclass(frozen=True, slots=True)
class Level:
    """A per-row compensated calm level: pitch/roll [deg], sample count, oldest and newest
    sample time used [ms UTC] (0 if none)."""

    pitch_deg: F64
    roll_deg: F64
    n: I64
    first_ts_ms: I64
    last_ts_ms: I64


def segment_level(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
                  temp_c: np.ndarray | None, mask: np.ndarray, start_ms: np.ndarray | int,
                  end_ms: np.ndarray | int, baseline: TiltBaseline, now_ms: int) -> Level:
    """Median compensated pitch and roll of the masked samples in ``[start_ms, end_ms)``.

    Parameters
    ----------
    ts_ms, pitch_deg, roll_deg : (rows, samples) [ms UTC], [deg], [deg]
    temp_c : (rows, samples) [°C], or None when pitch and roll are already compensated
    mask : (rows, samples) bool, e.g. calm samples
    start_ms, end_ms : (rows,) or scalar segment bounds [ms UTC]; ``end_ms`` exclusive
    baseline : temperature model per row (rows without one are left uncompensated)
    now_ms : int, event time [ms UTC]; samples after it are ignored

    Returns
    -------
    Level: medians [deg] (NaN without samples), count, oldest and newest timestamps used.
    """
    extra = {} if temp_c is None else {"temp_c": temp_c}
    a = detector_inputs(now_ms, ts_ms=ts_ms, pitch_deg=pitch_deg, roll_deg=roll_deg, mask=mask,
                        **extra)
    ts = a["ts_ms"]
    rows = ts.shape[0]
    start = as_1d("start_ms", start_ms, rows, np.int64)
    end = as_1d("end_ms", end_ms, rows, np.int64)
    sel = (a["mask"].astype(bool) & (ts > 0) & (ts <= now_ms) & (ts >= start[:, None])
           & (ts < end[:, None]))
    if temp_c is None:
        pc, rc = a["pitch_deg"], a["roll_deg"]
    else:
        pc, rc = compensate_tilt(a["pitch_deg"], a["roll_deg"], a["temp_c"], baseline)
    sel &= np.isfinite(pc) & np.isfinite(rc)
    return Level(
        pitch_deg=masked_median(pc, sel), roll_deg=masked_median(rc, sel),
        n=sel.sum(axis=1).astype(np.int64),
        first_ts_ms=np.where(sel.any(axis=1),
                             np.where(sel, ts, np.iinfo(np.int64).max).min(axis=1), 0),
        last_ts_ms=np.where(sel, ts, 0).max(axis=1, initial=0),
    )


@dataclass(frozen=True, slots=True)
class Lean:
    """Residual lean per row [deg] and the newest sample time it rests on [ms UTC]."""

    lean_deg: F64
    ts_ms: I64


def residual_lean(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
                  temp_c: np.ndarray | None, calm: np.ndarray, baseline: TiltBaseline,
                  now_ms: int, *, current_minutes: float = _STD.current_minutes,
                  min_samples: int = _STD.min_samples) -> Lean:
    """Current residual lean: calm level of the last ``current_minutes`` minus baseline.

    ``lean = hypot(p̃ − p₀, r̃ − r₀)`` where p̃, r̃ are medians of temperature-compensated
    calm samples. Windy samples are excluded (sway while the wind blows is not lean), so
    during a storm the lean is NaN and no lean level is raised or cleared.

    Parameters
    ----------
    ts_ms, pitch_deg, roll_deg, calm : (rows, samples), the newest samples suffice
    temp_c : (rows, samples) [°C], or None if pitch and roll are already compensated
    baseline : TiltBaseline; rows without one give NaN
    now_ms : int, event time [ms UTC]
    current_minutes : float, the current level is the median of this many minutes [min]
        (project choice, ``TiltParams.current_minutes``)
    min_samples : int, fewest calm samples behind the level

    Returns
    -------
    Lean with ``lean_deg`` [deg] (NaN with fewer than ``min_samples`` calm samples) to be
    graded with ``TiltParams.lean_deg`` (watch 0.25° [SAG], warning 0.9° [James2013], critical
    1.6° [Dundee] for the standard set).
    """
    start = now_ms - int(current_minutes * MS_PER_MIN)
    lvl = segment_level(ts_ms, pitch_deg, roll_deg, temp_c, calm, start + 1, now_ms + 1,
                        baseline, now_ms)
    lean = np.hypot(lvl.pitch_deg - baseline.pitch_deg, lvl.roll_deg - baseline.roll_deg)
    lean[(lvl.n < min_samples) | ~baseline.ok] = np.nan
    return Lean(lean, lvl.last_ts_ms)


def failure_tilt(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
                 baseline: TiltBaseline, now_ms: int, *,
                 failure_minutes: float = _STD.failure_minutes,
                 failure_min_samples: int = _STD.failure_min_samples) -> Lean:
    """Confirmed tilt from the baseline (from vertical without one), wind or not.

    The smallest tilt among the newest ``failure_min_samples`` readings of the last
    ``failure_minutes`` [min]: every one of them must be past the threshold, so one glitch
    cannot fell a tree, and a fallen one is confirmed by its second reading. Wind does not
    matter (tens of degrees are no sway). Graded against ``TiltParams.failure_deg`` (10°: over
    three times the 2.9° upper end of the maximum-overturning-moment range [Dundee]).

    Parameters
    ----------
    ts_ms, pitch_deg, roll_deg : (rows, samples) in time order [ms UTC], [deg]
    baseline : TiltBaseline (NaN baselines count as 0°)
    now_ms : int, event time [ms UTC]
    failure_minutes, failure_min_samples : the readings looked at [min], and how many

    Returns
    -------
    Lean: the confirmed tilt [deg] (NaN with too few readings) and the newest reading's time.
    """
    a = detector_inputs(now_ms, ts_ms=ts_ms, pitch_deg=pitch_deg, roll_deg=roll_deg)
    ts = a["ts_ms"].astype(np.int64)
    start = now_ms - int(failure_minutes * MS_PER_MIN)
    mag = np.hypot(a["pitch_deg"] - np.nan_to_num(baseline.pitch_deg)[:, None],
                   a["roll_deg"] - np.nan_to_num(baseline.roll_deg)[:, None])
    sel = (ts > start) & (ts <= now_ms) & np.isfinite(mag)
    from_end = np.cumsum(sel[:, ::-1], axis=1)[:, ::-1]
    newest = sel & (from_end <= failure_min_samples)
    tilt = np.where(newest, mag, np.inf).min(axis=1, initial=np.inf).astype(np.float64)
    tilt[newest.sum(axis=1) < failure_min_samples] = np.nan
    return Lean(tilt, np.where(newest, ts, 0).max(axis=1, initial=0))


def failure_at_readings(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
                        baseline: TiltBaseline, *,
                        failure_minutes: float = _STD.failure_minutes,
                        failure_min_samples: int = _STD.failure_min_samples) -> Lean:
    """:func:`failure_tilt` as of each reading's own time: per sample, the smallest tilt
    among the newest ``failure_min_samples`` readings up to it within ``failure_minutes``.

    A function of a device's readings alone (no tick, no site clock), so a failure is dated
    by the reading that confirmed it, whenever the readings are judged: live, at once, or
    minutes later as a backlog.

    Parameters
    ----------
    ts_ms, pitch_deg, roll_deg : (rows, samples) in time order [ms UTC], [deg]
    baseline : TiltBaseline (NaN baselines count as 0°)
    failure_minutes, failure_min_samples : as :func:`failure_tilt` [min], count

    Returns
    -------
    Lean of shape (rows, samples): the confirmed tilt at each sample [deg] (NaN where fewer
    readings qualify, or at empty slots) and the sample's own time [ms UTC].
    """
    ts = as_2d("ts_ms", ts_ms).astype(np.int64)
    p, r = as_2d("pitch_deg", pitch_deg, np.float64), as_2d("roll_deg", roll_deg, np.float64)
    same_shape(ts.shape, pitch_deg=p, roll_deg=r)
    mag = np.hypot(p - np.nan_to_num(baseline.pitch_deg)[:, None],
                   r - np.nan_to_num(baseline.roll_deg)[:, None])
    ok = (ts > 0) & np.isfinite(mag)
    cols = np.arange(ts.shape[1])
    # index of the newest valid sample at or before each column (-1: none)
    last = np.maximum.accumulate(np.where(ok, cols, -1), axis=1)
    rows = np.arange(ts.shape[0])[:, None]
    span = int(failure_minutes * MS_PER_MIN)
    tilt = np.where(ok, mag, np.nan)
    cur = np.where(ok, cols, -1)
    for _ in range(failure_min_samples - 1):  # walk back to the previous valid samples
        prev = np.where(cur > 0, last[rows, np.maximum(cur - 1, 0)], -1)
        inside = (prev >= 0) & (ts[rows, np.maximum(prev, 0)] > ts - span)
        cur = np.where(inside, prev, -1)
        tilt = np.where(cur >= 0, np.fmin(tilt, mag[rows, np.maximum(cur, 0)]), np.nan)
    tilt[~ok] = np.nan
    return Lean(tilt.astype(np.float64), np.where(ok, ts, 0))


def step_magnitude(before: Level, after: Level, min_samples: int) -> F64:
    """Size of a change of calm level [deg]: ``hypot(Δpitch, Δroll)``; NaN if either side
    has fewer than ``min_samples`` samples.

    Used for the "sudden increase" alarm shape [Hui2022]: *before* is the calm level before a
    storm (or before the last hour), *after* the calm level once the wind has dropped — a
    change that persists after the wind drops is the signal [Domain]; graded with
    ``TiltParams.step_deg``.
    """
    step = np.hypot(after.pitch_deg - before.pitch_deg, after.roll_deg - before.roll_deg)
    step[(before.n < min_samples) | (after.n < min_samples)] = np.nan
    return step


@dataclass(frozen=True, slots=True)
class LeanRate:
    """Per-row lean trend.

    ``rate_deg_per_day`` is the speed of the compensated calm tilt (pitch/roll magnitude of the
    two slopes), signed + when the tree moves away from its baseline; ``t_stat`` = rate /
    standard error; ``span_days`` covered; ``significant`` = enough span and t.
    """

    rate_deg_per_day: F64
    t_stat: F64
    span_days: F64
    n: I64
    significant: Bool


def lean_rate(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
              temp_c: np.ndarray, calm: np.ndarray, baseline: TiltBaseline,
              now_ms: int, *, trend_days: float = _STD.trend_days,
              trend_min_days: float = _STD.trend_min_days,
              trend_min_t: float = _STD.trend_min_t) -> LeanRate:
    """Robust least-squares lean rate over the last ``trend_days`` [deg/day].

    Per axis, a straight line is fitted to the compensated calm samples (typically hourly
    medians) with one pass of outlier trimming (:func:`rowstats.robust_linfit`); the rate is
    the magnitude of the slope vector, signed by whether it points away from the baseline.

    Parameters
    ----------
    ts_ms, pitch_deg, roll_deg, temp_c, calm : (rows, samples) [ms UTC], [deg], [deg], [°C]
    baseline : TiltBaseline (rows without one give NaN)
    now_ms : int, event time [ms UTC]
    trend_days : float, fit window [day]; trend_min_days : float, the fit must span this
        [day]; trend_min_t : float, slope / standard error needed (project choices,
        ``TiltParams``)

    Returns
    -------
    LeanRate; grade ``rate_deg_per_day`` with ``TiltParams.trend_deg_per_day`` where
    ``significant`` (the "increasing trend" alarm shape of [Hui2022]).

    Notes
    -----
    Temperature effects that the per-device coefficient misses show up as residual scatter,
    which widens the standard error rather than biasing the slope, unless the temperature
    itself trends (a warming week): the ``trend_min_t`` gate and the ≥ 2-day span limit that.
    """
    a = detector_inputs(now_ms, ts_ms=ts_ms, pitch_deg=pitch_deg, roll_deg=roll_deg,
                        temp_c=temp_c, calm=calm)
    ts = a["ts_ms"].astype(np.int64)
    start = now_ms - int(trend_days * MS_PER_DAY)
    sel = a["calm"].astype(bool) & (ts > start) & (ts <= now_ms) & baseline.ok[:, None]
    t_days = (ts - now_ms) / MS_PER_DAY
    pc, rc = compensate_tilt(a["pitch_deg"], a["roll_deg"], a["temp_c"], baseline)
    fp = robust_linfit(t_days, pc, sel)
    fr = robust_linfit(t_days, rc, sel)
    mag = np.hypot(fp.slope, fr.slope)
    # where the line ends (t = 0, now) relative to the baseline: moving away or back?
    dp = fp.level - fp.slope * fp.t_mean - baseline.pitch_deg
    dr = fr.level - fr.slope * fr.t_mean - baseline.roll_deg
    away = fp.slope * dp + fr.slope * dr
    sign = np.where(away < 0, -1.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.hypot(fp.slope * fp.se_slope, fr.slope * fr.se_slope) / mag
        t_stat = mag / se
    span = np.fmin(fp.span, fr.span)
    n = np.minimum(fp.n, fr.n)
    steady = _steady(ts, pc, rc, sel, fp.slope, fr.slope, mag, trend_days, now_ms)
    significant = ((span >= trend_min_days) & (t_stat >= trend_min_t)
                   & np.isfinite(mag) & steady)
    return LeanRate(sign * mag, t_stat, span, n, significant)


def _steady(ts: np.ndarray, pc: np.ndarray, rc: np.ndarray, sel: np.ndarray,
            slope_p: np.ndarray, slope_r: np.ndarray, mag: np.ndarray, trend_days: float,
            now_ms: int) -> Bool:
    """A step is not a trend: the median day-to-day move must keep up with the fitted rate.

    A least-squares line through a single step has a steep, "significant" slope. Daily medians
    of a steady trend move by about the rate every day; across a step they move once. So the
    lower median of consecutive daily moves (along the fitted direction) must reach half the
    rate, over at least two day pairs — with two pairs that is the smaller move, so one step
    between three days is not a trend.
    """
    days = max(2, int(np.ceil(trend_days)))
    age_day = (now_ms - ts) // MS_PER_DAY
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.nan_to_num(slope_p / mag)
        uy = np.nan_to_num(slope_r / mag)
    daily = np.full((ts.shape[0], days), np.nan)
    for d in range(days):  # a loop over days, each over all rows
        in_day = sel & (age_day == d)
        enough = in_day.sum(axis=1) >= 6
        proj = masked_median(pc, in_day) * ux + masked_median(rc, in_day) * uy
        daily[:, d] = np.where(enough, proj, np.nan)
    moves = daily[:, :-1] - daily[:, 1:]  # newer day minus the day before
    ok = np.isfinite(moves)
    n = ok.sum(axis=1)
    ordered = np.sort(np.where(ok, moves, np.inf), axis=1)
    lower_median = ordered[np.arange(ts.shape[0]), np.maximum(n - 1, 0) // 2]
    return np.asarray((n >= 2) & (lower_median >= 0.5 * mag), bool)


def level_thresholds(heritage: np.ndarray, standard: Grades, stricter: Grades) -> F64:
    """Per-row (watch, warning, critical) thresholds: ``stricter`` for heritage trees.

    Parameters
    ----------
    heritage : (rows,) bool
    standard, stricter : Grades, e.g. ``TILT_PARAMS["standard"].lean_deg`` and
        ``TILT_PARAMS["heritage"].lean_deg``

    Returns
    -------
    (rows, 3) float64 thresholds in the grades' unit.
    """
    her = as_1d("heritage", heritage, None, bool)
    return np.where(her[:, None], np.asarray(stricter.as_tuple()),
                    np.asarray(standard.as_tuple()))


@dataclass(frozen=True, slots=True)
class HourlyMedians:
    """Column output of :func:`hourly_calm_medians`: one entry per (row, hour) with samples."""

    rows: I64
    ts_ms: I64  # middle of the hour
    values: dict[str, F64]
    n: I64


def hourly_calm_medians(ts_ms: np.ndarray, values: dict[str, np.ndarray], calm: np.ndarray,
                        from_ms: int, to_ms: int) -> HourlyMedians:
    """Median of each field over the calm samples of each whole UTC hour in [from, to).

    Hourly medians feed the baseline and trend fits: they compress days of readings into a
    long, cheap window, and the median rejects what is left of gusts. ``from_ms``/``to_ms``
    are rounded down to whole hours. Rows in time order (as :meth:`Windows.chronological`
    gives) are grouped without sorting.
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    calm = as_2d("calm", calm, bool)
    same_shape(ts.shape, calm=calm, **{f"values[{k!r}]": as_2d(k, v) for k, v in values.items()})
    h0 = from_ms // MS_PER_HOUR
    h1 = to_ms // MS_PER_HOUR
    nh = int(h1 - h0)
    if nh <= 0:
        empty = np.zeros(0, np.int64)
        return HourlyMedians(empty, empty, {k: np.zeros(0) for k in values}, empty)
    sel = calm & (ts >= h0 * MS_PER_HOUR) & (ts < h1 * MS_PER_HOUR)
    r_idx, c_idx = np.nonzero(sel)
    hour = ts[r_idx, c_idx] // MS_PER_HOUR - h0
    groups = r_idx.astype(np.int64) * nh + hour
    if groups.size and np.all(groups[1:] >= groups[:-1]):
        new_group = np.r_[True, groups[1:] != groups[:-1]]
        uniq = groups[new_group]
        dense = np.cumsum(new_group) - 1
        counts = np.bincount(dense, minlength=uniq.size)
    else:
        uniq, counts = np.unique(groups, return_counts=True)
        dense = np.searchsorted(uniq, groups)
    out = {}
    for k, v in values.items():
        med, _ = group_median(np.asarray(v)[r_idx, c_idx], dense, uniq.size)
        out[k] = med
    rows = uniq // nh
    hours = uniq % nh + h0
    return HourlyMedians(rows.astype(np.int64), (hours * MS_PER_HOUR + MS_PER_HOUR // 2),
                         out, counts.astype(np.int64))
