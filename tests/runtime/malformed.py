"""Malformed MQTT messages for the up channels: every way we know a payload or topic can be
wrong (a corpus for robustness tests; each must be a documented rejection, never a crash)."""

from __future__ import annotations

import json

TS = 1_790_000_000_000


def _j(obj: object) -> bytes:
    return json.dumps(obj).encode()


def malformed(site: str) -> list[tuple[str, bytes]]:
    """(topic, payload) pairs: deep nesting, not JSON, wrong types and versions, bad batches,
    NaN, too large, unknown or down channels, bad ids."""
    t = f"greeniot/v1/{site}/junk-1"
    soil = {"v": 1, "seq": 1, "ts_ms": TS, "vwc_pct": 30.0}
    deep = 100_000
    out: list[tuple[str, bytes]] = [
        (f"{t}/soil", b"[" * deep + b"]" * deep),  # RecursionError in json.loads
        (f"{t}/soil", b'{"v":1,"batch":' + b"[" * deep + b"]" * deep + b"}"),
        (f"{t}/tilt", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        (f"{t}/status", b"[" * deep),
        (f"{t}/soil", b""), (f"{t}/soil", b"\xff\xfe\x00"), (f"{t}/soil", b"{"),
        (f"{t}/soil", b"null"), (f"{t}/soil", b"[]"), (f"{t}/soil", b"42"),
        (f"{t}/soil", b'"soil"'), (f"{t}/soil", b"x" * 300_000),
        (f"{t}/soil", _j({**soil, "v": 2})), (f"{t}/soil", _j({**soil, "seq": -1})),
        (f"{t}/soil", _j({**soil, "ts_ms": 12})), (f"{t}/soil", _j({**soil, "vwc_pct": "wet"})),
        (f"{t}/soil", _j({**soil, "extra": 1})), (f"{t}/soil", _j({"v": 1})),
        (f"{t}/soil", b'{"v":1,"seq":1,"ts_ms":1790000000000,"vwc_pct":NaN}'),
        (f"{t}/soil", b'{"v":1,"seq":1,"ts_ms":1790000000000,"vwc_pct":1e999}'),
        (f"{t}/soil", _j({"v": 1, "batch": "x"})), (f"{t}/soil", _j({"v": 1, "batch": [1, 2]})),
        (f"{t}/soil", _j({"v": 1, "batch": [soil] * 3000})),
        (f"{t}/soil", _j({"v": 1, "batch": [soil], "more": 1})),
        (f"{t}/tilt", _j({"v": 1, "seq": 1, "ts_ms": TS, "pitch_deg": 91, "roll_deg": 0})),
        (f"{t}/tilt", _j({"v": 1, "seq": 1, "ts_ms": TS, "pitch_deg": 0, "roll_deg": 0,
                          "burst": {"hz": 10, "pitch_deg": [0.1], "roll_deg": []}})),
        (f"{t}/status", _j({"v": 1, "state": "exploded"})),
        (f"{t}/status", _j({"v": 1, "state": "sleeping", "next_ms": "soon"})),
        (f"{t}/valve", _j({"v": 1, "seq": 1, "ts_ms": TS, "state": "ajar", "cause": "cmd"})),
        (f"{t}/ack", _j({"v": 1, "id": "", "seq": 1, "ts_ms": TS, "ok": True})),
        (f"{t}/weather", _j({"v": 1, "seq": 1, "ts_ms": TS, "wind_ms": -3})),
        (f"{t}/cmd", _j({"v": 1, "id": "c1", "ts_ms": TS, "deadline_ms": TS, "op": "open"})),
        (f"greeniot/v1/{site}/bad id!/soil", _j(soil)),
        (f"greeniot/v1/{site}/junk-1/nochannel", _j(soil)),
        (f"greeniot/v1/{site}/soil", _j(soil)),
    ]
    return out
