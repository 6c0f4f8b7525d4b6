"""The urgent lane of the analytics feed: a fallen tree's failure is raised on the reading that
confirms it, before its site's clock reaches the next step — and the events are the same as
when the same readings come as a late backlog (the passes judge them then)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from greeniot.analytics.contract import Event
from greeniot.analytics.core.columns import ColumnBatch
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import AnalyticsParams
from greeniot.config import Settings
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo
from greeniot.protocol import SoilReading, TiltReading, encode
from greeniot.registry.context import seed
from greeniot.registry.models import Alert, Task
from greeniot.runtime.feed import AnalyticsFeed
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import tag_suffix, to_lines
from tests.helpers import Publisher, apoll

SITE = "urgent"
TICK_MS = 60_000
READ_MS = 300_000
T0 = 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000
HISTORY_MS = 30 * 3_600_000
LIVE_MS = 3 * 3_600_000


def estate(n: int) -> EstateContext:
    devices = tuple(DeviceBinding(SITE, f"tilt-{i}", "tilt", tree=f"t{i}") for i in range(n))
    trees = tuple(TreeInfo(SITE, f"t{i}", heritage=i % 5 == 0) for i in range(n))
    return EstateContext(devices=devices, trees=trees, zones=())


def feed(ctx: EstateContext) -> AnalyticsFeed:
    params = AnalyticsParams()
    return AnalyticsFeed(lambda _site: AnalyticsEngine(ctx, params=params), tick_ms=TICK_MS,
                         max_future_ms=300_000, max_age_ms=30 * 86_400_000,
                         health=params.health)


def history(f: AnalyticsFeed, n: int, phases: list[int], rng: random.Random) -> None:
    """30 h of calm readings per tree ending at the live start: each tree gets a baseline."""
    ts, dev, pitch, roll = [], [], [], []
    for i in range(n):
        for t in range(T0 - HISTORY_MS + phases[i], T0, READ_MS):
            ts.append(t)
            dev.append(f"tilt-{i}")
            pitch.append(0.3 + 0.01 * i + rng.gauss(0, 0.01))
            roll.append(-0.2 + rng.gauss(0, 0.01))
    eng = f.site(SITE).engine
    eng.warm_start([ColumnBatch("tilt", SITE, dev, np.asarray(ts, np.int64), {
        "pitch_deg": np.asarray(pitch), "roll_deg": np.asarray(roll),
        "temp_c": np.full(len(ts), 20.0)})], prime_at_ms=max(ts))
    f.start_at(SITE, max(ts))


def live_readings(n: int, phases: list[int], rng: random.Random
                  ) -> list[tuple[str, TiltReading]]:
    """Three hours of 5-min readings: some trees fall (two or more readings past 10 deg,
    one reporting every 20 s once down, as a node in burst mode does), one reads one
    glitch past the threshold and then stands again."""
    falls = {i: T0 + rng.randrange(10 * 60_000, LIVE_MS - 60 * 60_000)
             for i in rng.sample(range(1, n), 3)}
    glitch = next(i for i in range(1, n) if i not in falls)
    dense = next(iter(falls))
    glitch_at = T0 + phases[glitch] + READ_MS * 7
    out: list[tuple[str, TiltReading]] = []
    seq = 0
    for i in range(n):
        t = T0 + phases[i]
        while t < T0 + LIVE_MS:
            down = i in falls and t >= falls[i]
            seq += 1
            pitch = 40.0 + rng.gauss(0, 0.5) if down else 0.3 + 0.01 * i + rng.gauss(0, 0.01)
            if i == glitch and t == glitch_at:
                pitch = 25.0
            out.append((f"tilt-{i}", TiltReading(seq=seq, ts_ms=t, pitch_deg=round(pitch, 3),
                                                 roll_deg=-0.2, temp_c=20.0)))
            t += 20_000 if down and i == dense else READ_MS
    out.sort(key=lambda x: x[1].ts_ms)
    return out


def step_after(ts_ms: int) -> int:
    return -(-ts_ms // TICK_MS) * TICK_MS


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_fallen_tree_is_raised_on_its_reading_and_live_equals_backlog(seed: int) -> None:
    rng = random.Random(seed)
    n = 12
    phases = [rng.randrange(0, READ_MS) for _ in range(n)]
    ctx = estate(n)
    readings = live_readings(n, phases, rng)

    # live: each reading received 0.2 s after its time; the passes follow the site's clock
    live = feed(ctx)
    history(live, n, phases, random.Random(seed))
    live_events: list[Event] = []
    urgent_at: dict[str, tuple[int, int]] = {}  # device → (reading time, newest pass then)
    newest_pass = 0
    for device, msg in readings:
        rx = msg.ts_ms + 200
        live.offer(SITE, device, msg, rx)
        for _site, step_ms, ev in live.take_urgent():
            assert step_ms == step_after(ev.ts_ms)
            urgent_at[device] = (msg.ts_ms, newest_pass)
            live_events.append(ev)
        for _site, now, result in live.due(rx):
            newest_pass = now
            live_events += result.events
    live.catch_up()
    for _site, _now, result in live.due(T0 + LIVE_MS + 3_600_000):
        live_events += result.events

    # the same readings as a backlog, all received an hour after the last one
    late = feed(ctx)
    history(late, n, phases, random.Random(seed))
    back_events: list[Event] = []
    rx = T0 + LIVE_MS + 3_600_000
    for device, msg in readings:
        late.offer(SITE, device, msg, rx)
        assert not late.take_urgent()  # a backlog is the passes' to judge
    for _site, _now, result in late.due(rx):
        back_events += result.events
    late.catch_up()
    for _site, _now, result in late.due(rx + 3_600_000):
        back_events += result.events

    def key(e: Event) -> tuple[int, str, str]:
        return (e.ts_ms, e.kind, e.device or "")

    failures = [e for e in live_events if e.kind == "failure"]
    assert len(failures) == 3, failures  # three falls, no glitch, each raised once
    assert sorted(live_events, key=key) == sorted(back_events, key=key)
    assert live.stats.urgent == 3 and late.stats.urgent == 0
    for ev in failures:
        assert ev.device is not None
        reading_ms, passed = urgent_at[ev.device]
        # raised on the confirming reading (its own time), while the site's passes were
        # still before it: it waited for no step boundary
        assert ev.ts_ms == reading_ms and passed < ev.ts_ms
        assert ev.severity == "critical" and ev.value > 30


def test_a_tree_without_a_baseline_waits_for_its_pass() -> None:
    """No baseline yet (a new sensor): the urgent lane cannot know the pass's verdict, so
    the pass raises the failure, dated by its confirming reading all the same."""
    ctx = estate(4)
    f = feed(ctx)
    events: list[Event] = []
    for k in range(6):
        for i in range(4):
            t = T0 + k * READ_MS + i * 1000
            down = i == 2 and k >= 3
            f.offer(SITE, f"tilt-{i}", TiltReading(
                seq=k * 4 + i + 1, ts_ms=t, pitch_deg=40.0 if down else 0.3, roll_deg=0.0,
                temp_c=20.0), t + 100)
            assert not f.take_urgent()
            events += [e for _s, _n, r in f.due(t + 100) for e in r.events]
    f.catch_up()
    events += [e for _s, _n, r in f.due(T0 + 3_600_000) for e in r.events]
    (fail,) = [e for e in events if e.kind == "failure"]
    assert fail.device == "tilt-2" and fail.ts_ms == T0 + 4 * READ_MS + 2000


def stored_history(site_id: str, n: int, now: int, rng: random.Random) -> list[str]:
    """30 h of calm 5-min readings per tree up to four minutes ago, as InfluxDB lines."""
    lines: list[str] = []
    last = now - 4 * 60_000
    seq = 0
    for i in range(n):
        for t in range(last - HISTORY_MS + i * 1000, last + 1, READ_MS):
            seq += 1
            lines += to_lines(TiltReading(seq=seq, ts_ms=t, pitch_deg=0.3 + rng.gauss(0, 0.01),
                                          roll_deg=-0.2, temp_c=20.0),
                              tag_suffix(site_id, f"tilt-{i}", {"tree": f"t{i}"}), t)
    return lines


def running_estate(settings: Settings, site_id: str, n: int, rng: random.Random,
                   **analytics: object) -> tuple[Settings, Any, Any, EstateContext, list[str],
                                                 Callable[[], list[Alert]]]:
    """A registry of ``n`` trees with a tilt node each, 30 h of their history as InfluxDB
    lines, settings with a 60 s tick (and ``analytics`` overrides), and a reader of the
    site's failure alerts."""
    s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 60.0, **analytics})})
    engine, sessions = open_registry(s)
    with sessions() as db:
        seed(db, sites=[{"id": site_id, "name": site_id}],
             trees=[{"site": site_id, "tree": f"t{i}"} for i in range(n)],
             devices=[{"site": site_id, "device": f"tilt-{i}", "kind": "tilt",
                       "tree": f"t{i}"} for i in range(n)])
    lines = stored_history(site_id, n, int(time.time() * 1000), rng)

    def alerts() -> list[Alert]:
        with sessions() as db:
            return list(db.scalars(select(Alert).where(Alert.site == site_id,
                                                       Alert.kind == "failure")).all())

    return s, engine, sessions, read_context(sessions), lines, alerts


