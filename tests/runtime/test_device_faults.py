"""Device faults through the real maintenance process on the real Mosquitto: analytics never
stops on bad input, one wrong clock misleads nobody, one alarm per (device, fault kind) with
one task per device, and a backlog is judged exactly as live data."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from greeniot.config import Settings
from greeniot.protocol import SoilReading, Status, encode
from greeniot.protocol.messages import TS_MIN_MS
from greeniot.registry.context import seed
from greeniot.registry.models import Alert, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.simulators.faults import generate
from tests.fuzzcases import CHANNELS, KINDS, invalid
from tests.helpers import Publisher, apoll
from tests.runtime.malformed import malformed

pytestmark = pytest.mark.services
MIN = 60_000
STEP = 300_000


def five_min(settings: Settings, tmp: Path | None = None, client: str = "") -> Settings:
    upd: dict[str, Any] = {"analytics": settings.analytics.model_copy(update={"tick_s": 300.0})}
    if tmp is not None:
        upd["data_dir"] = tmp
    if client:
        upd["mqtt"] = settings.mqtt.model_copy(update={"client_id": client})
    return settings.model_copy(update=upd)


def registry(settings: Settings, site: str, devices: Iterable[str]) -> tuple[Any, Any, Any]:
    engine, sessions = open_registry(settings)
    with sessions() as s:
        seed(s, sites=[{"id": site, "name": site}],
             devices=[{"site": site, "device": d, "kind": d.split("-")[0]} for d in devices])
    return engine, sessions, read_context(sessions)


def alerts(sessions: Any, site: str) -> list[tuple[str, str | None, str]]:
    with sessions() as s:
        rows = s.scalars(select(Alert).where(Alert.site == site)).all()
        return sorted((a.kind, a.device, a.message) for a in rows)


def tasks(sessions: Any, site: str) -> list[tuple[str, str | None, str]]:
    with sessions() as s:
        rows = s.scalars(select(Task).where(Task.site == site)).all()
        return sorted((t.kind, t.device, t.reason) for t in rows)


def soil(site: str, device: str, seq: int, ts: int, vwc: float, bat: float = 3.9
         ) -> tuple[str, bytes]:
    return (f"greeniot/v1/{site}/{device}/soil",
            encode(SoilReading(seq=seq, ts_ms=ts, vwc_pct=vwc, bat_v=bat)))


def now_step() -> int:
    return (int(time.time() * 1000) // STEP) * STEP


def fuzz_corpus(site: str, now_ms: int, draws: int = 3) -> list[tuple[str, bytes]]:
    """The ingest fuzz corpus (tests/fuzzcases.py, as benchmarks/fuzz_ingest.py uses it):
    every way of breaking a payload, on every up channel, ``draws`` times each."""
    out = []
    for ch in CHANNELS:
        for kind in KINDS:
            for i in range(draws):
                r = random.Random(f"{ch}-{kind}-{i}")
                payload, _reason = invalid(r, ch, now_ms, kind)
                out.append((f"greeniot/v1/{site}/junk-{ch}/{ch}", payload))
    return out


def test_malformed_payloads_never_stop_a_running_analytics_process(
        settings: Settings, site_id: str) -> None:
    """Every malformed payload of both corpora (the hand-made one of tests/runtime/malformed.py
    and the ingest fuzz corpus) goes into the running process over the broker; then a real
    fault (a sagging battery) must still be alerted, nothing failed and the loop never
    restarted."""
    s = five_min(settings)
    engine, sessions, ctx = registry(s, site_id, ["soil-p1"])
    bad = malformed(site_id) + fuzz_corpus(site_id, int(time.time() * 1000))
    assert len(bad) > len(CHANNELS) * len(KINDS) * 3

    async def scenario() -> dict[str, Any]:
        async with MaintenanceService(s, ctx, sessions, idle_s=1.0) as svc:
            pub = Publisher(s.mqtt.port)
            try:
                await asyncio.to_thread(pub.publish_many, bad)
                t0 = now_step() - 6 * STEP
                await asyncio.to_thread(pub.publish_many, [
                    soil(site_id, "soil-p1", i, t0 + i * STEP, 30.0 + 0.3 * (i % 3), 3.1)
                    for i in range(6)])
            finally:
                pub.close()
            await apoll(lambda: [a for a in alerts(sessions, site_id)
                                 if a[:2] == ("low_battery", "soil-p1")],
                        thread=True, timeout_s=30, what="low-battery alert after the junk")
            # the alert may come from the first readings while the rest are still queued
            await apoll(lambda: svc.liveness()["readings"] >= 6, timeout_s=30,
                        what="all six good readings taken in")
            # the junk's devices are not listed: their clocks are not what soil-p1's is
            # judged by (it was, and soil-p1 got a clock fault from 16 h old junk)
            assert not [a for a in alerts(sessions, site_id)
                        if a[:2] == ("clock_fault", "soil-p1")]
            # and their faults are a notice for the operator, not a crew's task
            await apoll(lambda: [a for a in alerts(sessions, site_id)
                                 if a[1] != "soil-p1" and "unregistered device" in a[2]],
                        thread=True, timeout_s=30, what="a notice of an unregistered device")
            assert {t[1] for t in tasks(sessions, site_id)} == {"soil-p1"}
            return svc.liveness()

    live = asyncio.run(scenario())
    engine.dispose()
    assert live["alive"] and live["restarts"] == 0
    # the six of the fault, and the good items of the fuzz corpus's half-good batches
    assert live["readings"] > 6
    assert live["failed"] == {}  # every bad one was a documented rejection, none an error


def test_the_loop_is_supervised_and_restarted_with_its_state(
        settings: Settings, site_id: str) -> None:
    s = five_min(settings)
    engine, sessions, ctx = registry(s, site_id, ["soil-p1"])

    async def scenario() -> dict[str, Any]:
        async with MaintenanceService(s, ctx, sessions, idle_s=1.0) as svc:
            real = svc.feed.due
            calls = {"n": 0}

            def flaky(wall_ms: int) -> Any:
                calls["n"] += 1
                if calls["n"] == 1:  # the first pass fails; what it held must survive
                    raise RuntimeError("injected failure in the processing loop")
                return real(wall_ms)

            svc.feed.due = flaky  # type: ignore[method-assign]
            pub = Publisher(s.mqtt.port)
            t0 = now_step() - 8 * STEP
            try:
                for i in range(8):  # one at a time: the loop fails on one of them
                    await asyncio.to_thread(pub.publish_many, [
                        soil(site_id, "soil-p1", i, t0 + i * STEP, 30.0 + 0.3 * (i % 3), 3.1)])
            finally:
                pub.close()
            await apoll(lambda: [a for a in alerts(sessions, site_id)
                                 if a[:2] == ("low_battery", "soil-p1")],
                        thread=True, timeout_s=30, what="low-battery alert after a restart")
            return svc.liveness()

    live = asyncio.run(scenario())
    engine.dispose()
    assert live["restarts"] == 1 and live["alive"]


def test_one_wrong_clock_misleads_nobody_and_is_named(settings: Settings, site_id: str) -> None:
    """Six good probes, one whose clock jumps +1 h, one reset to 2000-01-01, one really
    offline: the jump and the reset are clock faults, only the silent probe is offline."""
    s = five_min(settings)
    good = [f"soil-g{i}" for i in range(6)]
    devices = [*good, "soil-jump", "soil-reset", "soil-gone"]
    engine, sessions, ctx = registry(s, site_id, devices)
    t0 = now_step() - 48 * STEP
    msgs = []
    for k in range(48):
        ts = t0 + k * STEP
        for j, d in enumerate(devices):
            if d == "soil-gone" and k >= 24:
                continue
            stamp = ts + j * 1000
            if d == "soil-jump" and k >= 24:
                stamp += 3_600_000
            if d == "soil-reset" and k >= 24:
                stamp = TS_MIN_MS + (k - 24) * STEP + 10_000
            msgs.append(soil(site_id, d, k, stamp, 25.0 + 0.1 * ((k * 7 + j) % 5)))

    async def scenario() -> None:
        async with MaintenanceService(s, ctx, sessions, idle_s=1.0):
            pub = Publisher(s.mqtt.port)
            try:
                await asyncio.to_thread(pub.publish_many, msgs)
            finally:
                pub.close()
            await apoll(lambda: len({a[:2] for a in alerts(sessions, site_id)}) >= 3,
                        thread=True, timeout_s=30, what="three alarms")
            await asyncio.sleep(2.0)  # nothing else may follow

    asyncio.run(scenario())
    got = alerts(sessions, site_id)
    tks = tasks(sessions, site_id)
    engine.dispose()
    assert sorted({a[:2] for a in got}) == [("clock_fault", "soil-jump"),
                                             ("clock_fault", "soil-reset"),
                                             ("device_offline", "soil-gone")], got
    assert any("2000-01-01" in a[2] for a in got if a[1] == "soil-reset")
    assert sorted(t[1] for t in tks) == ["soil-gone", "soil-jump", "soil-reset"]


def test_each_fault_kind_is_its_own_alarm_and_one_task_gathers_them(
        settings: Settings, site_id: str) -> None:
    """A probe with a sagging battery that then reads impossible moisture: two alarms
    (low_battery, out_of_range), one device_check task whose reason names both."""
    s = five_min(settings)
    others = [f"soil-g{i}" for i in range(3)]
    engine, sessions, ctx = registry(s, site_id, ["soil-bad", *others])
    t0 = now_step() - 30 * STEP
    msgs = []
    for k in range(30):
        for j, d in enumerate(["soil-bad", *others]):
            vwc = 25.0 + 0.1 * ((k * 3 + j) % 7)
            bat = 3.9
            if d == "soil-bad" and k >= 5:
                bat = 3.15
            if d == "soil-bad" and k >= 15:
                vwc = 0.0  # the open-probe rail
            msgs.append(soil(site_id, d, k, t0 + k * STEP + j * 1000, vwc, bat))

    async def scenario() -> None:
        async with MaintenanceService(s, ctx, sessions, idle_s=1.0):
            pub = Publisher(s.mqtt.port)
            try:
                await asyncio.to_thread(pub.publish_many, msgs)
            finally:
                pub.close()
            await apoll(lambda: len(alerts(sessions, site_id)) >= 2, thread=True,
                        timeout_s=30, what="two alarms")

    asyncio.run(scenario())
    got = alerts(sessions, site_id)
    (task,) = tasks(sessions, site_id)
    engine.dispose()
    assert [a[:2] for a in got] == [("low_battery", "soil-bad"), ("out_of_range", "soil-bad")]
    assert task[:2] == ("device_check", "soil-bad")
    assert "low_battery" in task[2] and "out_of_range" in task[2]


async def settled(svc: MaintenanceService) -> None:
    """Wait until the process stops ticking (its actions of the last pass are done)."""
    last = -1
    while svc.ticks != last:
        last = svc.ticks
        await asyncio.sleep(0.5)


def publish_in_chunks(port: int, items: list[tuple[str, bytes]], chunk: int) -> None:
    pub = Publisher(port)
    try:
        for i in range(0, len(items), chunk):
            pub.publish_many(items[i:i + chunk])
            time.sleep(0.02)
    finally:
        pub.close()


def test_backlog_is_judged_exactly_as_live(settings: Settings, site_id: str,
                                           tmp_path: Path) -> None:
    """One randomized fleet with injected faults, played live through the running process and,
    to a second process, as a single backlog it drains on start: the same tasks and alerts."""
    span_s = 12 * 3600.0
    start = now_step() - int(span_s * 1000) - 4 * 3_600_000

    def stream(site: str) -> tuple[list[tuple[str, bytes]], list[str]]:
        sc = generate(5, site=site, start_ms=start, span_s=span_s, shutdown_at_end=True)
        out = [(f"greeniot/v1/{site}/{it.device}/"
                f"{'status' if isinstance(it.msg, Status) else it.device.split('-')[0]}",
                encode(it.msg)) for it in sc.items]
        devices = sorted({it.device for it in sc.items})
        return out, devices

    results: dict[str, tuple[list[Any], list[Any]]] = {}
    for mode in ("live", "backlog"):
        site = f"{site_id}-{mode[0]}"
        s = five_min(settings, tmp_path / mode, client=f"{settings.mqtt.client_id}-{mode}")
        items, devices = stream(site)
        engine, sessions, ctx = registry(s, site, devices)
        readings = sum(1 for t, _ in items if not t.endswith("/status"))

        async def play(s: Settings = s, items: list[tuple[str, bytes]] = items,
                       mode: str = mode, sessions: Any = sessions, ctx: Any = ctx,
                       readings: int = readings) -> None:
            if mode == "backlog":  # a session of its own on the broker, then away
                async with MaintenanceService(s, ctx, sessions, idle_s=1.0):
                    pass
                await asyncio.to_thread(publish_in_chunks, s.mqtt.port, items, 5000)
            async with MaintenanceService(s, ctx, sessions, idle_s=1.0) as svc:
                if mode == "live":
                    await asyncio.to_thread(publish_in_chunks, s.mqtt.port, items, 7)
                await apoll(lambda: svc.feed.stats.readings >= readings, timeout_s=60,
                            what=f"{mode}: all readings taken")
                await settled(svc)
                await svc.catch_up()  # the end of the data: judge the last steps
                assert svc.feed.pending() == 0

        asyncio.run(play())
        results[mode] = ([a[:1] + a[1:] for a in alerts(sessions, site)],
                         tasks(sessions, site))
        engine.dispose()
    (live_alerts, live_tasks), (back_alerts, back_tasks) = results["live"], results["backlog"]
    assert live_alerts and live_tasks
    assert {a[0] for a in live_alerts} >= {"device_offline", "low_battery", "sensor_stuck",
                                           "clock_fault", "out_of_range"}
    assert back_alerts == live_alerts
    assert back_tasks == live_tasks
    # healthy controls and the nodes that took a planned shutdown (with their next wake-up)
    # raise nothing, live or as a backlog
    controls = re.compile(r"(soil|tilt)-[hs]\d+")
    assert not [a for a in live_alerts if a[1] and controls.fullmatch(a[1])], live_alerts
