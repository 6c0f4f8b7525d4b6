"""What stands between decoded messages and the analytics engines: time validation, device
clocks, plausibility, and a detector pass per fixed step of each site's event time.

- Every reading is checked as ingest checks it (:func:`greeniot.ingest.validate.check_time`
  logic: not too far ahead of its receive time, not older than the maximum age) and by
  :class:`~greeniot.runtime.eventclock.DeviceClocks`; a device with a wrong clock gets a
  ``clock_fault`` and its readings are judged by receive time until it recovers.
- Implausible values (:mod:`greeniot.protocol.plausible`) are left out; the health stage is told.
- Each site has its own engine and :class:`~greeniot.runtime.eventclock.SiteClock`. Messages
  wait in a heap ordered by event time; whenever a site's clock passes the next step boundary
  ``k × tick_ms``, the messages up to it are handed to the engine and the engine ticks at the
  boundary. So a tick judges exactly the readings up to its time, however they were batched
  by the broker: a gateway flushing hours of backlog is judged as if it had come live.
- The urgent lane: a site's clock lags wall time by about half a reporting interval, plus the
  step; a fallen tree cannot wait for that. A live tilt reading that confirms a failure
  raises at once the event the pass will raise (the failure detector dates a failure by the
  reading that confirmed it, not by the pass: ``failure_at_readings``), and that pass then
  does not raise it again — so live data and the same readings as a backlog give the same
  events (tests/runtime/test_urgent.py).

No I/O: the maintenance process and the device-fault benchmark both drive it.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel

from greeniot.analytics.contract import Event, TickResult
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import HealthParams
from greeniot.estate import EstateContext
from greeniot.protocol.channels import channel_of
from greeniot.protocol.messages import TS_MIN_MS, Status, TiltReading
from greeniot.protocol.plausible import implausible
from greeniot.runtime.eventclock import SEQ_MOD, DeviceClocks, SiteClock

log = logging.getLogger(__name__)

#: Tilt readings per device kept for the urgent lane (a device with more waiting for a pass
#: is judged by the passes alone until they caught up).
URGENT_READINGS = 64

#: Empty steps ticked one by one at most; a longer hole in a site's data is jumped over to
#: the step before its next message (ticks with nothing new change nothing but silence, and
#: silence is dated by the readings, not by the tick).
MAX_CATCHUP_STEPS = 24 * 60


@dataclass(order=True, slots=True)
class _Item:
    ts_ms: int
    order: int
    device: str = field(compare=False)
    what: str = field(compare=False)  # "msg" | "clock" | "flag"
    msg: BaseModel | None = field(compare=False, default=None)
    note: str | None = field(compare=False, default=None)
    fields: tuple[str, ...] = field(compare=False, default=())
    heard: bool = field(compare=False, default=False)


@dataclass(slots=True)
class _Site:
    engine: AnalyticsEngine
    clock: SiteClock
    heap: list[_Item] = field(default_factory=list)
    next_tick_ms: int = 0
    #: tilt readings (ts, pitch, roll) of each device newer than the tilt stage's last pass,
    #: in time order: what the urgent lane judges a fallen tree on
    tilt: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    #: devices whose list overflowed: no urgent verdict until the passes reach this time
    tilt_gap: dict[str, int] = field(default_factory=dict)
    #: per tilt device, the newest (ts, seq) taken in turn, and the lookout's unbroken run of
    #: seq (first seq, last seq, last ts, first ts) (:meth:`AnalyticsFeed.peek`)
    turn: dict[str, tuple[int, int]] = field(default_factory=dict)
    look_run: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


@dataclass(slots=True)
class FeedStats:
    """Counts for health and metrics."""

    readings: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason → count
    restamped: int = 0  # readings judged by receive time (clock fault)
    flagged: int = 0  # readings with implausible values
    ticks: int = 0
    urgent: int = 0  # failures raised ahead of their pass (the urgent lane)
    peeked: int = 0  # live tilt readings the lookout gave the urgent lane ahead of their turn


def listed_devices(context: EstateContext) -> dict[str, frozenset[str]]:
    """The devices the registry lists per site (the ``devices`` of :class:`AnalyticsFeed`)."""
    out: dict[str, set[str]] = {}
    for b in context.devices:
        out.setdefault(b.site, set()).add(b.device)
    return {site: frozenset(devs) for site, devs in out.items()}

class AnalyticsFeed:
    """Per-site engines fed in event-time steps.

    Parameters
    ----------
    new_engine : builds the engine of a site (called on its first message)
    tick_ms : event time between detector passes [ms]
    max_future_ms, max_age_ms : ingest's time validation (``Settings.ingest``) [ms]
    health : clock-fault parameters (``clock_live_span_s``, ``clock_recover_readings``)
    idle_s : wall time after which a silent site goes on with wall time [s]
    devices : the devices the registry lists at a site: only they set its clock, and it waits
        ``idle_s`` for them at start (:class:`~greeniot.runtime.eventclock.SiteClock`)
    """

    def __init__(self, new_engine: Callable[[str], AnalyticsEngine], *, tick_ms: int,
                 max_future_ms: int, max_age_ms: int, health: HealthParams,
                 idle_s: float = 30.0,
                 devices: Callable[[str], frozenset[str]] = lambda _site: frozenset()
                 ) -> None:
        if tick_ms <= 0:
            raise ValueError(f"tick_ms must be > 0, got {tick_ms}")
        self.new_engine = new_engine
        self.devices = devices
        self.tick_ms = tick_ms
        self.idle_s = idle_s
        self.clocks = DeviceClocks(
            bound_ms=max_future_ms, max_age_ms=max_age_ms,
            live_span_ms=int(health.clock_live_span_s * 1000),
            recover_readings=health.clock_recover_readings,
            site_bound_ms=int(health.clock_site_bound_s * 1000))
        self.sites: dict[str, _Site] = {}
        self.stats = FeedStats()
        self._order = itertools.count()
        self._urgent_events: list[tuple[str, int, Event]] = []
        #: False: no urgent lane, every failure waits for its pass (a benchmark's "before")
        self.urgent = True

    def site(self, site: str) -> _Site:
        s = self.sites.get(site)
        if s is None:
            s = self.sites[site] = _Site(self.new_engine(site), SiteClock(
                idle_s=self.idle_s, listed=self.devices(site)))
        return s

    def expect(self) -> None:
        """The registry changed: every site's clock waits for the devices now listed."""
        for name, s in self.sites.items():
            s.clock.listed = self.devices(name)

    def start_at(self, site: str, ts_ms: int) -> None:
        """The site's history ends at ``ts_ms`` (a warm start): its clock starts there."""
        s = self.site(site)
        s.clock.advance_to(ts_ms)
        s.next_tick_ms = self._boundary(ts_ms) + self.tick_ms

    def _boundary(self, ts_ms: int) -> int:
        return -(-ts_ms // self.tick_ms) * self.tick_ms  # ceil to a step

    def _push(self, s: _Site, ts: int, device: str, what: str, **kw: object) -> None:
        heapq.heappush(s.heap, _Item(ts, next(self._order), device, what, **kw))  # type: ignore[arg-type]

    # -- input ----------------------------------------------------------------------------
    def offer(self, site: str, device: str, msg: BaseModel, received_ms: int,
              wall_ms: int | None = None) -> None:
        """Take one decoded message received at wall time ``received_ms`` [ms UTC], handled
        at wall time ``wall_ms`` (default: as received). A site is idle after ``idle_s``
        without a message *handled*: a process catching up with a queue is not idle."""
        handled = received_ms if wall_ms is None else wall_ms
        row = channel_of(msg)
        if not row.stages:
            return
        s = self.site(site)
        if isinstance(msg, Status):
            self._status(s, site, device, msg, received_ms)
            return
        self.stats.readings += 1
        ts = int(msg.ts_ms)  # type: ignore[attr-defined]
        seq = getattr(msg, "seq", None)
        before = self.clocks.fault(site, device)
        v = self.clocks.judge(site, device, ts, received_ms, seq, s.clock.reference())
        if v.fault is not None or before is not None:
            self.stats.restamped += v.ts_ms != ts
        if v.changed:
            if v.fault is not None:
                self.stats.rejected["clock"] += 1
                log.info("clock fault site=%s device=%s: %s", site, device, v.fault)
            self._push(s, v.ts_ms, device, "clock", note=v.fault, fields=(row.name,))
        if v.ts_ms != ts:
            msg = msg.model_copy(update={"ts_ms": v.ts_ms})
        s.clock.observe(device, v.ts_ms, handled)
        bad = implausible(msg)
        if bad:
            self.stats.flagged += 1
            lost = bool(set(bad) & set(row.required))
            self._push(s, v.ts_ms, device, "flag", fields=bad, heard=lost, note=row.name)
            if lost:
                return
            msg = msg.model_copy(update=dict.fromkeys(bad))
        self._push(s, v.ts_ms, device, "msg", msg=msg)
        if self.urgent and isinstance(msg, TiltReading):
            last = s.turn.get(device)
            if last is None or ts > last[0]:
                s.turn[device] = (ts, msg.seq)
            self._urgent(s, site, device, msg, v.ts_ms, received_ms)

    def peek(self, site: str, device: str, msg: TiltReading, received_ms: int,
             since_ms: int = 0) -> None:
        """A live tilt reading seen ahead of its turn: the analytics lookout takes tilt on a
        session of its own, so a fall does not queue behind routine traffic. The reading only
        feeds the urgent lane; it comes again in its turn and is then taken like any other
        (the lane sees a redelivery).

        Taken only from a site with an engine, a device whose clock is right, live and
        plausible. It may raise a failure only where nothing can be missing before it: the
        lookout's own unbroken run of ``seq`` reaches back to the reading after the newest
        one taken in turn (a turn delivers a device's readings in order), or — nothing of the
        device taken in turn yet — the run began after the lookout subscribed at wall time
        ``since_ms`` (so it holds every reading sent since; older ones are history or an old
        backlog). Anything else waits for its turn, as before; a backlog never comes
        through here."""
        s = self.sites.get(site)
        if not self.urgent or s is None:
            return
        ts = int(msg.ts_ms)
        if (abs(received_ms - ts) > self.clocks.bound_ms
                or self.clocks.fault(site, device) is not None or implausible(msg)):
            return
        run = s.look_run.get(device)
        if run is not None and msg.seq == (run[1] + 1) % SEQ_MOD and ts > run[2]:
            run = (run[0], msg.seq, ts, run[3])
        else:
            run = (msg.seq, msg.seq, ts, ts)  # a run starts here (the first, or after a loss)
        s.look_run[device] = run
        turn = s.turn.get(device)
        if turn is not None and ts <= turn[0]:
            return  # already taken in turn
        if turn is not None:
            gap = (run[0] - turn[1]) % SEQ_MOD
            whole = gap <= 1 or gap > SEQ_MOD // 2
        else:
            whole = 0 < since_ms <= run[3] - self.clocks.bound_ms
        self.stats.peeked += 1
        # kept either way: a later reading of the run is judged with it
        self._urgent(s, site, device, msg, ts, received_ms, judge=whole)

    # -- the urgent lane ---------------------------------------------------------------------
    def _urgent(self, s: _Site, site: str, device: str, msg: TiltReading, ts: int,
                received_ms: int, judge: bool = True) -> None:
        """A fallen tree is not kept waiting for its site's clock: a live tilt reading that
        confirms a failure raises, now, the event the next pass would raise (same event,
        same time: :meth:`TiltStage.urgent_failure`), and the pass does not raise it again.
        Backlogs and late readings are left to the passes (they judge them the same)."""
        stage = s.engine.tilt
        judged = stage.failure_judged_ms
        held = [x for x in s.tilt.get(device, ()) if x[0] > judged]
        if ts <= judged:
            s.tilt[device] = held
            return  # late: the pass at its time is over
        at = bisect.bisect_left(held, (ts,))
        if at < len(held) and held[at][0] == ts:
            held[at] = (ts, msg.pitch_deg, msg.roll_deg)  # a redelivery
        else:
            held.insert(at, (ts, msg.pitch_deg, msg.roll_deg))
        if len(held) > URGENT_READINGS:
            s.tilt_gap[device] = held[-1][0]
            held = held[-URGENT_READINGS:]
        s.tilt[device] = held
        if (not judge or abs(received_ms - ts) > self.clocks.bound_ms or at != len(held) - 1
                or s.tilt_gap.get(device, 0) > judged):
            return  # a backlog, an older reading, or readings missing from the list
        row = stage.index.get(site, device)
        if row is None:
            return  # a device no pass has seen yet
        ev = stage.urgent_failure(row, np.array([x[0] for x in held], np.int64),
                                  np.array([x[1] for x in held]), np.array([x[2] for x in held]))
        if ev is not None:
            self.stats.urgent += 1
            self._urgent_events.append((site, self._boundary(ev.ts_ms), ev))

    def urgent_waiting(self) -> bool:
        return bool(self._urgent_events)

    def take_urgent(self) -> list[tuple[str, int, Event]]:
        """Events raised by the urgent lane since the last call: ``(site, step_ms, event)``,
        ``step_ms`` the step whose pass would have raised it."""
        out, self._urgent_events = self._urgent_events, []
        return out

    def unraise(self, site: str, ev: Event) -> None:
        """An urgent event could not be acted on: let its pass raise it after all."""
        s = self.sites.get(site)
        row = None if s is None or ev.device is None else s.engine.tilt.index.get(site,
                                                                                    ev.device)
        if s is not None and row is not None and s.engine.tilt.urgent.get(row) == ev:
            del s.engine.tilt.urgent[row]

    def _status(self, s: _Site, site: str, device: str, msg: Status, received_ms: int) -> None:
        ts = msg.ts_ms
        fault = self.clocks.fault(site, device)
        if ts is not None and (fault is not None or ts > received_ms + self.clocks.bound_ms
                               or ts < received_ms - self.clocks.max_age_ms):
            ts = None  # a status from a wrong clock counts as sent now
            msg = msg.model_copy(update={"ts_ms": None, "next_ms": None})
        # undated (a last will): at the site's time now, or before its first step
        at = ts if ts is not None else max(s.clock.now(received_ms), s.next_tick_ms - 1, 1)
        self._push(s, at, device, "msg", msg=msg)

    # -- stepping -------------------------------------------------------------------------
    def due(self, wall_ms: int) -> Iterator[tuple[str, int, TickResult]]:
        """Tick every site whose clock passed its next step: ``(site, now_ms, result)`` per
        tick, in time order within a site."""
        for name, s in self.sites.items():
            now = s.clock.now(wall_ms)
            if not now:
                continue
            if not s.next_tick_ms:  # the first step: at the first dated message
                dated = [it.ts_ms for it in s.heap if it.ts_ms >= TS_MIN_MS]
                s.next_tick_ms = self._boundary(min(dated) if dated else now)
            while s.next_tick_ms <= now:
                t = s.next_tick_ms
                self._release(name, s, t)
                yield name, t, s.engine.tick(t)
                self.stats.ticks += 1
                nxt = t + self.tick_ms
                head = s.heap[0].ts_ms if s.heap else now
                if head - nxt > MAX_CATCHUP_STEPS * self.tick_ms:
                    nxt = self._boundary(head)
                s.next_tick_ms = nxt

    def _release(self, site: str, s: _Site, until_ms: int) -> None:
        eng = s.engine
        while s.heap and s.heap[0].ts_ms <= until_ms:
            it = heapq.heappop(s.heap)
            if it.what == "msg" and it.msg is not None:
                eng.ingest(site, it.device, it.msg)
            elif it.what == "clock":
                eng.health.set_clock(site, it.device, it.fields[0], it.note, it.ts_ms)
            elif it.what == "flag":
                eng.health.flag(site, it.device, it.note or "unknown", it.ts_ms, it.fields,
                                heard=it.heard)

    def catch_up(self) -> None:
        """Let every site's clock reach the step after its newest waiting message, so the next
        :meth:`due` judges everything received (the end of a replay or a backlog: no more
        data is coming, and waiting for wall time to pass would only delay the verdict)."""
        for s in self.sites.values():
            if s.heap:
                s.clock.advance_to(self._boundary(max(it.ts_ms for it in s.heap)))

    def pending(self) -> int:
        """Messages waiting for their site's clock."""
        return sum(len(s.heap) for s in self.sites.values())