async def store(s: Settings, lines: list[str]) -> InfluxClient:
    """Write the history lines to the test's InfluxDB; the client for the service."""
    influx = InfluxClient(s.influx)
    await influx.ensure_database()
    await influx.write("\n".join(lines).encode(), precision="u")
    return influx


def test_fallen_tree_alert_through_the_running_process_before_its_step(
        settings: Settings, site_id: str) -> None:
    """Through the real maintenance process on the real Mosquitto and InfluxDB (warm start
    from 30 h of stored readings): a tree's two fallen readings raise its critical alert and
    removal task while the site's clock is still before the confirming reading — and the
    pass that reaches it later raises nothing again."""
    n = 6
    s, engine, sessions, ctx, lines, alerts = running_estate(settings, site_id, n,
                                                             random.Random(5))

    async def scenario() -> None:
        influx = await store(s, lines)
        async with MaintenanceService(s, ctx, sessions, influx=influx) as svc:
            pub = Publisher(s.mqtt.port)
            try:
                t = int(time.time() * 1000)
                pub.publish_many([(f"greeniot/v1/{site_id}/tilt-{i}/tilt", encode(TiltReading(
                    seq=10_000 + k, ts_ms=t - 60_000 + k * 30_000,
                    pitch_deg=40.0 if i == 3 else 0.3, roll_deg=-0.2, temp_c=20.0)))
                    for k in range(2) for i in range(n)])
                confirm_ms = t - 30_000
                await apoll(lambda: bool(alerts()), timeout_s=20,
                            what="the fallen tree's alert")
                stage = svc.feed.sites[site_id].engine.tilt
                assert stage.failure_judged_ms < confirm_ms  # no pass reached it yet
                assert svc.feed.stats.urgent == 1
                await svc.catch_up()  # the passes judge everything received
                assert stage.failure_judged_ms >= confirm_ms
            finally:
                pub.close()

    asyncio.run(scenario())
    (alert,) = alerts()
    # dated by the confirming reading; one alert, never repeated by the pass
    assert (alert.tree, alert.severity, alert.count) == ("t3", "critical", 1)
    assert alert.ts_ms == alert.last_ts_ms
    with sessions() as db:
        tasks = db.scalars(select(Task).where(Task.site == site_id)).all()
    assert [(t.kind, t.tree, t.priority) for t in tasks] == [("remove", "t3", 1)]
    engine.dispose()


