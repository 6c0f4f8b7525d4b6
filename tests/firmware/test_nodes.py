"""Firmware nodes under MicroPython against a real Mosquitto, observed with paho.

Sensor readings live; broker down → buffered → back → flushed with original timestamps and
no gaps in ``seq``; deep-sleep cycles; the valve node's commands, acks, duplicates, expiry and
its own max-run cut-off with the broker killed. Everything waits by polling with deadlines.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greeniot.protocol import decode
from greeniot.services import MosquittoProcess, free_port
from greeniot.services.firmware import FirmwareNode
from tests.firmware.support import Observer, checkpoint_broker, seqs
from tests.helpers import Publisher, poll

pytestmark = [pytest.mark.firmware, pytest.mark.services]

MakeNode = Callable[..., FirmwareNode]
MakeObserver = Callable[..., Observer]


def now_ms() -> int:
    return int(time.time() * 1000)


def command(cmd_id: str, op: str = "open", *, run_s: int | None = 60,
            deadline_in_ms: int = 60_000) -> bytes:
    t = now_ms()
    cmd: dict[str, Any] = {"v": 1, "id": cmd_id, "ts_ms": t, "deadline_ms": t + deadline_in_ms,
                           "op": op}
    if run_s is not None:
        cmd["max_run_s"] = run_s
    return json.dumps(cmd).encode()


def assert_consecutive(items: list[dict[str, Any]]) -> list[int]:
    got = seqs(items)
    assert got == list(range(got[0], got[0] + len(got))), f"gap in seq: {got}"
    return got


# -- sensor nodes -------------------------------------------------------------------------------

def test_soil_and_tilt_nodes_publish_valid_readings(mosquitto: MosquittoProcess,
                                                    make_node: MakeNode,
                                                    make_observer: MakeObserver) -> None:
    obs = make_observer(mosquitto.port)
    t0 = now_ms()
    soil = make_node("soil", "soil", mosquitto.port, sleep=False,
                     sim={"vwc_raw": 41800, "vwc_noise": 300, "bat_v": 3.71})
    tilt = make_node("tilt", "tilt", mosquitto.port, sleep=False, interval_s=0.6, burst_s=0.5,
                     burst_trigger_deg=0.0,  # every reading bursts, sway or not
                     burst_hz=20.0, sim={"pitch_deg": 0.42, "roll_deg": -0.11,
                                         "accel_temp_c": 24.0})
    soil.start()
    tilt.start()

    readings = poll(lambda: len(r := obs.payloads(soil.device, "soil")) >= 3 and r,
                    what="3 soil readings")
    for r in readings[:3]:
        assert r["vwc_pct"] == 20.0 and r["raw"] == 41800 and r["bat_v"] == 3.71
        assert t0 - 1000 <= r["ts_ms"] <= now_ms()
    assert_consecutive(readings)

    soil.set_sim(vwc_raw=21000)  # soaked: the running node picks it up
    poll(lambda: any(r["vwc_pct"] == 100.0 for r in obs.payloads(soil.device, "soil")),
         what="a reading after the soil got wet")

    tilts = poll(lambda: len(r := obs.payloads(tilt.device, "tilt")) >= 2 and r,
                 what="2 tilt readings")
    for r in tilts[:2]:
        assert abs(r["pitch_deg"] - 0.42) < 0.01 and abs(r["roll_deg"] + 0.11) < 0.01
        assert r["temp_c"] == 24.0 and r["n"] == 10
        assert r["burst"]["hz"] == 20.0
        assert len(r["burst"]["pitch_deg"]) == len(r["burst"]["roll_deg"]) == 10
    assert_consecutive(tilts)

    status = poll(lambda: obs.payloads(tilt.device, "status"), what="status")
    assert status[0]["state"] == "online" and status[0]["kind"] == "tilt"
    assert obs.rejections == []


def test_broker_down_readings_buffered_then_flushed_with_original_timestamps(
        tmp_path: Path, make_node: MakeNode, make_observer: MakeObserver) -> None:
    broker = MosquittoProcess(tmp_path / "broker")
    broker.start()
    try:
        obs = make_observer(broker.port, persistent=True)
        node = make_node("soil", "soil", broker.port, sleep=False, interval_s=0.3)
        node.start()
        poll(lambda: len(obs.payloads(node.device, "soil")) >= 2, what="live readings")

        broker.stop()  # graceful: sessions (ours and the observer's) persist
        down_ms = now_ms()
        poll(lambda: node.hal_state().get("outbox", 0) >= 6, what="readings to pile up")
        up_ms = now_ms()
        broker = MosquittoProcess(tmp_path / "broker", port=broker.port)
        broker.start()

        def flushed() -> bool:
            return node.hal_state().get("outbox") == 0 and any(
                m.startswith(b'{"v":1,"batch"') for m in obs.messages(node.device, "soil"))

        poll(flushed, timeout_s=30, what="the outbox to flush")
        items = obs.payloads(node.device, "soil")
        # The broker may hand the observer a few messages twice (at-least-once); none missing.
        got = assert_consecutive(items)
        offline = [r for r in items if down_ms <= r["ts_ms"] <= up_ms]
        assert len({r["seq"] for r in offline}) >= 5, "readings measured while the broker was down"
        # Original timestamps: spaced by the measuring interval, not by the flush.
        ts = sorted({r["ts_ms"] for r in offline})
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        assert all(250 <= g <= 1000 for g in gaps), gaps
        assert got[-1] >= max(r["seq"] for r in offline)
        assert obs.rejections == []
    finally:
        broker.stop()


def test_deep_sleep_cycles_keep_seq_and_outbox(mosquitto: MosquittoProcess, make_node: MakeNode,
                                               make_observer: MakeObserver) -> None:
    obs = make_observer(mosquitto.port)
    node = make_node("sleepy", "soil", free_port(), sleep=True, interval_s=60)  # broker absent
    woke: list[int] = []
    for _ in range(2):
        woke.append(now_ms())
        assert node.wake() == 0
        assert node.sleeping
    state = node.hal_state()
    assert state["outbox"] == 2 and state["seq"] == 1
    sleep = json.loads((node.state_dir / "sleep.json").read_text())
    assert 55_000 <= sleep["sleep_ms"] <= 60_000  # interval minus the time awake

    node.update_config(mqtt_port=mosquitto.port)  # the broker is reachable at the next wake
    assert node.wake() == 0
    batch = poll(lambda: [m for m in obs.messages(node.device, "soil") if b'"batch"' in m],
                 what="the outbox batch")
    items = json.loads(batch[0])["batch"]
    assert [r["seq"] for r in items] == [0, 1, 2]
    assert woke[0] <= items[0]["ts_ms"] < woke[1] <= items[1]["ts_ms"], "original timestamps"
    assert node.hal_state()["outbox"] == 0
    status = poll(lambda: [s for s in obs.payloads(node.device, "status")
                           if s["state"] == "sleeping"], what="sleeping status")
    assert status[-1]["kind"] == "soil" and status[-1]["outbox"] == 0

    assert node.wake() == 0  # one more: a single reading goes out as it is, seq continues
    single = poll(lambda: [m for m in obs.messages(node.device, "soil") if b'"batch"' not in m],
                  what="a plain reading")
    assert json.loads(single[0])["seq"] == 3
    assert obs.rejections == []


# -- valve node ---------------------------------------------------------------------------------

def valve_events(obs: Observer, node: FirmwareNode) -> list[dict[str, Any]]:
    return obs.payloads(node.device, "valve")


def test_valve_opens_on_command_acks_and_closes_at_max_run(
        mosquitto: MosquittoProcess, make_node: MakeNode, make_observer: MakeObserver) -> None:
    obs = make_observer(mosquitto.port)
    node = make_node("valve", "valve", mosquitto.port, max_run_s=30)
    node.start()
    node.wait_connected()
    boot = poll(lambda: valve_events(obs, node), what="boot event")
    assert (boot[0]["state"], boot[0]["cause"]) == ("closed", "boot")

    pub = Publisher(mosquitto.port)
    try:
        pub.publish(node.topic("cmd"), command("c-1", run_s=2))
        acks = poll(lambda: obs.payloads(node.device, "ack"), what="ack")
        assert acks[0]["id"] == "c-1" and acks[0]["ok"] is True and acks[0]["state"] == "open"
        opened = poll(lambda: [e for e in valve_events(obs, node) if e["state"] == "open"],
                      what="open event")
        assert opened[0]["cause"] == "cmd" and opened[0]["cmd_id"] == "c-1"
        assert node.valve_open
        closed = poll(lambda: [e for e in valve_events(obs, node) if e["cause"] == "max_run"],
                      timeout_s=10, what="max_run close")
        assert closed[0]["cmd_id"] == "c-1" and 2.0 <= closed[0]["open_s"] < 2.5
        assert 1995 <= closed[0]["ts_ms"] - opened[0]["ts_ms"] < 2500
        assert not node.valve_open
    finally:
        pub.close()
    assert obs.rejections == []


def test_valve_closes_itself_with_the_broker_killed(tmp_path: Path, make_node: MakeNode,
                                                    make_observer: MakeObserver) -> None:
    broker = MosquittoProcess(tmp_path / "broker")
    broker.start()
    pub = None
    try:
        obs = make_observer(broker.port, persistent=True)
        node = make_node("valve", "valve", broker.port, max_run_s=2)  # hard cap 2 s
        node.start()
        node.wait_connected()
        pub = Publisher(broker.port)
        pub.publish(node.topic("cmd"), command("c-k", run_s=600))
        ack = poll(lambda: obs.payloads(node.device, "ack"), what="ack")[0]
        assert ack["ok"] is True and ack["state"] == "open"
        assert node.valve_open
        pub.close()
        pub = None
        checkpoint_broker(broker)  # keep the observer's session through the kill
        broker.kill()
        killed_ms = now_ms()

        poll(lambda: not node.valve_open, timeout_s=5, what="the valve to close itself")
        closed_ms = node.hal_state()["valve_ms"]
        opened = next(e for e in valve_events(obs, node) if e["state"] == "open")
        assert 1995 <= closed_ms - opened["ts_ms"] < 2600, "min(600 s, hard cap 2 s)"
        assert closed_ms > killed_ms, "closed with no broker at all"
        assert node.hal_state()["outbox"] >= 1  # the close event waits in the outbox

        restart_ms = now_ms()
        broker = MosquittoProcess(tmp_path / "broker", port=broker.port)
        broker.start()
        closed = poll(lambda: [e for e in valve_events(obs, node) if e["cause"] == "max_run"],
                      timeout_s=30, what="the max_run event after reconnect")
        assert closed[0]["cmd_id"] == "c-k" and 2.0 <= closed[0]["open_s"] < 2.6
        # its own timestamp from when it closed (the pin's), not from the delayed delivery
        assert abs(closed[0]["ts_ms"] - closed_ms) <= 20 and closed[0]["ts_ms"] < restart_ms
        assert obs.rejections == []
    finally:
        if pub is not None:
            pub.close()
        broker.stop()


def test_expired_and_duplicate_commands(mosquitto: MosquittoProcess, make_node: MakeNode,
                                        make_observer: MakeObserver) -> None:
    obs = make_observer(mosquitto.port)
    node = make_node("valve", "valve", mosquitto.port)
    node.start()
    node.wait_connected()
    topic = node.topic("cmd")
    pub = Publisher(mosquitto.port)
    try:
        pub.publish(topic, command("c-old", deadline_in_ms=-5_000))
        ack = poll(lambda: obs.payloads(node.device, "ack"), what="ack of expired")[0]
        assert (ack["id"], ack["ok"], ack["reason"], ack["state"]) == (
            "c-old", False, "expired", "closed")
        assert not node.valve_open

        dup = command("c-dup", run_s=60)
        pub.publish(topic, dup)
        poll(lambda: len(obs.messages(node.device, "ack")) >= 2, what="first ack")
        pub.publish(topic, dup)  # the same command again (a backend retry)
        acks = poll(lambda: len(a := obs.messages(node.device, "ack")) >= 3 and a,
                    what="second ack")
        assert acks[1] == acks[2], "the duplicate gets the very same ack"
        assert json.loads(acks[2])["ok"] is True
        # Only one open event: a later close proves the event stream caught up meanwhile.
        pub.publish(topic, command("c-close", "close", run_s=None))
        poll(lambda: any(e["cause"] == "cmd" and e["state"] == "closed"
                         for e in valve_events(obs, node)), what="close event")
        opens = [e for e in valve_events(obs, node) if e["state"] == "open"]
        assert len({e["seq"] for e in opens}) == 1 and opens[0]["cmd_id"] == "c-dup"
    finally:
        pub.close()
    for payload in obs.messages(node.device, "ack"):
        assert decode(node.topic("ack"), payload).rejections == []
    assert obs.rejections == []


def test_tilt_node_without_accelerometer_keeps_running_until_one_is_plugged_in(
        mosquitto: MosquittoProcess, make_node: MakeNode, make_observer: MakeObserver) -> None:
    obs = make_observer(mosquitto.port)
    node = make_node("tilt", "tilt", mosquitto.port, sleep=False, interval_s=0.2,
                     sim={"accel": "none", "pitch_deg": 1.5})
    node.start()
    node.wait_connected()
    status = poll(lambda: obs.payloads(node.device, "status"), what="status online")
    assert status[0]["state"] == "online"
    poll(lambda: node.log_tail().count("sensor not available") >= 2, what="retries logged")
    assert obs.payloads(node.device, "tilt") == []

    node.set_sim(accel="mpu6050")  # plugged in: initialised at the next measurement
    got = poll(lambda: obs.payloads(node.device, "tilt"), what="tilt readings")
    assert abs(got[0]["pitch_deg"] - 1.5) < 0.01
    node.set_sim(accel="none")  # pulled out again, and back: never a bogus 0° reading
    poll(lambda: node.log_tail().count("measurement failed") >= 1, what="failure logged")
    node.set_sim(accel="mpu6050")
    n = len(obs.payloads(node.device, "tilt"))
    poll(lambda: len(obs.payloads(node.device, "tilt")) >= n + 2, what="readings again")
    assert all(abs(r["pitch_deg"] - 1.5) < 0.01 for r in obs.payloads(node.device, "tilt"))
    assert obs.rejections == []


def test_retained_config_from_the_backend(mosquitto: MosquittoProcess, make_node: MakeNode,
                                          make_observer: MakeObserver) -> None:
    obs = make_observer(mosquitto.port)
    pub = Publisher(mosquitto.port)
    valve = make_node("valve", "valve", mosquitto.port, max_run_s=1800)
    soil = make_node("soil", "soil", mosquitto.port, sleep=False, interval_s=3600)
    try:
        # Retained before the valve ever connects: it gets it on subscribing.
        pub.publish(valve.topic("config"), b'{"v":1,"max_run_s":1}', retain=True)
        valve.start()
        valve.wait_connected()
        poll(lambda: (valve.state_dir / "remote.json").exists(), what="valve config stored")
        pub.publish(valve.topic("cmd"), command("c-cfg", run_s=600))
        closed = poll(lambda: [e for e in valve_events(obs, valve) if e["cause"] == "max_run"],
                      timeout_s=10, what="close at the backend's lowered cap")
        assert closed[0]["cmd_id"] == "c-cfg" and 1.0 <= closed[0]["open_s"] < 1.5

        soil.start()
        soil.wait_connected()
        first = poll(lambda: obs.payloads(soil.device, "soil"), what="first reading")
        assert len(first) == 1  # the next one would be an hour away
        pub.publish(soil.topic("config"), b'{"v":1,"interval_s":1}', retain=True)
        got = poll(lambda: len(r := obs.payloads(soil.device, "soil")) >= 3 and r,
                   timeout_s=10, what="readings at the new 1 s interval")
        assert_consecutive(got)
        soil.stop()
        soil.start()  # the setting survives a restart (kept in the state dir)
        assert json.loads((soil.state_dir / "remote.json").read_text()) == {"interval_s": 1}
    finally:
        for node in (valve, soil):
            pub.publish(node.topic("config"), b"", retain=True)  # clear the retained config
        pub.close()
    assert obs.rejections == []
