"""One MQTT session for (part of) a simulated fleet: QoS 1, bounded in flight, never drops.

paho-mqtt 2.x (callback API v2), MQTT 3.1.1, persistent session under a stable client id, its
network loop in paho's own thread. ``publish`` waits while ``max_inflight`` messages await their
PUBACK, so memory stays bounded and nothing is ever discarded: while the broker is away paho
keeps the messages and resends them (DUP) after reconnecting; the sender simply waits.

A session carries one last will; the runner points it at the site's weather station status
(the station stands in for the site's gateway) and publishes every device's retained
``offline`` status itself on a clean shutdown. ``births`` are (re)published on every connect.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

Births = Callable[[], Iterable[tuple[str, bytes, bool]]]


class PublisherError(RuntimeError):
    """The broker could not be reached or refused the session; the message names it."""


class Publisher:
    """Async facade over one paho client. Use as ``async with Publisher(...) as pub``.

    Parameters
    ----------
    host, port : broker address.
    client_id : stable id of the persistent session.
    will : (topic, payload) published retained by the broker if the session dies.
    births : called on every connect; yields (topic, payload, retain) to publish first.
    subscriptions : topic filters (QoS 1) received into :attr:`incoming`.
    max_inflight : messages sent but not yet acknowledged before ``publish`` waits.
    """

    def __init__(self, *, host: str, port: int, client_id: str,
                 will: tuple[str, bytes] | None = None, births: Births | None = None,
                 subscriptions: Iterable[str] = (), max_inflight: int = 1000,
                 keepalive_s: int = 30, clean_session: bool = False,
                 username: str | None = None, password: str | None = None,
                 connect_timeout_s: float = 10.0) -> None:
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight}")
        self.host, self.port, self.client_id = host, port, client_id
        self.max_inflight = max_inflight
        self.connect_timeout_s = connect_timeout_s
        self._births = births
        self._subs = list(subscriptions)
        self._lock = threading.Lock()
        self._inflight = 0
        self.sent = 0
        self.acked = 0
        self.connects = 0
        self.incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._refused: str | None = None
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=clean_session, protocol=mqtt.MQTTv311)
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(min_delay=1, max_delay=4)
        if username is not None:
            c.username_pw_set(username, password)
        if will is not None:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self._keepalive_s = keepalive_s
        self._client = c

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Publisher:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.host, self.port, keepalive=self._keepalive_s)
        self._client.loop_start()
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)
        except TimeoutError as err:
            self._client.loop_stop()
            why = f": {self._refused}" if self._refused else ""
            raise PublisherError(f"no MQTT session with {self.host}:{self.port} as "
                                 f"{self.client_id!r} within {self.connect_timeout_s:.0f} s{why}"
                                 ) from err
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                await self.drain()
        finally:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)

    # -- sending -------------------------------------------------------------------------------
    @property
    def inflight(self) -> int:
        with self._lock:
            return self._inflight

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Queue one QoS 1 message, first waiting until fewer than ``max_inflight`` are unacked."""
        while self.inflight >= self.max_inflight:
            self._wake.clear()
            if self.inflight < self.max_inflight:
                break
            await self._wake.wait()
        self._send(topic, payload, retain)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait until every message sent has been acknowledged by the broker."""
        async with asyncio.timeout(timeout_s):
            while self.inflight > 0:
                self._wake.clear()
                if self.inflight == 0:
                    break
                await self._wake.wait()

    def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        with self._lock:
            self._inflight += 1
            self.sent += 1
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            with self._lock:  # paho kept nothing: this is a bug or a full queue, not a loss
                self._inflight -= 1
                self.sent -= 1
            raise PublisherError(f"paho refused to queue a message to {topic!r}: rc={info.rc}")

    # -- paho callbacks (network thread) ------------------------------------------------------
    def _notify(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            log.warning("MQTT connect to %s:%s refused: %s", self.host, self.port, reason_code)
            return
        self.connects += 1
        if self.connects > 1:
            log.info("MQTT session %r reconnected", self.client_id)
        for sub in self._subs:
            client.subscribe(sub, qos=1)
        if self._births is not None:
            for topic, payload, retain in self._births():
                self._send(topic, payload, retain)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._connected.set)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        if reason_code != 0:
            log.warning("MQTT session %r lost (%s); paho reconnects and resends",
                        self.client_id, reason_code)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        with self._lock:
            self._inflight -= 1
            self.acked += 1
        self._notify()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.incoming.put_nowait,
                                            (msg.topic, bytes(msg.payload)))
