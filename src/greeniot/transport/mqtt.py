"""paho-mqtt bridged to asyncio: one network thread per session, awaitable publishes.

paho rather than aiomqtt: paho 2.x can acknowledge QoS 1 messages manually (``manual_ack``), so
ingest acks only what is durable, and it drains a backlog about 3x faster here (docs/domain.md).

Two costs of paho's per-packet I/O are taken off the hot path (docs/architecture.md, "The
ingest hot path"): paho reads every packet with three ``recv`` calls (type, length, body) and
a ``select`` before each, so the socket is wrapped in a 64 KiB read buffer that paho sees as an
SSL-style socket with ``pending()`` bytes, and ``loop_read`` goes on while the buffer holds
whole packets; and ``ack_many`` queues the PUBACKs of a batch as one write instead of a
packet, a wake-up and a ``send`` each.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

from greeniot.clock import wall_ms
from greeniot.config import MqttSettings

log = logging.getLogger(__name__)


class MqttError(RuntimeError):
    """Connection or publish failure; the message names the broker."""


class Message(NamedTuple):
    """One received message (a tuple: made once per message on paho's thread, cheaply)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    received_ms: int
    #: the payload's full size when ``payload`` holds only its first bytes (a session's
    #: ``max_payload``: a consumer that refuses such payloads on their size needs no more)
    truncated_from: int | None = None


#: How much the read buffer takes from the socket at once [bytes].
READ_CHUNK = 65536


class _BufferedSocket:
    """The broker socket, read in chunks: ``recv(n)`` serves from a buffer, ``pending()``
    tells paho's loop that buffered bytes wait (as it asks an SSL socket), everything else
    passes through. Used by paho's network thread only."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            if n >= READ_CHUNK:  # a large payload: straight into its own buffer
                return bytes(self._sock.recv(n))
            buf = self._buf = self._sock.recv(READ_CHUNK)  # BlockingIOError passes up
            pos = 0
            if not buf:
                return b""
        end = pos + n
        self._pos = min(end, len(buf))
        return buf[pos:end]

    def pending(self) -> int:
        return len(self._buf) - self._pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Received(paho.MQTTMessage):
    """paho's message, with the full payload size when only a prefix was kept."""

    __slots__ = ("truncated_from",)
    truncated_from: int | None


class _Client(paho.Client):
    """paho with the buffered socket and a ``loop_read`` that empties the buffer."""

    #: payloads above this many bytes are kept as their first ``keep_bytes`` (None: whole)
    max_payload: int | None = None
    keep_bytes = 0

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if isinstance(sock, socket.socket):  # plain TCP (TLS and websockets keep their own)
            return _BufferedSocket(sock)
        return sock

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        # greeniot adds no per-filter callbacks (message_callback_add), so skip paho's walk
        # of its filter tree for every message and call on_message straight away.
        on_message = self.on_message
        if on_message is None:
            return
        try:
            with self._in_callback_mutex:
                on_message(self, self._userdata, message)
        except Exception:
            log.exception("mqtt on_message failed topic=%r", message.topic)
            if not self.suppress_exceptions:
                raise

    def _handle_publish(self) -> MQTTErrorCode:
        # paho's decoder copies the payload three times (a struct.unpack of the rest of the
        # packet per field), which a 256 KB payload refused on its length pays in full: for
        # 3.1.1 QoS 0/1 slice it from the packet once. QoS 2 and MQTT 5 keep paho's path.
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if qos == 2 or self._protocol == paho.MQTTv5:
            return super()._handle_publish()
        with memoryview(self._in_packet["packet"]) as packet:
            pos = 2 + int.from_bytes(packet[:2], "big")
            topic = bytes(packet[2:pos])
            mid = 0
            if qos:
                mid = int.from_bytes(packet[pos:pos + 2], "big")
                pos += 2
            if not topic or len(packet) < pos:
                raise MalformedPacket("PUBLISH shorter than its topic and packet id")
            size = len(packet) - pos
            cut = self.max_payload is not None and size > self.max_payload
            payload = bytes(packet[pos:pos + self.keep_bytes] if cut else packet[pos:])
        message = _Received(mid=mid, topic=topic)
        message.truncated_from = size if cut else None
        message.dup = bool(header & 0x08)
        message.qos = qos
        message.retain = bool(header & 0x01)
        message.payload = payload
        message.timestamp = paho.time_func()
        self._handle_on_message(message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == paho.MQTT_ERR_SUCCESS:
            sock = self._sock
            if not isinstance(sock, _BufferedSocket) or not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc


_PUBACK = bytes((paho.PUBACK, 2))


@dataclass(slots=True)
class _Group:
    """Publishes awaited together: one future, resolved by the last PUBACK."""

    fut: asyncio.Future[None]
    left: int


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttSession:
    """``async with MqttSession(settings, "greeniot-ingest", filters=[...]) as s: ...``

    Received messages collect in ``inbox`` (a deque) and ``wait_inbox()`` wakes on arrival.
    With ``manual_ack=True`` the caller must ``ack(msg)`` every QoS 1 message once it is safe.

    The inbox is bounded (``inbox_max`` messages, ``inbox_max_bytes`` of payload): when it is
    full, paho's network thread waits for the consumer to drain it, so the socket is not read
    and the broker holds the rest (a persistent session queues them) — back-pressure instead
    of unbounded memory.
    """

    def __init__(self, settings: MqttSettings, client_id: str, *,
                 filters: Sequence[str] = (), qos: int = 1, clean_session: bool = False,
                 manual_ack: bool = False, will: Will | None = None,
                 connect_timeout_s: float = 15.0, publish_timeout_s: float = 10.0,
                 inbox_max: int = 50_000, inbox_max_bytes: int = 8 * 1024 * 1024,
                 max_payload: int | None = None, keep_bytes: int = 1024) -> None:
        if not client_id:
            raise ValueError("client_id is required for a persistent session")
        self.settings = settings
        self.client_id = client_id
        self.filters = list(filters)
        self.qos = qos
        self.connect_timeout_s = connect_timeout_s
        self.publish_timeout_s = publish_timeout_s
        if inbox_max < 1:
            raise ValueError(f"inbox_max must be >= 1, got {inbox_max}")
        self.inbox: collections.deque[Message] = collections.deque()
        self.inbox_max = inbox_max
        self.inbox_max_bytes = inbox_max_bytes
        # Payload bytes put into / taken from the inbox: each written by one thread only.
        self._bytes_in = 0
        self._bytes_out = 0
        self._room = threading.Event()  # set while the inbox has room
        self._room.set()
        self._closing = False
        self._client = _Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
            protocol=paho.MQTTv311, manual_ack=manual_ack,
        )
        # Over max_payload, only keep_bytes of a payload are kept (MQTT 3.1.1, QoS 0/1): a
        # consumer refusing it on its size then holds a prefix, not up to 256 MB, per message.
        self._client.max_payload = max_payload
        self._client.keep_bytes = keep_bytes
        # No QoS 1 window of paho's own toward the broker: when it enforces one it scans its
        # whole outbox on every PUBACK (O(n²)), which made a batch of 5000 dead letters take
        # seconds. Mosquitto takes any number in flight from a client; memory is bounded by
        # the callers (ingest publishes at most one dead letter per message of a batch).
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(1, 5)
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        if will is not None:
            self._client.will_set(will.topic, will.payload, will.qos, will.retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._sub_mid: int | None = None
        self._flowing = False  # a message came on this connection (network thread only)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = asyncio.Event()
        self._arrived = asyncio.Event()
        self._plock = threading.Lock()
        # mid → what waits for its PUBACK: a future, a group, or None (nobody waits)
        self._pending: dict[int, asyncio.Future[None] | _Group | None] = {}
        self._early: set[int] = set()
        #: PUBACKs somebody awaits (under _plock). While there are any, a full inbox does not
        #: stop the network thread: the PUBACKs come on the same socket behind the messages,
        #: and the consumer may be waiting for them before it drains (ingest's dead letters).
        self._awaited = 0
        self.connects = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> MqttSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout_s: float | None = None) -> None:
        timeout_s = self.connect_timeout_s if timeout_s is None else timeout_s
        self._loop = asyncio.get_running_loop()
        s = self.settings
        self._client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        self._client.loop_start()
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError as err:
            self._client.loop_stop()
            raise MqttError(f"no MQTT connection to mqtt://{s.host}:{s.port} within "
                            f"{timeout_s:g} s") from err

    async def close(self) -> None:
        self._closing = True
        self._room.set()  # a network thread waiting for room must not block the stop
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        async with asyncio.timeout(timeout_s):
            await self._connected.wait()

    # -- paho callbacks (network thread) -------------------------------------------------------
    def _threadsafe(self, fn: object, *args: object) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)  # type: ignore[arg-type]

    def _on_connect(self, client: paho.Client, _u: object, _f: object, rc: object, _p: object
                    ) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("mqtt connect refused client=%s reason=%s", self.client_id, rc)
            return
        self.connects += 1
        self._flowing = False
        if not self.filters:
            self._threadsafe(self._connected.set)
            return
        # Ready only once the broker confirmed the subscriptions (SUBACK): before that, a
        # message published for us could find no subscription in our session and be lost.
        _rc, mid = client.subscribe([(flt, self.qos) for flt in self.filters])
        self._sub_mid = mid

    def _on_subscribe(self, _c: object, _u: object, mid: int, reason_codes: list[Any],
                      _p: object) -> None:
        if mid != self._sub_mid:
            return
        refused = [f"{flt}: {rc}" for flt, rc in zip(self.filters, reason_codes, strict=False)
                   if getattr(rc, "is_failure", False)]
        if refused:
            log.error("mqtt subscriptions refused client=%s %s", self.client_id,
                      "; ".join(refused))
        self._threadsafe(self._connected.set)

    def _on_disconnect(self, _c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        if self._connected.is_set():
            log.info("mqtt disconnected client=%s reason=%s", self.client_id, rc)
        self._threadsafe(self._connected.clear)

    def _full(self) -> bool:
        return (len(self.inbox) >= self.inbox_max
                or self._bytes_in - self._bytes_out >= self.inbox_max_bytes)

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        if not self._flowing:
            # A persistent session's backlog arrives before our SUBACK (queued behind it on
            # the socket): the session's subscriptions exist, since the broker delivers for
            # them. Ready now, so the consumer drains the backlog while it streams in, rather
            # than after reading up to the whole inbox (or waiting forever once it is full).
            self._flowing = True
            if not self._connected.is_set():
                self._threadsafe(self._connected.set)
        while self._full() and not self._closing and not self._awaited:
            self._room.clear()
            if not self._full() or self._awaited:
                break
            self._room.wait(1.0)  # back-pressure: stop reading the socket until drained
        payload = msg.payload if type(msg.payload) is bytes else bytes(msg.payload)
        self._bytes_in += len(payload)
        self.inbox.append(Message(msg.topic, payload, msg.mid, msg.qos, bool(msg.retain),
                                  wall_ms(), getattr(msg, "truncated_from", None)))
        if not self._arrived.is_set():
            self._threadsafe(self._arrived.set)

    def _on_publish(self, _c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        with self._plock:
            if mid not in self._pending:
                self._early.add(mid)  # PUBACK before publish() registered its waiter
                return
            waiter = self._pending.pop(mid)
            if waiter is None:
                return
            self._awaited -= 1
            if isinstance(waiter, _Group):
                waiter.left -= 1
                if waiter.left:
                    return
                waiter = waiter.fut
        self._threadsafe(_resolve, waiter)

    # -- use ------------------------------------------------------------------------------------
    async def wait_inbox(self, timeout_s: float) -> None:
        """Return when the inbox has messages, or after ``timeout_s``."""
        if self.inbox:
            return
        self._arrived.clear()
        if self.inbox:
            return
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races
        # its timeout, and the consumer loops calling this would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._arrived.wait()

    def holds(self, items: int, payload_bytes: int) -> bool:
        """The inbox holds ``items`` messages or ``payload_bytes`` of payload (a full batch),
        or is full (the network thread waits for room)."""
        return (len(self.inbox) >= items or self._bytes_in - self._bytes_out >= payload_bytes
                or self._full())

    def drain(self, max_items: int, max_bytes: int | None = None,
              oversize: int | None = None) -> list[Message]:
        """Up to ``max_items`` messages, and (with ``max_bytes``) no more payload bytes than
        that, but always at least one if any is there. Payloads above ``oversize`` bytes do
        not count toward ``max_bytes`` (the consumer refuses them on their length alone)."""
        out: list[Message] = []
        pop = self.inbox.popleft
        taken = counted = 0
        budget = max_bytes if max_bytes is not None else 1 << 62
        big = oversize if oversize is not None else 1 << 62
        try:
            for _ in range(max_items):
                m = pop()
                out.append(m)
                n = len(m.payload)
                taken += n
                if n <= big:
                    counted += n
                    if counted >= budget:
                        break
        except IndexError:
            pass
        self._bytes_out += taken
        if not self._full():
            self._room.set()
        return out

    def ack(self, msg: Message) -> None:
        if msg.qos > 0:
            self._client.ack(msg.mid, msg.qos)

    def ack_many(self, msgs: Sequence[Message]) -> None:
        """Acknowledge QoS 1 messages with one queued write of their PUBACKs (MQTT 3.1.1:
        four bytes each, in any order), not one packet, wake-up and ``send`` each."""
        blob = b"".join([_PUBACK + m.mid.to_bytes(2, "big") for m in msgs if m.qos == 1])
        if any(m.qos == 2 for m in msgs):  # never sent to us (we subscribe QoS <= 1)
            for m in msgs:
                if m.qos == 2:
                    self._client.ack(m.mid, 2)
        if blob:
            # paho's own ack() queues each PUBACK the same way; a disconnected client drops
            # them as it would drop those (unacked messages are redelivered on reconnect).
            self._client._packet_queue(paho.PUBACK, blob, 0, 0)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
                ) -> asyncio.Future[None]:
        """Queue a publish; the future resolves on PUBACK (QoS 1) or once sent (QoS 0).

        paho keeps unacknowledged QoS 1 messages and resends them after a reconnect, so the
        future survives a broker restart.
        """
        loop = asyncio.get_running_loop()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {topic!r} failed: {paho.error_string(info.rc)}")
        fut: asyncio.Future[None] = loop.create_future()
        with self._plock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                fut.set_result(None)
            else:
                self._pending[info.mid] = fut
                self._awaited += 1
                self._room.set()  # a network thread held by a full inbox reads on
        return fut

    def _queue(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> int:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise MqttError(f"publish to {topic!r} failed: {paho.error_string(info.rc)}")
        return info.mid

    def publish_many(self, items: Sequence[tuple[str, bytes]], qos: int = 1
                     ) -> asyncio.Future[None]:
        """Queue several publishes; one future resolves when the broker acked them all.

        Cheaper than a future each: one wake-up of the event loop per group, not per PUBACK.
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        mids = [self._queue(t, p, qos) for t, p in items]
        if qos == 0:
            fut.set_result(None)
            return fut
        group = _Group(fut, len(mids))
        with self._plock:
            for mid in mids:
                if mid in self._early:
                    self._early.discard(mid)
                    group.left -= 1
                else:
                    self._pending[mid] = group
                    self._awaited += 1
            if group.left:
                self._room.set()  # a network thread held by a full inbox reads on
            else:
                fut.set_result(None)
        return fut

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a publish nobody waits for (paho still resends it until PUBACK)."""
        mid = self._queue(topic, payload, qos)
        if qos == 0:
            return
        with self._plock:
            if mid in self._early:
                self._early.discard(mid)
            else:
                self._pending[mid] = None

    async def send(self, topic: str, payload: bytes, qos: int = 1, *,
                   timeout_s: float | None = None, retain: bool = False) -> None:
        """Publish and wait for the broker's PUBACK (QoS 1): MqttError naming the topic if
        none comes within ``timeout_s``. The shape executors take as ``publish``."""
        timeout_s = self.publish_timeout_s if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                await self.publish(topic, payload, qos, retain)
        except TimeoutError as err:
            raise MqttError(f"no PUBACK for {topic!r} from mqtt://{self.settings.host}:"
                            f"{self.settings.port} within {timeout_s:g} s") from err


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
