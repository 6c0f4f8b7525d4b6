"""The maintenance process wires analytics' typed events to the alarm lifecycle: from soil
readings on the real broker, a waterlogged zone raises an active alarm with its drain task,
and the same alarm is cleared automatically when the probes read below saturation again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from greeniot.config import Settings
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol import SoilReading, device_topic, encode
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.registry.models import Alert, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.transport.mqtt import MqttSession
from tests.helpers import apoll

T0 = 1_795_510_000_000
MIN = 60_000


def test_waterlog_alarm_is_raised_then_cleared_by_readings(settings: Settings, site_id: str,
                                                           tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    migrate(url)
    db = engine_from_url(url)
    sessions = session_factory(db)
    ctx = EstateContext(devices=(DeviceBinding(site_id, "soil-z1", "soil", zone="z1"),),
                        zones=(ZoneInfo(site_id, "z1", saturation_vwc_pct=45.0,
                                        waterlog_hours=2.0),))
    s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 900.0})})

    def alarms() -> list[tuple[str, str]]:
        with sessions() as session:
            return [(a.kind, a.state) for a in session.scalars(
                select(Alert).where(Alert.site == site_id, Alert.kind == "waterlog"))]

    def drain_tasks() -> int:
        with sessions() as session:
            return len(session.scalars(select(Task).where(Task.site == site_id,
                                                          Task.kind == "drain")).all())

    async def scenario() -> tuple[list[tuple[str, str]], int, list[tuple[str, str]]]:
        async with (MqttSession(s.mqtt, f"pub-{site_id}", clean_session=True) as pub,
                    MaintenanceService(s, ctx, sessions)):
            topic = device_topic(site_id, "soil-z1", "soil")
            seq = 0
            for k in range(4 * 4):  # 4 h saturated at 15 min
                await pub.send(topic, encode(SoilReading(seq=seq, ts_ms=T0 + k * 15 * MIN,
                                                         vwc_pct=49.0)))
                seq += 1
            raised = await apoll(alarms, timeout_s=20, interval_s=0.1, what="the waterlog alarm",
                                 thread=True)
            tasks = await asyncio.to_thread(drain_tasks)
            for k in range(16, 16 + 6 * 4):  # then 6 h drained
                await pub.send(topic, encode(SoilReading(seq=seq, ts_ms=T0 + k * 15 * MIN,
                                                         vwc_pct=30.0)))
                seq += 1
            cleared = await apoll(lambda: [a for a in alarms() if a[1] == "cleared"],
                                  timeout_s=20, interval_s=0.1, what="the cleared alarm",
                                  thread=True)
            return raised, tasks, cleared

    try:
        raised, tasks, cleared = asyncio.run(scenario())
    finally:
        db.dispose()
    assert raised == [("waterlog", "active")]
    assert tasks == 1
    assert cleared == [("waterlog", "cleared")]  # the same alarm, no second one