def per_device_seq(readings: list[tuple[str, TiltReading]]) -> list[tuple[str, TiltReading]]:
    """The same readings numbered as nodes number them: each device's seq counts its own."""
    count: dict[str, int] = {}
    out = []
    for device, msg in readings:
        count[device] = count.get(device, 0) + 1
        out.append((device, msg.model_copy(update={"seq": 100 + count[device]})))
    return out


def play_lagging(f: AnalyticsFeed, readings: list[tuple[str, TiltReading]], lag: int, *,
                 lookout: bool) -> tuple[list[Event], dict[str, int]]:
    """Live readings, the routine copies ``lag`` readings behind (their queue behind other
    traffic); with ``lookout`` each reading is also peeked as it is sent. Returns every
    event (urgent and passes) and, per urgent failure's device, how many routine copies had
    been taken when it was raised."""
    events: list[Event] = []
    raised_after: dict[str, int] = {}
    taken = 0

    def collect(wall: int) -> None:
        for _site, _step, ev in f.take_urgent():
            events.append(ev)
            raised_after[ev.device or ""] = taken
        for _site, _now, result in f.due(wall):
            events.extend(result.events)

    for k, (device, msg) in enumerate(readings):
        rx = msg.ts_ms + 200
        if lookout:
            f.peek(SITE, device, msg, rx)
            collect(rx)
        if k >= lag:  # received on time, handled late (the process's inbox is behind)
            d, m = readings[k - lag]
            f.offer(SITE, d, m, m.ts_ms + 200, rx)
            taken += 1
            collect(rx)
    end = readings[-1][1].ts_ms + 200
    for d, m in readings[max(len(readings) - lag, 0):]:
        f.offer(SITE, d, m, m.ts_ms + 200, end)
        taken += 1
        collect(end)
    f.catch_up()
    collect(end + 3_600_000)
    return events, raised_after


