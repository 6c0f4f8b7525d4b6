"""The analytics engine: decoded readings in, de-duplicated events out, on event time.

``ingest()`` only buffers; ``tick(now_ms)`` writes the buffered readings into the windows in
one vectorized batch per kind, routed to the stages the channel table names
(:mod:`greeniot.protocol.channels`), and ticks every stage (:mod:`greeniot.analytics.stage`)
over all its rows at once, in a fixed order: sway, storm, tilt, health, soil. ``now_ms`` is
given by the caller — the engine never reads a clock — so replaying a recorded storm at 100×
(ticks at the same event times, readings ingested before the tick that follows their
timestamp) yields the same events as living through it. Samples newer than ``now_ms`` are
held but ignored until a later tick.

Each condition is latched per subject (:mod:`greeniot.analytics.core.latch`): an event when it
starts or escalates, none while it lasts, and it re-arms after clearing with hysteresis.

Usage::

    engine = AnalyticsEngine(context)
    engine.ingest("estate-a", "tilt-t17", tilt_reading)
    result = engine.tick(now_ms)   # result.events, result.zones, result.trees
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel

from greeniot.analytics.contract import (
    Event,
    TickResult,
    TreeRiskState,
    ZoneBalanceState,
    ZoneWaterState,
)
from greeniot.analytics.core.columns import FIELDS, Burst, ColumnBatch, Kind, Pending, check_values
from greeniot.analytics.core.index import DeviceIndex, unique_pairs
from greeniot.analytics.core.lookup import EstateLookup
from greeniot.analytics.health.stage import HealthStage
from greeniot.analytics.irrigation.stage import WaterStage
from greeniot.analytics.params import AnalyticsParams
from greeniot.analytics.soil.stage import SoilStage
from greeniot.analytics.stage import Board, Stage, StageBatch
from greeniot.analytics.storm.stage import StormStage
from greeniot.analytics.sway.stage import SwayStage
from greeniot.analytics.tilt.stage import TiltStage
from greeniot.estate import EstateContext
from greeniot.protocol.channels import CHANNELS, channel_of, check_routing
from greeniot.protocol.messages import Status, TiltReading

#: The order stages tick in: each reads on the board only what an earlier one published.
ORDER = ("sway", "storm", "tilt", "health", "soil", "water")


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
    incremental : bool
        Skip work whose inputs did not change since the last tick (tilt rows without new
        readings, flags, hourly medians or storm changes whose detectors' time windows did
        not move past a sample, the steps' hourly "before" level, health results of rows
        without new readings, windy flags of samples already classified). False recomputes
        everything at every tick: the reference the incremental path is tested against
        (tests/analytics/test_equivalence.py); events are the same either way.
    logger : logging.Logger, optional

    Raises
    ------
    greeniot.protocol.channels.RoutingError
        If the stages do not match the channel table (a channel routed to a missing stage).
    """

    def __init__(self, context: EstateContext, *, params: AnalyticsParams | None = None,
                 window: int = 512, weather_window: int | None = None,
                 hourly_window: int = 14 * 24, sway_window: int = 64, chunk_rows: int = 4096,
                 incremental: bool = True, logger: logging.Logger | None = None) -> None:
        if window < 16:
            raise ValueError(f"window must be >= 16 samples, got {window}")
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.params = params or AnalyticsParams()
        self.log = logger or logging.getLogger(__name__)
        self.board = Board(DeviceIndex(), EstateLookup(context))
        self._pending = Pending()
        self.sway = SwayStage(self.params, sway_window)
        self.storm = StormStage(self.params.storm, weather_window or 8 * window)
        self.tilt = TiltStage(self.params, window=window, hourly_window=hourly_window,
                              chunk_rows=chunk_rows, incremental=incremental)
        self.health = HealthStage(self.params.health, incremental=incremental)
        self.soil = SoilStage(self.params.soil, window)
        self.water = WaterStage()
        stages: tuple[Stage, ...] = (self.sway, self.storm, self.tilt, self.health, self.soil,
                                     self.water)
        self.stages: dict[str, Stage] = {s.name: s for s in stages}
        if tuple(self.stages) != ORDER:
            raise RuntimeError(f"stages {tuple(self.stages)} are not in the order {ORDER}")
        check_routing({name: s.kinds for name, s in self.stages.items()})
        #: kind → stage → (row of the kind's first stage → row of that stage)
        self._links: dict[str, dict[str, np.ndarray]] = {}
        self._last_tick_ms: int | None = None
        self._ticks = 0
        for b in context.devices:  # known sites get codes up front, in context order
            self.board.sites.row(b.site, "")

    def set_context(self, context: EstateContext) -> None:
        """Swap in a new estate context (the registry changed).

        Tree bindings, heritage flags and zone thresholds of known devices are re-read;
        windows, baselines and alarm states are kept.
        """
        self.board.lookup = EstateLookup(context)
        for b in context.devices:
            self.board.sites.row(b.site, "")
        for stage in self.stages.values():
            stage.remeta(self.board)

    # -- input ------------------------------------------------------------------------------
    def ingest(self, site: str, device: str, msg: BaseModel) -> None:
        """Buffer one decoded protocol message (written to the windows at the next tick).

        Takes a message of any channel the table routes to a stage (readings, valve events,
        statuses); any other raises ValueError.
        """
        try:
            row = channel_of(msg)
        except KeyError as err:
            raise ValueError(f"msg must be a protocol message, got {type(msg).__name__}"
                             ) from err
        if not row.stages:
            raise ValueError(f"channel {row.name!r} is routed to no analytics stage")
        if isinstance(msg, Status):
            self._flush()  # readings received before the status must not clear it later
            self._apply_status(site, device, msg)
            return
        self._pending.add(row.name, site, device, msg.ts_ms,  # type: ignore[attr-defined]
                          {c: getattr(msg, c) for c in row.columns})
        if isinstance(msg, TiltReading) and msg.burst is not None:
            self._pending.bursts.append(Burst(site, device, msg.ts_ms, msg.burst.hz,
                                              msg.burst.pitch_deg, msg.burst.roll_deg))

    def _apply_status(self, site: str, device: str, msg: Status) -> None:
        sites = np.array([site], dtype=object)
        devices = np.array([device], dtype=object)
        for name in CHANNELS["status"].stages:
            stage = self.stages[name]
            rows = stage.rows("status", sites, devices, self.board)
            stage.append(StageBatch("status", rows, np.array([msg.ts_ms or 0], np.int64),
                                    {"state": np.array([msg.state], dtype=object),
                                     "kind": np.array([msg.kind or "unknown"], dtype=object),
                                     "next_ms": np.array([msg.next_ms or 0], np.int64)}),
                         self.board)

    def ingest_arrays(self, batch: ColumnBatch) -> None:
        """Write a batch of readings of one kind straight into the windows (vectorized)."""
        self._write(batch, warm=False)

    def warm_start(self, batches: Iterable[ColumnBatch], *, prime_at_ms: int | None = None
                   ) -> None:
        """Fill the windows from history (e.g. an InfluxDB query after a restart).

        Batches are written stage by stage in :data:`ORDER`, and each stage publishes what
        later ones need before they take their history — so historical tilt samples are
        classified calm or windy by the wind of their own time, and hourly tilt medians are
        built from the whole history, not only the raw window. With ``prime_at_ms``, one
        silent tick at that time sets every alarm latch, so conditions that were already
        reported before the restart are not reported again.
        """
        ordered = self._ordered(list(batches))
        for name in ORDER:
            for b in ordered:
                if CHANNELS[b.kind].stages[0] == name:
                    self._write(b, warm=True)
            publish = getattr(self.stages[name], "publish", None)
            if publish is not None:
                publish(self.board)
        if prime_at_ms is not None:
            self.tick(prime_at_ms)

    def rebaseline(self, site: str, device: str, since_ms: int) -> None:
        """Forget a tree's baseline (e.g. after it was straightened); refit from ``since_ms``."""
        row = self.tilt.index.get(site, device)
        if row is None:
            raise KeyError(f"no tilt device {device!r} at site {site!r}")
        self.tilt.rebaseline(row, since_ms)

    def rows_for(self, kind: Kind, site: str | Sequence[str] | np.ndarray,
                 devices: Sequence[str] | np.ndarray) -> np.ndarray:
        """Register devices of one kind (if new) in every stage that consumes it and return
        their rows, for :meth:`ingest_rows`. ``site`` is one site or one per device."""
        if kind not in FIELDS:
            raise ValueError(f"kind must be one of {sorted(FIELDS)}, got {kind!r}")
        devs = np.asarray(devices, dtype=object)
        sites = (np.full(devs.size, site, dtype=object) if isinstance(site, str)
                 else np.asarray(site, dtype=object))
        if sites.shape != devs.shape:
            raise ValueError(f"site has shape {sites.shape}, devices has {devs.shape}")
        # each distinct device once: a warm start's history has thousands of readings each
        u_sites, u_devs, inverse = unique_pairs(sites, devs)
        self.board.site_codes(np.unique(u_sites))
        names = CHANNELS[kind].stages
        rows = self.stages[names[0]].rows(kind, u_sites, u_devs, self.board)
        links = self._links.setdefault(kind, {})
        for name in names[1:]:
            s_rows = self.stages[name].rows(kind, u_sites, u_devs, self.board)
            link = links.get(name, np.zeros(0, np.int64))
            if rows.size and rows.max() >= link.size:
                grown = np.full(int(rows.max()) + 1, -1, np.int64)
                grown[: link.size] = link
                link = links[name] = grown
            link[rows] = s_rows
        return rows[inverse]

    def ingest_rows(self, kind: Kind, rows: ArrayLike, ts_ms: ArrayLike,
                    values: Mapping[str, ArrayLike]) -> None:
        """Write readings by row (from :meth:`rows_for`): the bulk path without per-reading
        device-name lookups (replay files, benchmarks, high-rate ingest)."""
        r = np.asarray(rows, np.int64).ravel()
        ts = np.asarray(ts_ms, np.int64).ravel()
        if ts.size != r.size:
            raise ValueError(f"ts_ms has {ts.size} entries, rows has {r.size}")
        check_values(kind, r.size, values)
        for link in self._links.get(kind, {}).values():
            if r.size and (r.min() < 0 or r.max() >= link.size or (link[r] < 0).any()):
                raise ValueError(f"rows must come from rows_for({kind!r}, ...)")
        cols = {k: np.asarray(v, np.float64) for k, v in values.items()}
        self._write_rows(kind, r, ts, cols, warm=False)

    def _write(self, b: ColumnBatch, *, warm: bool) -> None:
        if len(b) == 0:
            return
        rows = self.rows_for(b.kind, b.sites(), np.asarray(b.device, dtype=object))
        cols = {f: b.column(f) for f in FIELDS[b.kind]}
        self._write_rows(b.kind, rows, np.asarray(b.ts_ms, np.int64), cols, warm=warm)

    def _write_rows(self, kind: str, rows: np.ndarray, ts: np.ndarray,
                    values: Mapping[str, np.ndarray], *, warm: bool) -> None:
        names = CHANNELS[kind].stages
        links = self._links.get(kind, {})
        for name in names:
            s_rows = rows if name == names[0] else links[name][rows]
            self.stages[name].append(StageBatch(kind, s_rows, ts, values, warm=warm), self.board)

    @staticmethod
    def _ordered(batches: list[ColumnBatch]) -> list[ColumnBatch]:
        return sorted(batches, key=lambda b: ORDER.index(CHANNELS[b.kind].stages[0]))

    # -- detection --------------------------------------------------------------------------
    def tick(self, now_ms: int) -> TickResult:
        """Run every stage at event time ``now_ms`` [ms UTC]; return the new events and the
        zone water and tree risk states.

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
        self._bursts()
        events: list[Event] = []
        for stage in self.stages.values():
            events.extend(stage.tick(now_ms, self.board))
        self._ticks += 1
        events.sort(key=_event_order)
        if events:
            self.log.debug("tick %d: %d events", now_ms, len(events))
        return TickResult(events, self.board.zones or ZoneWaterState(now_ms),
                          self.board.trees or TreeRiskState(now_ms),
                          self.board.balance or ZoneBalanceState(now_ms))

    def _flush(self) -> None:
        for batch in self._ordered(self._pending.drain()):
            self._write(batch, warm=False)

    def _bursts(self) -> None:
        bursts = self._pending.drain_bursts()
        if not bursts:
            return
        sites = np.array([b.site for b in bursts], dtype=object)
        devices = np.array([b.device for b in bursts], dtype=object)
        self.board.site_codes(sites)
        rows = self.sway.rows("tilt", sites, devices, self.board)
        ts = np.array([b.ts_ms for b in bursts], np.int64)
        self.sway.append(StageBatch("tilt", rows, ts, {}, bursts=tuple(bursts)), self.board)

    # -- diagnostics ------------------------------------------------------------------------
    @property
    def sites(self) -> list[str]:
        return self.board.sites.sites()

    def pending(self) -> int:
        """Readings buffered by :meth:`ingest` and not yet written."""
        return len(self._pending)
