"""The analytics + actions process: MQTT readings → detectors → rules → valve commands, tasks
and alerts. A separate consumer of the broker from ingest, so either restarts alone.

Runs on event time (the devices' timestamps, see ``EventClock``); commands sent to real devices
carry the wall clock, since a node checks their deadline against its own clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from greeniot.actions.executor import ActionExecutor, Outcome
from greeniot.actions.valves import ValveCommander
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.estate import EstateContext
from greeniot.protocol.channels import channel_of
from greeniot.protocol.codec import decode
from greeniot.protocol.messages import SoilReading, TiltReading, WeatherReading
from greeniot.protocol.topics import ingest_filters
from greeniot.reachable import influx_dependency, mqtt_dependency, retry_until_reachable
from greeniot.registry import crud
from greeniot.runtime.devices import DeviceSeen
from greeniot.runtime.eventclock import EventClock
from greeniot.runtime.telemetry import MaintenanceTelemetry
from greeniot.runtime.warmstart import warm_start
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import Message, MqttSession

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]


class MaintenanceService:
    """``async with MaintenanceService(settings, context, sessions) as svc: ...``"""

    def __init__(self, settings: Settings, context: EstateContext,
                 session_factory: SessionFactory, *,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 wall_clock: Callable[[], int] = wall_ms,
                 influx: InfluxClient | None = None,
                 publish_timeout_s: float = 10.0,
                 telemetry: MaintenanceTelemetry | None = None) -> None:
        self.settings = settings
        self.context = context
        self.sessions = session_factory
        self.on_outcome = on_outcome
        self.clock = EventClock()
        self.tick_ms = int(settings.analytics.tick_s * 1000)
        self._next_tick_ms = 0
        self.mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}-analytics",
                                filters=ingest_filters(), publish_timeout_s=publish_timeout_s)
        self.engine = AnalyticsEngine(context, window=settings.analytics.window)
        self.zones = ZoneTracker()
        self.commander = ValveCommander(session_factory, self.mqtt.send, wall_clock,
                                        tracker=self.zones)
        self.executor = ActionExecutor(session_factory, self.mqtt.send, self.commander,
                                       self.clock, tracker=self.zones)
        self.influx = influx
        self.wall_clock = wall_clock
        #: the newest outcomes (bounded: a process that runs for months keeps no history here;
        #: the registry has it)
        self.outcomes: collections.deque[Outcome] = collections.deque(maxlen=10_000)
        self.seen = DeviceSeen()
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        #: metrics and event points (runtime/telemetry.py); None: neither
        self.telemetry = telemetry
        if telemetry is not None:
            telemetry.attach(self)

    async def __aenter__(self) -> MaintenanceService:
        if self.influx is not None:
            # Before subscribing: history first, then what the broker kept for us.
            try:
                newest = await warm_start(self.engine, self.influx, now_ms=self.wall_clock())
            except Exception as err:  # analytics still works, only without its history
                dep = influx_dependency(self.influx.settings)
                log.warning("warm start failed, starting with empty windows: %s",
                            dep.unreachable(err, retrying=False))
            else:
                self.clock.advance_to(newest)
                self._next_tick_ms = newest + self.tick_ms
        await retry_until_reachable(mqtt_dependency(self.settings.mqtt), self.mqtt.connect)
        self._task = asyncio.create_task(self._run(), name="maintenance")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.telemetry is not None:
            await self.telemetry.aclose()
        await self.mqtt.close()

    def set_context(self, context: EstateContext) -> None:
        self.context = context
        self.engine.set_context(context)

    async def _run(self) -> None:
        while True:
            await self.mqtt.wait_inbox(1.0)
            batch = self.mqtt.drain(5000)
            if batch:
                await self.handle(batch)

    async def handle(self, batch: list[Message]) -> None:
        for m in batch:
            d = decode(m.topic, m.payload)
            if d.topic is None:
                continue
            site, device = d.topic.site, d.topic.device
            for msg in d.messages:
                if isinstance(msg, SoilReading | TiltReading | WeatherReading):
                    self.clock.observe(msg.ts_ms, site)
                if channel_of(msg).stages:  # the channel table routes it to analytics
                    self.engine.ingest(site, device, msg)
                self.seen.observe(site, device, msg, m.received_ms)
                outcome = await self.executor.observe(site, device, msg)
                if outcome is not None:
                    self._emit(outcome)
        now = self.clock()
        if now and now >= self._next_tick_ms:
            await self.tick(now)

    async def tick(self, now_ms: int) -> list[Outcome]:
        """Run every detector over all devices, then actions (every tick, even without events:
        drought follow-ups and command expiry need no new event). Returns what was done."""
        self.ticks += 1
        self._next_tick_ms = now_ms + self.tick_ms
        t0 = time.perf_counter()
        result = self.engine.tick(now_ms)
        outcomes = await self.executor.tick(result, self.context)
        for o in outcomes:
            self._emit(o)
        if self.telemetry is not None:
            await self.telemetry.on_tick(now_ms, result, outcomes, time.perf_counter() - t0)
        await self._record_seen()
        return outcomes

    async def _record_seen(self) -> None:
        """Write devices' status and last-seen time to the registry (changed ones only)."""
        updates = self.seen.take()
        if not updates:
            return

        def run() -> None:
            with self.sessions() as s:
                for u in updates:
                    crud.record_device_status(s, site=u.site, device=u.device, status=u.status,
                                              ts_ms=u.ts_ms, fw=u.fw, bat_v=u.bat_v,
                                              commit=False)
                s.commit()

        try:
            await asyncio.to_thread(run)
        except Exception as err:  # the registry is down: analytics goes on; next tick retries
            log.warning("device status not recorded (%d devices): %s", len(updates), err)
            self.seen.retry(updates)

    def _emit(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self.telemetry is not None:
            self.telemetry.on_outcome(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