@pytest.mark.parametrize("seed", [4, 5])
def test_the_lookout_raises_a_fall_ahead_of_a_lagging_queue_and_only_once(seed: int) -> None:
    """The routine copies queue 30 readings behind (other traffic ahead of them); the
    lookout sees each live reading as it is sent. Every fall is raised on its confirming
    reading before its routine copy is taken, and the events — urgent and passes together —
    are exactly those of the same lagging queue without a lookout."""
    rng = random.Random(seed)
    n = 12
    phases = [rng.randrange(0, READ_MS) for _ in range(n)]
    ctx = estate(n)
    readings = per_device_seq(live_readings(n, phases, rng))
    confirm = {}  # device → index of the reading that confirms its fall (the second past 10°)
    past: dict[str, int] = {}
    for k, (device, msg) in enumerate(readings):
        if msg.pitch_deg > 30:
            past[device] = past.get(device, 0) + 1
            if past[device] == 2:
                confirm[device] = k

    def key(e: Event) -> tuple[int, str, str]:
        return (e.ts_ms, e.kind, e.device or "")

    runs = {}
    for lookout in (False, True):
        f = feed(ctx)
        history(f, n, phases, random.Random(seed))
        runs[lookout] = (f, *play_lagging(f, readings, 30, lookout=lookout))
    (f_plain, plain, _), (f_look, looked, raised_after) = runs[False], runs[True]
    assert sorted(looked, key=key) == sorted(plain, key=key)
    assert len([e for e in looked if e.kind == "failure"]) == 3
    assert f_look.stats.urgent == 3 and f_look.stats.peeked > 0 == f_plain.stats.peeked
    for device, k in confirm.items():
        # raised while its routine copy (and 29 after it) still queued
        assert raised_after[device] <= k - 30 + 1, (device, raised_after[device], k)


