"""The analytics + actions process: MQTT readings → detectors → rules → valve commands, tasks
and alerts. A separate consumer of the broker from ingest, so either restarts alone.

Runs on event time, per site (:mod:`greeniot.runtime.feed`): every site has its own engine
and clock, and a detector pass runs per fixed step of that site's event time, never per batch
pulled from the broker — so live data and a flushed backlog raise the same tasks. Commands sent
to real devices carry the wall clock, since a node checks their deadline against its own clock.

It never stops on bad input: decoding cannot raise, and a failure while handling one message
is logged with the message, counted and skipped. The processing loop is supervised: if it
fails anyway it is restarted with its state (engines, clocks, waiting messages), and its
liveness (heartbeat, restarts, failures) is in :meth:`MaintenanceService.liveness`, published
retained on ``greeniot/v1/_analytics/health``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from greeniot.actions.executor import ActionExecutor, Outcome
from greeniot.actions.valves import ValveCommander
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import AnalyticsParams
from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.estate import EstateContext
from greeniot.protocol.codec import decode
from greeniot.protocol.topics import ROOT, ingest_filters
from greeniot.registry import crud
from greeniot.runtime.devices import DeviceSeen
from greeniot.runtime.feed import AnalyticsFeed
from greeniot.runtime.warmstart import warm_start
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import Message, MqttSession

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
#: Retained liveness of the analytics process (not under ``+/+/{channel}``: ingest ignores it).
HEALTH_TOPIC = f"{ROOT}/_analytics/health"
#: How often liveness is published [s]; a reader calls the process stale after 3 of these.
HEALTH_EVERY_S = 10.0
#: Bytes of a failed payload quoted in the log line.
LOG_PAYLOAD_BYTES = 200


class TickClock:
    """The executor's clock: the event time of the site tick being acted on."""

    def __init__(self) -> None:
        self.now_ms = 0

    def __call__(self) -> int:
        return self.now_ms


