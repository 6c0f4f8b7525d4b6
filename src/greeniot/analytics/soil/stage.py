"""Engine stage: soil-probe windows → per-zone drought and waterlogging events.

A probe bound to a zone the registry knows is judged with that zone's thresholds and its
fellow probes; a probe bound to no known zone forms a zone of its own (reported by device,
``zone=None``) with :class:`ZoneInfo`'s default thresholds, rather than being dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from greeniot.analytics.contract import Event, EventKind, ZoneWaterState
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches
from greeniot.analytics.core.lookup import RowMeta
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.params import SoilParams
from greeniot.analytics.soil.detect import (
    drought_levels,
    hours_above,
    probe_level,
    waterlog_levels,
    zone_water,
)
from greeniot.analytics.stage import Board, StageBatch
from greeniot.estate import ZoneInfo

_Meta = Callable[[str, str], RowMeta]
#: The smoothed level uses at most this many newest samples per probe.
TAIL = 64


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
        return rows

    def _zone_of(self, site: str, device: str, meta: _Meta) -> int:
        """The zone code of a probe (creating the zone if new; refreshing its thresholds)."""
        m = meta(site, device)
        info = m.zone_info
        key = m.zone if (info is not None and m.zone is not None) else "\x00" + device
        z_before = len(self.zones)
        z = self.zones.row(site, key)
        zi = info or ZoneInfo(site=site, zone=key)
        if z == z_before:
            self.zone_name.append(m.zone if info is not None else None)
            self.zone_device.append(None if info is not None else device)
            self.refill = np.append(self.refill, zi.refill_vwc_pct)
            self.saturation = np.append(self.saturation, zi.saturation_vwc_pct)
            self.waterlog_h = np.append(self.waterlog_h, zi.waterlog_hours)
        else:
            self.refill[z] = zi.refill_vwc_pct
            self.saturation[z] = zi.saturation_vwc_pct
            self.waterlog_h[z] = zi.waterlog_hours
        return z

    def remeta(self, board: Board) -> None:
        """Re-read every probe's zone (the registry changed); windows and latches stay."""
        meta = board.lookup.meta
        self.zone_of = np.asarray([self._zone_of(*self.index.key(r), meta)
                                   for r in range(len(self.index))], np.int64)

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
        ts = self.windows.ts_ms
        vwc = self.windows.values("vwc_pct")
        k = min(self.windows.window, TAIL)
        lvl = probe_level(self.windows.tail("ts_ms", k), self.windows.tail("vwc_pct", k),
                          self.params, now_ms)
        above = hours_above(ts, vwc, self.saturation[self.zone_of], self.params, now_ms)
        probe_vwc = lvl.vwc_pct if faulty is None else np.where(faulty, np.nan, lvl.vwc_pct)
        zw = zone_water(probe_vwc, above, self.zone_of, nz)
        newest = np.zeros(nz, np.int64)
        np.maximum.at(newest, self.zone_of, lvl.last_ts_ms)
        known = np.isfinite(zw.vwc_pct)

        on, hold = drought_levels(zw.vwc_pct, self.refill, self.params)
        fire = self.latches.update("drought", on, hold, known)
        for z in np.flatnonzero(fire).tolist():
            emit.append(self._event(
                "drought", z, int(on[z]), zw.vwc_pct[z], self.refill[z], int(newest[z]),
                f"median of {zw.n_probes[z]} probe(s) {zw.vwc_pct[z]:.1f}% VWC below the "
                f"refill point {self.refill[z]:.1f}%"))

        on, hold = waterlog_levels(zw.vwc_pct, zw.hours_above, self.saturation, self.waterlog_h)
        fire = self.latches.update("waterlog", on, hold, known)
        for z in np.flatnonzero(fire).tolist():
            emit.append(self._event(
                "waterlog", z, int(on[z]), zw.vwc_pct[z], self.saturation[z], int(newest[z]),
                f"above saturation {self.saturation[z]:.1f}% VWC for "
                f"{zw.hours_above[z]:.1f} h (limit {self.waterlog_h[z]:.1f} h); drainage "
                f"needed", duration_s=float(zw.hours_above[z]) * 3600))
        keys = self.zones.keys()
        self._state = ZoneWaterState(
            ts_ms=now_ms, site=np.asarray([k[0] for k in keys], dtype=object),
            zone=np.asarray(self.zone_name, dtype=object),
            device=np.asarray(self.zone_device, dtype=object),
            vwc_pct=zw.vwc_pct.copy(), n_probes=zw.n_probes.copy(),
            refill_vwc_pct=self.refill.copy(), hours_above=zw.hours_above.copy(),
            newest_ts_ms=newest, drought_level=self.level("drought"),
            waterlog_level=self.level("waterlog"))

    def _event(self, kind: EventKind, z: int, level: int, value: float, threshold: float,
               ts_ms: int, detail: str, duration_s: float | None = None) -> Event:
        site, _ = self.zones.key(z)
        return Event(kind=kind, site=site, ts_ms=ts_ms,
                     severity=SEVERITY[level],  # type: ignore[arg-type]
                     value=float(value), threshold=float(threshold), unit="vwc_pct",
                     device=self.zone_device[z], zone=self.zone_name[z], detail=detail,
                     duration_s=duration_s)

    def level(self, name: str) -> np.ndarray:
        return self.latches.level(name, len(self.zones)).copy()
