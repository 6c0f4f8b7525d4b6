"""Site-wide storms and the calm/windy mask of tilt samples. Pure.

A storm is judged per site, from its weather station(s) — wind data from a station several km
away still relate to root-plate inclination [Gocke2018] — or, for sites without one, from the
median burst sway RMS of its trees. Thresholds are Beaufort-scale bands [Beaufort] in
:class:`greeniot.analytics.params.StormParams`. Tilt step detection compares the calm lean
before a storm's onset with the calm lean after its end; the windy mask keeps sway out of
every lean statistic.

References: see :mod:`greeniot.analytics.params` ([Beaufort], [Gocke2018]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import F64, I64, Bool, as_2d, group_median, same_shape
from greeniot.analytics.params import STORM_PARAMS

_ST = STORM_PARAMS["default"]  # keyword defaults


@dataclass(frozen=True, slots=True)
class StormState:
    """Per site (row).

    ``active``: a storm is on at ``now_ms``. ``onset_ts_ms``: start of the current or most
    recent storm (0 if none in the data). ``end_ts_ms``: for a finished storm, the last reading
    at or above the end threshold, i.e. when the wind dropped (0 while active or if none).
    ``peak``: highest intensity since that onset. ``latest``: newest intensity.
    """

    active: Bool
    onset_ts_ms: I64
    end_ts_ms: I64
    peak: F64
    latest: F64


def storm_episodes(ts_ms: np.ndarray, intensity: np.ndarray, *, onset: float, end: float,
                   end_hold_ms: int, now_ms: int) -> StormState:
    """Storm on/off with hysteresis, vectorized over sites.

    A storm starts at the first reading at or above ``onset`` and ends once readings stay below
    ``end`` for ``end_hold_ms`` (or no reading at or above ``end`` arrives for that long). Each
    row must be in ascending time order (as :func:`rowstats.pack_groups` or
    :meth:`Windows.chronological` give); empty entries have ``ts_ms`` 0.

    The state machine is evaluated without a loop over time: the state after each reading is
    "the latest onset trigger is newer than the latest end trigger", where an end trigger is a
    reading that comes ``end_hold_ms`` after the last reading at or above ``end`` — running
    maxima (``np.maximum.accumulate``) along each row.

    Parameters
    ----------
    ts_ms : (sites, samples) int64 reading times [ms UTC], ascending per row, 0 = empty
    intensity : (sites, samples) 10-min mean wind [m/s] or sway RMS [deg]
    onset, end : thresholds in the unit of ``intensity``; ``end`` < ``onset`` (hysteresis).
        Wind defaults: Beaufort 8 gale 17.2 m/s and Beaufort 6 10.8 m/s [Beaufort].
    end_hold_ms : int, calm time that ends a storm [ms]
    now_ms : int, event time [ms UTC]; later readings are ignored
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    x = as_2d("intensity", intensity, np.float64)
    same_shape(ts.shape, intensity=x)
    if not end < onset:
        raise ValueError(f"end ({end}) must be below onset ({onset})")
    g = ts.shape[0]
    if ts.shape[1] == 0:
        z = np.zeros(g, np.int64)
        return StormState(np.zeros(g, bool), z, z.copy(), np.full(g, np.nan), np.full(g, np.nan))
    valid = (ts > 0) & (ts <= now_ms) & np.isfinite(x)
    above_end = valid & (x >= end)
    trig_on = valid & (x >= onset)
    last_above = np.maximum.accumulate(np.where(above_end, ts, 0), axis=1)
    trig_off = valid & ~above_end & (ts - last_above >= end_hold_ms)
    last_off = np.maximum.accumulate(np.where(trig_off, ts, 0), axis=1)
    last_on = np.maximum.accumulate(np.where(trig_on, ts, 0), axis=1)
    on = last_on > last_off
    prev_on = np.zeros_like(on)
    prev_on[:, 1:] = on[:, :-1]
    starts = trig_on & ~prev_on
    stops = prev_on & ~on
    onset_ts = np.where(starts, ts, 0).max(axis=1)
    final_above = last_above[:, -1]
    active = on[:, -1] & (now_ms - final_above < end_hold_ms)
    stop_end = np.where(stops & (ts > onset_ts[:, None]), last_above, 0).max(axis=1)
    finished = ~active & (onset_ts > 0)
    end_ts = np.where(finished, np.where(stop_end > 0, stop_end, final_above), 0)
    in_storm = valid & (ts >= onset_ts[:, None]) & (onset_ts[:, None] > 0)
    in_storm &= np.where(finished[:, None], ts <= end_ts[:, None], True)
    peak = np.where(in_storm, x, -np.inf).max(axis=1)
    peak[~np.isfinite(peak)] = np.nan
    last_idx = np.where(valid, np.arange(ts.shape[1]), -1).max(axis=1)
    latest = np.where(last_idx >= 0, x[np.arange(g), np.maximum(last_idx, 0)], np.nan)
    return StormState(active, onset_ts.astype(np.int64), end_ts.astype(np.int64), peak, latest)


