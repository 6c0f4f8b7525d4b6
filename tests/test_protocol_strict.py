"""Strict input: no coercion, v required, no null, no duplicate keys, bounded numbers,
depth and size refused with documented reasons, and decode() never raises."""

from __future__ import annotations

import json
import time

import pytest

from greeniot.protocol import decode
from greeniot.protocol.codec import MAX_PAYLOAD_BYTES

NOW = int(time.time() * 1000)
SOIL = "greeniot/v1/a/d/soil"
TILT = "greeniot/v1/a/d/tilt"

#: Every documented reason code (docs/protocol.md, "Rejection reasons").
REASONS = {"bad_topic", "bad_channel", "not_json", "too_large", "bad_version", "invalid",
           "ts_future", "ts_too_old"}


def soil(**over: object) -> bytes:
    body: dict[str, object] = {"v": 1, "seq": 12, "ts_ms": NOW, "vwc_pct": 23.5}
    body.update(over)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


@pytest.mark.parametrize(("payload", "reason", "detail"), [
    (soil(v=True), "bad_version", "True"),
    (soil(v=1.0), "bad_version", "1.0"),
    (soil(v="1"), "bad_version", "'1'"),
    (soil(v=...), "bad_version", "required"),
    (soil(seq="12"), "invalid", "seq"),
    (soil(seq=True), "invalid", "seq"),
    (soil(seq=12.0), "invalid", "seq"),
    (soil(vwc_pct="23.5"), "invalid", "vwc_pct"),
    (soil(vwc_pct=True), "invalid", "vwc_pct"),
    (soil(ts_ms=float(NOW)), "invalid", "ts_ms"),
    (soil(temp_c=None), "invalid", "null"),
    (soil(raw=70000), "invalid", "raw"),
    (b'{"v":1,"seq":1,"seq":2,"ts_ms":%d,"vwc_pct":1}' % NOW, "not_json", "duplicate key 'seq'"),
    (b'{"v":1,"seq":1,"ts_ms":%d,"vwc_pct":1e999}' % NOW, "invalid", "vwc_pct"),
    (b'{"v":1,"seq":1' + b"1" * 5000 + b',"ts_ms":1,"vwc_pct":1}', "not_json", "not JSON"),
    (b"[" * 50_000 + b"]" * 50_000, "not_json", "nested"),
    (b'{"a":' * 20_000 + b"1" + b"}" * 20_000, "not_json", "nested"),
    (b"\xc3\x28", "not_json", "UTF-8"),
    (b"x" * (MAX_PAYLOAD_BYTES + 1), "too_large", "bytes"),
])
def test_refused_with_its_documented_reason(payload: bytes, reason: str, detail: str) -> None:
    d = decode(SOIL, payload)
    assert d.messages == []
    assert [r.reason for r in d.rejections] == [reason]
    assert detail in d.rejections[0].detail


def test_an_integer_is_still_a_float() -> None:
    d = decode(SOIL, soil(vwc_pct=30))
    assert d.rejections == [] and d.messages[0].vwc_pct == 30.0  # type: ignore[attr-defined]


def tilt(hz: float, n: int, ts_ms: int = NOW) -> bytes:
    return json.dumps({"v": 1, "seq": 1, "ts_ms": ts_ms, "pitch_deg": 0.1, "roll_deg": 0.1,
                       "burst": {"hz": hz, "pitch_deg": [0.0] * n,
                                 "roll_deg": [0.0] * n}}).encode()


@pytest.mark.parametrize(("payload", "detail"), [
    (tilt(1e-300, 3), "burst.hz"),
    (tilt(0.0, 3), "burst.hz"),
    (tilt(201.0, 3), "burst.hz"),
    (tilt(0.1, 1000), "spans"),  # 9990 s > 1 h
    (tilt(10.0, 12_001), "burst.pitch_deg"),
    (tilt(10.0, 1000, ts_ms=4_102_444_799_000), "2100"),
])
def test_burst_rate_samples_and_times_are_bounded(payload: bytes, detail: str) -> None:
    d = decode(TILT, payload)
    assert d.messages == [] and [r.reason for r in d.rejections] == ["invalid"]
    assert detail in d.rejections[0].detail


def test_batch_items_are_strict_too() -> None:
    items = [{"v": 1, "seq": i, "ts_ms": NOW + i, "vwc_pct": 20.0} for i in range(4)]
    items[1]["seq"] = "1"
    items[2]["v"] = True
    del items[3]["v"]
    d = decode(SOIL, json.dumps({"v": 1, "batch": items}).encode())
    assert [m.seq for m in d.messages] == [0]  # type: ignore[attr-defined]
    assert [(r.reason, r.index) for r in d.rejections] == [
        ("invalid", 1), ("bad_version", 2), ("bad_version", 3)]
    d = decode(SOIL, json.dumps({"v": True, "batch": items[:1]}).encode())
    assert [r.reason for r in d.rejections] == ["bad_version"] and not d.messages


@pytest.mark.parametrize("payload", [
    b"", b"null", b"1", b'"s"', b"[]", b"{}", b'{"v":1,"batch":null}', b'{"v":1,"batch":[null]}',
    b'{"v":1,"batch":{"a":1}}', b'{"v":1,"batch":[[[[[]]]]]}', b"\x00" * 10, b"[" * 3000,
    b'{"v":1,"seq":1,"ts_ms":1,"vwc_pct":[' + b"[" * 5000 + b"]}",
])
def test_decode_never_raises(payload: bytes) -> None:
    for topic in (SOIL, TILT, "greeniot/v1/a/d/status", "greeniot/v1/a/d/ack", "x/y"):
        d = decode(topic, payload)
        assert d.rejections and not d.messages
        assert {r.reason for r in d.rejections} <= REASONS
