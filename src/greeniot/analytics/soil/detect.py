"""Zone water status from soil probes: drought and waterlogging. Pure.

Arrays are (probes × samples) of ``ts_ms`` and volumetric water content ``vwc_pct``; a zone is
judged on the median of its probes, so one failed or badly placed probe neither waters nor
drains a zone. Refill and saturation points are per zone, from the registry
(:class:`greeniot.estate.ZoneInfo`): the refill point is where the FAO-56 water
balance says to irrigate (root-zone depletion past the management allowed depletion) [Domain].
Smoothing and hysteresis are in :class:`greeniot.analytics.params.SoilParams`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import (
    F64,
    I64,
    as_1d,
    as_2d,
    group_median,
    masked_median,
    same_shape,
)
from greeniot.clock import MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class ProbeLevel:
    """Per probe: smoothed VWC [%] (NaN with too few samples), samples used, newest ts [ms]."""

    vwc_pct: F64
    n: I64
    last_ts_ms: I64


def probe_level(ts_ms: np.ndarray, vwc_pct: np.ndarray, *, smooth_hours: float,
                min_samples: int, now_ms: int) -> ProbeLevel:
    """Median VWC of each probe over the last ``smooth_hours``.

    A median of at least ``min_samples`` samples: one noisy reading (a loose contact,
    a probe knocked by a mower) cannot start or stop irrigation.

    Parameters
    ----------
    ts_ms : (probes, samples) int64 [ms UTC], 0 = empty
    vwc_pct : (probes, samples) volumetric water content [%]
    smooth_hours : float, smoothing window [h] (``SoilParams.smooth_hours``)
    min_samples : int, fewest samples for a level (``SoilParams.min_samples``)
    now_ms : int, event time [ms UTC]; later samples are ignored
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    v = as_2d("vwc_pct", vwc_pct)
    same_shape(ts.shape, vwc_pct=v)
    start = now_ms - int(smooth_hours * MS_PER_HOUR)
    sel = (ts > start) & (ts <= now_ms) & np.isfinite(v)
    n = sel.sum(axis=1)
    level = masked_median(v, sel)
    level[n < min_samples] = np.nan
    return ProbeLevel(level, n.astype(np.int64), np.where(sel, ts, 0).max(axis=1, initial=0))


