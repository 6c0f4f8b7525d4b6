"""The maintenance process takes the urgent channels (``Channel.urgent``: tilt, flow) on an MQTT
session of their own, ahead of the routine ones, on the real Mosquitto."""

from __future__ import annotations

import asyncio
import time

import pytest

from greeniot.config import Settings
from greeniot.protocol import SoilReading, TiltReading, encode
from greeniot.protocol.channels import CHANNELS, ROUTINE_CHANNELS, URGENT_CHANNELS
from greeniot.protocol.topics import ingest_filters
from greeniot.registry.context import seed
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.transport.mqtt import Message, MqttSession
from tests.helpers import Publisher, apoll

pytestmark = pytest.mark.services


def test_the_channel_table_says_which_channels_are_urgent() -> None:
    assert set(URGENT_CHANNELS) == {"tilt", "flow"}
    assert set(URGENT_CHANNELS) | set(ROUTINE_CHANNELS) == {
        c.name for c in CHANNELS.values() if c.direction == "up"}
    assert not set(URGENT_CHANNELS) & set(ROUTINE_CHANNELS)


class Recording(MaintenanceService):
    """Notes the topic of every message it handles, in order."""

    handled: list[str]

    async def _one(self, m: Message) -> None:
        self.handled.append(m.topic)
        await super()._one(m)


def service(settings: Settings, site: str) -> tuple[Recording, object]:
    engine, sessions = open_registry(settings)
    with sessions() as s:
        seed(s, sites=[{"id": site, "name": site}],
             devices=[{"site": site, "device": "tilt-1", "kind": "tilt"}])
    svc = Recording(settings, read_context(sessions), sessions, idle_s=1.0)
    svc.handled = []
    return svc, engine


def test_a_tilt_reading_overtakes_a_backlog_of_soil_readings(
        settings: Settings, site_id: str) -> None:
    now = int(time.time() * 1000)
    soil = [(f"greeniot/v1/{site_id}-bg/soil-{i % 200}/soil",
             encode(SoilReading(seq=i, ts_ms=now - 3_600_000 + i, vwc_pct=30.0)))
            for i in range(20_000)]
    tilt_topic = f"greeniot/v1/{site_id}/tilt-1/tilt"
    svc, engine = service(settings, site_id)

    async def scenario() -> None:
        pub = Publisher(settings.mqtt.port)
        async with svc:
            await asyncio.to_thread(pub.publish_many, soil)  # queued at the broker first
            await asyncio.to_thread(pub.publish_many, [(tilt_topic, encode(TiltReading(
                seq=1, ts_ms=int(time.time() * 1000), pitch_deg=0.4, roll_deg=-0.2)))])
            await apoll(lambda: tilt_topic in svc.handled, timeout_s=60,
                        what="the tilt reading handled")
            soil_before = svc.handled.index(tilt_topic)
            await apoll(lambda: len(svc.handled) >= len(soil) + 1, timeout_s=120,
                        what="the whole soil backlog handled")
        pub.close()
        # published last, handled well before the backlog behind which it would have queued
        assert soil_before < 0.9 * len(soil), soil_before
        assert svc.handled.count(tilt_topic) == 1

    asyncio.run(scenario())
    engine.dispose()


def test_a_session_made_before_the_split_does_not_deliver_tilt_twice(
        settings: Settings, site_id: str) -> None:
    """An earlier version subscribed the routine session to every channel; the broker keeps
    that subscription in the persistent session, and it is removed at connect."""
    svc, engine = service(settings, site_id)
    tilt_topic = f"greeniot/v1/{site_id}/tilt-1/tilt"

    async def scenario() -> None:
        old = MqttSession(settings.mqtt, svc.mqtt.client_id, filters=ingest_filters())
        await old.connect()
        await old.close()  # the broker keeps its subscriptions (a persistent session)
        pub = Publisher(settings.mqtt.port)
        async with svc:
            pub.publish_many([(tilt_topic, encode(TiltReading(
                seq=s, ts_ms=int(time.time() * 1000) + s, pitch_deg=0.4, roll_deg=-0.2)))
                for s in (1, 2)])
            pub.publish_many([(f"greeniot/v1/{site_id}/soil-9/soil", encode(SoilReading(
                seq=1, ts_ms=int(time.time() * 1000), vwc_pct=30.0)))])
            await apoll(lambda: len(svc.handled) >= 3, timeout_s=30, what="three handled")
            # the soil reading, published after them, came on the routine session: any
            # tilt copy on that session would have come before it
            await apoll(lambda: any(t.endswith("/soil") for t in svc.handled), timeout_s=30,
                        what="the soil reading")
        pub.close()
        assert sorted(svc.handled) == sorted([tilt_topic, tilt_topic,
                                              f"greeniot/v1/{site_id}/soil-9/soil"])

    asyncio.run(scenario())
    engine.dispose()
