"""The analytics engine: decoded readings in, de-duplicated events out, on event time.

``ingest()`` only buffers; ``tick(now_ms)`` writes the buffered readings into the windows in
one vectorized batch per kind and runs every detector over all rows at once. ``now_ms`` is
given by the caller — the engine never reads a clock — so replaying a recorded storm at 100×
(ticks at the same event times, readings ingested before the tick that follows their
timestamp) yields the same events as living through it. Samples newer than ``now_ms`` are
held but ignored until a later tick.

Each condition is latched per subject (:mod:`greeniot.analytics.core.latch`): an event when it
starts or escalates, none while it lasts, and it re-arms after clearing with hysteresis.

Usage::

    engine = AnalyticsEngine(context)
    engine.ingest("estate-a", "tilt-t17", tilt_reading)
    events = engine.tick(now_ms)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel

from greeniot.analytics.contract import Event
from greeniot.analytics.core.columns import FIELDS, Burst, ColumnBatch, Kind, Pending, check_values
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.lookup import EstateLookup
from greeniot.analytics.health.stage import HealthStage
from greeniot.analytics.params import AnalyticsParams
from greeniot.analytics.soil.stage import SoilStage
from greeniot.analytics.storm.stage import StormStage
from greeniot.analytics.sway.stage import SwayStage
from greeniot.analytics.tilt.stage import TiltStage
from greeniot.clock import MS_PER_MIN
from greeniot.estate import EstateContext
from greeniot.protocol.messages import (
    SoilReading,
    Status,
    TiltReading,
    ValveEvent,
    WeatherReading,
)


def _event_order(e: Event) -> tuple[int, str, str, str, str]:
    return (e.ts_ms, e.kind, e.site, e.subject, e.severity)


class AnalyticsEngine:
    """Ring buffers of every device plus the detectors that run over them.

    Parameters
    ----------
    context : EstateContext
        Bindings of devices to trees and zones, heritage flags and zone thresholds. Devices it
        does not know are still analysed, by device (``tree=None``).
    params : AnalyticsParams
        Threshold sets (see :mod:`greeniot.analytics.params`).
    window : int
        Raw readings kept per tilt or soil device.
    weather_window : int
        Readings kept per weather station (default: 8 × ``window``; stations are few and
        report often, and storms must be seen whole).
    hourly_window : int
        Hourly calm tilt medians kept per tree [h] (default 14 days).
    sway_window : int
        Burst features kept per tree.
    chunk_rows : int
        Rows per block in the tilt detectors: bounds temporary memory at 100k devices.
    logger : logging.Logger, optional
    """

    def __init__(self, context: EstateContext, *, params: AnalyticsParams | None = None,
                 window: int = 512, weather_window: int | None = None,
                 hourly_window: int = 14 * 24, sway_window: int = 64, chunk_rows: int = 4096,
                 logger: logging.Logger | None = None) -> None:
        if window < 16:
            raise ValueError(f"window must be >= 16 samples, got {window}")
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.params = params or AnalyticsParams()
        self.log = logger or logging.getLogger(__name__)
        self._lookup = EstateLookup(context)
        self._sites = DeviceIndex()
        self._pending = Pending()
        self.storm = StormStage(self.params.storm, weather_window or 8 * window)
        self.tilt = TiltStage(self.params, window=window, hourly_window=hourly_window,
                              chunk_rows=chunk_rows)
        self.sway = SwayStage(self.params, self.tilt, sway_window)
        self.soil = SoilStage(self.params.soil, window)
        self.health = HealthStage(self.params.health)
        self._health_of: dict[str, np.ndarray] = {}  # kind row → health row
        self._last_tick_ms: int | None = None
        self._ticks = 0
        for b in context.devices:  # known sites get codes up front, in context order
            self._sites.row(b.site, "")

    def set_context(self, context: EstateContext) -> None:
        """Swap in a new estate context (the registry changed).

        Tree bindings, heritage flags and zone thresholds of known devices are re-read;
        windows, baselines and alarm states are kept.
        """
        self._lookup = EstateLookup(context)
        for b in context.devices:
            self._sites.row(b.site, "")
        self.tilt.remeta(self._lookup.meta)
        self.soil.remeta(self._lookup.meta)

    # -- input ------------------------------------------------------------------------------
    def ingest(self, site: str, device: str, msg: BaseModel) -> None:
        """Buffer one decoded protocol message (written to the windows at the next tick).

        Accepts ``TiltReading`` (with its optional sway burst), ``SoilReading``,
        ``WeatherReading``, and for device health ``ValveEvent`` and ``Status``; other
        messages raise ValueError.
        """
        if isinstance(msg, TiltReading):
            self._pending.add("tilt", site, device, msg.ts_ms, {
                "pitch_deg": msg.pitch_deg, "roll_deg": msg.roll_deg, "temp_c": msg.temp_c,
                "bat_v": msg.bat_v})
            if msg.burst is not None:
                self._pending.bursts.append(Burst(site, device, msg.ts_ms, msg.burst.hz,
                                                  msg.burst.pitch_deg, msg.burst.roll_deg))
        elif isinstance(msg, SoilReading):
            self._pending.add("soil", site, device, msg.ts_ms, {
                "vwc_pct": msg.vwc_pct, "temp_c": msg.temp_c, "bat_v": msg.bat_v})
        elif isinstance(msg, WeatherReading):
            self._pending.add("weather", site, device, msg.ts_ms, {
                "wind_ms": msg.wind_ms, "gust_ms": msg.gust_ms, "rain_mm": msg.rain_mm,
                "air_temp_c": msg.air_temp_c, "bat_v": msg.bat_v})
        elif isinstance(msg, ValveEvent):
            rows = self.health.rows(np.array([site]), np.array([device]), "valve")
            self.health.append(rows, np.array([msg.ts_ms]), np.array([np.nan]))
        elif isinstance(msg, Status):
            self._flush()  # readings received before the status must not clear it later
            row = int(self.health.rows(np.array([site]), np.array([device]),
                                       msg.kind or "unknown")[0])
            self.health.status(row, msg.state, msg.ts_ms)
        else:
            raise ValueError(f"msg must be a protocol reading or Status, got {type(msg).__name__}")

    def ingest_arrays(self, batch: ColumnBatch) -> None:
        """Write a batch of readings of one kind straight into the windows (vectorized)."""
        self._write(batch, warm=False)

    def warm_start(self, batches: Iterable[ColumnBatch], *, prime_at_ms: int | None = None
                   ) -> None:
        """Fill the windows from history (e.g. an InfluxDB query after a restart).

        Weather batches are applied first, so historical tilt samples are classified calm or
        windy by the wind of their own time, and hourly tilt medians are built from the whole
        history, not only the raw window. With ``prime_at_ms``, one silent tick at that time
        sets every alarm latch, so conditions that were already reported before the restart
        are not reported again.
        """
        ordered = sorted(batches, key=lambda b: {"weather": 0, "tilt": 1, "soil": 2}[b.kind])
        for b in ordered:
            if b.kind == "weather":
                self._write(b, warm=True)
        self.storm.refresh(len(self._sites))  # wind references to classify the history
        for b in ordered:
            if b.kind != "weather":
                self._write(b, warm=True)
        if prime_at_ms is not None:
            self.tick(prime_at_ms)

    def rebaseline(self, site: str, device: str, since_ms: int) -> None:
        """Forget a tree's baseline (e.g. after it was straightened); refit from ``since_ms``."""
        row = self.tilt.index.get(site, device)
        if row is None:
            raise KeyError(f"no tilt device {device!r} at site {site!r}")
        self.tilt.rebaseline(row, since_ms)

    def _site_codes(self, sites: np.ndarray) -> np.ndarray:
        return self._sites.rows(list(sites), [""] * len(sites))

    def rows_for(self, kind: Kind, site: str | Sequence[str] | np.ndarray,
                 devices: Sequence[str] | np.ndarray) -> np.ndarray:
        """Register devices of one kind (if new) and return their rows, for
        :meth:`ingest_rows`. ``site`` is one site or one per device."""
        if kind not in FIELDS:
            raise ValueError(f"kind must be one of {sorted(FIELDS)}, got {kind!r}")
        devs = np.asarray(devices, dtype=object)
        sites = (np.full(devs.size, site, dtype=object) if isinstance(site, str)
                 else np.asarray(site, dtype=object))
        if sites.shape != devs.shape:
            raise ValueError(f"site has shape {sites.shape}, devices has {devs.shape}")
        codes = self._site_codes(sites)
        h_rows = self.health.rows(sites, devs, kind)
        if kind == "tilt":
            rows = self.tilt.rows(sites, devs, codes, self._lookup.meta)
        elif kind == "soil":
            rows = self.soil.rows(sites, devs, self._lookup.meta)
        else:
            rows = self.storm.rows(sites, devs, codes)
        health_of = self._health_of.setdefault(kind, np.zeros(0, np.int64))
        if rows.size and rows.max() >= health_of.size:
            grown = np.full(int(rows.max()) + 1, -1, np.int64)
            grown[: health_of.size] = health_of
            health_of = self._health_of[kind] = grown
        health_of[rows] = h_rows
        return rows

    def ingest_rows(self, kind: Kind, rows: ArrayLike, ts_ms: ArrayLike,
                    values: Mapping[str, ArrayLike]) -> None:
        """Write readings by row (from :meth:`rows_for`): the bulk path without per-reading
        device-name lookups (replay files, benchmarks, high-rate ingest)."""
        r = np.asarray(rows, np.int64).ravel()
        ts = np.asarray(ts_ms, np.int64).ravel()
        if ts.size != r.size:
            raise ValueError(f"ts_ms has {ts.size} entries, rows has {r.size}")
        check_values(kind, r.size, values)
        health_of = self._health_of.get(kind, np.zeros(0, np.int64))
        if r.size and (r.min() < 0 or r.max() >= health_of.size or (health_of[r] < 0).any()):
            raise ValueError(f"rows must come from rows_for({kind!r}, ...)")
        self._write_rows(kind, r, health_of[r], ts, values, warm=False)

    def _write(self, b: ColumnBatch, *, warm: bool) -> None:
        if len(b) == 0:
            return
        rows = self.rows_for(b.kind, b.sites(), np.asarray(b.device, dtype=object))
        self._write_rows(b.kind, rows, self._health_of[b.kind][rows],
                         np.asarray(b.ts_ms, np.int64), b.values, warm=warm)

    def _write_rows(self, kind: str, rows: np.ndarray, h_rows: np.ndarray, ts: np.ndarray,
                    values: Mapping[str, ArrayLike], *, warm: bool) -> None:
        def col(name: str) -> np.ndarray:
            if name in values:
                return np.asarray(values[name], np.float64)
            return np.full(rows.size, np.nan)

        if kind == "tilt":
            pitch, roll, temp = col("pitch_deg"), col("roll_deg"), col("temp_c")
            codes = self.tilt.site[rows]
            windy = None
            if warm:
                w, _ = self.storm.windy_for(codes, ts)
                windy = w.astype(np.float64)
                self.tilt.warm_hours(rows, ts, {"pitch_deg": pitch, "roll_deg": roll,
                                                "temp_c": temp}, ~w)
            self.tilt.append(rows, ts, pitch, roll, temp, windy)
            self.health.append(h_rows, ts, col("bat_v"), pitch, roll)
        elif kind == "soil":
            vwc = col("vwc_pct")
            self.soil.append(rows, ts, vwc)
            self.health.append(h_rows, ts, col("bat_v"), vwc)
        else:
            self.storm.append(rows, ts, col("wind_ms"), col("gust_ms"))
            self.health.append(h_rows, ts, col("bat_v"))

    # -- detection --------------------------------------------------------------------------
    def tick(self, now_ms: int) -> list[Event]:
        """Run every detector at event time ``now_ms`` [ms UTC]; return the new events.

        Events are sorted by (ts_ms, kind, site, subject, severity), so a replay can be
        compared event by event.
        """
        if not isinstance(now_ms, (int, np.integer)):
            raise ValueError(f"now_ms must be an int (ms UTC), got {type(now_ms).__name__}")
        now_ms = int(now_ms)
        if self._last_tick_ms is not None and now_ms < self._last_tick_ms:
            raise ValueError(f"now_ms {now_ms} is before the previous tick "
                             f"{self._last_tick_ms}: event time must not go backwards")
        self._last_tick_ms = now_ms
        self._flush()
        events: list[Event] = []
        self._bursts()
        sp = self.params.storm
        storms = self.storm.tick(now_ms, self._sites.sites(), events)
        if len(self.tilt.index):
            self.tilt.classify(now_ms, self.storm)
            lag_ms = int(sp.classify_lag_minutes * MS_PER_MIN)
            if self.tilt.close_hours(now_ms, lag_ms) or self._ticks == 0:
                self.tilt.refit(now_ms, events)
            self.tilt.detect(now_ms, storms, int(sp.settle_minutes * MS_PER_MIN), events)
            self.sway.tick(now_ms, events)
        self.health.tick(now_ms, events)
        soil_health = self._health_of.get("soil", np.zeros(0, np.int64))[: len(self.soil.index)]
        self.soil.tick(now_ms, events, self.health.level("sensor")[soil_health] > 0)
        self._ticks += 1
        events.sort(key=_event_order)
        if events:
            self.log.debug("tick %d: %d events", now_ms, len(events))
        return events

    def _flush(self) -> None:
        for batch in self._pending.drain():
            self._write(batch, warm=False)

    def _bursts(self) -> None:
        bursts = self._pending.drain_bursts()
        if not bursts:
            return
        sites = np.array([b.site for b in bursts], dtype=object)
        devices = np.array([b.device for b in bursts], dtype=object)
        rows = self.rows_for("tilt", sites, devices)
        r, t, rms = self.sway.add(rows, bursts)
        if r.size:
            s, ts, med = self.sway.site_sway(r, t, rms, len(self._sites))
            self.storm.add_sway(s, ts, med)

    # -- diagnostics ------------------------------------------------------------------------
    @property
    def sites(self) -> list[str]:
        return self._sites.sites()

    def pending(self) -> int:
        """Readings buffered by :meth:`ingest` and not yet written."""
        return len(self._pending)
