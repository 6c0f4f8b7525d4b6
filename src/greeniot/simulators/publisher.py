"""One MQTT session for (part of) a simulated fleet: QoS 1, bounded in flight, never drops.

paho-mqtt 2.x (callback API v2), MQTT 3.1.1, persistent session under a stable client id,
driven by the asyncio loop itself (socket callbacks, as aiomqtt does) rather than paho's
network thread: no lock contention between two threads on every message, and writes of a burst
are coalesced. ``publish`` waits while ``max_inflight`` messages await their PUBACK, so memory
stays bounded and nothing is discarded: while the broker is away paho keeps the messages, the
session reconnects with capped backoff, and paho resends them (DUP) after the CONNACK.

A session carries one last will; the runner points it at the site's weather station status
(the station stands in for the site's gateway) and publishes every device's retained
``shutdown`` status itself on a clean stop. ``births`` are (re)published on every connect.
The TCP connect itself is a blocking call (bounded by paho's connect timeout), fine on a LAN.
"""

from __future__ import annotations

import asyncio
import logging
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
                 connect_timeout_s: float = 10.0, max_backoff_s: float = 4.0) -> None:
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight}")
        self.host, self.port, self.client_id = host, port, client_id
        self.max_inflight = max_inflight
        self.connect_timeout_s = connect_timeout_s
        self.max_backoff_s = max_backoff_s
        self._births = births
        self._subs = list(subscriptions)
        self._keepalive_s = keepalive_s
        self.inflight = 0  # sent, PUBACK not yet received
        self.sent = 0
        self.acked = 0
        self.connects = 0
        self.incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._sock: Any = None
        self._closing = False
        self._refused: str | None = None
        self._task: asyncio.Task[None] | None = None
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=clean_session, protocol=mqtt.MQTTv311)
        # paho scans its whole outbox on every PUBACK when it enforces a window itself (O(n²));
        # the window is ours (see publish), so paho is told not to limit.
        c.max_inflight_messages_set(0)
        c.max_queued_messages_set(0)
        if username is not None:
            c.username_pw_set(username, password)
        if will is not None:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_register_write
        c.on_socket_unregister_write = self._on_unregister_write
        self._client = c

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Publisher:
        loop = self._loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout_s
        while True:
            try:
                self._client.connect(self.host, self.port, keepalive=self._keepalive_s)
                break
            except OSError as err:
                if loop.time() > deadline:
                    raise PublisherError(f"cannot reach MQTT broker {self.host}:{self.port}: "
                                         f"{err}") from err
                await asyncio.sleep(0.2)
        self._task = loop.create_task(self._supervise(), name=f"mqtt-{self.client_id}")
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 0.5)):
                await self._connected.wait()
        except TimeoutError as err:
            await self._shutdown()
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
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        if self._sock is not None:
            self._client.disconnect()  # written by the writer callback, then the socket closes
            try:
                async with asyncio.timeout(2.0):
                    while self._sock is not None:
                        await asyncio.sleep(0.01)
            except TimeoutError:
                log.warning("MQTT session %r: DISCONNECT not flushed in time", self.client_id)
                self._client._sock_close()  # paho has no public hard close

    async def _supervise(self) -> None:
        """Keepalive while connected; reconnect with capped backoff while not."""
        backoff = 0.25
        while not self._closing:
            if self._sock is not None:
                self._client.loop_misc()
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(backoff)
            try:
                self._client.reconnect()
                backoff = 0.25
            except OSError as err:
                log.info("MQTT reconnect to %s:%s failed: %s", self.host, self.port, err)
                backoff = min(backoff * 2, self.max_backoff_s)

    # -- sending -------------------------------------------------------------------------------
    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Queue one QoS 1 message, first waiting until fewer than ``max_inflight`` are unacked."""
        if self.inflight >= self.max_inflight:
            await self._wait_for(lambda: self.inflight < self.max_inflight)
        self._send(topic, payload, retain)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait until every message sent has been acknowledged by the broker."""
        async with asyncio.timeout(timeout_s):
            await self._wait_for(lambda: self.inflight == 0)

    async def _wait_for(self, done: Callable[[], bool]) -> None:
        while not done():
            self._wake.clear()
            await self._wake.wait()

    def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        self.inflight += 1
        self.sent += 1
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self.inflight -= 1  # paho kept nothing: a bug or a full queue, not a silent loss
            self.sent -= 1
            raise PublisherError(f"paho refused to queue a message to {topic!r}: rc={info.rc}")

    # -- paho callbacks (all on the event loop's thread) ---------------------------------------
    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._sock = sock
        assert self._loop is not None
        self._loop.add_reader(sock, client.loop_read)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.remove_reader(sock)
        self._sock = None
        self._connected.clear()

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.add_writer(sock, client.loop_write)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._loop is not None
        self._loop.remove_writer(sock)

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
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: Any, properties: Any) -> None:
        if not self._closing:
            log.warning("MQTT session %r lost (%s); reconnecting, unacked messages are resent",
                        self.client_id, reason_code)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        self.inflight -= 1
        self.acked += 1
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.incoming.put_nowait((msg.topic, bytes(msg.payload)))