def windy_readings(wind_ms: np.ndarray, gust_ms: np.ndarray, *,
                   windy_ms: float = _ST.windy_ms,
                   windy_gust_ms: float = _ST.windy_gust_ms) -> Bool:
    """Readings windy enough to move trees: mean wind ≥ ``windy_ms`` [m/s] (Beaufort 5,
    "small trees in leaf begin to sway") or gust ≥ ``windy_gust_ms`` [m/s] (Beaufort 7,
    "whole trees in motion") [Beaufort]. NaN gusts count as not windy."""
    w = np.asarray(wind_ms, np.float64)
    gu = np.asarray(gust_ms, np.float64)
    if w.shape != gu.shape:
        raise ValueError(f"gust_ms has shape {gu.shape}, wind_ms has {w.shape}")
    with np.errstate(invalid="ignore"):
        return (w >= windy_ms) | (gu >= windy_gust_ms)


def windy_at(sample_site: np.ndarray, sample_ts_ms: np.ndarray, ref_site: np.ndarray,
             ref_ts_ms: np.ndarray, ref_windy: np.ndarray, *, settle_ms: int,
             max_gap_ms: int) -> tuple[Bool, Bool]:
    """Was each sample taken in wind at its site? Vectorized over samples and sites.

    A sample at time t is windy if its site had a windy reading in ``[t − settle_ms, t]``
    (sway and soil settling outlast the gust); its windiness is *known* if it is windy or the
    site's newest reading at or before t is at most ``max_gap_ms`` old.

    All samples and readings are searched at once: (site, time) pairs become one sortable key,
    each sample finds the site's last reading with ``np.searchsorted``, and a running maximum of
    "windy until" times answers the settle window.

    Parameters
    ----------
    sample_site, sample_ts_ms : (n,) site codes and times [ms UTC] of the tilt samples
    ref_site, ref_ts_ms, ref_windy : (m,) site codes, times [ms UTC] and windy flags of the
        wind readings (any order)
    settle_ms, max_gap_ms : [ms]

    Returns
    -------
    (windy, known): two (n,) bool arrays.
    """
    s_site = np.asarray(sample_site, np.int64).ravel()
    s_ts = np.asarray(sample_ts_ms, np.int64).ravel()
    r_site = np.asarray(ref_site, np.int64).ravel()
    r_ts = np.asarray(ref_ts_ms, np.int64).ravel()
    r_windy = np.asarray(ref_windy, bool).ravel()
    if s_site.shape != s_ts.shape:
        raise ValueError(f"sample_site has shape {s_site.shape}, sample_ts_ms {s_ts.shape}")
    if not r_site.shape == r_ts.shape == r_windy.shape:
        raise ValueError("ref_site, ref_ts_ms and ref_windy must have the same shape")
    n = s_ts.size
    if n == 0 or r_ts.size == 0:
        return np.zeros(n, bool), np.zeros(n, bool)
    t0 = min(int(s_ts.min()), int(r_ts.min()))
    span = max(int(s_ts.max()), int(r_ts.max())) - t0 + int(settle_ms) + 1
    r_key = r_site * span + (r_ts - t0)
    order = np.argsort(r_key, kind="stable")
    r_key = r_key[order]
    r_site_s = r_site[order]
    until = np.where(r_windy[order], r_key + int(settle_ms), r_site_s * span - 1)
    run_until = np.maximum.accumulate(until)
    s_key = s_site * span + (s_ts - t0)
    idx = np.searchsorted(r_key, s_key, side="right") - 1
    ok = idx >= 0
    idx_c = np.maximum(idx, 0)
    same = ok & (r_site_s[idx_c] == s_site)
    windy = same & (run_until[idx_c] >= s_key)
    fresh = same & (s_key - r_key[idx_c] <= int(max_gap_ms))
    return windy, windy | fresh


