"""Engine stage: soil-probe windows → per-zone drought and waterlogging events.

A probe bound to a zone the registry knows is judged with that zone's thresholds and its
fellow probes; a probe bound to no known zone forms a zone of its own (reported by device,
``zone=None``) with :class:`ZoneInfo`'s default thresholds, rather than being dropped.

Waterlogging (issue 7, item 8) is judged on calibrated water content where the zone has a
field-calibrated probe: θ above field capacity + ``SoilParams.waterlog_margin_m3`` for the
zone's ``waterlog_hours``, and at least as long as the soil itself takes to drain freely
(:func:`~greeniot.analytics.soil.detect.free_drain_hours`: water above field capacity is
expected after every heavy rain, for hours in sand and days in clay). A zone whose probes are
all uncalibrated (or only per-soil calibrated) falls back to its raw index above
``saturation_vwc_pct`` (near the index's wet end). Both only in the site's rainy season
(``ZoneInfo.rainy_season``, from its ``drainage_round`` calendar rules; all year without).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from greeniot.analytics.contract import Event, EventKind, Phase, ZoneWaterState
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches
from greeniot.analytics.core.lookup import EstateLookup, RowMeta
from greeniot.analytics.core.rowstats import group_median
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.params import SoilParams
from greeniot.analytics.soil.detect import (
    above_since,
    drought_levels,
    free_drain_hours,
    in_season,
    probe_level,
    waterlog_levels,
    zone_water,
)
from greeniot.analytics.stage import Board, StageBatch
from greeniot.calibration import INDEX_MAX_PCT, MAX_DEGREE, CalibrationTable, calibrate
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.estate import ZoneInfo
from greeniot.soils import drain_fraction_per_day, texture

_Meta = Callable[[str, str], RowMeta]
#: The smoothed level uses at most this many newest samples per probe.
TAIL = 64


@dataclass(frozen=True, slots=True)
class _Waterlog:
    """Per zone: median probe excess over its threshold (θ [m³ m⁻³] or index [%]), median
    hours above it, the zone's level and threshold in those units, whether it is judged on
    θ, its limit [h] and whether its site is in the rainy season."""

    excess: np.ndarray
    hours: np.ndarray
    value: np.ndarray
    threshold: np.ndarray
    theta: np.ndarray
    limit_h: np.ndarray
    in_season: np.ndarray


def _md(month_day: str) -> int:
    """``"MM-DD"`` → month × 100 + day."""
    return int(month_day[:2]) * 100 + int(month_day[3:])


def _month_day(local_ms: np.ndarray) -> np.ndarray:
    """Local times [ms] → month × 100 + day."""
    days = (np.asarray(local_ms, np.int64) // MS_PER_DAY).astype("datetime64[D]")
    month = days.astype("datetime64[M]")
    out: np.ndarray = ((month.astype(np.int64) % 12 + 1) * 100
                       + (days - month).astype(np.int64) + 1)
    return out


class SoilStage:
    name = "soil"
    kinds: tuple[str, ...] = ("soil",)

    def __init__(self, params: SoilParams, window: int) -> None:
        self.params = params
        self.index = DeviceIndex()
        self.windows = Windows(("vwc_pct",), window)
        self.zones = DeviceIndex()  # (site, zone) or (site, "\x00" + device) for unbound probes
        self.zone_of = np.zeros(0, np.int64)
        self.zone_name: list[str | None] = []
        self.zone_device: list[str | None] = []
        self.refill = np.zeros(0)
        self.saturation = np.zeros(0)
        self.waterlog_h = np.zeros(0)
        #: per zone: θFC, the free-drainage time of its soil [h], its site's UTC offset [h],
        #: its rainy-season windows (month × 100 + day pairs)
        self.theta_fc = np.zeros(0)
        self.drain_h = np.zeros(0)
        self.utc_offset_h = np.zeros(0)
        self.season: list[tuple[tuple[int, int], ...]] = []
        #: per probe: its calibration (index → θ) and whether it is trusted enough to judge θ
        self.cal_coef = np.zeros((0, MAX_DEGREE + 1))
        self.cal_top = np.zeros(0)
        self.cal_ok = np.zeros(0, bool)
        #: per probe: since when it has read wet without a break [ms UTC] (0: not wet), kept
        #: across passes because a limit may be longer than its window holds
        self.wet_since = np.zeros(0, np.int64)
        self.latches = Latches()
        self._state = ZoneWaterState()

    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board) -> np.ndarray:
        meta = board.lookup.meta
        before = len(self.index)
        rows = self.index.rows(list(sites), list(devices))
        new_zone = [self._zone_of(*self.index.key(r), meta)
                    for r in range(before, len(self.index))]
        if new_zone:
            self.zone_of = np.concatenate([self.zone_of, np.asarray(new_zone, np.int64)])
            self.windows.ensure_rows(len(self.index))
            self._calibrations(board.lookup, before)
        return rows

    def _calibrations(self, lookup: EstateLookup, start: int) -> None:
        """(Re)read the calibration of probes ``start..``."""
        n = len(self.index)
        coef = np.full((n - start, MAX_DEGREE + 1), np.nan)
        top = np.full(n - start, np.nan)
        ok = np.zeros(n - start, bool)
        for j, r in enumerate(range(start, n)):
            b = lookup.binding(*self.index.key(r))
            if b is None or b.calibration is None:
                continue
            c, t = b.calibration
            coef[j] = 0.0
            coef[j, : len(c)] = c
            top[j] = t
            ok[j] = b.probe_weight >= self.params.waterlog_min_weight and not b.probe_faulty
        self.cal_coef = np.concatenate([self.cal_coef[:start], coef])
        self.cal_top = np.concatenate([self.cal_top[:start], top])
        self.cal_ok = np.concatenate([self.cal_ok[:start], ok])

    def _zone_of(self, site: str, device: str, meta: _Meta) -> int:
        """The zone code of a probe (creating the zone if new; refreshing its thresholds)."""
        m = meta(site, device)
        info = m.zone_info
        key = m.zone if (info is not None and m.zone is not None) else "\x00" + device
        z_before = len(self.zones)
        z = self.zones.row(site, key)
        zi = info or ZoneInfo(site=site, zone=key)
        drain_h = float(free_drain_hours(
            np.array([zi.theta_fc]), np.array([texture(zi.soil_texture or "loam").porosity]),
            np.array([drain_fraction_per_day(zi.soil_texture)]),
            to_m3=self.params.waterlog_margin_m3 / 2)[0])
        season = tuple((_md(a), _md(b)) for a, b in zi.rainy_season)
        if z == z_before:
            self.zone_name.append(m.zone if info is not None else None)
            self.zone_device.append(None if info is not None else device)
            self.refill = np.append(self.refill, zi.refill_vwc_pct)
            self.saturation = np.append(self.saturation, zi.saturation_vwc_pct)
            self.waterlog_h = np.append(self.waterlog_h, zi.waterlog_hours)
            self.theta_fc = np.append(self.theta_fc, zi.theta_fc)
            self.drain_h = np.append(self.drain_h, drain_h)
            self.utc_offset_h = np.append(self.utc_offset_h, zi.utc_offset_h)
            self.season.append(season)
        else:
            self.refill[z] = zi.refill_vwc_pct
            self.saturation[z] = zi.saturation_vwc_pct
            self.waterlog_h[z] = zi.waterlog_hours
            self.theta_fc[z] = zi.theta_fc
            self.drain_h[z] = drain_h
            self.utc_offset_h[z] = zi.utc_offset_h
            self.season[z] = season
        return z

    def remeta(self, board: Board) -> None:
        """Re-read every probe's zone (the registry changed); windows and latches stay."""
        meta = board.lookup.meta
        self.zone_of = np.asarray([self._zone_of(*self.index.key(r), meta)
                                   for r in range(len(self.index))], np.int64)
        self._calibrations(board.lookup, 0)

    def append(self, batch: StageBatch, board: Board) -> None:
        self.windows.append(batch.rows, batch.ts_ms, {"vwc_pct": batch.column("vwc_pct")})

    def tick(self, now_ms: int, board: Board) -> list[Event]:
        """Judge every zone and publish the zones' water state. Probes whose sensor health
        judged bad (stuck, railed, noisy; ``board.faulty``) are left out, so a broken probe
        cannot water or drain a zone."""
        emit: list[Event] = []
        if len(self.index):
            keys = self.index.keys()
            faulty = np.fromiter((board.faulty.get(k, False) for k in keys), bool, len(keys))
            self._judge(now_ms, emit, faulty)
        board.zones = self._state
        return emit

    def _judge(self, now_ms: int, emit: list[Event], faulty: np.ndarray | None = None) -> None:
        nz = len(self.zones)
        k = min(self.windows.window, TAIL)
        p = self.params
        tail_ts, tail_index = self.windows.tail("ts_ms", k), self.windows.tail("vwc_pct", k)
        lvl = probe_level(tail_ts, tail_index, smooth_hours=p.smooth_hours,
                          min_samples=p.min_samples, now_ms=now_ms)
        probe_vwc = lvl.vwc_pct if faulty is None else np.where(faulty, np.nan, lvl.vwc_pct)
        zw = zone_water(probe_vwc, np.zeros(probe_vwc.size), self.zone_of, nz)
        newest = np.zeros(nz, np.int64)
        np.maximum.at(newest, self.zone_of, lvl.last_ts_ms)
        known = np.isfinite(zw.vwc_pct)

        on, hold = drought_levels(zw.vwc_pct, self.refill, hysteresis_pct=p.hysteresis_pct)
        started, escalated, cleared = self.latches.update_phases("drought", on, hold, known)
        for z in np.flatnonzero(started | escalated).tolist():
            emit.append(self._event(
                "drought", z, int(on[z]), zw.vwc_pct[z], self.refill[z], int(newest[z]),
                f"median of {zw.n_probes[z]} probe(s) {zw.vwc_pct[z]:.1f}% VWC below the "
                f"refill point {self.refill[z]:.1f}%",
                phase="escalate" if escalated[z] else "start"))
        for z in np.flatnonzero(cleared).tolist():
            emit.append(self._event(
                "drought", z, 1, zw.vwc_pct[z], self.refill[z], int(newest[z]),
                f"median {zw.vwc_pct[z]:.1f}% VWC back above the refill point "
                f"{self.refill[z]:.1f}% (+ hysteresis)", phase="clear"))

        wl = self._waterlog(now_ms, faulty, tail_ts, tail_index, lvl.vwc_pct)
        on, hold = waterlog_levels(wl.excess, wl.hours, wl.limit_h, wl.in_season)
        started, escalated, cleared = self.latches.update_phases(
            "waterlog", on, hold, np.isfinite(wl.excess) | ~wl.in_season)
        for z in np.flatnonzero(started | escalated).tolist():
            what = (f"calibrated water content {100 * wl.value[z]:.1f}% above field capacity "
                    f"{100 * self.theta_fc[z]:.1f}% (+{100 * p.waterlog_margin_m3:.0f})"
                    if wl.theta[z] else
                    f"index {wl.value[z]:.1f}% above saturation {self.saturation[z]:.1f}%")
            limit = (f"limit {wl.limit_h[z]:.1f} h"
                     + (" (the soil's own free drainage)"
                        if wl.theta[z] and self.drain_h[z] > self.waterlog_h[z] else ""))
            emit.append(self._event(
                "waterlog", z, int(on[z]), wl.value[z] * (100 if wl.theta[z] else 1),
                wl.threshold[z] * (100 if wl.theta[z] else 1), int(newest[z]),
                f"{what} for {wl.hours[z]:.1f} h ({limit}); drainage needed",
                duration_s=float(wl.hours[z]) * 3600,
                phase="escalate" if escalated[z] else "start"))
        for z in np.flatnonzero(cleared).tolist():
            why = ("the rainy season is over" if not wl.in_season[z] else
                   f"{100 * wl.value[z]:.1f}% water content, near field capacity again"
                   if wl.theta[z] else
                   f"index {wl.value[z]:.1f}%, below saturation {self.saturation[z]:.1f}% again")
            emit.append(self._event(
                "waterlog", z, 1, wl.value[z] * (100 if wl.theta[z] else 1),
                wl.threshold[z] * (100 if wl.theta[z] else 1), int(newest[z]), why,
                phase="clear"))
        keys = self.zones.keys()
        self._state = ZoneWaterState(
            ts_ms=now_ms, site=np.asarray([k[0] for k in keys], dtype=object),
            zone=np.asarray(self.zone_name, dtype=object),
            device=np.asarray(self.zone_device, dtype=object),
            vwc_pct=zw.vwc_pct.copy(), n_probes=zw.n_probes.copy(),
            refill_vwc_pct=self.refill.copy(), hours_above=wl.hours.copy(),
            newest_ts_ms=newest, drought_level=self.level("drought"),
            waterlog_level=self.level("waterlog"))

    def _waterlog(self, now_ms: int, faulty: np.ndarray | None, tail_ts: np.ndarray,
                  tail_index: np.ndarray, raw_lvl: np.ndarray) -> _Waterlog:
        """Each zone's waterlogging signal: on calibrated θ where the zone has a trusted
        probe with a level, else on the raw index (module docstring)."""
        p, nz = self.params, len(self.zones)
        ts, index = self.windows.ts_ms, self.windows.values("vwc_pct")
        cal = self.cal_ok if faulty is None else self.cal_ok & ~faulty
        rows = np.flatnonzero(cal)
        theta = np.full(index.shape, np.nan)
        theta_tail = np.full(tail_index.shape, np.nan)
        if rows.size:
            table = CalibrationTable(self.cal_coef[rows], self.cal_top[rows],
                                     np.ones(rows.size))
            top = self.cal_top[rows][:, None]
            # A probe at the index's wet end is in standing water: saturated, not out of range.
            for out, x in ((theta, index[rows]), (theta_tail, tail_index[rows])):
                out[rows] = np.where(x >= INDEX_MAX_PCT, top, calibrate(x, table)[0])
        theta_lvl = probe_level(tail_ts, theta_tail, smooth_hours=p.smooth_hours,
                                min_samples=p.min_samples, now_ms=now_ms).vwc_pct
        has_theta = np.zeros(nz, bool)
        np.logical_or.at(has_theta, self.zone_of, cal & np.isfinite(theta_lvl))
        use_theta = has_theta[self.zone_of] & cal
        zone_thr_theta = self.theta_fc + p.waterlog_margin_m3
        thr = np.where(use_theta, zone_thr_theta[self.zone_of], self.saturation[self.zone_of])
        hyst = np.where(use_theta, p.waterlog_hysteresis_m3, p.hysteresis_pct)
        signal = np.where(use_theta[:, None], theta, index)
        if self.wet_since.size != thr.size:
            self.wet_since = np.concatenate(
                [self.wet_since, np.zeros(thr.size - self.wet_since.size, np.int64)])
        since, newest = above_since(ts, signal, thr, hysteresis_pct=hyst, now_ms=now_ms,
                                    since_ms=self.wet_since)
        self.wet_since = since
        above = np.where(since > 0, (newest - since) / MS_PER_HOUR, 0.0)
        lvl = np.where(use_theta, theta_lvl, raw_lvl)
        used = np.where(has_theta[self.zone_of], use_theta, True)
        if faulty is not None:
            used &= ~faulty
        excess = np.where(used, lvl - thr, np.nan)
        zone_excess, _n = group_median(excess, self.zone_of, nz)
        hours, _ = group_median(np.where(np.isfinite(excess), above, np.nan), self.zone_of, nz)
        threshold = np.where(has_theta, zone_thr_theta, self.saturation)
        local = now_ms + (self.utc_offset_h * MS_PER_HOUR).astype(np.int64)
        month_day = _month_day(local)
        return _Waterlog(
            excess=zone_excess, hours=np.nan_to_num(hours), value=zone_excess + threshold,
            threshold=threshold, theta=has_theta,
            limit_h=np.where(has_theta, np.maximum(self.waterlog_h, self.drain_h),
                             self.waterlog_h),
            in_season=in_season(month_day, self.season))

    def _event(self, kind: EventKind, z: int, level: int, value: float, threshold: float,
               ts_ms: int, detail: str, duration_s: float | None = None,
               phase: Phase = "start") -> Event:
        site, _ = self.zones.key(z)
        return Event(kind=kind, site=site, ts_ms=ts_ms,
                     severity=SEVERITY[level],  # type: ignore[arg-type]
                     value=float(value), threshold=float(threshold), unit="vwc_pct",
                     device=self.zone_device[z], zone=self.zone_name[z], detail=detail,
                     duration_s=duration_s, phase=phase)

    def level(self, name: str) -> np.ndarray:
        return self.latches.level(name, len(self.zones)).copy()