def test_the_lookout_leaves_backlogs_gaps_and_wrong_clocks_to_their_turn() -> None:
    """A tree falls (two readings at 40°) and the lookout sees both readings before their
    turn: raised at once only where nothing can be missing before them."""
    def tilt(seq: int, ts: int, pitch: float = 0.3) -> TiltReading:
        return TiltReading(seq=seq, ts_ms=ts, pitch_deg=pitch, roll_deg=-0.2, temp_c=20.0)

    def case(first_seq: int, *, rx_lag_ms: int = 200, fault: bool = False,
             site: str = SITE, in_turn: bool = True, since_ms: int = 0) -> list[Event]:
        f = feed(estate(4))
        history(f, 4, [0, 1000, 2000, 3000], random.Random(1))
        t = T0 + 60_000
        if fault:  # an hour ahead of its receive time: a clock fault, judged in turn
            f.offer(SITE, "tilt-1", tilt(1, t + 3_600_000), t + 100)
        elif in_turn:
            f.offer(SITE, "tilt-1", tilt(1, t), t + 100)  # taken in turn: seq 1
        for k, seq in enumerate((first_seq, first_seq + 1)):
            ts = t + (k + 1) * 30_000
            f.peek(site, "tilt-1", tilt(seq, ts, 40.0), ts + rx_lag_ms, since_ms)
        return [ev for _s, _step, ev in f.take_urgent()]

    (ev,) = case(2)  # seq 2 and 3 follow seq 1: raised on the second
    assert ev.kind == "failure" and ev.ts_ms == T0 + 60_000 + 60_000
    assert case(3) == []  # seq 2 never seen: it may have stood the tree up again
    assert case(2, rx_lag_ms=3_600_000) == []  # a backlog: the passes judge it
    assert case(2, fault=True) == []  # a wrong clock: judged by receive time, in turn
    assert case(2, site="elsewhere") == []  # no engine there (another shard's site)
    # nothing of the device taken in turn yet: only a run begun after the lookout subscribed
    assert case(2, in_turn=False) == []
    assert case(2, in_turn=False, since_ms=T0 + 60_000) == []  # the run began before it
    (ev,) = case(2, in_turn=False, since_ms=T0 - 600_000)
    assert ev.ts_ms == T0 + 120_000


@pytest.mark.parametrize("lookout", [True, False])
def test_a_fall_behind_a_queue_of_routine_traffic_reaches_the_crew_first(
        settings: Settings, site_id: str, lookout: bool) -> None:
    """Real Mosquitto and InfluxDB: a running process has heard each tree; then 40k soil
    readings of a busy estate arrive faster than it takes them, and behind them a tree falls.
    With the lookout its alert is raised while part of that queue still waits; without it
    (the check that this test can fail) only after the whole queue."""
    n, flood = 6, 40_000
    s, engine, sessions, ctx, lines, alerts = running_estate(settings, site_id, n,
                                                             random.Random(6), lookout=lookout)

    def tilt(i: int, k: int, t: int, pitch: float) -> tuple[str, bytes]:
        return (f"greeniot/v1/{site_id}/tilt-{i}/tilt", encode(TiltReading(
            seq=20_000 + k, ts_ms=t, pitch_deg=pitch, roll_deg=-0.2, temp_c=20.0)))

    async def scenario() -> tuple[int, int]:
        influx = await store(s, lines)
        async with MaintenanceService(s, ctx, sessions, influx=influx) as svc:
            pub = Publisher(s.mqtt.port)
            try:
                t = int(time.time() * 1000)
                pub.publish_many([tilt(i, 0, t - 60_000, 0.3) for i in range(n)])
                await apoll(lambda: svc.feed.stats.readings >= n, timeout_s=20,
                            what="a calm reading of each tree taken")
                t = int(time.time() * 1000)
                busy = [(f"greeniot/v1/{site_id}-busy/soil-{j % 500}/soil",
                         encode(SoilReading(seq=j // 500, ts_ms=t - 30_000 + j // 500,
                                            vwc_pct=30.0))) for j in range(flood)]
                fall = [tilt(i, k, t - 30_000 + k * 30_000, 40.0 if i == 3 else 0.3)
                        for k in (1, 2) for i in range(n)]
                # two publishers: the estate's traffic comes faster than analytics takes it
                other = Publisher(s.mqtt.port)
                try:
                    await asyncio.gather(asyncio.to_thread(pub.publish_many, busy[::2]),
                                         asyncio.to_thread(other.publish_many, busy[1::2]))
                finally:
                    other.close()
                pub.publish_many(fall)
                await apoll(lambda: bool(alerts()), timeout_s=60,
                            what="the fallen tree's alert")
                taken = svc.feed.stats.readings  # routine readings taken by the alert
                await svc.catch_up()
                return taken - n, svc.feed.stats.peeked
            finally:
                pub.close()

    taken, peeked = asyncio.run(scenario())
    (alert,) = alerts()
    assert (alert.tree, alert.severity, alert.count) == ("t3", "critical", 1)
    if lookout:
        assert peeked > 0 and taken < flood, taken  # raised before its turn came
    else:
        assert peeked == 0 and taken >= flood, taken
    engine.dispose()
