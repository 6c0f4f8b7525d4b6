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
retained on ``greeniot/v1/_health/analytics[-{shard}]`` by a task beside the loop (with a last
will that marks a crash) and read by the API's ``/health`` (:mod:`greeniot.runtime.liveness`);
the process's ``/metrics`` carry it too (runtime/telemetry.py).
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
from greeniot.actions.flow import FlowWatch
from greeniot.actions.forecast import ForecastWatch
from greeniot.actions.lifecycle import ManualClearJob, SlaJob, clear_condition, clear_subject
from greeniot.actions.sinks.dispatcher import AlertDispatcher, DispatcherSink
from greeniot.actions.valves import ValveCommander
from greeniot.actions.watering import WateringPlanner
from greeniot.actions.watering_restore import restore_planner, restore_stage, restore_tracker
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.contract import Event
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import AnalyticsParams
from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.estate import EstateContext
from greeniot.forecasts.store import newest_forecasts
from greeniot.protocol.codec import decode
from greeniot.protocol.messages import SiteForecast, TiltReading
from greeniot.protocol.topics import ingest_filters
from greeniot.reachable import influx_dependency, mqtt_dependency, retry_until_reachable
from greeniot.registry import crud, sway_baselines
from greeniot.registry.calendar import run_calendar
from greeniot.runtime.devices import DeviceSeen
from greeniot.runtime.feed import AnalyticsFeed, listed_devices
from greeniot.runtime.liveness import down_payload, health_topic
from greeniot.runtime.shards import MEMBERS_FILTER, OFFLINE, ONLINE, ShardMap, member_topic
from greeniot.runtime.telemetry import MaintenanceTelemetry
from greeniot.runtime.warmstart import warm_start
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import Message, MqttSession, Will

log = logging.getLogger(__name__)
#: While an urgent alert is being delivered, the loop lets the sinks run every this many
#: messages of a batch (one turn of the event loop costs ~10 µs; a message ~100 µs).
YIELD_EVERY = 32