def site_sway_rms(rms_deg: np.ndarray, site: np.ndarray, n_sites: int) -> tuple[F64, I64]:
    """Median burst sway RMS per site [deg] and the number of trees behind it.

    Stands in for wind where a site has no weather station: trees of one estate sway together
    in a storm, and the median ignores one tree swaying for its own reasons.
    """
    return group_median(rms_deg, site, n_sites)


def load_at(sample_site: np.ndarray, sample_ts_ms: np.ndarray, ref_site: np.ndarray,
            ref_ts_ms: np.ndarray, ref_load: np.ndarray, *, max_gap_ms: int,
            final: bool | np.ndarray = True) -> F64:
    """Wind load at each sample, interpolated in time between the site's references.

    The wind load on a crown grows with the square of the wind speed (drag), so a station's
    10-min mean wind ``U`` gives ``U²`` [(m/s)²]; a site without a station uses the estate's
    median burst sway RMS [deg], which grows with the load too [Gocke2018]. A sample between
    two references at most ``max_gap_ms`` apart gets the linear interpolation (gusty 10-min
    means change within a reading interval, and the tree answers the wind of its own time);
    a sample after the newest reference gets NaN unless ``final`` (then that reference, if at
    most ``max_gap_ms`` old) — so a caller can wait for the next reading. NaN without any.

    Parameters
    ----------
    sample_site, sample_ts_ms : (n,) site codes and times [ms UTC] of the tilt samples
    ref_site, ref_ts_ms, ref_load : (m,) the load references, any order
    max_gap_ms : int [ms]
    final : bool or (n,) bool, whether a sample may take the newest reference before it
    """
    s_site = np.asarray(sample_site, np.int64).ravel()
    s_ts = np.asarray(sample_ts_ms, np.int64).ravel()
    r_site = np.asarray(ref_site, np.int64).ravel()
    r_ts = np.asarray(ref_ts_ms, np.int64).ravel()
    r_load = np.asarray(ref_load, np.float64).ravel()
    if s_site.shape != s_ts.shape:
        raise ValueError(f"sample_site has shape {s_site.shape}, sample_ts_ms {s_ts.shape}")
    if not r_site.shape == r_ts.shape == r_load.shape:
        raise ValueError("ref_site, ref_ts_ms and ref_load must have the same shape")
    fin = np.broadcast_to(np.asarray(final, bool), s_ts.shape)
    out = np.full(s_ts.size, np.nan)
    ok_ref = np.isfinite(r_load)
    r_site, r_ts, r_load = r_site[ok_ref], r_ts[ok_ref], r_load[ok_ref]
    if s_ts.size == 0 or r_ts.size == 0:
        return out
    t0 = min(int(s_ts.min()), int(r_ts.min()))
    span = max(int(s_ts.max()), int(r_ts.max())) - t0 + 1
    r_key = r_site * span + (r_ts - t0)
    order = np.argsort(r_key, kind="stable")
    r_key, r_site, r_load, r_ts = r_key[order], r_site[order], r_load[order], r_ts[order]
    s_key = s_site * span + (s_ts - t0)
    idx = np.searchsorted(r_key, s_key, side="right") - 1
    idx_c = np.clip(idx, 0, r_key.size - 1)
    nxt = np.clip(idx + 1, 0, r_key.size - 1)
    prev_ok = (idx >= 0) & (r_site[idx_c] == s_site)
    next_ok = (idx + 1 < r_key.size) & (r_site[nxt] == s_site)
    gap = r_ts[nxt] - r_ts[idx_c]
    between = prev_ok & next_ok & (gap <= int(max_gap_ms)) & (gap > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(between, (s_ts - r_ts[idx_c]) / np.where(gap > 0, gap, 1), 0.0)
    out[between] = (r_load[idx_c] + frac * (r_load[nxt] - r_load[idx_c]))[between]
    fresh = prev_ok & ~between & fin & (s_ts - r_ts[idx_c] <= int(max_gap_ms))
    out[fresh] = r_load[idx_c[fresh]]
    return out
