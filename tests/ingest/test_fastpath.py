"""The ingest fast path accepts nothing the codec refuses, and stores what the codec's path
stores: the same lines, quality flags and sway samples (ingest/fastpath.py).

Payloads come from tests/fuzzcases.py (every channel, valid and each kind of invalid), as
single readings and batches, compact or spaced, plus arbitrary JSON from hypothesis.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, model_validator

from greeniot.ingest.fastpath import COMPILED, FastDecoder, struct_of
from greeniot.protocol.codec import decode
from greeniot.protocol.plausible import implausible, quality_flag
from greeniot.store.lineproto import tag_suffix, to_lines
from tests.fuzzcases import CHANNELS, invalid, valid

TAGS = tag_suffix("s", "d", {"tree": "t1"})
EVERYWHERE = (0, 10**15)  # ingest's time window: here, any time
seeds = st.integers(min_value=0, max_value=2**64)
channels = st.sampled_from(CHANNELS)


def slow_lines(topic: str, payload: bytes) -> list[str] | None:
    """What the codec's path stores, or None if it refuses any part."""
    d = decode(topic, payload)
    if d.rejections:
        return None
    return [x for m in d.messages for x in to_lines(m, TAGS, 123, quality_flag(implausible(m)))]


def fast_lines(topic: str, payload: bytes) -> list[str] | None:
    got = FastDecoder().decode(topic, payload, *EVERYWHERE)
    if got is None:
        return None
    route, items = got
    c = route.code
    out = []
    for it in items:
        out.append(c.line(it, TAGS, 123, quality_flag(c.flags(it))))
        if c.extra is not None:
            out.extend(c.extra(it, TAGS))
    many: list[str] = []  # the batch builder ingest runs makes the same lines and flags
    flagged = c.lines(items, TAGS, 123, many)
    assert many == out
    assert flagged == sum(bool(c.flags(it)) for it in items)
    return out


def payload_of(r: random.Random, channel: str) -> bytes:
    """A valid or invalid payload, single or (reading channels) batched, compact or spaced."""
    if r.random() < 0.5:
        return invalid(r, channel)[0]
    body: object = valid(r, channel)
    if channel not in ("status", "ack") and r.random() < 0.3:
        body = {"v": 1, "batch": [valid(r, channel) for _ in range(r.randint(0, 4))]}
    return json.dumps(body, separators=(",", ":") if r.random() < 0.5 else None).encode()


@given(seeds, channels)
@settings(max_examples=1500, deadline=None)
def test_fast_path_accepts_only_what_the_codec_accepts_and_stores_the_same(
        seed: int, channel: str) -> None:
    topic = f"greeniot/v1/s/d/{channel}"
    payload = payload_of(random.Random(seed), channel)
    fast = fast_lines(topic, payload)
    if fast is not None:
        assert fast == slow_lines(topic, payload), payload[:300]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda kids: st.lists(kids) | st.dictionaries(
                        st.sampled_from(("v", "seq", "ts_ms", "vwc_pct", "batch", "state",
                                         "pitch_deg", "roll_deg", "burst", "hz", "x")), kids),
                    max_leaves=20), channels)
@settings(max_examples=500, deadline=None)
def test_arbitrary_json_is_never_accepted_by_the_fast_path_alone(obj: object,
                                                                 channel: str) -> None:
    topic = f"greeniot/v1/s/d/{channel}"
    payload = json.dumps(obj).encode()
    fast = fast_lines(topic, payload)
    if fast is not None:
        assert fast == slow_lines(topic, payload)


def test_valid_traffic_takes_the_fast_path() -> None:
    """Not a test of speed: that good payloads are not all sent the slow way."""
    r = random.Random(7)
    fast = total = 0
    for i in range(600):
        ch = CHANNELS[i % len(CHANNELS)]
        payload = json.dumps(valid(r, ch), separators=(",", ":")).encode()
        total += 1
        fast += fast_lines(f"greeniot/v1/s/d/{ch}", payload) is not None
    assert fast >= 0.9 * total, (fast, total)


SOIL = '"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5'


