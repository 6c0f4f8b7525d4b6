"""Parity: every payload the firmware builds is accepted by the backend's codec, unchanged.

The payloads come from the firmware's real code paths under MicroPython
(firmware/micropython/tests/payloads.py), including edge cases: clamped soil, an upside-down
tilt sensor, out-of-range temperature and RSSI, refused commands, and an outbox batch.
"""

from __future__ import annotations

import json
import re

import pytest

from greeniot.protocol import Ack, FlowReading, SoilReading, Status, TiltReading, ValveEvent, decode
from tests.firmware.support import FIRMWARE, run_micropython

pytestmark = pytest.mark.firmware


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    # One process builds every kind of node (soil, tilt with both chips, valve, flow meter)
    # and hundreds of payloads; a node is one kind. After that churn the 128k heap has had no
    # piece left for one more compiled module since the config grew by its time-scale keys,
    # so the printer gets twice a node's heap (the nodes' own tests keep 128k).
    res = run_micropython(FIRMWARE / "tests" / "payloads.py",
                          str(tmp_path_factory.mktemp("payloads")), heapsize="256k")
    assert res.returncode == 0, res.stdout + res.stderr
    out = []
    for line in res.stdout.splitlines():
        channel, _, payload = line.partition(" ")
        out.append((channel, payload.encode()))
    return out


def test_every_payload_is_accepted(payloads: list[tuple[str, bytes]]) -> None:
    assert len(payloads) >= 25
    for channel, payload in payloads:
        dec = decode(f"greeniot/v1/estate-a/node-1/{channel}", payload)
        assert dec.rejections == [], (channel, payload, dec.rejections)
        assert dec.messages, (channel, payload)


def test_each_kind_and_case_is_covered(payloads: list[tuple[str, bytes]]) -> None:
    msgs = []
    batches = []
    for channel, payload in payloads:
        dec = decode(f"greeniot/v1/estate-a/node-1/{channel}", payload)
        msgs.extend(dec.messages)
        if b'"batch"' in payload:
            batches.append(dec.messages)
    soil = [m for m in msgs if isinstance(m, SoilReading)]
    assert {m.vwc_pct for m in soil} >= {0.0, 50.0, 100.0}
    tilt = [m for m in msgs if isinstance(m, TiltReading)]
    bursts = [m.burst for m in tilt if m.burst is not None]
    assert bursts and all(len(b.pitch_deg) == len(b.roll_deg) for b in bursts)
    # 1 s and 0.5 s at 20 Hz in chunks of 8 samples: 8+8+4 and 8+2
    assert sorted(len(b.pitch_deg) for b in bursts) == [2, 4, 8, 8, 8]
    assert any(m.roll_deg == 90.0 for m in tilt)  # upside down, clamped
    valve = [m for m in msgs if isinstance(m, ValveEvent)]
    assert {(m.state, m.cause) for m in valve} == {
        ("closed", "boot"), ("open", "cmd"), ("closed", "cmd"), ("closed", "max_run")}
    flows = [m for m in msgs if isinstance(m, FlowReading)]
    assert {f.valve for f in flows} == {"open", "closed"}  # a run, then a leak
    assert max(f.flow_l_min for f in flows) == 10000.0  # clamped to the documented range
    runs = [m for m in valve if m.flow_l is not None]
    assert runs and all(m.state == "closed" for m in runs)
    assert runs[0].flow_l == pytest.approx(20.0 * (runs[0].open_s or 0) / 60, abs=0.2)
    acks = [m for m in msgs if isinstance(m, Ack)]
    assert {(a.id, a.ok, a.reason) for a in acks} == {
        ("c-open", True, None), ("c-close", True, None), ("c-late", False, "expired"),
        ("c-bad", False, "invalid: op"), ("c-v2", False, "bad_version"),
        ("c-open2", True, None), ("c-flow", True, None)}
    status = [m for m in msgs if isinstance(m, Status)]
    assert {s.state for s in status} == {"online", "sleeping", "shutdown", "offline"}
    sleeping = [s for s in status if s.state == "sleeping"]
    assert sleeping and all(s.next_ms and s.ts_ms and s.next_ms > s.ts_ms for s in sleeping)
    assert len(batches) == 1 and [m.seq for m in batches[0]] == [0, 1, 2]


def test_payloads_are_compact_json(payloads: list[tuple[str, bytes]]) -> None:
    strings = re.compile(rb'"(?:[^"\\]|\\.)*"')
    for _, payload in payloads:
        json.loads(payload)
        bare = strings.sub(b'""', payload)
        assert not re.search(rb"\s", bare), payload  # no whitespace outside strings
        assert b"null" not in bare, payload  # absent fields are left out, never null


def test_the_firmware_mirrors_the_channel_table() -> None:
    """The firmware's channel names are the backend's channel table (both directions), and
    the channels it may batch are the table's batch channels."""
    import ast

    from greeniot.protocol.channels import (
        DOWN_CHANNELS,
        READING_CHANNELS,
        SITE_CHANNELS,
        UP_CHANNELS,
    )

    tree = ast.parse((FIRMWARE / "lib" / "proto.py").read_text())
    consts = {t.id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
              and t.id.endswith("_CHANNELS")}
    device_up = tuple(c for c in UP_CHANNELS if c not in SITE_CHANNELS)  # backend-only
    assert consts == {"UP_CHANNELS": device_up, "DOWN_CHANNELS": DOWN_CHANNELS,
                      "READING_CHANNELS": READING_CHANNELS}
