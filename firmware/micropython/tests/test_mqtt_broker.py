"""The MQTT client against a real Mosquitto (port from ``GREENIOT_MQTT_PORT``).

Round trip QoS 1 with PUBACK, a persistent session that queues while we are away, the last will
on an unclean drop, and refusal to connect to a closed port within the timeout.
"""

import os
import time

from check import eq

from lib.mqtt import MQTTClient, MQTTError


def _port():
    port = os.getenv("GREENIOT_MQTT_PORT")
    if not port:
        raise AssertionError("set GREENIOT_MQTT_PORT to a running broker's port")
    return int(port)


def _uid(tmp):
    return tmp.rsplit("/", 1)[-1].replace("_", "-")[-40:] + "-%d" % (time.ticks_ms() % 100000)


def _until(client, cond, what, timeout_ms=5000):
    t0 = time.ticks_ms()
    while not cond():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            raise AssertionError("timed out waiting for " + what)
        client.poll(20)


def test_qos1_round_trip_through_broker(tmp):
    got = []
    uid = _uid(tmp)
    c = MQTTClient("rt-" + uid, "127.0.0.1", _port(), clean=True,
                   on_message=lambda t, p, r: got.append((t, p)))
    c.connect(3000)
    pid = c.subscribe("fwtest/%s/#" % uid, 1)
    _until(c, lambda: pid not in c.sub_pending, "SUBACK")
    pid = c.publish("fwtest/%s/a" % uid, [b"he", b"llo"], qos=1)
    _until(c, lambda: c.acked(pid) and got, "PUBACK and delivery")
    eq(got, [("fwtest/%s/a" % uid, b"hello")], "message")
    c.disconnect()


def test_persistent_session_queues_while_away(tmp):
    uid = _uid(tmp)
    got = []
    a = MQTTClient("ps-" + uid, "127.0.0.1", _port(), clean=False,
                   on_message=lambda t, p, r: got.append(p))
    eq(a.connect(3000), False, "new session")
    pid = a.subscribe("fwtest/%s/cmd" % uid, 1)
    _until(a, lambda: pid not in a.sub_pending, "SUBACK")
    a.disconnect()
    b = MQTTClient("pub-" + uid, "127.0.0.1", _port(), clean=True)
    b.connect(3000)
    pid = b.publish("fwtest/%s/cmd" % uid, b"while-away", qos=1)
    _until(b, lambda: b.acked(pid), "PUBACK")
    b.disconnect()
    eq(a.connect(3000), True, "session resumed")
    _until(a, lambda: got, "queued message")
    eq(got, [b"while-away"], "delivered after reconnect")
    a.clean = True
    a.connect(3000)  # leave no session behind
    a.disconnect()


def test_last_will_on_unclean_drop(tmp):
    uid = _uid(tmp)
    got = []
    w = MQTTClient("obs-" + uid, "127.0.0.1", _port(), clean=True,
                   on_message=lambda t, p, r: got.append(p))
    w.connect(3000)
    pid = w.subscribe("fwtest/%s/status" % uid, 1)
    _until(w, lambda: pid not in w.sub_pending, "SUBACK")
    d = MQTTClient("will-" + uid, "127.0.0.1", _port(), clean=True,
                   will=("fwtest/%s/status" % uid, b'{"v":1,"state":"offline"}', 1, False))
    d.connect(3000)
    d.close()  # no DISCONNECT: the broker must publish the will
    _until(w, lambda: got, "last will")
    eq(got, [b'{"v":1,"state":"offline"}'], "will payload")
    w.disconnect()


def test_connect_to_closed_port_fails_fast(tmp):
    c = MQTTClient("x", "127.0.0.1", 1, clean=True)
    c.sub_pending[7] = b"lost/with/the/old/connection"
    t0 = time.ticks_ms()
    try:
        c.connect(1000)
    except MQTTError as err:
        eq("127.0.0.1:1" in str(err), True, "error names the broker")
    else:
        raise AssertionError("connected to port 1?")
    if time.ticks_diff(time.ticks_ms(), t0) > 1100:
        raise AssertionError("connect did not respect its timeout")
    eq(c.connected, False, "not connected")
    eq(c.sub_pending, {}, "a SUBACK of an old connection is not awaited forever")


def test_keepalive_pings_keep_an_idle_session_alive(tmp):
    # keepalive 1 s: the broker drops a client silent for 1.5 s; 3 s idle proves the pings.
    c = MQTTClient("ka-" + _uid(tmp), "127.0.0.1", _port(), clean=True, keepalive_s=1)
    c.connect(3000)
    t0 = time.ticks_ms()
    pings = 0
    while time.ticks_diff(time.ticks_ms(), t0) < 3000:
        c.poll(50)
        if c._ping_sent:
            pings += 1
            _until(c, lambda: not c._ping_sent, "PINGRESP", 1000)
    eq(c.connected, True, "still connected")
    if pings < 4:
        raise AssertionError("only %d PINGREQs in 3 s with keepalive 1 s" % pings)
    c.disconnect()


def test_unacknowledged_publish_is_resent_after_reconnect(tmp):
    uid = _uid(tmp)
    got = []
    obs = MQTTClient("obs2-" + uid, "127.0.0.1", _port(), clean=True,
                     on_message=lambda t, p, r: got.append(p))
    obs.connect(3000)
    sid = obs.subscribe("fwtest/%s/r" % uid, 1)
    _until(obs, lambda: sid not in obs.sub_pending, "SUBACK")
    c = MQTTClient("rs-" + uid, "127.0.0.1", _port(), clean=False)
    c.connect(3000)
    pid = c.publish("fwtest/%s/r" % uid, b"keep-me", qos=1)
    c.close()  # connection lost before the PUBACK was read
    eq(c.acked(pid), False, "still in flight")
    c.connect(3000)  # resends with DUP
    _until(c, lambda: c.acked(pid), "PUBACK after reconnect")
    eq(c.stats_resent >= 1, True, "resent")
    _until(obs, lambda: got, "delivery")
    eq(set(got), {b"keep-me"}, "delivered (at least once)")
    c.clean = True
    c.connect(3000)
    c.disconnect()
    obs.disconnect()
