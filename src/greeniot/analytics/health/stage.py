"""Engine stage: every device's newest readings → offline, low battery, stuck/noisy events.

One row per device of any kind. Valve nodes report on events, not on a schedule, so they are
judged offline only by their retained ``status`` (the broker's last will), never by silence.
Stuck, noisy and out-of-range sensors are events of their own kinds (``sensor_stuck``,
``sensor_noisy``, ``out_of_range``); which columns are watched comes from the channel table
(``Channel.watch``). Devices whose sensor is judged bad are published on the board, so the soil
stage leaves them out.
"""

from __future__ import annotations

import numpy as np

from greeniot.analytics.contract import Event, EventKind, Unit
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.health.detect import (
    battery_levels,
    battery_v,
    offline,
    out_of_range_frac,
    reporting_interval_s,
    stuck,
    successive_noise,
)
from greeniot.analytics.params import HealthParams
from greeniot.analytics.stage import Board, StageBatch
from greeniot.protocol.channels import CHANNELS

UNITS: dict[str, Unit] = {"tilt": "deg", "soil": "vwc_pct", "weather": "m/s"}
STATUS_PENDING = -1  # offline status seen, its time not yet known (set at the next tick)


class HealthStage:
    name = "health"
    #: every channel the table routes to device health (all device kinds)
    kinds: tuple[str, ...] = tuple(c.name for c in CHANNELS.values() if "health" in c.stages)
    FIELDS = ("bat_v", "v1", "v2")

    def __init__(self, params: HealthParams, window: int = 64) -> None:
        self.params = params
        self.index = DeviceIndex()
        self.kind: list[str] = []
        self.windows = Windows(self.FIELDS, window)
        self.status_offline = np.zeros(0, np.int64)  # 0 none, -1 pending, else ts_ms
        #: readings at or before this time do not clear an offline status
        self.status_after = np.zeros(0, np.int64)
        self.latches = Latches()

    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board | None = None) -> np.ndarray:
        """Rows of these devices; a device first heard through its status is of kind
        ``unknown`` until the status names it or a reading shows it."""
        if kind == "status":
            kind = "unknown"
        before = len(self.index)
        rows = self.index.rows(list(sites), list(devices))
        grown = len(self.index) - before
        if grown:
            self.kind.extend([kind] * grown)
            self.status_offline = np.concatenate([self.status_offline, np.zeros(grown, np.int64)])
            self.status_after = np.concatenate([self.status_after, np.zeros(grown, np.int64)])
            self.windows.ensure_rows(len(self.index))
        if kind != "unknown":
            for r in rows[rows < before].tolist():
                if self.kind[r] == "unknown":
                    self.kind[r] = kind
        return rows

    def remeta(self, board: Board) -> None:
        """Health judges devices, not trees or zones: nothing to re-read."""

    def append(self, batch: StageBatch, board: Board) -> None:
        if batch.kind == "status":
            for i, row in enumerate(batch.rows.tolist()):
                named = str(batch.values["kind"][i])
                if self.kind[row] == "unknown" and named != "unknown":
                    self.kind[row] = named
                self.status(row, str(batch.values["state"][i]), int(batch.ts_ms[i]) or None)
            return
        watched = [batch.column(c) for c in CHANNELS[batch.kind].watch]
        self.add_readings(batch.rows, batch.ts_ms, batch.column("bat_v"), *watched)

    def add_readings(self, rows: np.ndarray, ts_ms: np.ndarray, bat_v: np.ndarray,
                     v1: np.ndarray | None = None, v2: np.ndarray | None = None) -> None:
        vals = {"bat_v": bat_v}
        if v1 is not None:
            vals["v1"] = v1
        if v2 is not None:
            vals["v2"] = v2
        self.windows.append(rows, ts_ms, vals)
        newer = np.asarray(ts_ms, np.int64) > self.status_after[rows]
        self.status_offline[np.asarray(rows)[newer]] = 0  # a newer reading: the device is back

    def status(self, row: int, state: str, ts_ms: int | None) -> None:
        """A retained status. Without a timestamp (the broker's last will) it is taken to
        follow every reading already received from the device."""
        if state == "offline":
            self.status_offline[row] = ts_ms if ts_ms else STATUS_PENDING
            self.status_after[row] = ts_ms if ts_ms else self.windows.newest_ts_ms[row]
        else:
            self.status_offline[row] = 0

    def tick(self, now_ms: int, board: Board) -> list[Event]:
        emit: list[Event] = []
        if len(self.index):
            self._judge(now_ms, emit)
        bad = np.flatnonzero(self.latches.level("sensor", len(self.index)) > 0)
        board.faulty = {self.index.key(int(i)): True for i in bad}
        return emit

    def _judge(self, now_ms: int, emit: list[Event]) -> None:
        p = self.params
        self.status_offline[self.status_offline == STATUS_PENDING] = now_ms
        w = self.windows
        ts = w.chronological("ts_ms")
        kinds = np.asarray(self.kind, dtype=object)
        default = np.array([p.default_interval_s.get(k, np.nan) for k in self.kind])
        interval = reporting_interval_s(ts, np.nan_to_num(default, nan=1.0), p)
        sil = offline(w.newest_ts_ms, interval, p, now_ms)
        scheduled = np.isfinite(default)
        silent = scheduled & (sil.silence_s >= sil.limit_s)
        by_status = self.status_offline > 0
        on = np.where(silent | by_status, 2, 0).astype(np.int8)
        fire = self.latches.update("offline", on, on)
        for i in np.flatnonzero(fire).tolist():
            if by_status[i] and not silent[i]:
                since = int(self.status_offline[i])
                emit.append(self._event("device_offline", i, 2, (now_ms - since) / 1000.0, 0.0,
                                        "s", since, "status offline (last will or shutdown)"))
            else:
                due = int(w.newest_ts_ms[i] + sil.limit_s[i] * 1000)
                emit.append(self._event(
                    "device_offline", i, 2, sil.silence_s[i], sil.limit_s[i], "s", due,
                    f"no reading for {sil.silence_s[i]:.0f} s; expected every "
                    f"{interval[i]:.0f} s (limit {p.offline_factor:g}x)"))

        bat = battery_v(w.chronological("bat_v"))
        on, hold = battery_levels(bat, p)
        fire = self.latches.update("battery", on, hold, np.isfinite(bat))
        newest = w.newest_ts_ms
        for i in np.flatnonzero(fire).tolist():
            lv = int(on[i])
            th = p.battery_critical_v if lv == 3 else p.battery_warning_v
            emit.append(self._event("low_battery", i, lv, bat[i], th, "V", int(newest[i]),
                                    f"battery {bat[i]:.2f} V below {th} V"))

        k = max(max(p.stuck_samples.values(), default=0), p.noise_samples)
        v1 = w.tail("v1", k)
        v2 = w.tail("v2", k)
        n_stuck = np.array([p.stuck_samples.get(kd, 0) for kd in self.kind], np.int64)
        is_tilt = kinds == "tilt"
        frozen = stuck(v1, n_stuck) & (stuck(v2, n_stuck) | ~is_tilt)
        noise = np.fmax(successive_noise(v1, p.noise_samples),
                        np.where(is_tilt, successive_noise(v2, p.noise_samples), np.nan))
        limit = np.array([p.noise_limit.get(kd, np.inf) for kd in self.kind])
        noisy = noise >= limit
        lo = np.array([p.valid_range.get(kd, (-np.inf, np.inf))[0] for kd in self.kind])
        hi = np.array([p.valid_range.get(kd, (-np.inf, np.inf))[1] for kd in self.kind])
        bad_frac = out_of_range_frac(v1, lo, hi, p.noise_samples)
        railed = bad_frac >= p.out_of_range_frac
        on = np.where(frozen | noisy | railed, 2, 0).astype(np.int8)
        fire = self.latches.update("sensor", on, on)
        for i in np.flatnonzero(fire).tolist():
            unit = UNITS.get(self.kind[i], "fraction")
            if frozen[i]:
                emit.append(self._event(
                    "sensor_stuck", i, 2, 0.0, 0.0, unit, int(newest[i]),
                    f"stuck: last {n_stuck[i]} readings all {v1[i, -1]:g}"))
            elif railed[i]:
                emit.append(self._event(
                    "out_of_range", i, 2, bad_frac[i], p.out_of_range_frac, "fraction",
                    int(newest[i]),
                    f"out_of_range: {100 * bad_frac[i]:.0f}% of the newest readings outside "
                    f"[{lo[i]:g}, {hi[i]:g}] {unit}"))
            else:
                emit.append(self._event(
                    "sensor_noisy", i, 2, noise[i], limit[i], unit, int(newest[i]),
                    f"noisy: median jump {noise[i]:.2f} {unit} between successive readings"))

    def _event(self, kind: EventKind, row: int, level: int, value: float, threshold: float,
               unit: Unit, ts_ms: int, detail: str) -> Event:
        site, device = self.index.key(row)
        return Event(kind=kind, site=site, ts_ms=int(ts_ms),
                     severity=SEVERITY[level],  # type: ignore[arg-type]
                     value=float(value), threshold=float(threshold), unit=unit, device=device,
                     detail=detail)

    def level(self, name: str) -> np.ndarray:
        return self.latches.level(name, len(self.index)).copy()
