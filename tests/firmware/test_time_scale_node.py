"""A real valve node on the unix HAL's scaled clock (``time_scale``), against a real broker.

The node's clock starts a year ahead of real time and runs 1000× faster: a 20-minute run ends
on the node's own timer after ~1.2 s of real time with ``open_s`` ≈ 1200 in its close event,
every ``ts_ms`` is on the scaled clock, and a command's deadline is judged on it (a deadline a
real-time node would still take is expired for this one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from greeniot.services import MosquittoProcess
from greeniot.services.firmware import FirmwareNode
from tests.firmware.support import Observer
from tests.helpers import Publisher, poll

pytestmark = [pytest.mark.firmware, pytest.mark.services]

SCALE = 1000.0
YEAR_MS = 365 * 86_400_000


def scaled_config(origin_ms: int, start_ms: int) -> dict[str, Any]:
    """The clock, and network waits of a few real seconds on it."""
    return {"time_scale": SCALE, "time_origin_ms": origin_ms, "time_start_ms": start_ms,
            "keepalive_s": 65535, "connect_timeout_s": 5 * SCALE, "resend_s": 10 * SCALE,
            "reconnect_min_s": 0.2 * SCALE, "reconnect_max_s": 2 * SCALE, "max_run_s": 3600}


def command(cmd_id: str, ts_ms: int, deadline_ms: int, run_s: int) -> bytes:
    return json.dumps({"v": 1, "id": cmd_id, "ts_ms": ts_ms, "deadline_ms": deadline_ms,
                       "op": "open", "max_run_s": run_s}).encode()


def test_a_scaled_valve_node_runs_its_timer_and_deadlines_on_node_time(
        mosquitto: MosquittoProcess, make_node: Callable[..., FirmwareNode],
        make_observer: Callable[..., Observer]) -> None:
    obs = make_observer(mosquitto.port)
    origin = int(time.time() * 1000)
    start = origin + YEAR_MS

    def node_now() -> int:
        return start + int((time.time() * 1000 - origin) * SCALE)

    node = make_node("valve", "valve", mosquitto.port, **scaled_config(origin, start))
    node.start()
    node.wait_connected(30)

    def events() -> list[dict[str, Any]]:
        return obs.payloads(node.device, "valve")

    boot = poll(events, what="boot event")
    assert boot[0]["cause"] == "boot" and start <= boot[0]["ts_ms"] <= node_now()
    pub = Publisher(mosquitto.port)
    try:
        # due in a day of real time, but past on the node's clock: refused as expired
        real = int(time.time() * 1000)
        pub.publish(node.topic("cmd"), command("c-late", real, real + 86_400_000, 60))
        acks = poll(lambda: obs.payloads(node.device, "ack"), what="ack of the late command")
        assert (acks[0]["ok"], acks[0]["reason"]) == (False, "expired")
        assert start <= acks[0]["ts_ms"] <= node_now()

        t0 = time.monotonic()
        now = node_now()
        pub.publish(node.topic("cmd"), command("c-run", now, now + 600_000, 1200))
        opened = poll(lambda: [e for e in events() if e["state"] == "open"], what="open")
        assert opened[0]["cmd_id"] == "c-run"
        closed = poll(lambda: [e for e in events() if e["cause"] == "max_run"], timeout_s=60,
                      what="the node's own close")
        real_s = time.monotonic() - t0
    finally:
        pub.close()
    assert real_s < 60, "20 min of node time took a minute of real time or more"
    # its timer turns about once per real ms (1 s of node time), more under load
    assert 1200 <= closed[0]["open_s"] < 1260
    assert 1200_000 <= closed[0]["ts_ms"] - opened[0]["ts_ms"] < 1260_000
    assert not node.valve_open
