"""A small MQTT 3.1.1 client for MicroPython: QoS 0/1, persistent session, last will, keepalive.

Why our own: the umqtt sources on PyPI cannot be pip-installed, and umqtt.simple blocks on the
socket. This client never blocks the caller for long: the socket is non-blocking, every wait is
a ``select.poll`` with a deadline, and ``poll(timeout_ms)`` is meant to be called from the node's
main loop (which must keep closing the valve on time whatever the network does).

QoS 1 PUBLISHes stay in ``inflight`` (packet id -> message) until their PUBACK arrives; they are
resent with the DUP flag after ``resend_ms`` on the same connection and on every reconnect
(MQTT 3.1.1 §4.4, clean session = 0). Incoming QoS 1 PUBLISHes are handed to ``on_message``
*before* our PUBACK goes out, so a handler that makes its effect durable first gets
at-least-once semantics.

Packet headers are built in preallocated buffers with ``struct.pack_into``; topics and payloads
are written straight from the caller's buffers (payload may be a list of parts, so a batch
``{"v":1,"batch":[...]}`` is never concatenated in RAM).
"""

import errno
import select
import socket
import struct
import time

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)
_DUP = const(0x08)
_MAX_PACKET = const(32768)  # larger incoming packets are refused (we only expect small cmds)

_EAGAIN = (errno.EAGAIN, errno.EINPROGRESS, errno.ETIMEDOUT)


class MQTTError(OSError):
    """Connection-level failure; the message names the broker or the reason code."""


def _pem_to_der(path):
    """The first certificate of a PEM file, as DER bytes."""
    import binascii

    with open(path) as f:
        text = f.read()
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----")
    if begin < 0 or end < 0:
        raise ValueError("no PEM certificate in %s" % path)
    body = text[begin + 27:end].replace("\n", "").replace("\r", "")
    return binascii.a2b_base64(body)


def encode_remaining_length(buf, offset, n):
    """Write the MQTT variable-length integer ``n`` at ``buf[offset]``; return the new offset."""
    if n < 0 or n > 268435455:
        raise ValueError("remaining length out of range")
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            byte |= 0x80
        buf[offset] = byte
        offset += 1
        if not n:
            return offset


def decode_remaining_length(buf, offset, end):
    """Decode a variable-length integer from ``buf[offset:end]``.

    Returns ``(value, header_end)`` or ``(-1, 0)`` when more bytes are needed.
    """
    value = 0
    shift = 0
    i = offset
    while i < end:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 21:
            raise MQTTError("malformed remaining length")
    return -1, 0


def _parts_len(payload):
    if isinstance(payload, (list, tuple)):
        n = 0
        for p in payload:
            n += len(p)
        return n
    return len(payload)


