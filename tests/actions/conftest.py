"""Fixtures for the actions tests: a paho subscriber that records what reaches the broker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from greeniot.services import MosquittoProcess


@dataclass
class Observer:
    """Messages seen on the subscribed filters, as (topic, payload) in arrival order."""

    client: paho.Client
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, topic_prefix: str = "") -> list[tuple[str, bytes]]:
        with self.lock:
            return [m for m in self.messages if m[0].startswith(topic_prefix)]

    def wait_for(self, count: int, topic_prefix: str = "", timeout_s: float = 10.0
                 ) -> list[tuple[str, bytes]]:
        """Poll until at least ``count`` messages on ``topic_prefix`` arrived, or fail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.seen(topic_prefix)
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"saw {len(self.seen(topic_prefix))} messages on "
                             f"{topic_prefix!r}, wanted {count}")


@pytest.fixture
def observe(mosquitto: MosquittoProcess) -> Iterator[Callable[[list[str]], Observer]]:
    """``observe(["greeniot/v1/site/#"])`` → an Observer subscribed (SUBACK received)."""
    clients: list[paho.Client] = []

    def start(filters: list[str]) -> Observer:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"obs-{uuid.uuid4().hex[:8]}")
        obs = Observer(client)
        subscribed = threading.Event()

        def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
            with obs.lock:
                obs.messages.append((msg.topic, msg.payload))

        def on_subscribe(*_args: object) -> None:
            subscribed.set()

        def on_connect(c: paho.Client, *_args: object) -> None:
            c.subscribe([(f, 1) for f in filters])

        client.on_message = on_message
        client.on_subscribe = on_subscribe
        client.on_connect = on_connect
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        clients.append(client)
        assert subscribed.wait(10), "observer was not subscribed in 10 s"
        return obs

    yield start
    for c in clients:
        c.disconnect()
        c.loop_stop()