@pytest.mark.parametrize("payload", [
    '{"v":1,' + SOIL + ',"seq":2}',  # duplicate key
    '{"v":1,' + SOIL + ',"seq" :2}',  # duplicate, with a space before its colon
    '{"v":1,"batch":[{"v":1,' + SOIL + ',"vwc_pct":30}]}',  # duplicate inside a batch item
    '{"v":1,' + SOIL + ',"temp_c":null}',  # null
    '{' + SOIL + '}',  # no v
    '{"v":true,' + SOIL + '}',
    '{"v":1.0,' + SOIL + '}',
    '{"v":1,"seq":"1","ts_ms":1795510737944,"vwc_pct":23.5}',
    '{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":"23.5"}',
    '{"v":1,' + SOIL + ',"x":1}',
    '{"v":1,' + SOIL + ',"vwc_pct":NaN}',
])
def test_payloads_the_codec_refuses_go_to_the_slow_path(payload: str) -> None:
    topic = "greeniot/v1/s/d/soil"
    assert decode(topic, payload.encode()).rejections
    assert FastDecoder().decode(topic, payload.encode(), *EVERYWHERE) is None


def test_tilt_burst_rules_and_duplicates_inside_the_burst() -> None:
    base = {"v": 1, "seq": 3, "ts_ms": 1795510737944, "pitch_deg": 0.4, "roll_deg": -0.1}
    topic = "greeniot/v1/s/d/tilt"
    good = {**base, "burst": {"hz": 10.0, "pitch_deg": [0.1, 0.2], "roll_deg": [0.0, 0.1]}}
    raw = json.dumps(good).encode()
    assert fast_lines(topic, raw) == slow_lines(topic, raw)
    assert len(fast_lines(topic, raw) or []) == 3  # the reading and two sway samples
    uneven = {**base, "burst": {"hz": 10.0, "pitch_deg": [0.1, 0.2], "roll_deg": [0.0]}}
    too_long = {**base, "burst": {"hz": 0.1, "pitch_deg": [0.0] * 400, "roll_deg": [0.0] * 400}}
    for body in (uneven, too_long):
        raw = json.dumps(body).encode()
        assert slow_lines(topic, raw) is None
        assert fast_lines(topic, raw) is None
    dup = (b'{"v":1,"seq":3,"ts_ms":1795510737944,"pitch_deg":0.4,"roll_deg":-0.1,'
                 b'"burst":{"hz":10.0,"hz":20.0,"pitch_deg":[0.1],"roll_deg":[0.0]}}')
    assert slow_lines(topic, dup) is None and fast_lines(topic, dup) is None


def test_time_window_sends_late_and_early_readings_to_the_slow_path() -> None:
    topic = "greeniot/v1/s/d/soil"
    raw = ('{"v":1,' + SOIL + '}').encode()
    ts = 1795510737944
    assert FastDecoder().decode(topic, raw, ts, ts) is not None
    assert FastDecoder().decode(topic, raw, ts + 1, ts + 10) is None
    assert FastDecoder().decode(topic, raw, ts - 10, ts - 1) is None


def test_status_without_a_time_is_stored_at_its_receive_time() -> None:
    topic = "greeniot/v1/s/d/status"
    raw = b'{"v":1,"state":"offline"}'
    assert fast_lines(topic, raw) == slow_lines(topic, raw)
    assert (fast_lines(topic, raw) or [""])[0].endswith(" 123000")


def test_a_model_validator_without_a_mirror_refuses_to_compile() -> None:
    class Odd(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        a: int

        @model_validator(mode="after")
        def _rule(self) -> Odd:
            return self

    with pytest.raises(TypeError, match="no mirror"):
        struct_of(Odd)


def test_every_stored_up_channel_is_compiled() -> None:
    """Every device channel ingest stores has fast code; per-site ones (forecast) do not."""
    from greeniot.protocol.channels import CHANNELS

    stored = {r.name for r in CHANNELS.values() if r.direction == "up" and r.measurement}
    assert set(COMPILED) == stored - {"forecast"}
    assert {"soil", "tilt", "weather", "valve", "status", "ack", "flow"} <= set(COMPILED)
