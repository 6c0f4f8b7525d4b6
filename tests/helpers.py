"""Test helpers shared across folders: a paho publisher/observer and polling with deadlines."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

T = TypeVar("T")


def poll(fn: Callable[[], T], *, timeout_s: float = 20.0, interval_s: float = 0.05,
         what: str = "condition") -> T:
    """Call ``fn`` until it returns a truthy value; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T = fn()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last={last!r}")
        time.sleep(interval_s)
        last = fn()
    return last


async def apoll(fn: Callable[[], Awaitable[T]] | Callable[[], T], *, timeout_s: float = 20.0,
                interval_s: float = 0.05, what: str = "condition", thread: bool = False) -> T:
    """:func:`poll` inside an event loop: awaits ``fn()`` if it returns an awaitable, runs a
    blocking ``fn`` in a thread with ``thread=True``, and sleeps without blocking the loop."""

    async def once() -> T:
        if thread:
            return await asyncio.to_thread(fn)  # type: ignore[arg-type,return-value]
        got = fn()
        return await got if inspect.isawaitable(got) else got  # type: ignore[return-value]

    deadline = time.monotonic() + timeout_s
    last = await once()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last={last!r}")
        await asyncio.sleep(interval_s)
        last = await once()
    return last


class Observer:
    """A paho client that records every message on its filters (thread-safe list)."""

    def __init__(self, port: int, filters: list[str], client_id: str = "") -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=paho.MQTTv311)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(f, 1) for f in filters])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("observer could not subscribe")

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    def on(self, suffix: str) -> list[paho.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """Synchronous QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, port: int, client_id: str = "") -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=paho.MQTTv311)
        self.client.max_inflight_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish_many(self, items: list[tuple[str, bytes]], qos: int = 1,
                     timeout_s: float = 60.0) -> None:
        infos = [self.client.publish(t, p, qos=qos) for t, p in items]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish"

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