class MaintenanceService:
    """``async with MaintenanceService(settings, context, sessions) as svc: ...``"""

    def __init__(self, settings: Settings, context: EstateContext,
                 session_factory: SessionFactory, *,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 wall_clock: Callable[[], int] = wall_ms,
                 influx: InfluxClient | None = None,
                 publish_timeout_s: float = 10.0, idle_s: float = 30.0,
                 params: AnalyticsParams | None = None) -> None:
        self.settings = settings
        self.context = context
        self.sessions = session_factory
        self.on_outcome = on_outcome
        self.params = params or AnalyticsParams()
        self.tick_ms = int(settings.analytics.tick_s * 1000)
        self.mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}-analytics",
                                filters=ingest_filters(), publish_timeout_s=publish_timeout_s)
        self.feed = AnalyticsFeed(
            self._new_engine, tick_ms=self.tick_ms,
            max_future_ms=int(settings.ingest.max_future_s * 1000),
            max_age_ms=int(settings.ingest.max_age_days * 86_400_000),
            health=self.params.health, idle_s=idle_s)
        self.clock = TickClock()
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
        self.failed: collections.Counter[str] = collections.Counter()  # what → count
        self.restarts = 0
        self.heartbeat_ms = 0
        self._started = time.monotonic()
        self._published_health = 0.0
        self._task: asyncio.Task[None] | None = None
        self._advancing = asyncio.Lock()

    def _new_engine(self, site: str) -> AnalyticsEngine:
        return AnalyticsEngine(self.context, params=self.params,
                               window=self.settings.analytics.window)

    @property
    def engines(self) -> dict[str, AnalyticsEngine]:
        return {name: s.engine for name, s in self.feed.sites.items()}

    async def __aenter__(self) -> MaintenanceService:
        if self.influx is not None:
            await self._warm_start(self.influx)
        await self.mqtt.connect()
        self._task = asyncio.create_task(self._supervise(), name="maintenance")
        return self

    async def _warm_start(self, influx: InfluxClient) -> None:
        # Before subscribing: history first, then what the broker kept for us. One engine per
        # site, each from its own site's history.
        for site in sorted({b.site for b in self.context.devices}):
            try:
                newest = await warm_start(self.feed.site(site).engine, influx,
                                          now_ms=self.wall_clock(), sites=[site])
            except Exception as err:  # analytics still works, only without its history
                log.warning("warm start of site %s from InfluxDB failed, starting empty: %s",
                            site, err)
                continue
            if newest:
                self.feed.start_at(site, newest)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.mqtt.close()

    def set_context(self, context: EstateContext) -> None:
        self.context = context
        for engine in self.engines.values():
            engine.set_context(context)

    # -- the supervised loop -------------------------------------------------------------------
    async def _supervise(self) -> None:
        """Run the loop; if it fails, log, count and restart it with its state."""
        backoff = 0.1
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.restarts += 1
                log.exception("analytics loop failed (restart %d); restarting with its state",
                              self.restarts)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _run(self) -> None:
        while True:
            await self.mqtt.wait_inbox(1.0)
            self.heartbeat_ms = self.wall_clock()
            batch = self.mqtt.drain(5000)
            if batch:
                await self.handle(batch)
            else:
                await self.advance()
            await self._publish_health()

    async def handle(self, batch: list[Message]) -> None:
        """Decode and route a batch, then run every detector pass that became due."""
        for m in batch:
            try:
                await self._one(m)
            except Exception as err:  # one bad message never stops analytics
                self.failed[type(err).__name__] += 1
                log.warning("message skipped (%s: %s) topic=%r payload=%r", type(err).__name__,
                            str(err)[:200], m.topic, m.payload[:LOG_PAYLOAD_BYTES])
        await self.advance()

    async def _one(self, m: Message) -> None:
        d = decode(m.topic, m.payload)
        if d.topic is None:
            return
        site, device = d.topic.site, d.topic.device
        for msg in d.messages:
            self.feed.offer(site, device, msg, m.received_ms, self.wall_clock())
            self.seen.observe(site, device, msg, m.received_ms)
            outcome = await self.executor.observe(site, device, msg)
            if outcome is not None:
                self._emit(outcome)

    async def advance(self) -> list[Outcome]:
        """Every detector pass due by now (each site's clock), then its actions."""
        async with self._advancing:  # one pass at a time (catch_up may run beside the loop)
            return await self._advance()

    async def _advance(self) -> list[Outcome]:
        done: list[Outcome] = []
        for site, now_ms, result in self.feed.due(self.wall_clock()):
            self.ticks += 1
            self.clock.now_ms = now_ms
            try:
                outcomes = await self.executor.tick(result, self.context)
            except Exception as err:  # the registry or broker failed: the next tick goes on
                self.failed["tick"] += 1
                log.warning("actions of site %s at %d failed: %s", site, now_ms, err)
                continue
            for o in outcomes:
                self._emit(o)
            done += outcomes
        if done or self.ticks:
            await self._record_seen()
        return done

    async def catch_up(self) -> list[Outcome]:
        """Judge everything received so far now (the end of a replay or a backlog), instead
        of waiting for the sites' clocks to pass their last steps."""
        self.feed.catch_up()
        return await self.advance()

    async def tick(self, now_ms: int) -> list[Outcome]:
        """Compatibility: run the passes due by now (``now_ms`` is ignored: each site runs on
        its own clock)."""
        return await self.advance()

    # -- liveness ------------------------------------------------------------------------------
    def liveness(self) -> dict[str, Any]:
        """Is the loop alive, and what did it do: for health probes and metrics."""
        task = self._task
        alive = task is not None and not task.done()
        age_s = (self.wall_clock() - self.heartbeat_ms) / 1000 if self.heartbeat_ms else None
        st = self.feed.stats
        return {
            "alive": alive and age_s is not None and age_s < 3 * HEALTH_EVERY_S,
            "heartbeat_ms": self.heartbeat_ms, "restarts": self.restarts,
            "failed": dict(self.failed), "ticks": self.ticks, "readings": st.readings,
            "clock_faults": st.rejected.get("clock", 0), "restamped": st.restamped,
            "flagged": st.flagged, "waiting": self.feed.pending(),
            "sites": {name: s.clock.now(self.wall_clock()) for name, s in
                      self.feed.sites.items()},
            "uptime_s": round(time.monotonic() - self._started, 1),
        }

    async def _publish_health(self) -> None:
        now = time.monotonic()
        if now - self._published_health < HEALTH_EVERY_S:
            return
        self._published_health = now
        try:
            self.mqtt.publish(HEALTH_TOPIC, json.dumps(self.liveness()).encode(), qos=0,
                              retain=True)
        except Exception as err:  # liveness is best effort; the loop goes on
            log.debug("liveness not published: %s", err)

    # -- registry ------------------------------------------------------------------------------
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
        if self.on_outcome is not None:
            self.on_outcome(outcome)
