"""MQTT 3.1.1 packet encoding and parsing, byte for byte (spec §2.2.3, §3.1, §3.3, §3.8)."""

import io

from check import eq, raises

from lib.mqtt import MQTTClient, MQTTError, decode_remaining_length, encode_remaining_length


class _Wire(io.BytesIO):
    """Captures what the client writes (the parser is fed directly; no broker involved)."""

    def close(self):
        pass


def _client(**kw):
    c = MQTTClient("dev-1", "127.0.0.1", 1883, **kw)
    c._sock = _Wire()
    return c


def _feed(c, data):
    if c._rxn + len(data) > len(c._rx):
        c._grow(c._rxn + len(data))
    c._rx[c._rxn:c._rxn + len(data)] = data
    c._rxn += len(data)
    c._parse()


def _sent(c):
    return c._sock.getvalue()


def test_remaining_length_vectors(tmp):
    # The table of MQTT 3.1.1 §2.2.3: boundaries of 1..4 byte encodings.
    vectors = [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16383, b"\xff\x7f"),
               (16384, b"\x80\x80\x01"), (2097151, b"\xff\xff\x7f"),
               (2097152, b"\x80\x80\x80\x01"), (268435455, b"\xff\xff\xff\x7f")]
    buf = bytearray(5)
    for n, enc in vectors:
        end = encode_remaining_length(buf, 0, n)
        eq(bytes(buf[:end]), enc, "encode %d" % n)
        eq(decode_remaining_length(enc, 0, len(enc)), (n, len(enc)), "decode %d" % n)
    eq(decode_remaining_length(b"\x80", 0, 1), (-1, 0), "incomplete")
    raises(ValueError, encode_remaining_length, buf, 0, 268435456)


def test_connect_packet_with_will_and_persistent_session(tmp):
    c = _client(keepalive_s=30, will=(b"greeniot/v1/s/d/status", b'{"v":1,"state":"offline"}',
                                      1, True))
    c._send_connect()
    will_t = b"greeniot/v1/s/d/status"
    will_m = b'{"v":1,"state":"offline"}'
    body = (b"\x00\x04MQTT\x04" + bytes([0x04 | 0x08 | 0x20]) + b"\x00\x1e"
            + b"\x00\x05dev-1" + bytes([0, len(will_t)]) + will_t + bytes([0, len(will_m)])
            + will_m)
    eq(_sent(c), bytes([0x10, len(body)]) + body, "CONNECT")


def test_connect_packet_clean_with_credentials(tmp):
    c = _client(keepalive_s=60, clean=True, user="u", password="pw")
    c._send_connect()
    body = b"\x00\x04MQTT\x04\xc2\x00\x3c\x00\x05dev-1\x00\x01u\x00\x02pw"
    eq(_sent(c), bytes([0x10, len(body)]) + body, "CONNECT")


def test_connack_sets_session_present_and_refusal_raises(tmp):
    c = _client()
    _feed(c, b"\x20\x02\x01\x00")
    eq(c.connected, True, "connected")
    eq(c.session_present, True, "session present")
    c2 = _client()
    raises(MQTTError, _feed, c2, b"\x20\x02\x00\x05")  # 5 = not authorized
    eq(c2.connected, False, "refused")


def test_publish_qos1_parts_then_dup_resend_and_puback(tmp):
    c = _client()
    _feed(c, b"\x20\x02\x00\x00")
    pid = c.publish("a/b", [b'{"v":1,"batch":[', b"1", b",", b"2", b"]}"], qos=1, retain=False)
    payload = b'{"v":1,"batch":[1,2]}'
    want = bytes([0x32, 2 + 3 + 2 + len(payload), 0, 3]) + b"a/b" + bytes([0, pid]) + payload
    eq(_sent(c), want, "PUBLISH qos1")
    eq(c.acked(pid), False, "in flight")
    c._sock = _Wire()
    c._send_publish(pid, c.inflight[pid], True)
    eq(_sent(c)[0], 0x3A, "DUP flag on resend")
    eq(_sent(c)[1:], want[1:], "same packet otherwise")
    _feed(c, bytes([0x40, 2, 0, pid]))
    eq(c.acked(pid), True, "PUBACK clears")
    eq(len(c.inflight), 0, "nothing in flight")


def test_publish_qos0_retained_has_no_packet_id(tmp):
    c = _client()
    _feed(c, b"\x20\x02\x00\x00")
    eq(c.publish(b"t", b"xy", qos=0, retain=True), 0, "pid")
    eq(_sent(c), b"\x31\x05\x00\x01txy", "PUBLISH qos0 retained")


def test_subscribe_packet_and_suback(tmp):
    c = _client()
    _feed(c, b"\x20\x02\x00\x00")
    pid = c.subscribe("g/+/cmd", 1)
    eq(_sent(c), bytes([0x82, 12, 0, pid, 0, 7]) + b"g/+/cmd" + b"\x01", "SUBSCRIBE")
    eq(pid in c.sub_pending, True, "pending")
    _feed(c, bytes([0x90, 3, 0, pid, 1]))
    eq(pid in c.sub_pending, False, "SUBACK clears")
    pid = c.subscribe("x", 1)
    raises(MQTTError, _feed, c, bytes([0x90, 3, 0, pid, 0x80]))


def test_incoming_qos1_publish_is_delivered_then_acked(tmp):
    got = []
    c = _client(on_message=lambda t, p, r: got.append((t, p, r, len(_sent(c)))))
    _feed(c, b"\x20\x02\x00\x00")
    topic = b"greeniot/v1/s/d/cmd"
    payload = b'{"v":1,"id":"c1"}'
    pkt = bytes([0x32, 2 + len(topic) + 2 + len(payload), 0, len(topic)]) + topic \
        + b"\x12\x34" + payload
    # split across two reads: the parser must wait for the rest
    _feed(c, pkt[:7])
    eq(got, [], "nothing before the packet is complete")
    _feed(c, pkt[7:])
    eq(got, [("greeniot/v1/s/d/cmd", payload, False, 0)], "delivered before PUBACK")
    eq(_sent(c), b"\x40\x02\x12\x34", "PUBACK with the same id")


def test_two_packets_in_one_read_and_large_packet(tmp):
    got = []
    c = _client(on_message=lambda t, p, r: got.append(len(p)))
    _feed(c, b"\x20\x02\x00\x00")
    big = b"x" * 3000
    rl = 2 + 1 + len(big)
    hdr = bytearray(5)
    n = encode_remaining_length(hdr, 0, rl)
    pkt = b"\x31" + bytes(hdr[:n]) + b"\x00\x01t" + big
    _feed(c, pkt + b"\x30\x04\x00\x01ty")
    eq(got, [3000, 1], "both delivered, retained big one grown into")
    eq(c._rxn, 0, "buffer drained")


def test_packet_ids_skip_inflight_and_wrap(tmp):
    c = _client(max_inflight=3)
    _feed(c, b"\x20\x02\x00\x00")
    c._pid = 65534
    a = c.publish("t", b"1", qos=1)
    b = c.publish("t", b"2", qos=1)
    d = c.publish("t", b"3", qos=1)
    eq((a, b, d), (65535, 1, 2), "wrap skips 0")
    raises(MQTTError, c.publish, "t", b"4", 1)