def above_since(ts_ms: np.ndarray, vwc_pct: np.ndarray, saturation_pct: np.ndarray, *,
                hysteresis_pct: float | np.ndarray, now_ms: int,
                since_ms: np.ndarray | None = None) -> tuple[I64, I64]:
    """Since when each probe has read above its threshold without a break, and its newest
    sample [ms UTC] (since = 0: not above now).

    The clock runs from the first sample after the last one below ``saturation −
    hysteresis_pct`` (so noise at the threshold does not restart it) to the newest sample;
    0 if the newest sample is itself below that. Order-free: it needs only the times of the
    last "below" sample and of the samples after it. If no sample in the window is below, the
    clock started at the oldest sample held — or earlier, at ``since_ms`` (the previous
    pass's answer): a waterlogging limit may be longer than a probe's window holds.

    Parameters
    ----------
    ts_ms, vwc_pct : (probes, samples) [ms UTC], values
    saturation_pct : (probes,) the probe's threshold, in the units of ``vwc_pct``
    hysteresis_pct : float or (probes,), the clock restarts below the threshold − this
        (``SoilParams``), same units
    now_ms : int, event time [ms UTC]
    since_ms : (probes,) the previous answer (0: none), or None
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    v = as_2d("vwc_pct", vwc_pct, np.float64)
    same_shape(ts.shape, vwc_pct=v)
    sat = as_1d("saturation_pct", saturation_pct, ts.shape[0], np.float64)
    hyst = np.broadcast_to(np.asarray(hysteresis_pct, np.float64), sat.shape)
    valid = (ts > 0) & (ts <= now_ms) & np.isfinite(v)
    below = valid & (v < (sat - hyst)[:, None])
    last_below = np.where(below, ts, 0).max(axis=1, initial=0)
    after = valid & (ts > last_below[:, None])
    start = np.where(after, ts, np.iinfo(np.int64).max).min(axis=1)
    newest = np.where(valid, ts, 0).max(axis=1, initial=0)
    if since_ms is not None:
        prev = as_1d("since_ms", since_ms, ts.shape[0], np.int64)
        go_on = (last_below == 0) & (prev > 0)
        start = np.where(go_on, np.minimum(start, prev), start)
    return np.where(after.any(axis=1), start, 0).astype(np.int64), newest.astype(np.int64)


def hours_above(ts_ms: np.ndarray, vwc_pct: np.ndarray, saturation_pct: np.ndarray, *,
                hysteresis_pct: float | np.ndarray, now_ms: int) -> F64:
    """How long each probe has read above its threshold without a break [h], within the
    window (:func:`above_since`)."""
    start, newest = above_since(ts_ms, vwc_pct, saturation_pct,
                                hysteresis_pct=hysteresis_pct, now_ms=now_ms)
    return np.where(start > 0, (newest - start) / MS_PER_HOUR, 0.0)


@dataclass(frozen=True, slots=True)
class ZoneWater:
    """Per zone: median probe VWC [%], median hours above saturation [h], probes counted."""

    vwc_pct: F64
    hours_above: F64
    n_probes: I64


def zone_water(probe_vwc_pct: np.ndarray, probe_hours_above: np.ndarray, zone: np.ndarray,
               n_zones: int) -> ZoneWater:
    """Aggregate probes into zones by median (probes without a level are left out).

    Parameters
    ----------
    probe_vwc_pct, probe_hours_above : (probes,) from :func:`probe_level`, :func:`hours_above`
    zone : (probes,) zone code of each probe in ``[0, n_zones)``
    n_zones : int
    """
    v = as_1d("probe_vwc_pct", probe_vwc_pct, None, np.float64)
    h = as_1d("probe_hours_above", probe_hours_above, v.size, np.float64)
    z = as_1d("zone", zone, v.size, np.int64)
    vwc, n = group_median(v, z, n_zones)
    hrs, _ = group_median(np.where(np.isfinite(v), h, np.nan), z, n_zones)
    return ZoneWater(vwc, hrs, n)


def drought_levels(zone_vwc_pct: np.ndarray, refill_vwc_pct: np.ndarray, *,
                   hysteresis_pct: float) -> tuple[np.ndarray, np.ndarray]:
    """Drought level (0 or 2 = warning) to raise, and to keep, per zone.

    Raised below the zone's refill point; kept until the zone is ``hysteresis_pct``
    above it, so watering that just reaches the refill point does not re-trigger.

    Returns
    -------
    (on, hold): int8 arrays for :func:`greeniot.analytics.latch.latch`.
    """
    v = np.asarray(zone_vwc_pct, np.float64)
    refill = np.asarray(refill_vwc_pct, np.float64)
    with np.errstate(invalid="ignore"):
        on = np.where(v < refill, 2, 0).astype(np.int8)
        hold = np.where(v < refill + hysteresis_pct, 2, 0).astype(np.int8)
    return on, hold


def waterlog_levels(zone_excess: np.ndarray, zone_hours_above: np.ndarray,
                    limit_hours: np.ndarray, in_season: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Waterlogging level to raise, and to keep, per zone: 2 (warning) once the zone's probes
    have stayed above their threshold (median of their :func:`hours_above`) for
    ``limit_hours``, 3 (critical) at twice that — roots without air for that long start to die
    back, so the drain task moves up — while the zone's smoothed level is above the threshold
    now (``zone_excess`` > 0: median over the zone's probes of level − threshold); kept while
    the clock runs (it restarts only below the threshold − hysteresis). Outside the rainy
    season (``in_season`` False) nothing is raised or kept.
    """
    x = np.asarray(zone_excess, np.float64)
    h = np.asarray(zone_hours_above, np.float64)
    need = np.asarray(limit_hours, np.float64)
    season = np.ones(x.shape, bool) if in_season is None else np.asarray(in_season, bool)
    with np.errstate(invalid="ignore"):
        wet = (x > 0) & season
        on = np.where(wet & (h >= 2 * need), 3, np.where(wet & (h >= need), 2, 0)).astype(np.int8)
        hold = np.where((h > 0) & season, np.maximum(on, 2), 0).astype(np.int8)
    return on, hold


def free_drain_hours(theta_fc: np.ndarray, porosity: np.ndarray, drain_frac_day: np.ndarray,
                     *, to_m3: float) -> F64:
    """How long a saturated root zone that drains freely stays more than ``to_m3`` above
    field capacity [h]: the excess over field capacity (porosity − θFC) drains by the share
    τ a day (AquaCrop's drainage coefficient, :func:`greeniot.soils.drain_fraction_per_day`,
    the same the water balance uses), so it falls to ``to_m3`` after
    ln(to_m3 / excess) / ln(1 − τ) days. The soil stage passes half the waterlogging margin:
    by then a freely draining zone reads clearly below the threshold (θFC + margin) despite
    calibration and probe noise, so a waterlogging limit at least this long never calls
    ordinary drainage after a heavy rain waterlogging (clay ≈ 8 days, loam ≈ 2.5, sand 0).

    Parameters
    ----------
    theta_fc, porosity : (zones,) [m³ m⁻³]
    drain_frac_day : (zones,) τ [day⁻¹], 0.05..1
    to_m3 : excess over field capacity counted as drained [m³ m⁻³]
    """
    fc, por, tau = (np.asarray(a, np.float64) for a in (theta_fc, porosity, drain_frac_day))
    excess = por - fc
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.log(to_m3 / excess) / np.log1p(-np.clip(tau, 0.0, 1.0))
    return np.where((excess > to_m3) & (tau < 1.0), 24.0 * days, 0.0)


def in_season(month_day: np.ndarray, windows: list[tuple[tuple[int, int], ...]]) -> np.ndarray:
    """Whether each zone's local date (``month_day`` = month × 100 + day) falls in one of its
    windows ((start, end) the same way, inclusive; end before start wraps the new year); a
    zone without windows is always in season."""
    md = np.asarray(month_day, np.int64)
    out = np.ones(md.shape, bool)
    for z, wins in enumerate(windows):
        if wins:
            out[z] = any((a <= md[z] <= b) if a <= b else (md[z] >= a or md[z] <= b)
                         for a, b in wins)
    return out