class MQTTClient:
    """One MQTT 3.1.1 session to one broker. Not thread-safe; drive it from one loop.

    Parameters
    ----------
    client_id : str
        Stable id (the device id): with ``clean=False`` the broker keeps our subscriptions and
        queues QoS 1 commands while we sleep or are offline.
    will : tuple or None
        ``(topic, payload, qos, retain)`` published by the broker if we vanish.
    on_message : callable
        ``on_message(topic: str, payload: bytes, retained: bool)``.
    """

    def __init__(self, client_id, host, port=1883, *, keepalive_s=30, clean=False, will=None,
                 user=None, password=None, on_message=None, resend_ms=10000, max_inflight=16,
                 write_timeout_ms=3000, tls_ca=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.keepalive_s = keepalive_s
        self.clean = clean
        self.will = will
        self.user = user
        self.password = password
        self.on_message = on_message
        self.resend_ms = resend_ms
        self.max_inflight = max_inflight
        self.write_timeout_ms = write_timeout_ms
        self.tls_ca = tls_ca  # path of the CA certificate (PEM): TLS with server verification
        self.session_present = False
        self.inflight = {}  # pid -> [topic, payload, retain, last_sent_ticks]
        self.sub_pending = {}  # pid -> topic
        self._sock = None
        self._poller = None
        self._pid = 0
        self._hdr = bytearray(8)  # fixed header + remaining length + 2 spare
        self._small = bytearray(4)  # PUBACK / PINGREQ / DISCONNECT
        self._rx = bytearray(512)
        self._rxn = 0
        self._last_tx = 0
        self._ping_sent = 0  # ticks when an unanswered PINGREQ went out; 0 = none
        self._connected = False
        self.stats_resent = 0

    # -- state ------------------------------------------------------------------------------
    @property
    def connected(self):
        return self._connected

    def acked(self, pid):
        """True once QoS 1 packet ``pid`` has its PUBACK (or ``pid`` was QoS 0)."""
        return pid not in self.inflight

    def can_publish(self):
        return self._connected and len(self.inflight) < self.max_inflight

    # -- connection -------------------------------------------------------------------------
    def connect(self, timeout_ms=2000):
        """Open TCP, send CONNECT, wait for CONNACK; resend what is still unacknowledged.

        Bounded by ``timeout_ms`` (DNS lookups excepted). Returns ``session_present``; raises
        MQTTError naming the broker on refusal or timeout.
        """
        self.close()
        self.sub_pending = {}  # a SUBSCRIBE lost with the old connection is never acked
        t0 = time.ticks_ms()
        try:
            addr = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0][-1]
            sock = socket.socket()
            sock.setblocking(False)
            self._sock = sock
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
            try:
                sock.connect(addr)
            except OSError as err:
                if err.args[0] not in _EAGAIN:
                    raise
            self._wait(select.POLLOUT, t0, timeout_ms)
            if self.tls_ca is not None:
                self._start_tls(sock)
            self._rxn = 0
            self._send_connect()
            while not self._connected:
                left = timeout_ms - time.ticks_diff(time.ticks_ms(), t0)
                if left <= 0:
                    raise MQTTError("no CONNACK from %s:%d" % (self.host, self.port))
                self._read(left)
        except OSError as err:
            self.close()
            if isinstance(err, MQTTError):
                raise
            raise MQTTError("cannot connect to %s:%d: %s" % (self.host, self.port, err)) from err
        self._ping_sent = 0
        for pid in self.inflight:
            self._send_publish(pid, self.inflight[pid], True)
        return self.session_present

    def _start_tls(self, sock):
        """Wrap the connected socket in TLS, verifying the broker against our CA (PEM file,
        passed to mbedTLS as DER)."""
        import ssl

        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=_pem_to_der(self.tls_ca))
            sock.setblocking(True)  # handshake in one go (bounded by the socket timeout)
            sock.settimeout(self.write_timeout_ms / 1000)
            tls = ctx.wrap_socket(sock, server_hostname=self.host)
            sock.setblocking(False)
        except (ValueError, OSError) as err:
            raise MQTTError("TLS with %s:%d failed: %s" % (self.host, self.port, err)) from err
        self._sock = tls
        self._poller = select.poll()
        self._poller.register(tls, select.POLLIN)

    def disconnect(self):
        """Clean DISCONNECT: the broker discards the will (we said goodbye ourselves)."""
        if self._connected:
            try:
                self._small[0] = _DISCONNECT
                self._small[1] = 0
                self._write(self._small, 2)
            except OSError:
                pass
        self.close()

    def close(self):
        """Drop the socket without DISCONNECT (the broker will publish our will)."""
        self._connected = False
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._poller = None

    # -- sending ----------------------------------------------------------------------------
    def _next_pid(self):
        while True:
            self._pid = self._pid % 65535 + 1
            if self._pid not in self.inflight and self._pid not in self.sub_pending:
                return self._pid

    def publish(self, topic, payload, qos=0, retain=False):
        """Send a PUBLISH. ``payload`` is bytes or a list of bytes parts.

        Returns the packet id for QoS 1 (watch it with ``acked``) or 0 for QoS 0. A QoS 1
        message is kept and resent until acknowledged, also across reconnects; once accepted
        here it is never dropped, even if the connection fails while sending it.
        """
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        if qos and len(self.inflight) >= self.max_inflight:
            raise MQTTError("too many messages in flight")
        if not self._connected:
            raise MQTTError("not connected")
        if isinstance(topic, str):
            topic = topic.encode()
        if qos == 0:
            self._send_publish(0, [topic, payload, retain, 0], False)
            return 0
        pid = self._next_pid()
        msg = [topic, payload, retain, 0]
        self.inflight[pid] = msg
        try:
            self._send_publish(pid, msg, False)
        except OSError:
            # Queued all the same: resent (DUP) on reconnect. The caller learns of the lost
            # connection from its next poll(), and can keep tracking ``pid`` meanwhile.
            self.close()
        return pid

    def _send_publish(self, pid, msg, dup):
        topic, payload, retain = msg[0], msg[1], msg[2]
        hdr = self._hdr
        hdr[0] = _PUBLISH | (0x02 if pid else 0) | (_DUP if dup else 0) | (1 if retain else 0)
        rl = 2 + len(topic) + (2 if pid else 0) + _parts_len(payload)
        n = encode_remaining_length(hdr, 1, rl)
        struct.pack_into("!H", hdr, n, len(topic))
        self._write(hdr, n + 2)
        self._write(topic)
        if pid:
            struct.pack_into("!H", hdr, 0, pid)
            self._write(hdr, 2)
        if isinstance(payload, (list, tuple)):
            for part in payload:
                self._write(part)
        else:
            self._write(payload)
        msg[3] = time.ticks_ms()
        if dup:
            self.stats_resent += 1

    def subscribe(self, topic, qos=1):
        """Send SUBSCRIBE; returns its packet id (pending in ``sub_pending`` until SUBACK)."""
        if isinstance(topic, str):
            topic = topic.encode()
        pid = self._next_pid()
        hdr = self._hdr
        hdr[0] = _SUBSCRIBE
        n = encode_remaining_length(hdr, 1, 2 + 2 + len(topic) + 1)
        struct.pack_into("!HH", hdr, n, pid, len(topic))
        self._write(hdr, n + 4)
        self._write(topic)
        self._small[0] = qos
        self._write(self._small, 1)
        self.sub_pending[pid] = topic
        return pid

    def _send_connect(self):
        cid = self.client_id.encode()
        flags = 0 if not self.clean else 0x02
        rl = 10 + 2 + len(cid)
        will = self.will
        if will:
            wt = will[0].encode() if isinstance(will[0], str) else will[0]
            rl += 2 + len(wt) + 2 + len(will[1])
            flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
        user = self.user.encode() if self.user else None
        pwd = self.password.encode() if self.password else None
        if user:
            rl += 2 + len(user)
            flags |= 0x80
            if pwd:
                rl += 2 + len(pwd)
                flags |= 0x40
        buf = bytearray(16)
        buf[0] = _CONNECT
        n = encode_remaining_length(buf, 1, rl)
        struct.pack_into("!H4sBBH", buf, n, 4, b"MQTT", 4, flags, self.keepalive_s)
        self._write(buf, n + 10)
        self._write_str(cid)
        if will:
            self._write_str(wt)
            self._write_str(will[1])
        if user:
            self._write_str(user)
            if pwd:
                self._write_str(pwd)

    def _write_str(self, s):
        struct.pack_into("!H", self._small, 0, len(s))
        self._write(self._small, 2)
        self._write(s)

    def _write(self, buf, n=-1):
        """Write all of ``buf[:n]``, waiting for POLLOUT at most ``write_timeout_ms``."""
        sock = self._sock
        if sock is None:
            raise MQTTError("not connected")
        mv = memoryview(buf)
        if n >= 0:
            mv = mv[:n]
        off = 0
        t0 = time.ticks_ms()
        while off < len(mv):
            try:
                w = sock.write(mv[off:])
            except OSError as err:
                if err.args[0] not in _EAGAIN:
                    self.close()
                    raise
                w = None
            if w:
                off += w
            else:
                self._wait(select.POLLOUT, t0, self.write_timeout_ms)
        self._last_tx = time.ticks_ms()

    def _wait(self, event, t0, timeout_ms):
        """Poll the socket for ``event`` until the deadline ``t0 + timeout_ms``."""
        p = select.poll()
        p.register(self._sock, event)
        while True:
            left = timeout_ms - time.ticks_diff(time.ticks_ms(), t0)
            if left <= 0:
                self.close()
                raise MQTTError("timed out talking to %s:%d" % (self.host, self.port))
            for _, ev in p.poll(left):
                if ev & (select.POLLERR | select.POLLHUP):
                    self.close()
                    raise MQTTError("connection to %s:%d failed" % (self.host, self.port))
                if ev & event:
                    return

    # -- receiving and housekeeping ---------------------------------------------------------
    def poll(self, timeout_ms=0):
        """Process what the broker sent (waiting at most ``timeout_ms``), ping, resend.

        Raises MQTTError when the connection is lost; unacknowledged messages are kept.
        """
        if not self._connected:
            raise MQTTError("not connected")
        self._read(timeout_ms)
        now = time.ticks_ms()
        ka_ms = self.keepalive_s * 1000
        if self._ping_sent and time.ticks_diff(now, self._ping_sent) > ka_ms // 2 + 1000:
            self.close()
            raise MQTTError("no PINGRESP from %s:%d" % (self.host, self.port))
        if not self._ping_sent and time.ticks_diff(now, self._last_tx) >= ka_ms // 2:
            self._small[0] = _PINGREQ
            self._small[1] = 0
            self._write(self._small, 2)
            self._ping_sent = now or 1
        for pid in self.inflight:
            msg = self.inflight[pid]
            if time.ticks_diff(now, msg[3]) >= self.resend_ms:
                self._send_publish(pid, msg, True)

    def _read(self, timeout_ms):
        if self._sock is None:
            raise MQTTError("not connected")
        ready = self._poller.poll(max(0, timeout_ms))
        if not ready:
            return
        for _, ev in ready:
            if ev & (select.POLLERR | select.POLLHUP) and not ev & select.POLLIN:
                self.close()
                raise MQTTError("connection to %s:%d lost" % (self.host, self.port))
        if self._rxn == len(self._rx):
            self._grow(len(self._rx) * 2)
        try:
            n = self._sock.readinto(memoryview(self._rx)[self._rxn:])
        except OSError as err:
            if err.args[0] in _EAGAIN:
                return
            self.close()
            raise MQTTError("connection to %s:%d lost: %s" % (self.host, self.port, err)) from err
        if n is None:
            return
        if n == 0:
            self.close()
            raise MQTTError("broker %s:%d closed the connection" % (self.host, self.port))
        self._rxn += n
        self._parse()

    def _grow(self, size):
        if size > _MAX_PACKET:
            self.close()
            raise MQTTError("packet larger than %d bytes" % _MAX_PACKET)
        rx = bytearray(size)
        rx[: self._rxn] = memoryview(self._rx)[: self._rxn]
        self._rx = rx

    def _parse(self):
        while self._rxn >= 2:
            rl, start = decode_remaining_length(self._rx, 1, self._rxn)
            if rl < 0:
                return
            end = start + rl
            if end > len(self._rx):
                self._grow(end)
                return
            if end > self._rxn:
                return
            self._handle(self._rx[0], memoryview(self._rx)[start:end])
            rest = self._rxn - end
            if rest:
                self._rx[:rest] = self._rx[end:self._rxn]
            self._rxn = rest

    def _handle(self, first, body):
        kind = first & 0xF0
        self._ping_sent = 0  # any packet from the broker proves the link is alive
        if kind == _PUBACK:
            self.inflight.pop(struct.unpack_from("!H", body, 0)[0], None)
        elif kind == _PUBLISH:
            self._handle_publish(first, body)
        elif kind == _SUBACK:
            pid = struct.unpack_from("!H", body, 0)[0]
            topic = self.sub_pending.pop(pid, None)
            if body[2] == 0x80:
                raise MQTTError("broker refused subscription to %s" % topic)
        elif kind == _CONNACK:
            rc = body[1]
            if rc:
                self.close()
                raise MQTTError("broker %s:%d refused CONNECT, return code %d"
                                % (self.host, self.port, rc))
            self.session_present = bool(body[0] & 1)
            self._connected = True
        # PINGRESP needs nothing beyond resetting _ping_sent.

    def _handle_publish(self, first, body):
        qos = (first >> 1) & 0x03
        tlen = struct.unpack_from("!H", body, 0)[0]
        topic = bytes(body[2:2 + tlen]).decode()
        off = 2 + tlen
        pid = 0
        if qos:
            pid = struct.unpack_from("!H", body, off)[0]
            off += 2
        payload = bytes(body[off:])
        if self.on_message is not None:
            self.on_message(topic, payload, bool(first & 1))
        if qos == 1:
            small = self._small
            small[0] = _PUBACK
            small[1] = 2
            struct.pack_into("!H", small, 2, pid)
            self._write(small, 4)
