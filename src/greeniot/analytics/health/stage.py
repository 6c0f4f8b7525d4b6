"""Engine stage: every device's newest readings → one alarm per (device, fault kind).

Kinds: ``device_offline``, ``low_battery``, ``sensor_stuck``, ``sensor_noisy``,
``out_of_range``, ``clock_fault``. Each is latched on its own (:class:`HealthAlarms`): a
``start`` event when the fault begins or worsens, none while it lasts, a ``clear`` event when it
ends — so a battery fault is never reported as ``device_offline``, and an alarm can clear.

One row per device of any kind. Valve nodes report on events, not on a schedule, so they are
judged offline only by their retained ``status`` (the broker's last will), never by silence. A
device that announced a planned sleep or shutdown (``Status.state`` ``sleeping`` /
``shutdown``, with ``next_ms``) is offline only once it misses that wake-up by the offline
margin; a shutdown without a wake-up is never offline until it speaks again.

Which columns are watched comes from the channel table (``Channel.watch``). Readings flagged
implausible (:mod:`greeniot.protocol.plausible`) arrive through :meth:`HealthStage.flag`
without the bad value; clock faults are judged by the runtime, which sees receive times
(:mod:`greeniot.runtime.eventclock`), and handed in through :meth:`HealthStage.set_clock`.
Devices whose sensor is judged bad are published on the board, so the soil stage leaves them
out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from greeniot.analytics.contract import Event, EventKind, Unit
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.health.detect import (
    battery_levels,
    battery_v,
    flagged_frac,
    offline,
    out_of_range_frac,
    reporting_interval_s,
    stuck,
    stuck_samples,
    successive_noise,
)
from greeniot.analytics.params import HealthParams
from greeniot.analytics.stage import Board, StageBatch
from greeniot.protocol.channels import CHANNELS
from greeniot.protocol.plausible import CHEMISTRY

UNITS: dict[str, Unit] = {"tilt": "deg", "soil": "vwc_pct", "weather": "m/s"}
STATUS_PENDING = -1  # offline status seen, its time not yet known (set at the next tick)
NO_WAKE = -1  # planned shutdown without a scheduled wake-up
#: Flagged readings kept per device (older ones have left the judged tail anyway).
FLAGS_KEPT = 64

Make = Callable[[int], Event]


class HealthAlarms:
    """One latched alarm per (row, kind): start/escalate events when the level rises, a
    ``clear`` event when it falls to 0. Other stages raising health-kind events (the tilt
    family's ``mount_moved``) can use it the same way."""

    def __init__(self) -> None:
        self.latches = Latches()

    def update(self, kind: EventKind, on: np.ndarray, hold: np.ndarray,
               known: np.ndarray | None, start: Make, clear: Make) -> list[Event]:
        before = self.latches.level(kind, on.shape[0]).copy()
        fire = self.latches.update(kind, on, hold, known)
        after = self.latches.level(kind, on.shape[0])
        out = [start(i) for i in np.flatnonzero(fire).tolist()]
        out += [clear(i) for i in np.flatnonzero((before > 0) & (after == 0)).tolist()]
        return out

    def level(self, kind: str, rows: int) -> np.ndarray:
        return self.latches.level(kind, rows)


class HealthStage:
    name = "health"
    #: every channel the table routes to device health (all device kinds)
    kinds: tuple[str, ...] = tuple(c.name for c in CHANNELS.values() if "health" in c.stages)
    FIELDS = ("bat_v", "v1", "v2")
    SENSOR_KINDS: tuple[EventKind, ...] = ("sensor_stuck", "sensor_noisy", "out_of_range")

    def __init__(self, params: HealthParams, window: int = 64, *,
                 incremental: bool = True) -> None:
        self.params = params
        #: recompute window-only results just for rows that changed (False: every row, the
        #: reference the incremental path is tested against)
        self.incremental = incremental
        self.index = DeviceIndex()
        self.kind: list[str] = []
        self.windows = Windows(self.FIELDS, window)
        self.status_offline = np.zeros(0, np.int64)  # 0 none, -1 pending, else ts_ms
        #: readings at or before this time do not clear an offline or planned status
        self.status_after = np.zeros(0, np.int64)
        self.wake_ms = np.zeros(0, np.int64)  # 0 none, NO_WAKE, else announced wake-up
        self.clock_fault = np.zeros(0, np.int8)
        self.clock_since = np.zeros(0, np.int64)
        self.clock_detail: dict[int, str] = {}
        self._flags: dict[int, list[tuple[int, str]]] = {}  # row → [(ts_ms, fields)]
        self.alarms = HealthAlarms()
        self._now = 0
        self._cache: dict[str, np.ndarray] = {}
        self._chem = np.zeros(0, dtype=object)
        self._seen = 0  # windows.writes at the last refresh
        self._touched: set[int] = set()  # rows whose kind or flags changed since then

    # -- rows -----------------------------------------------------------------------------
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
            z64 = np.zeros(grown, np.int64)
            self.status_offline = np.concatenate([self.status_offline, z64])
            self.status_after = np.concatenate([self.status_after, z64])
            self.wake_ms = np.concatenate([self.wake_ms, z64])
            self.clock_fault = np.concatenate([self.clock_fault, np.zeros(grown, np.int8)])
            self.clock_since = np.concatenate([self.clock_since, z64])
            self.windows.ensure_rows(len(self.index))
        if kind != "unknown":
            for r in rows[rows < before].tolist():
                if self.kind[r] == "unknown":
                    self.kind[r] = kind
                    self._touched.add(r)
        return rows

    def _row(self, site: str, device: str, kind: str) -> int:
        return int(self.rows(kind, np.array([site], dtype=object),
                             np.array([device], dtype=object))[0])

    def remeta(self, board: Board) -> None:
        """Health judges devices, not trees or zones: nothing to re-read."""

    # -- input ----------------------------------------------------------------------------
    def append(self, batch: StageBatch, board: Board) -> None:
        if batch.kind == "status":
            for i, row in enumerate(batch.rows.tolist()):
                named = str(batch.values["kind"][i])
                if self.kind[row] == "unknown" and named != "unknown":
                    self.kind[row] = named
                    self._touched.add(row)
                nxt = batch.values.get("next_ms")
                self.status(row, str(batch.values["state"][i]), int(batch.ts_ms[i]) or None,
                            int(nxt[i]) if nxt is not None else 0)
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
        r = np.asarray(rows, np.int64)
        newer = np.asarray(ts_ms, np.int64) > self.status_after[r]
        back = r[newer]
        self.status_offline[back] = 0  # a newer reading: the device is back
        self.wake_ms[back] = 0

    def status(self, row: int, state: str, ts_ms: int | None, next_ms: int = 0) -> None:
        """A retained status. Without a timestamp (the broker's last will) it is taken to
        follow every reading already received from the device."""
        after = ts_ms if ts_ms else int(self.windows.newest_ts_ms[row])
        if state == "offline":
            self.status_offline[row] = ts_ms if ts_ms else STATUS_PENDING
            self.status_after[row] = after
            self.wake_ms[row] = 0
        elif state in ("sleeping", "shutdown"):
            self.status_offline[row] = 0
            self.status_after[row] = after
            # a shutdown without a wake-up is planned silence; a sleep without one keeps the
            # device's own reporting schedule
            self.wake_ms[row] = next_ms if next_ms else (NO_WAKE if state == "shutdown" else 0)
        else:
            self.status_offline[row] = 0
            self.wake_ms[row] = 0

    def flag(self, site: str, device: str, kind: str, ts_ms: int, fields: tuple[str, ...],
             *, heard: bool) -> None:
        """A reading had implausible ``fields`` (left out of analytics). With ``heard`` the
        reading itself was not ingested (its main value was the bad one): it still counts as
        the device being heard at ``ts_ms``."""
        row = self._row(site, device, kind)
        self._touched.add(row)
        kept = self._flags.setdefault(row, [])
        kept.append((int(ts_ms), ",".join(fields)))
        del kept[:-FLAGS_KEPT]
        if heard:
            nan = np.array([np.nan])
            self.add_readings(np.array([row]), np.array([ts_ms], np.int64), nan, nan, nan)

    def set_clock(self, site: str, device: str, kind: str, fault: str | None,
                  ts_ms: int) -> None:
        """The runtime's verdict on a device clock: ``fault`` names what is wrong (None: fine)."""
        row = self._row(site, device, kind)
        if fault:
            if not self.clock_fault[row]:
                self.clock_since[row] = ts_ms
            self.clock_fault[row] = 2
            self.clock_detail[row] = fault
        else:
            self.clock_fault[row] = 0

    # -- judging --------------------------------------------------------------------------
    def tick(self, now_ms: int, board: Board) -> list[Event]:
        emit: list[Event] = []
        if len(self.index):
            self._judge(now_ms, emit, board)
        n = len(self.index)
        bad = np.zeros(n, bool)
        for k in self.SENSOR_KINDS:
            bad |= self.alarms.level(k, n) > 0
        board.faulty = {self.index.key(int(i)): True for i in np.flatnonzero(bad)}
        return emit

    def _judge(self, now_ms: int, emit: list[Event], board: Board) -> None:
        p = self.params
        self._now = now_ms  # clears are dated at the tick that saw the fault end
        self.status_offline[self.status_offline == STATUS_PENDING] = now_ms
        c = self._refresh()
        newest = self.windows.newest_ts_ms
        sil = offline(newest, c["interval"], offline_factor=p.offline_factor,
                      min_silence_s=p.min_silence_s, now_ms=now_ms, wake_ms=self.wake_ms)
        silent = np.isfinite(c["default"]) & sil.offline
        by_status = self.status_offline > 0
        on = np.where(silent | by_status, 2, 0).astype(np.int8)
        interval = c["interval"]

        def offline_start(i: int) -> Event:
            if by_status[i] and not silent[i]:
                since = int(self.status_offline[i])
                return self._event("device_offline", i, 2, max(0.0, (now_ms - since) / 1000),
                                   0.0, "s", since, "status offline (last will)")
            due = int(newest[i] + sil.limit_s[i] * 1000)
            planned = " after its announced wake-up" if self.wake_ms[i] > 0 else ""
            return self._event(
                "device_offline", i, 2, sil.silence_s[i], sil.limit_s[i], "s", due,
                f"no reading for {sil.silence_s[i]:.0f} s{planned}; expected every "
                f"{interval[i]:.0f} s (limit {p.offline_factor:g}x, at least "
                f"{p.min_silence_s:g} s)")

        emit += self.alarms.update("device_offline", on, on, None, offline_start,
                                   lambda i: self._clear("device_offline", i, self._now,
                                                         "reporting again"))

        warn, crit, bat = c["warn"], c["crit"], c["bat"]
        chem = self._chem
        on, hold = battery_levels(bat, warning_v=warn, critical_v=crit,
                                  hysteresis_v=p.battery_hysteresis_v)

        def battery_start(i: int) -> Event:
            th = crit[i] if on[i] == 3 else warn[i]
            return self._event("low_battery", i, int(on[i]), bat[i], th, "V", int(newest[i]),
                               f"battery {bat[i]:.2f} V below {th:g} V ({chem[i]})")

        emit += self.alarms.update("low_battery", on, hold, np.isfinite(bat), battery_start,
                                   lambda i: self._clear("low_battery", i, self._now,
                                                         f"battery {bat[i]:.2f} V"))
        self._sensors(c, newest, emit, self._flooded(c, board))
        self._clock(newest, emit)

    def _flooded(self, c: dict[str, np.ndarray], board: Board) -> np.ndarray:
        """Soil rows at the index's wet rail whose zone is at it too (most of its probes):
        a flooded or saturated bed, not a shorted probe. The firmware's wet calibration point
        is the probe in saturated soil or in water, clamped at 100
        (firmware/micropython/drivers/soil.py), so every probe of a soaked zone reads the
        rail; one probe there while its zone mates read lower is the shorted (or puddled)
        one. Its bed's water is the waterlogging rule's to judge (analytics/soil), not a
        device fault."""
        n = len(self.index)
        wet = c["wet_railed"] >= self.params.out_of_range_frac
        out = np.zeros(n, bool)
        if not wet.any():
            return out
        zone_of: dict[tuple[str, str], list[int]] = {}
        for r in range(n):
            if self.kind[r] != "soil":
                continue
            site, device = self.index.key(r)
            b = board.lookup.binding(site, device)
            key = (site, b.zone) if b is not None and b.zone else (site, "\x00" + device)
            zone_of.setdefault(key, []).append(r)
        for rows in zone_of.values():
            at = [r for r in rows if wet[r]]
            if at and 2 * len(at) >= len(rows):
                out[at] = True
        return out

    # -- per-row results that only new readings change ------------------------------------
    #: Per-row values that depend only on a row's window, its flags and its kind, so they are
    #: recomputed only for rows that changed since the last tick (the rest keep theirs; the
    #: latches are then idempotent for them). Float caches start NaN, the rest 0.
    CACHE: ClassVar[Mapping[str, type]] = {
             "default": np.float64, "warn": np.float64, "crit": np.float64,
             "n_max": np.int64, "lo": np.float64, "hi": np.float64, "limit": np.float64,
             "tilt": np.bool_, "interval": np.float64, "bat": np.float64,
             "n_stuck": np.int64, "frozen": np.bool_, "v1_last": np.float64,
             "noise": np.float64, "railed": np.float64, "wet_railed": np.float64,
             "flagged": np.float64}

    def _refresh(self) -> dict[str, np.ndarray]:
        """Bring the per-row caches up to date: recompute the rows whose window, flags or
        kind changed since the last tick (every row unless ``incremental``)."""
        n = len(self.index)
        w = self.windows
        c = self._cache
        old = next(iter(c.values())).size if c else 0
        if old < n:
            for name, dt in self.CACHE.items():
                grown = np.full(n, np.nan) if dt is np.float64 else np.zeros(n, dt)
                if name in c:
                    grown[:old] = c[name]
                c[name] = grown
            self._chem = np.concatenate([self._chem, np.full(n - old, "", dtype=object)])
        if self.incremental:
            changed = w.stamp > self._seen
            changed[old:] = True
            changed[np.asarray(sorted(self._touched), np.int64)] = True
            rows = np.flatnonzero(changed)
        else:
            rows = np.arange(n)
        self._seen = w.writes
        self._touched.clear()
        if rows.size:
            self._compute(rows)
        return {k: v[:n] for k, v in c.items()}

    def _compute(self, rows: np.ndarray) -> None:
        p = self.params
        w = self.windows
        c = self._cache
        # per-kind parameters looked up once per distinct kind, not once per row
        names, code = np.unique(np.asarray([self.kind[r] for r in rows.tolist()], dtype=object),
                                return_inverse=True)
        code = code.ravel()
        kinds = names.tolist()
        chems = [CHEMISTRY.get(k, "li_ion_1s") for k in kinds]
        default = np.array([p.default_interval_s.get(k, np.nan) for k in kinds], float)[code]
        n_max = np.array([p.stuck_max_samples.get(k, 0) for k in kinds], np.int64)[code]
        lo = np.array([p.valid_range.get(k, (-np.inf, np.inf))[0] for k in kinds], float)[code]
        hi = np.array([p.valid_range.get(k, (-np.inf, np.inf))[1] for k in kinds], float)[code]
        is_tilt = np.array([k == "tilt" for k in kinds], bool)[code]
        c["default"][rows] = default
        c["warn"][rows] = np.array([p.battery_warning_v[h] for h in chems], float)[code]
        c["crit"][rows] = np.array([p.battery_critical_v[h] for h in chems], float)[code]
        self._chem[rows] = np.asarray(chems, dtype=object)[code]
        c["n_max"][rows] = n_max
        c["lo"][rows], c["hi"][rows] = lo, hi
        c["limit"][rows] = np.array([p.noise_limit.get(k, np.inf) for k in kinds], float)[code]
        c["tilt"][rows] = is_tilt
        idx = w.tail_index(w.window, rows)  # one ring index for every field
        c["interval"][rows] = reporting_interval_s(
            w.tail("ts_ms", w.window, rows, idx), np.nan_to_num(default, nan=1.0),
            min_samples=p.interval_min_samples)
        c["bat"][rows] = battery_v(w.tail("bat_v", w.window, rows, idx))
        v1 = w.tail("v1", w.window, rows, idx)
        v2 = w.tail("v2", w.window, rows, idx)
        # a value at its rail is out of range, not stuck: it is judged below
        with np.errstate(invalid="ignore"):
            in_range = np.where((v1 >= lo[:, None]) & (v1 <= hi[:, None]), v1, np.nan)
        n1 = stuck_samples(in_range, false_alarm_p=p.stuck_false_alarm_p,
                           min_samples=p.stuck_min_samples, max_samples=n_max,
                           min_history=p.stuck_min_history)
        n2 = stuck_samples(v2, false_alarm_p=p.stuck_false_alarm_p,
                           min_samples=p.stuck_min_samples, max_samples=n_max,
                           min_history=p.stuck_min_history)
        n_stuck = np.where(is_tilt, np.maximum(n1, n2), n1) * (n_max > 0)
        c["n_stuck"][rows] = n_stuck
        c["frozen"][rows] = stuck(in_range, n_stuck) & (stuck(v2, n_stuck) | ~is_tilt)
        c["v1_last"][rows] = v1[:, -1]
        ns = p.noise_samples
        c["noise"][rows] = np.fmax(successive_noise(v1, n_samples=ns),
                                   np.where(is_tilt, successive_noise(v2, n_samples=ns), np.nan))
        c["railed"][rows] = np.nan_to_num(out_of_range_frac(v1, lo, hi, n_samples=ns))
        c["wet_railed"][rows] = np.nan_to_num(out_of_range_frac(
            v1, np.full(rows.size, -np.inf), hi, n_samples=ns))
        held = [r for r in rows.tolist() if r in self._flags]
        pos = np.repeat(np.searchsorted(rows, held), [len(self._flags[r]) for r in held]
                        ).astype(np.int64)
        f_ts = np.array([t for r in held for t, _ in self._flags[r]], np.int64)
        c["flagged"][rows] = np.nan_to_num(flagged_frac(w.tail("ts_ms", ns, rows), f_ts, pos,
                                                        n_samples=ns))

    def _sensors(self, c: dict[str, np.ndarray], newest: np.ndarray,
                 emit: list[Event], flooded: np.ndarray) -> None:
        p = self.params
        n_stuck, v1_last = c["n_stuck"], c["v1_last"]
        on = np.where(c["frozen"], 2, 0).astype(np.int8)

        def unit(i: int) -> Unit:
            return UNITS.get(self.kind[i], "fraction")

        emit += self.alarms.update(
            "sensor_stuck", on, on, None,
            lambda i: self._event("sensor_stuck", i, 2, float(n_stuck[i]), float(n_stuck[i]),
                                  unit(i), int(newest[i]),
                                  f"stuck: last {n_stuck[i]} readings all {v1_last[i]:g} "
                                  f"(a live sensor of this noise repeats that rarely)"),
            lambda i: self._clear("sensor_stuck", i, self._now, "values change again"))

        noise, limit = c["noise"], c["limit"]
        with np.errstate(invalid="ignore"):
            on = np.where(noise >= limit, 2, 0).astype(np.int8)
        emit += self.alarms.update(
            "sensor_noisy", on, on, np.isfinite(noise),
            lambda i: self._event("sensor_noisy", i, 2, noise[i], limit[i], unit(i),
                                  int(newest[i]), f"noisy: median jump {noise[i]:.2f} "
                                  f"{unit(i)} between successive readings"),
            lambda i: self._clear("sensor_noisy", i, self._now, "noise back to normal"))

        lo, hi, flagged = c["lo"], c["hi"], c["flagged"]
        frac = c["railed"] - np.where(flooded, c["wet_railed"], 0.0) + flagged
        on = np.where(frac >= p.out_of_range_frac, 2, 0).astype(np.int8)

        def range_start(i: int) -> Event:
            fields = sorted({f for _, fs in self._flags.get(i, []) for f in fs.split(",")})
            what = f"implausible {', '.join(fields)}" if flagged[i] else (
                f"outside [{lo[i]:g}, {hi[i]:g}] {unit(i)}")
            return self._event("out_of_range", i, 2, frac[i], p.out_of_range_frac,
                               "fraction", int(newest[i]),
                               f"out_of_range: {100 * frac[i]:.0f}% of the newest readings "
                               f"{what}")

        emit += self.alarms.update(
            "out_of_range", on, on, None, range_start,
            lambda i: self._clear("out_of_range", i, self._now, "values plausible again"))
        for r in [r for r in self._flags if not on[r] and not flagged[r]]:
            del self._flags[r]  # nothing flagged in the judged tail any more

    def _clock(self, newest: np.ndarray, emit: list[Event]) -> None:
        on = self.clock_fault.astype(np.int8)
        emit += self.alarms.update(
            "clock_fault", on, on, None,
            lambda i: self._event("clock_fault", i, 2, 0.0, 0.0, "s", int(self.clock_since[i]),
                                  f"clock: {self.clock_detail.get(i, 'wrong')}; its readings "
                                  f"are judged by receive time until it recovers"),
            lambda i: self._clear("clock_fault", i, self._now, "clock agrees again"))

    # -- events ---------------------------------------------------------------------------
    def _event(self, kind: EventKind, row: int, level: int, value: float, threshold: float,
               unit: Unit, ts_ms: int, detail: str) -> Event:
        site, device = self.index.key(row)
        return Event(kind=kind, site=site, ts_ms=int(ts_ms),
                     severity=SEVERITY[level],  # type: ignore[arg-type]
                     value=float(value), threshold=float(threshold), unit=unit, device=device,
                     detail=detail)

    def _clear(self, kind: EventKind, row: int, ts_ms: int, detail: str) -> Event:
        site, device = self.index.key(row)
        return Event(kind=kind, site=site, ts_ms=int(ts_ms), severity="info", value=0.0,
                     threshold=0.0, unit="fraction", phase="clear", device=device,
                     detail=f"{kind} cleared: {detail}")

    def level(self, name: str) -> np.ndarray:
        return self.alarms.level(name, len(self.index)).copy()
