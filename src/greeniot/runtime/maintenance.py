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
from greeniot.actions.lifecycle import SlaJob, clear_condition, clear_subject
from greeniot.actions.sinks.dispatcher import AlertDispatcher, DispatcherSink
from greeniot.actions.valves import ValveCommander
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.contract import Event
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
from greeniot.registry.calendar import run_calendar
from greeniot.runtime.devices import DeviceSeen
from greeniot.runtime.eventclock import EventClock
from greeniot.runtime.shards import MEMBERS_FILTER, OFFLINE, ONLINE, ShardMap, member_topic
from greeniot.runtime.telemetry import MaintenanceTelemetry
from greeniot.runtime.warmstart import warm_start
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import Message, MqttSession, Will

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
        shard = settings.analytics.shard
        suffix = f"-analytics-{shard}" if shard else "-analytics"
        self.mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}{suffix}",
                                filters=ingest_filters(), publish_timeout_s=publish_timeout_s)
        #: with a shard name: which sites this process owns, and the membership session
        self.shards = ShardMap(shard) if shard else None
        self._members = MqttSession(
            settings.mqtt, f"{settings.mqtt.client_id}-members-{shard}", clean_session=True,
            filters=[MEMBERS_FILTER], will=Will(member_topic(shard), OFFLINE),
        ) if shard else None
        self._sites_heard: set[str] = {b.site for b in context.devices}
        self.engine = AnalyticsEngine(context, window=settings.analytics.window)
        self.zones = ZoneTracker()
        self.commander = ValveCommander(session_factory, self.mqtt.send, wall_clock,
                                        tracker=self.zones)
        # Alerts leave through the dispatcher's own queues (one per recipient, with retries and
        # digests), so a slow or dead sink never stalls detection; it also keeps the MQTT topic.
        self.dispatcher = AlertDispatcher(session_factory, settings.delivery,
                                          publish=self.mqtt.send)
        self.executor = ActionExecutor(session_factory, self.mqtt.send, self.commander,
                                       self.clock, tracker=self.zones,
                                       sinks=[DispatcherSink(self.dispatcher)])
        self.sla = SlaJob(session_factory, self.dispatcher, clock=self.clock,
                          sla_ms=settings.tasks.sla_ms)
        self.influx = influx
        self.wall_clock = wall_clock
        #: the newest outcomes (bounded: a process that runs for months keeps no history here;
        #: the registry has it)
        self.outcomes: collections.deque[Outcome] = collections.deque(maxlen=10_000)
        self.seen = DeviceSeen()
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        self._members_task: asyncio.Task[None] | None = None
        self._sla_task: asyncio.Task[None] | None = None
        self._calendar_task: asyncio.Task[None] | None = None
        #: metrics and event points (runtime/telemetry.py); None: neither
        self.telemetry = telemetry
        if telemetry is not None:
            telemetry.attach(self)

    async def __aenter__(self) -> MaintenanceService:
        sites: list[str] | None = None
        if self._members is not None and self.shards is not None:
            # Learn the live shards (retained) before choosing which sites' history to load.
            await self._members.connect()
            await self._members.send(member_topic(self.shards.me), ONLINE, 1, retain=True)
            await self._read_members(settle_s=0.5)
            sites = self.shards.owned(self._sites_heard)
        if self.influx is not None and sites != []:
            # Before subscribing: history first, then what the broker kept for us.
            await self._warm(self.engine, sites)
        await retry_until_reachable(mqtt_dependency(self.settings.mqtt), self.mqtt.connect)
        await self.dispatcher.__aenter__()
        self._task = asyncio.create_task(self._run(), name="maintenance")
        self._sla_task = asyncio.create_task(self.sla.run(self.settings.tasks.sla_check_s),
                                             name="sla")
        self._calendar_task = asyncio.create_task(
            self._calendar(self.settings.tasks.sla_check_s), name="calendar")
        if self._members is not None:
            self._members_task = asyncio.create_task(self._watch_members(), name="members")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in (self._task, self._members_task, self._sla_task, self._calendar_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.dispatcher.__aexit__(None, None, None)
        if self.telemetry is not None:
            await self.telemetry.aclose()
        await self.mqtt.close()
        if self._members is not None and self.shards is not None:
            # a clean stop hands our sites over at once (a crash does it by the last will)
            with contextlib.suppress(Exception):
                await self._members.send(member_topic(self.shards.me), OFFLINE, 1, retain=True)
            await self._members.close()

    async def _warm(self, engine: AnalyticsEngine, sites: list[str] | None) -> None:
        assert self.influx is not None
        try:
            newest = await warm_start(engine, self.influx, now_ms=self.wall_clock(),
                                      sites=sites)
        except Exception as err:  # analytics still works, only without its history
            dep = influx_dependency(self.influx.settings)
            log.warning("warm start failed, starting with empty windows: %s",
                        dep.unreachable(err, retrying=False))
        else:
            self.clock.advance_to(newest)
            self._next_tick_ms = max(self._next_tick_ms, newest + self.tick_ms)

    async def _read_members(self, settle_s: float) -> bool:
        """Apply membership messages until none came for ``settle_s``; True if it changed."""
        assert self._members is not None and self.shards is not None
        changed = False
        while True:
            await self._members.wait_inbox(settle_s)
            batch = self._members.drain(1000)
            if not batch:
                return changed
            for m in batch:
                changed |= self.shards.observe(m.topic, m.payload)

    async def _watch_members(self) -> None:
        """Rebalance when a shard joins or leaves: rebuild the engine for the sites now
        owned, from their history (the latches are primed, so nothing is reported twice)."""
        while True:
            if await self._read_members(settle_s=1.0):
                assert self.shards is not None
                sites = self.shards.owned(self._sites_heard)
                log.info("analytics shard %s: members %s, owning %d sites", self.shards.me,
                         sorted(self.shards.members), len(sites))
                engine = AnalyticsEngine(self.context, window=self.settings.analytics.window)
                if self.influx is not None and sites:
                    await self._warm(engine, sites)
                if self.telemetry is not None:
                    self.telemetry.time_stages(engine)
                self.engine = engine

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
            self._sites_heard.add(site)
            if self.shards is not None and not self.shards.owns(site):
                continue  # another shard judges this site
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
        await self._clear(result.events)
        if self.telemetry is not None:
            await self.telemetry.on_tick(now_ms, result, outcomes, time.perf_counter() - t0)
        await self._record_seen()
        return outcomes

    async def _calendar(self, interval_s: float) -> None:
        """Open the maintenance calendar's due occurrences as tasks (idempotent), on event
        time once readings flow (a replayed season opens its seasonal work on its dates)."""
        while True:
            now = self.clock() or self.wall_clock()

            def once(now: int = now) -> int:
                with self.sessions() as s:
                    return len(run_calendar(s, now_ms=now))

            try:
                opened = await asyncio.to_thread(once)
                if opened:
                    log.info("maintenance calendar opened %d tasks", opened)
            except Exception as err:  # a registry hiccup: the next round tries again
                log.warning("maintenance calendar round failed: %s", err)
            await asyncio.sleep(interval_s)

    async def _clear(self, events: list[Event]) -> None:
        """Conditions that ended clear their alarms (the registry keeps the history)."""
        for ev in events:
            if ev.phase != "clear":
                continue
            try:
                if ev.kind == "storm":
                    await clear_condition(self.sessions, self.dispatcher,
                                          key=f"storm:{ev.site}", ts_ms=ev.ts_ms,
                                          note="storm over")
                else:
                    await clear_subject(self.sessions, self.dispatcher, site=ev.site,
                                        ts_ms=ev.ts_ms, tree=ev.tree, zone=ev.zone,
                                        device=None if (ev.tree or ev.zone) else ev.device,
                                        kinds=[ev.kind], note=ev.detail or "condition ended")
            except Exception as err:  # the registry hiccupped: the alarm stays active
                log.warning("alarm of %s %s not cleared: %s", ev.kind, ev.subject, err)

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
