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
from greeniot.analytics.params import SoilParams
from greeniot.clock import MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class ProbeLevel:
    """Per probe: smoothed VWC [%] (NaN with too few samples), samples used, newest ts [ms]."""

    vwc_pct: F64
    n: I64
    last_ts_ms: I64


def probe_level(ts_ms: np.ndarray, vwc_pct: np.ndarray, params: SoilParams,
                now_ms: int) -> ProbeLevel:
    """Median VWC of each probe over the last ``params.smooth_hours``.

    A median of at least ``params.min_samples`` samples: one noisy reading (a loose contact,
    a probe knocked by a mower) cannot start or stop irrigation.

    Parameters
    ----------
    ts_ms : (probes, samples) int64 [ms UTC], 0 = empty
    vwc_pct : (probes, samples) volumetric water content [%]
    params : SoilParams
    now_ms : int, event time [ms UTC]; later samples are ignored
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    v = as_2d("vwc_pct", vwc_pct)
    same_shape(ts.shape, vwc_pct=v)
    start = now_ms - int(params.smooth_hours * MS_PER_HOUR)
    sel = (ts > start) & (ts <= now_ms) & np.isfinite(v)
    n = sel.sum(axis=1)
    level = masked_median(v, sel)
    level[n < params.min_samples] = np.nan
    return ProbeLevel(level, n.astype(np.int64), np.where(sel, ts, 0).max(axis=1, initial=0))


def hours_above(ts_ms: np.ndarray, vwc_pct: np.ndarray, saturation_pct: np.ndarray,
                params: SoilParams, now_ms: int) -> F64:
    """How long each probe has read above saturation without a break [h].

    The clock runs from the first sample after the last one below ``saturation −
    params.hysteresis_pct`` (so noise at the threshold does not restart it) to the newest
    sample; 0 if the newest sample is itself below that. Order-free: it needs only the
    times of the last "below" sample and of the samples after it. If no sample in the window is
    below, the clock starts at the oldest sample held: the true duration is at least that.

    Parameters
    ----------
    ts_ms, vwc_pct : (probes, samples) [ms UTC], [%]
    saturation_pct : (probes,) the probe's zone saturation threshold [%]
    params : SoilParams
    now_ms : int, event time [ms UTC]
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    v = as_2d("vwc_pct", vwc_pct, np.float64)
    same_shape(ts.shape, vwc_pct=v)
    sat = as_1d("saturation_pct", saturation_pct, ts.shape[0], np.float64)
    valid = (ts > 0) & (ts <= now_ms) & np.isfinite(v)
    below = valid & (v < (sat - params.hysteresis_pct)[:, None])
    last_below = np.where(below, ts, 0).max(axis=1, initial=0)
    after = valid & (ts > last_below[:, None])
    start = np.where(after, ts, np.iinfo(np.int64).max).min(axis=1)
    newest = np.where(valid, ts, 0).max(axis=1, initial=0)
    dur = (newest - start) / MS_PER_HOUR
    return np.where(after.any(axis=1), dur, 0.0)


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


def drought_levels(zone_vwc_pct: np.ndarray, refill_vwc_pct: np.ndarray,
                   params: SoilParams) -> tuple[np.ndarray, np.ndarray]:
    """Drought level (0 or 2 = warning) to raise, and to keep, per zone.

    Raised below the zone's refill point; kept until the zone is ``params.hysteresis_pct``
    above it, so watering that just reaches the refill point does not re-trigger.

    Returns
    -------
    (on, hold): int8 arrays for :func:`greeniot.analytics.latch.latch`.
    """
    v = np.asarray(zone_vwc_pct, np.float64)
    refill = np.asarray(refill_vwc_pct, np.float64)
    with np.errstate(invalid="ignore"):
        on = np.where(v < refill, 2, 0).astype(np.int8)
        hold = np.where(v < refill + params.hysteresis_pct, 2, 0).astype(np.int8)
    return on, hold


def waterlog_levels(zone_vwc_pct: np.ndarray, zone_hours_above: np.ndarray,
                    saturation_vwc_pct: np.ndarray,
                    waterlog_hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Waterlogging level (0 or 2 = warning) to raise, and to keep, per zone.

    Raised once the zone's probes have stayed above saturation (median of their
    :func:`hours_above`) for ``waterlog_hours`` and the zone's smoothed VWC is above
    saturation now; kept while the clock runs (it restarts only below saturation −
    hysteresis).
    """
    v = np.asarray(zone_vwc_pct, np.float64)
    h = np.asarray(zone_hours_above, np.float64)
    sat = np.asarray(saturation_vwc_pct, np.float64)
    need = np.asarray(waterlog_hours, np.float64)
    with np.errstate(invalid="ignore"):
        on = np.where((h >= need) & (v > sat), 2, 0).astype(np.int8)
        hold = np.where(h > 0, 2, 0).astype(np.int8)
    return on, hold
