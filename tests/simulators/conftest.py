"""An MQTT observer on the real session broker: records what the simulator really published."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from greeniot.protocol import Rejection, decode
from greeniot.protocol.topics import UP_CHANNELS
from greeniot.services import MosquittoProcess
from tests.helpers import poll


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``check`` until true; fail the test naming ``what`` at the deadline."""
    poll(check, timeout_s=timeout_s, interval_s=0.01, what=what)


@dataclass(frozen=True, slots=True)
class Seen:
    topic: str
    device: str
    channel: str
    payload: bytes
    retain: bool
    received_ms: int
    messages: tuple[BaseModel, ...]
    rejections: tuple[Rejection, ...]


class Observer:
    """A paho subscriber on ``greeniot/v1/{site}/+/+`` (QoS 1) that decodes everything it gets."""

    def __init__(self, port: int, site: str, *, client_id: str | None = None,
                 clean_session: bool = True) -> None:
        self.site = site
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"obs-{uuid.uuid4().hex[:8]}",
                                  clean_session=clean_session, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self._subscribed.is_set, 10, "observer subscription")

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        client.subscribe(f"greeniot/v1/{self.site}/+/+", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if parts[-1] not in UP_CHANNELS:
            return  # our own cmd/config
        d = decode(msg.topic, msg.payload)
        seen = Seen(msg.topic, parts[3], parts[4], bytes(msg.payload), bool(msg.retain),
                    wall_ms(), tuple(d.messages), tuple(d.rejections))
        with self._lock:
            self._seen.append(seen)

    # -- views ---------------------------------------------------------------------------------
    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def messages(self, device: str | None = None, channel: str | None = None
                 ) -> list[BaseModel]:
        return [m for s in self.seen
                if device in (None, s.device) and channel in (None, s.channel)
                for m in s.messages]

    def by_device(self, channel: str) -> dict[str, list[BaseModel]]:
        """Decoded messages of ``channel`` grouped by the device in their topic."""
        out: dict[str, list[BaseModel]] = {}
        for s in self.seen:
            if s.channel == channel:
                out.setdefault(s.device, []).extend(s.messages)
        return out

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def observer(mosquitto: MosquittoProcess, site_id: str) -> Iterator[Observer]:
    obs = Observer(mosquitto.port, site_id)
    yield obs
    obs.close()
