"""The awaited publish (MqttSession.send) and the alert sink against the real Mosquitto."""

from __future__ import annotations

import asyncio
import json

import pytest

from greeniot.actions.sinks.mqtt import MqttAlertSink
from greeniot.config import MqttSettings
from greeniot.protocol import Alert
from greeniot.services import MosquittoProcess, free_port
from greeniot.transport.mqtt import MqttError, MqttSession
from tests.helpers import poll

NOW_MS = 1_795_510_737_944


def session(port: int, timeout_s: float = 10.0) -> MqttSession:
    return MqttSession(MqttSettings(port=port), "test-actions-pub", clean_session=True,
                       connect_timeout_s=timeout_s, publish_timeout_s=timeout_s)


def test_publish_returns_after_puback_and_the_message_arrives(mosquitto: MosquittoProcess,
                                                              observe, site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/#"])

    async def run() -> None:
        async with session(mosquitto.port) as pub:
            await asyncio.gather(*(pub.send(f"greeniot/v1/{site_id}/n{i}/cmd",
                                               str(i).encode(), 1) for i in range(1000)))

    asyncio.run(run())
    got = poll(lambda: len(obs.on("/cmd")) >= 1000 and obs.on("/cmd"), what="1000 messages")
    assert sorted(int(m.payload) for m in got) == list(range(1000))


def test_alert_sink_publishes_protocol_alert_json(mosquitto: MosquittoProcess, observe,
                                                  site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/alerts"])
    alert = Alert(id="a-1", ts_ms=NOW_MS, site=site_id, kind="storm", severity="critical",
                  message="storm", value=33.0)

    async def run() -> None:
        async with session(mosquitto.port) as pub:
            await MqttAlertSink(pub.send).send(alert)

    asyncio.run(run())
    (msg,) = poll(lambda: obs.on("/alerts"), what="the alert")
    topic, payload = msg.topic, msg.payload
    assert topic == f"greeniot/v1/{site_id}/alerts"
    assert Alert.model_validate(json.loads(payload)) == alert
    assert b"null" not in payload  # None fields left out


def test_no_broker_fails_with_the_address() -> None:
    port = free_port()

    async def run() -> None:
        async with session(port, timeout_s=0.5):
            pass

    with pytest.raises(MqttError, match=f"mqtt://127.0.0.1:{port}"):
        asyncio.run(run())
