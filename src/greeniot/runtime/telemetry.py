"""What the processes tell operators besides their logs: Prometheus metrics, and analytics
events, tasks, alerts and tree risk written to InfluxDB as points (for Grafana).

- :func:`ingest_families`, :func:`inbox_families`, :func:`liveness_families`: read at scrape
  time from counters the components keep anyway (nothing is counted twice).
- :class:`MaintenanceTelemetry`: hooked into the maintenance process; times each analytics
  stage, counts events, tasks, alerts, deliveries per sink and valve command transitions, and
  queues the points for a background writer (an InfluxDB outage never slows a tick).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.actions.executor import Outcome
from greeniot.actions.plan import Alert as AlertPlan
from greeniot.actions.plan import Task as TaskPlan
from greeniot.analytics.contract import TickResult
from greeniot.clock import wall_ms
from greeniot.ingest.metrics import inbox_families as inbox_families
from greeniot.ingest.metrics import ingest_families as ingest_families
from greeniot.metrics import Metrics
from greeniot.reachable import influx_dependency
from greeniot.registry.decisions import decision_columns
from greeniot.registry.models import Tree
from greeniot.store.errors import RejectedWriteError, StoreError
from greeniot.store.eventlines import (
    alert_line,
    decision_line,
    event_lines,
    task_line,
    tree_risk_lines,
)
from greeniot.store.influx import InfluxClient

if TYPE_CHECKING:
    from greeniot.runtime.maintenance import MaintenanceService

log = logging.getLogger(__name__)

#: Tree risk is written once per this much event time [ms]: enough for a lean chart and the
#: map, without a point per tree per 60-s tick.
RISK_EVERY_MS = 10 * 60_000
#: Points waiting for InfluxDB beyond this many are dropped (counted): memory stays bounded.
MAX_PENDING_LINES = 200_000
#: How often tree coordinates are re-read from the registry [s].
COORDS_REFRESH_S = 300.0


def liveness_families(svc: MaintenanceService) -> Callable[[], list[Metric]]:
    """The analytics loop's liveness (:meth:`MaintenanceService.liveness`): alive, heartbeat
    age, loop restarts, per-message failures by what failed, detector passes; label ``shard``
    ('' when unsharded)."""
    shard = svc.settings.analytics.shard

    def read() -> list[Metric]:
        for _ in range(3):  # scraped from the server's thread while the loop updates it
            try:
                live = svc.liveness()
                break
            except RuntimeError:  # "dictionary changed size during iteration"
                continue
        else:
            return []
        alive = GaugeMetricFamily("greeniot_analytics_alive",
                                  "1 while the analytics processing loop runs and beats",
                                  labels=["shard"])
        alive.add_metric([shard], 1.0 if live["alive"] else 0.0)
        age = GaugeMetricFamily("greeniot_analytics_heartbeat_age_seconds",
                                "Time since the processing loop last went round (NaN: never)",
                                labels=["shard"])
        beat = live["heartbeat_ms"]
        age.add_metric([shard], max(0.0, (wall_ms() - beat) / 1000) if beat else math.nan)
        restarts = CounterMetricFamily("greeniot_analytics_loop_restarts",
                                       "Restarts of the supervised processing loop",
                                       labels=["shard"])
        restarts.add_metric([shard], live["restarts"])
        failed = CounterMetricFamily(
            "greeniot_analytics_failures", "Messages skipped or detector passes whose actions "
            "failed, by what failed (exception type, or tick)", labels=["shard", "what"])
        for what, n in sorted(live["failed"].items()):
            failed.add_metric([shard, what], n)
        ticks = CounterMetricFamily("greeniot_analytics_ticks", "Detector passes run",
                                    labels=["shard"])
        ticks.add_metric([shard], live["ticks"])
        readings = CounterMetricFamily("greeniot_analytics_readings",
                                       "Readings taken in by the per-site feed", labels=["shard"])
        readings.add_metric([shard], live["readings"])
        return [alive, age, restarts, failed, ticks, readings]

    return read


class _TimedStage:
    """A stage whose ``tick`` is timed into the per-stage histogram; all else delegates."""

    def __init__(self, stage: Any, observe: Callable[[float], None]) -> None:
        self._stage = stage
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stage, name)

    def tick(self, now_ms: int, board: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._stage.tick(now_ms, board)
        finally:
            self._observe(time.perf_counter() - t0)


class _CountedSink:
    """An alert sink whose deliveries are counted by sink name and result."""

    def __init__(self, sink: Any, count: Callable[[str, str], None]) -> None:
        self._sink = sink
        self._count = count
        self.name = type(sink).__name__.removesuffix("AlertSink").removesuffix("Sink").lower()

    async def send(self, alert: Any) -> None:
        try:
            await self._sink.send(alert)
        except BaseException:
            self._count(self.name, "failed")
            raise
        self._count(self.name, "ok")


def valve_state(o: Outcome) -> str:
    """The command transition a valve outcome stands for."""
    if o.new:
        return "sent" if o.ok else "failed"
    if o.ok:
        return "acked"
    return "expired" if "expired" in o.line else "refused"


class MaintenanceTelemetry:
    """``MaintenanceService(..., telemetry=MaintenanceTelemetry(metrics, influx=influx))``."""

    def __init__(self, metrics: Metrics, *, influx: InfluxClient | None = None,
                 risk_every_ms: int = RISK_EVERY_MS) -> None:
        self.metrics = metrics
        self.influx = influx
        self.risk_every_ms = risk_every_ms
        self._next_risk_ms = 0
        self._pending: list[str] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._failing = False
        self._coords: dict[tuple[str, str], tuple[float, float]] = {}
        self._coords_at = -math.inf
        self._sessions: Callable[[], Session] | None = None
        self._params: Any = None

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, svc: MaintenanceService) -> None:
        """Time the engine's stages, count the executor's sinks, expose the inbox."""
        m = self.metrics
        for engine in svc.engines.values():  # later sites' engines: MaintenanceService._new_engine
            self.time_stages(engine)
        # The executor's sinks are wrapped in place: the executor takes no counting hook.
        ex = svc.executor
        ex._sinks = tuple(_CountedSink(s, lambda sink, res: m.deliveries.labels(sink, res).inc())
                          for s in ex._sinks)
        m.add("analytics-inbox", inbox_families("analytics", svc.mqtt))
        m.add("analytics-liveness", liveness_families(svc))
        self._sessions = svc.sessions
        self._params = svc.params

    def time_stages(self, engine: Any) -> None:
        """Time each stage's tick of ``engine`` (again after a shard change rebuilds it)."""
        for name, stage in list(engine.stages.items()):
            if not isinstance(stage, _TimedStage):
                engine.stages[name] = cast(Any, _TimedStage(
                    stage, self.metrics.stage_seconds.labels(name).observe))

    def on_outcome(self, o: Outcome) -> None:
        m = self.metrics
        if o.kind == "valve":
            m.valve_commands.labels(valve_state(o)).inc()
        elif o.kind == "task" and o.ok and o.new and isinstance(o.action, TaskPlan):
            m.tasks.labels(o.action.kind).inc()
        elif o.kind == "alert" and isinstance(o.action, AlertPlan) and (
                o.new or " escalated" in o.line):
            m.alerts.labels(o.action.kind, o.action.severity).inc()

    async def on_tick(self, now_ms: int, result: TickResult, outcomes: Sequence[Outcome],
                      tick_s: float) -> None:
        m = self.metrics
        m.tick_seconds.observe(tick_s)
        m.event_lag.set(max(0.0, (wall_ms() - now_ms) / 1000))
        for e in result.events:
            m.events.labels(e.kind, e.severity, e.phase).inc()
        if self.influx is None:
            return
        lines = event_lines(result.events)
        counts = {"events": len(lines), "tasks": 0, "alerts": 0, "tree_risk": 0,
                  "decisions": 0}
        for o in outcomes:
            if o.kind == "task" and o.new and isinstance(o.action, TaskPlan) and isinstance(
                    o.ref, int):
                lines.append(task_line(o.action, o.ref))
                counts["tasks"] += 1
            elif o.kind == "decision" and o.decision is not None:
                row = decision_columns(o.decision)
                row.update(id=o.ref, lockouts=",".join(row["lockouts"]))
                lines.append(decision_line(row))
                counts["decisions"] += 1
            elif o.kind == "alert" and isinstance(o.action, AlertPlan) and o.ref is not None \
                    and (o.new or " escalated" in o.line):
                lines.append(alert_line(o.action, str(o.ref)))
                counts["alerts"] += 1
        if now_ms >= self._next_risk_ms and len(result.trees):
            self._next_risk_ms = now_ms - now_ms % self.risk_every_ms + self.risk_every_ms
            risk = await self._risk_lines(now_ms, result)
            lines.extend(risk)
            counts["tree_risk"] = len(risk)
        if lines:
            self._queue(lines, counts)

    async def aclose(self, flush_timeout_s: float = 5.0) -> None:
        """Write what is queued (up to the timeout), then stop the writer."""
        if self._writer is None:
            return
        deadline = time.monotonic() + flush_timeout_s
        while self._pending and time.monotonic() < deadline and not self._writer.done():
            assert self._wakeup is not None
            self._wakeup.set()
            await asyncio.sleep(0.02)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    # -- tree risk ---------------------------------------------------------------------------
    async def _risk_lines(self, now_ms: int, result: TickResult) -> list[str]:
        await self._refresh_coords()
        t = result.trees
        levels = t.risk_level()
        rows: list[dict[str, object]] = []
        for i in range(len(t)):
            site, tree = str(t.site[i]), t.tree[i]
            heritage = bool(t.heritage[i])
            grades = (self._params.heritage_tilt if heritage else self._params.tilt).lean_deg
            lat_lon = self._coords.get((site, str(tree))) if tree else None
            row: dict[str, object] = {
                "site": site, "tree": tree, "device": str(t.device[i]), "heritage": heritage,
                "lean_deg": float(t.lean_deg[i]), "lean_watch_deg": grades.watch,
                "lean_warning_deg": grades.warning, "lean_critical_deg": grades.critical,
                "risk_level": int(levels[i]), "lean_level": int(t.lean_level[i]),
                "step_level": int(t.step_level[i]), "trend_level": int(t.trend_level[i]),
                "failure_level": int(t.failure_level[i])}
            if lat_lon is not None:
                row["lat"], row["lon"] = lat_lon
            rows.append(row)
        return tree_risk_lines(now_ms, rows)

    async def _refresh_coords(self) -> None:
        if self._sessions is None or time.monotonic() - self._coords_at < COORDS_REFRESH_S:
            return
        sessions = self._sessions

        def read() -> dict[tuple[str, str], tuple[float, float]]:
            with sessions() as s:
                rows = s.execute(select(Tree.site, Tree.id, Tree.lat, Tree.lon)).all()
            return {(site, tree): (lat, lon) for site, tree, lat, lon in rows
                    if lat is not None and lon is not None}

        try:
            self._coords = await asyncio.to_thread(read)
        except Exception as err:  # the map lacks positions until the next try; risk goes on
            log.warning("tree coordinates not read from the registry: %s", err)
        self._coords_at = time.monotonic()

    # -- the writer --------------------------------------------------------------------------
    def _queue(self, lines: list[str], counts: Mapping[str, int]) -> None:
        for name, n in counts.items():
            if n:
                self.metrics.points_written.labels(name).inc(n)
        self._pending.extend(lines)
        if len(self._pending) > MAX_PENDING_LINES:
            dropped = len(self._pending) - MAX_PENDING_LINES
            del self._pending[:dropped]
            self.metrics.point_write_failures.inc()
            log.warning("dropped %d event points: InfluxDB has not taken them", dropped)
        if self._writer is None:
            self._wakeup = asyncio.Event()
            self._writer = asyncio.create_task(self._write_loop(), name="event-points")
        assert self._wakeup is not None
        self._wakeup.set()

    async def _write_loop(self) -> None:
        assert self._wakeup is not None and self.influx is not None
        backoff = 0.5
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[:5000]
                try:
                    await self.influx.write(batch)
                except RejectedWriteError as err:  # stored what was valid; a retry won't help
                    self.metrics.point_write_failures.inc()
                    log.error("InfluxDB refused event points: %s", err)
                except StoreError as err:
                    self.metrics.point_write_failures.inc()
                    if not self._failing:
                        self._failing = True
                        log.warning("event points: %s",
                                    influx_dependency(self.influx.settings).unreachable(err))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                del self._pending[:len(batch)]
                backoff = 0.5
                if self._failing:
                    self._failing = False
                    log.info("event points written again")

