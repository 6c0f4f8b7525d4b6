"""MQTT out: an asyncio publisher over paho-mqtt 2.x, and the alert sink built on it.

The publisher's ``publish`` returns once the broker has acknowledged a QoS 1 message (PUBACK),
so a caller that records "sent" after awaiting it records a fact. paho runs its network loop in
its own thread (``loop_start``); acknowledgements cross into the event loop with
``call_soon_threadsafe``. A QoS 1 message published while the connection is down stays in
paho's queue and goes out after the reconnect; the wait is bounded by ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from greeniot.protocol import Alert, alerts_topic, encode

#: What executors take: ``await publish(topic, payload, qos)``.
Publish = Callable[[str, bytes, int], Awaitable[None]]

_ids = itertools.count(1)


class PublishError(RuntimeError):
    """A message was not acknowledged in time, or the client could not queue it."""


class MqttPublisher:
    """Async context manager: connect on enter, ``await publish(...)``, disconnect on exit.

    Parameters
    ----------
    host, port : str, int
        Broker address.
    client_id : str
        MQTT client id; a counter suffix keeps two publishers in one process apart.
    timeout_s : float
        How long ``publish`` and connecting wait for the broker [s].
    """

    def __init__(self, *, host: str, port: int, client_id: str = "greeniot-actions",
                 username: str | None = None, password: str | None = None,
                 keepalive_s: int = 30, timeout_s: float = 10.0,
                 logger: logging.Logger | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._host, self._port, self._keepalive_s = host, port, keepalive_s
        self._timeout_s = timeout_s
        self._log = logger or logging.getLogger(__name__)
        self._client = paho.Client(CallbackAPIVersion.VERSION2,
                                   client_id=f"{client_id}-{next(_ids)}",
                                   protocol=paho.MQTTv311, clean_session=True)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        # Bookkeeping of message ids shared with paho's network thread (see publish()).
        self._lock = threading.Lock()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._early: set[int] = set()  # acked before publish() registered its future
        self._ignore: set[int] = set()  # QoS 0 or given up: their on_publish is no ack
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected: asyncio.Event | None = None

    async def __aenter__(self) -> MqttPublisher:
        self._loop = asyncio.get_running_loop()
        self._connected = asyncio.Event()
        self._client.connect_async(self._host, self._port, keepalive=self._keepalive_s)
        self._client.loop_start()
        try:
            await asyncio.wait_for(self._connected.wait(), self._timeout_s)
        except TimeoutError as err:
            self._client.loop_stop()
            raise PublishError(
                f"no CONNACK from mqtt://{self._host}:{self._port} in {self._timeout_s} s"
            ) from err
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(PublishError("publisher closed before PUBACK"))

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish; for QoS 1 and 2 return only after the broker acknowledged it."""
        if self._loop is None:
            raise PublishError("publisher is not connected: use 'async with MqttPublisher(...)'")
        # paho calls on_publish while holding its own out-message mutex, and publish() takes
        # that mutex too: never hold our lock across a paho call, or the two threads deadlock.
        info = self._client.publish(topic, payload, qos=qos)
        ok_rc = (paho.MQTT_ERR_SUCCESS,) if qos == 0 else (paho.MQTT_ERR_SUCCESS,
                                                            paho.MQTT_ERR_NO_CONN)
        if info.rc not in ok_rc:
            raise PublishError(f"cannot publish to {topic!r}: {paho.error_string(info.rc)}")
        mid = info.mid
        fut: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            if mid in self._early:  # acknowledged before we got here
                self._early.discard(mid)
                return
            if qos == 0:
                self._ignore.add(mid)  # its on_publish, if still to come, is not an ack
                return
            self._waiting[mid] = fut
        try:
            await asyncio.wait_for(fut, self._timeout_s)
        except TimeoutError as err:
            raise PublishError(f"no PUBACK for {topic!r} in {self._timeout_s} s") from err
        finally:
            with self._lock:  # timed out or cancelled: a PUBACK after we gave up is no ack
                if self._waiting.pop(mid, None) is not None:
                    self._ignore.add(mid)

    # -- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        if reason.is_failure:
            self._log.warning("mqtt connect to %s:%s refused: %s", self._host, self._port,
                              reason)
            return
        if self._loop is not None and self._connected is not None:
            self._loop.call_soon_threadsafe(self._connected.set)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        with self._lock:
            fut = self._waiting.pop(mid, None)
            if fut is None:
                if mid in self._ignore:
                    self._ignore.discard(mid)
                else:
                    self._early.add(mid)  # publish() has not registered it yet
                return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class MqttAlertSink:
    """Publishes alerts as protocol ``Alert`` JSON on ``greeniot/v1/{site}/alerts``, QoS 1."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    async def send(self, alert: Alert) -> None:
        await self._publish(alerts_topic(alert.site), encode(alert), 1)
