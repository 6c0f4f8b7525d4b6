"""Valid and invalid v1 payloads for every up channel, each invalid one with the reason code
the codec must give it (docs/protocol.md). Plain ``random.Random`` generators, so the property
tests (hypothesis draws the seeds) and benchmarks/fuzz_ingest.py share them."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from greeniot.protocol.messages import TS_MAX_MS, TS_MIN_MS

Payload = dict[str, Any]
CHANNELS = ("soil", "tilt", "weather", "valve", "status", "ack")


def _f(r: random.Random, lo: float, hi: float) -> float | int:
    x = r.uniform(lo, hi)
    return int(x) if r.random() < 0.2 else round(x, r.choice((1, 2, 3, 6)))


def _ts(r: random.Random, now_ms: int | None) -> int:
    if now_ms is not None:  # within ingest's time window: at most a day old
        return now_ms - r.randint(0, 86_400_000)
    return r.randint(TS_MIN_MS, TS_MAX_MS - 10_000_000)


def _opt(r: random.Random, body: Payload, key: str, make: Callable[[], Any]) -> None:
    if r.random() < 0.5:
        body[key] = make()


def valid(r: random.Random, channel: str, now_ms: int | None = None) -> Payload:
    """A payload the codec must accept (``now_ms``: also ingest's time checks)."""
    if channel == "status":
        body: Payload = {"v": 1, "state": r.choice(("online", "offline", "sleeping"))}
        _opt(r, body, "ts_ms", lambda: _ts(r, now_ms))
        _opt(r, body, "kind", lambda: r.choice(("soil", "tilt", "valve", "weather", "multi")))
        _opt(r, body, "rssi_dbm", lambda: r.randint(-150, 0))
        _opt(r, body, "outbox", lambda: r.randint(0, 1_000_000))
        _opt(r, body, "fw", lambda: "0.1." + str(r.randint(0, 99)))
        return body
    body = {"v": 1, "seq": r.randint(0, 0xFFFF_FFFF), "ts_ms": _ts(r, now_ms)}
    if channel == "soil":
        body["vwc_pct"] = _f(r, 0, 100)
        _opt(r, body, "temp_c", lambda: _f(r, -60, 100))
        _opt(r, body, "bat_v", lambda: _f(r, 0, 15))
        _opt(r, body, "raw", lambda: r.randint(0, 65535))
    elif channel == "tilt":
        body["pitch_deg"] = _f(r, -90, 90)
        body["roll_deg"] = _f(r, -90, 90)
        _opt(r, body, "n", lambda: r.randint(1, 1_000_000))
        if r.random() < 0.3:
            n = r.randint(1, 40)
            body["burst"] = {"hz": _f(r, 0.1, 200) or 0.1,
                             "pitch_deg": [_f(r, -90, 90) for _ in range(n)],
                             "roll_deg": [_f(r, -90, 90) for _ in range(n)]}
    elif channel == "weather":
        body["wind_ms"] = _f(r, 0, 120)
        _opt(r, body, "gust_ms", lambda: _f(r, 0, 150))
        _opt(r, body, "rain_mm", lambda: _f(r, 0, 500))
        _opt(r, body, "rh_pct", lambda: _f(r, 0, 100))
    elif channel == "valve":
        body["state"] = r.choice(("open", "closed"))
        body["cause"] = r.choice(("cmd", "max_run", "boot", "manual"))
        _opt(r, body, "cmd_id", lambda: f"c-{r.randint(0, 9999)}")
        _opt(r, body, "open_s", lambda: _f(r, 0, 86_400))
    elif channel == "ack":
        body["id"] = f"c-{r.randint(0, 9999)}"
        body["ok"] = r.random() < 0.5
        _opt(r, body, "state", lambda: r.choice(("open", "closed")))
    return body


#: Out-of-range values per numeric field (each outside its documented bounds).
_OUT_OF_RANGE: dict[str, list[Any]] = {
    "seq": [-1, 2**32], "ts_ms": [12, TS_MAX_MS + 1], "vwc_pct": [-0.1, 100.5, 1e300],
    "temp_c": [-61, 101], "bat_v": [-1, 16], "raw": [-1, 65536], "pitch_deg": [-90.5, 91],
    "roll_deg": [91, -1e9], "n": [0, 10**7], "wind_ms": [-1, 121], "gust_ms": [151],
    "rain_mm": [501], "rh_pct": [101], "open_s": [-1, 86_401], "rssi_dbm": [1, -151],
    "outbox": [-1, 10**7],
}
#: Wrong JSON types per field kind (strict mode refuses every one).
_WRONG_TYPES: list[Any] = ["12", "23.5", True, None, [1], {"a": 1}]


#: The ways :func:`invalid` breaks a payload.
KINDS = ("type", "range", "unknown", "missing", "version", "no_version", "duplicate",
         "truncated", "garbage", "deep", "large", "batch_item", "nan", "burst")


def invalid(r: random.Random, channel: str, now_ms: int | None = None,
            kind: str | None = None) -> tuple[bytes, str]:
    """(payload, the reason the codec must give it); ``kind`` (one of :data:`KINDS`): this
    way of breaking it, else a random one."""
    body = valid(r, channel, now_ms)
    kind = kind or r.choice(KINDS)
    if kind == "burst" and channel != "tilt":
        kind = "type"
    if kind == "batch_item" and channel in ("status", "ack"):
        kind = "range"
    fields = [k for k in body if k != "v"]
    if kind == "type":
        key = r.choice(fields)
        wrong = r.choice(_WRONG_TYPES)
        if isinstance(body[key], bool) and isinstance(wrong, bool):
            wrong = "true"
        if isinstance(body[key], str) and isinstance(wrong, str):
            wrong = 7
        body[key] = wrong
        return _dump(body), "invalid"
    if kind == "range":
        keys = [k for k in fields if k in _OUT_OF_RANGE]
        if not keys:
            body["state"] = "exploded"
            return _dump(body), "invalid"
        key = r.choice(keys)
        body[key] = r.choice(_OUT_OF_RANGE[key])
        return _dump(body), "invalid"
    if kind == "unknown":
        body["vwc"] = 1
        return _dump(body), "invalid"
    if kind == "missing":
        required = {"soil": "vwc_pct", "tilt": "pitch_deg", "weather": "wind_ms",
                    "valve": "cause", "status": "state", "ack": "ok"}[channel]
        del body[required]
        return _dump(body), "invalid"
    if kind == "version":
        body["v"] = r.choice((2, 0, True, 1.0, "1", None))
        return _dump(body), "bad_version"
    if kind == "no_version":
        del body["v"]
        return _dump(body), "bad_version"
    if kind == "duplicate":
        raw = _dump(body)
        return raw[:-1] + b',"v":1}', "not_json"
    if kind == "truncated":
        raw = _dump(body)
        return raw[: r.randint(0, len(raw) - 1)], "not_json"
    if kind == "garbage":
        return bytes(r.getrandbits(8) for _ in range(r.randint(1, 64))) + b"\xff", "not_json"
    if kind == "deep":
        depth = r.randint(5_000, 40_000)
        return b"[" * depth + b"]" * depth, "not_json"
    if kind == "large":
        return b'{"v":1,"pad":"' + b"x" * r.randint(262_144, 300_000) + b'"}', "too_large"
    if kind == "nan":
        key = r.choice([k for k in fields if isinstance(body[k], float)] or ["seq"])
        raw = _dump({**body, key: 0.5})
        return raw.replace(b"0.5", r.choice((b"NaN", b"Infinity", b"-Infinity")), 1), "not_json"
    if kind == "burst":
        body["burst"] = {"hz": r.choice((1e-300, 0.0, 0.05, 500.0)), "pitch_deg": [0.0, 0.1],
                         "roll_deg": [0.0, 0.1]}
        return _dump(body), "invalid"
    # batch_item: a batch with one good and one bad item
    bad = dict(body)
    bad["seq"] = "1"
    return json.dumps({"v": 1, "batch": [valid(r, channel, now_ms), bad]}).encode(), "invalid"


def _dump(body: Payload) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