SessionFactory = Callable[[], Session]
#: Retained liveness of the unsharded analytics process (runtime/liveness.py: not under
#: ``+/+/{channel}``, so ingest ignores it); a shard's is ``health_topic(shard)``.
HEALTH_TOPIC = health_topic("")
#: Bytes of a failed payload quoted in the log line.
LOG_PAYLOAD_BYTES = 200
#: Event time between two stores of a site's seasonal sway baselines [ms].
SWAY_SAVE_MS = 3_600_000


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
                 params: AnalyticsParams | None = None,
                 telemetry: MaintenanceTelemetry | None = None) -> None:
        self.settings = settings
        self.context = context
        #: registered devices per site (only they set its clock; it waits for them at start)
        self._site_devices = listed_devices(context)
        self.sessions = session_factory
        self.on_outcome = on_outcome
        self.params = params or AnalyticsParams()
        self.tick_ms = int(settings.analytics.tick_s * 1000)
        shard = settings.analytics.shard
        suffix = f"-analytics-{shard}" if shard else "-analytics"
        self.health_topic = health_topic(shard)
        #: how often liveness is published [s]; a reader calls it stale after 3 of these
        self.health_every_s = settings.analytics.health_every_s
        self.mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}{suffix}",
                                filters=ingest_filters(), publish_timeout_s=publish_timeout_s,
                                will=Will(self.health_topic, down_payload()))
        #: the lookout: tilt again, live only (a clean session at QoS 0 keeps nothing for us
        #: while we are away), ahead of its turn behind routine traffic (feed.peek)
        self._lookout = MqttSession(
            settings.mqtt, f"{settings.mqtt.client_id}{suffix}-lookout", clean_session=True,
            qos=0, filters=ingest_filters(("tilt",)), inbox_max=10_000,
        ) if settings.analytics.lookout else None
        self._lookout_since_ms = 0
        self._delivering = False  # an urgent alert may still be on its way out (handle)
        #: with a shard name: which sites this process owns, and the membership session
        self.shards = ShardMap(shard) if shard else None
        self._members = MqttSession(
            settings.mqtt, f"{settings.mqtt.client_id}-members-{shard}", clean_session=True,
            filters=[MEMBERS_FILTER], will=Will(member_topic(shard), OFFLINE),
        ) if shard else None
        self._sites_heard: set[str] = {b.site for b in context.devices}
        self.rebalances = 0  # site hand-overs after the shard membership changed
        #: the shard members the current set of site engines was chosen for
        self.engine_members: frozenset[str] = frozenset()
        self.feed = AnalyticsFeed(
            self._new_engine, tick_ms=self.tick_ms,
            max_future_ms=int(settings.ingest.max_future_s * 1000),
            max_age_ms=int(settings.ingest.max_age_days * 86_400_000),
            health=self.params.health, idle_s=idle_s, devices=self._devices_at)
        self.clock = TickClock()
        self.zones = ZoneTracker()
        self.commander = ValveCommander(session_factory, self.mqtt.send, wall_clock,
                                        tracker=self.zones)
        # Alerts leave through the dispatcher's own queues (one per recipient, with retries and
        # digests), so a slow or dead sink never stalls detection; it also keeps the MQTT topic.
        self.dispatcher = AlertDispatcher(session_factory, settings.delivery,
                                          publish=self.mqtt.send)
        self.executor = ActionExecutor(session_factory, self.mqtt.send, self.commander,
                                       self.clock, tracker=self.zones,
                                       sinks=[DispatcherSink(self.dispatcher)],
                                       planner=WateringPlanner(
                                           hour_local=settings.irrigation.decision_hour_local,
                                           confidence=settings.irrigation.need_confidence))
        #: site forecasts → watering planner and pre-storm sweep; flow readings → burst,
        #: leak and no-flow findings (actions/forecast.py, actions/flow.py)
        self.forecasts = ForecastWatch(self.executor.planner, self.zones)
        self.flow = FlowWatch(self.commander, self.executor.apply, session_factory)
        self.sla = SlaJob(session_factory, self.dispatcher, clock=self._now,
                          sla_ms=settings.tasks.sla_ms)
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
        self._published_ms = 0
        self._task: asyncio.Task[None] | None = None
        self._side: list[asyncio.Task[None]] = []
        self._advancing = asyncio.Lock()
        self._sway_saved: dict[str, int] = {}  # site → event time its sway baselines were kept
        #: metrics and event points (runtime/telemetry.py); None: neither
        self.telemetry = telemetry
        if telemetry is not None:
            telemetry.attach(self)

    def _now(self) -> int:
        """Event time of the newest site tick, or the wall clock before any."""
        return self.clock.now_ms or self.wall_clock()

    async def _keep_sway(self, site: str, now_ms: int) -> None:
        """Store the site's seasonal sway baselines, once per :data:`SWAY_SAVE_MS` of event
        time (they change slowly; a restart restores them in :meth:`_new_engine`). In a
        thread: a write waits for the registry's lock, and the loop must not wait with it."""
        if now_ms - self._sway_saved.get(site, 0) < SWAY_SAVE_MS:
            return
        s = self.feed.sites.get(site)
        if s is None:
            return
        baselines = s.engine.sway.baselines()

        def save() -> None:
            with self.sessions() as session:
                sway_baselines.save(session, site, baselines, now_ms)

        try:
            await asyncio.to_thread(save)
            self._sway_saved[site] = now_ms
        except Exception as err:  # a registry hiccup: the next tick tries again
            log.warning("sway baselines of site %s not stored: %s", site, err)

    def _new_engine(self, site: str) -> AnalyticsEngine:
        engine = AnalyticsEngine(self.context, params=self.params,
                                 window=self.settings.analytics.window)
        try:
            restore_stage(engine, site, self.sessions, now_ms=self.wall_clock())
        except Exception as err:
            log.warning("water balance of site %s not restored from the registry: %s", site,
                        err)
        try:  # seasonal sway baselines (a leaf-off baseline takes a winter to learn)
            with self.sessions() as s:
                engine.sway.restore_baselines(sway_baselines.load(s, site), engine.board)
        except Exception as err:
            log.warning("sway baselines of site %s not restored from the registry: %s", site,
                        err)
        if self.telemetry is not None:  # set after the feed exists: engines come later
            self.telemetry.time_stages(engine)
        return engine

    @property
    def engines(self) -> dict[str, AnalyticsEngine]:
        return {name: s.engine for name, s in self.feed.sites.items()}

    async def __aenter__(self) -> MaintenanceService:
        sites = sorted({b.site for b in self.context.devices})
        if self._members is not None and self.shards is not None:
            # Learn the live shards (retained) before choosing which sites' history to load.
            await self._members.connect()
            await self._members.send(member_topic(self.shards.me), ONLINE, 1, retain=True)
            await self._read_members(settle_s=0.5)
            sites = self.shards.owned(sites)
            self.engine_members = frozenset(self.shards.members)
        # Watering state first (the planner here, each water stage as its engine is made),
        # then the windows, then the zone tracker.
        try:
            restore_planner(self.executor, self.sessions, now_ms=self.wall_clock())
        except Exception as err:  # irrigation starts afresh on the probes; say so
            log.warning("watering state not restored from the registry: %s", err)
        if self.influx is not None:
            await self._warm_start(self.influx, sites)
            try:
                await restore_tracker(self.executor, self.influx, now_ms=self.wall_clock(),
                                      sites=sites)
            except Exception as err:
                log.warning("zone tracker not restored from InfluxDB: %s", err)
        await retry_until_reachable(mqtt_dependency(self.settings.mqtt), self.mqtt.connect)
        if self._lookout is not None:
            await self._lookout.connect()
            self._lookout_since_ms = self.wall_clock()  # subscribed: it sees all from here
        await self.dispatcher.__aenter__()
        self._task = asyncio.create_task(self._supervise(), name="maintenance")
        every = self.settings.tasks.sla_check_s
        self._side = [asyncio.create_task(self.sla.run(every), name="sla"),
                      asyncio.create_task(self._calendar(every), name="calendar"),
                      # clears made by hand on the crew page or the API reach the routes
                      asyncio.create_task(ManualClearJob(
                          self.sessions, self.dispatcher, clock=self.wall_clock).run(every),
                          name="manual-clears"),
                      asyncio.create_task(self._heartbeat(), name="liveness")]
        if self._members is not None:
            self._side.append(asyncio.create_task(self._watch_members(), name="members"))
        return self

    async def _warm_start(self, influx: InfluxClient, sites: list[str], *,
                          prime: bool = True) -> None:
        # Before subscribing: history first, then what the broker kept for us. One engine per
        # site, each from its own site's history.
        for site in sites:
            try:
                newest = await warm_start(self.feed.site(site).engine, influx,
                                          now_ms=self.wall_clock(), sites=[site], prime=prime)
            except Exception as err:  # analytics still works, only without its history
                dep = influx_dependency(influx.settings)
                log.warning("warm start of site %s failed, starting with empty windows: %s",
                            site, dep.unreachable(err, retrying=False))
                continue
            if newest:
                self.feed.start_at(site, newest)
        try:  # the newest forecasts, should the broker have lost its retained copies
            for site, fc in (await newest_forecasts(influx, sites)).items():
                self.forecasts.prime(site, fc)
        except Exception as err:
            log.warning("stored forecasts not read: %s", err)

    async def __aexit__(self, *exc: object) -> None:
        for task in (self._task, *self._side):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.dispatcher.__aexit__(None, None, None)
        if self.telemetry is not None:
            await self.telemetry.aclose()
        with contextlib.suppress(Exception):  # a clean stop is not a crash (no last will)
            await self.mqtt.send(self.health_topic, self._health_doc("stopped"), 1,
                                 timeout_s=2.0, retain=True)
        await self.mqtt.close()
        if self._lookout is not None:
            await self._lookout.close()
        if self._members is not None and self.shards is not None:
            # a clean stop hands our sites over at once (a crash does it by the last will)
            with contextlib.suppress(Exception):
                await self._members.send(member_topic(self.shards.me), OFFLINE, 1, retain=True)
            await self._members.close()

    # -- shards --------------------------------------------------------------------------------
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
        """Hand sites over when a shard joins or leaves: drop the engines of sites now owned
        by another shard; load the history of sites now ours, not primed — every condition
        is judged again, and the registry folds a repeat of an open task or alarm into it."""
        while True:
            if not await self._read_members(settle_s=0.2):
                continue
            assert self.shards is not None
            members = frozenset(self.shards.members)
            async with self._advancing:
                mine = set(self.shards.owned(self._sites_heard))
                for site in [s for s in self.feed.sites if s not in mine]:
                    del self.feed.sites[site]
                new = sorted(mine - set(self.feed.sites))
                if self.influx is not None and new:
                    await self._warm_start(self.influx, new, prime=False)
            log.info("analytics shard %s: members %s, owning %d sites", self.shards.me,
                     sorted(members), len(mine))
            self.engine_members = members
            self.rebalances += 1

    def _devices_at(self, site: str) -> frozenset[str]:
        return self._site_devices.get(site, frozenset())

    def set_context(self, context: EstateContext) -> None:
        self.context = context
        self._site_devices = listed_devices(context)
        for engine in self.engines.values():
            engine.set_context(context)
        self.feed.expect()

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
            self.heartbeat_ms = self.wall_clock()  # before the wait too: a fresh loop beats
            await self.mqtt.wait_inbox(1.0)
            self.heartbeat_ms = self.wall_clock()
            batch = self.mqtt.drain(5000)
            await self._look_out()
            if batch:
                await self.handle(batch)
            else:
                await self.advance()

    async def handle(self, batch: list[Message]) -> None:
        """Decode and route a batch, then run every detector pass that became due."""
        lookout = self._lookout
        urgent = self.feed.urgent_waiting
        for i, m in enumerate(batch):
            try:
                await self._one(m)
            except Exception as err:  # one bad message never stops analytics
                self.failed[type(err).__name__] += 1
                log.warning("message skipped (%s: %s) topic=%r payload=%r", type(err).__name__,
                            str(err)[:200], m.topic, m.payload[:LOG_PAYLOAD_BYTES])
            if (lookout is not None and lookout.inbox) or urgent():
                await self._look_out()  # a fallen tree: act now, not after the batch
            if self._delivering and i % YIELD_EVERY == 0:
                # Its alert leaves through the sinks, which run on this loop: a batch whose
                # awaits never suspend would hold it until the batch ends.
                await asyncio.sleep(0)
                self._delivering = not self.dispatcher.idle
        await self.advance()

    async def _act_urgent(self) -> None:
        """Act at once on what the feed's urgent lane raised (a fallen tree), as the pass of
        its step would have (the pass will not raise it again). The passes' lock is held."""
        for site, step_ms, ev in self.feed.take_urgent():
            self.clock.now_ms = step_ms
            try:
                outcomes = await self.executor.tick([ev], self.context)
            except Exception as err:  # the registry or broker failed: the pass raises it
                self.failed["urgent"] += 1
                self.feed.unraise(site, ev)
                log.warning("urgent %s of site %s failed: %s", ev.kind, site, err)
                continue
            for o in outcomes:
                self._emit(o)
            self._delivering = True

    async def _look_out(self, *, locked: bool = False) -> None:
        """Live tilt from the lookout to the urgent lane, and act on what it raised.
        ``locked``: called between two sites' passes (a process far behind can spend seconds
        on them), which hold the passes' lock already."""
        if self._lookout is not None and self._lookout.inbox:
            self._peek(self._lookout.drain(1000))
        if not self.feed.urgent_waiting():
            return
        if locked:
            await self._act_urgent()
        else:
            async with self._advancing:
                await self._act_urgent()

    def _peek(self, batch: list[Message]) -> None:
        """Live tilt from the lookout, ahead of its turn: only the urgent lane sees it."""
        for m in batch:
            try:
                d = decode(m.topic, m.payload)
                if d.topic is None or (self.shards is not None
                                       and not self.shards.owns(d.topic.site)):
                    continue
                for msg in d.messages:
                    if isinstance(msg, TiltReading):
                        self.feed.peek(d.topic.site, d.topic.device, msg, m.received_ms,
                                       self._lookout_since_ms)
            except Exception as err:  # its turn will come: the routine copy is judged then
                self.failed[f"lookout {type(err).__name__}"] += 1

    async def _one(self, m: Message) -> None:
        d = decode(m.topic, m.payload)
        if d.topic is None:
            return
        site, device = d.topic.site, d.topic.device
        self._sites_heard.add(site)
        if self.shards is not None and not self.shards.owns(site):
            return  # another shard judges this site
        for msg in d.messages:
            if isinstance(msg, SiteForecast):
                await self._forecast(site, msg)
                continue
            self.feed.offer(site, device, msg, m.received_ms, self.wall_clock())
            self.seen.observe(site, device, msg, m.received_ms)
            outcome = await self.executor.observe(site, device, msg)
            if outcome is not None:
                self._emit(outcome)
            for o in await self.flow.observe(site, device, msg, self.context):
                self._emit(o)

    async def _forecast(self, site: str, fc: SiteForecast) -> None:
        """A site forecast: lockouts and winter watering now, a pre-storm sweep per storm."""
        s = self.feed.sites.get(site)
        trees = s.engine.board.trees if s is not None else None
        for o in await self.executor.apply(self.forecasts.observe(site, fc, self.context,
                                                                  trees)):
            self._emit(o)

    async def advance(self) -> list[Outcome]:
        """Every detector pass due by now (each site's clock), then its actions."""
        async with self._advancing:  # one pass at a time (catch_up may run beside the loop)
            return await self._advance()

    async def _advance(self) -> list[Outcome]:
        done: list[Outcome] = []
        t0 = time.perf_counter()  # the generator runs each site's detector pass between yields
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
            await self._look_out(locked=True)  # a fall does not wait for the others' passes
            await self._clear(result.events)
            await self._keep_sway(site, now_ms)
            if self.telemetry is not None:
                await self.telemetry.on_tick(now_ms, result, outcomes, time.perf_counter() - t0)
            t0 = time.perf_counter()
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
            # the loop waits at most 1 s for messages; a pass over a big batch takes longer
            "alive": alive and age_s is not None and age_s < 3 * max(self.health_every_s, 1.0),
            "heartbeat_ms": self.heartbeat_ms, "restarts": self.restarts,
            "failed": dict(self.failed), "ticks": self.ticks, "readings": st.readings,
            "clock_faults": st.rejected.get("clock", 0), "restamped": st.restamped,
            "flagged": st.flagged, "waiting": self.feed.pending(),
            "sites": {name: s.clock.now(self.wall_clock()) for name, s in
                      self.feed.sites.items()},
            "uptime_s": round(time.monotonic() - self._started, 1),
        }

    def _health_doc(self, state: str) -> bytes:
        self._published_ms = self.wall_clock()
        doc = {"state": state, "shard": self.settings.analytics.shard,
               "every_s": self.health_every_s, "published_ms": self._published_ms,
               **self.liveness()}
        return json.dumps(doc).encode()

    async def _heartbeat(self) -> None:
        """Publish liveness every ``health_every_s``, beside the loop: a loop that died or
        hangs is reported (``alive`` false) rather than merely silent."""
        while True:
            try:
                self.mqtt.publish(self.health_topic, self._health_doc("running"), qos=0,
                                  retain=True)
            except Exception as err:  # liveness is best effort; a reader sees it go stale
                log.debug("liveness not published: %s", err)
            await asyncio.sleep(self.health_every_s)

    # -- registry ------------------------------------------------------------------------------
    async def _calendar(self, interval_s: float) -> None:
        """Open the maintenance calendar's due occurrences as tasks (idempotent), on event
        time once readings flow (a replayed season opens its seasonal work on its dates)."""
        while True:
            now = self._now()

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
