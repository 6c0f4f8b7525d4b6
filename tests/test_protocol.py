"""Protocol v1: topics and the codec, table-driven."""

from __future__ import annotations

import json
import time

import pytest

from greeniot.protocol import (
    Command,
    SoilReading,
    TiltReading,
    decode,
    encode,
    ingest_filters,
    parse_topic,
)
from greeniot.protocol.codec import encode_batch
from greeniot.protocol.topics import TopicError

NOW = int(time.time() * 1000)


@pytest.mark.parametrize(("topic", "message"), [
    ("greeniot/v2/a/d/soil", "unsupported protocol version"),
    ("greeniot/v1/a/d", "is not greeniot/v1"),
    ("greeniot/v1/A/d/soil", "invalid site id"),
    ("greeniot/v1/a/-d/soil", "invalid device id"),
    ("greeniot/v1/a/d/smell", "unknown channel"),
])
def test_bad_topics_name_the_part(topic: str, message: str) -> None:
    with pytest.raises(TopicError, match=message):
        parse_topic(topic)


def test_filters_cover_up_channels_only() -> None:
    f = ingest_filters()
    assert "greeniot/v1/+/+/soil" in f and "greeniot/v1/+/+/ack" in f
    assert not any(x.endswith(("cmd", "config")) for x in f)
    assert ingest_filters(share="ingest")[0] == "$share/ingest/greeniot/v1/+/+/soil"


def test_integers_validate_as_floats_and_roundtrip() -> None:
    d = decode("greeniot/v1/a/d/soil", b'{"v":1,"seq":1,"ts_ms":%d,"vwc_pct":30}' % NOW)
    assert d.rejections == [] and d.messages[0].vwc_pct == 30.0
    again = decode("greeniot/v1/a/d/soil", encode(d.messages[0]))
    assert again.messages == d.messages


@pytest.mark.parametrize(("payload", "reason", "detail"), [
    (b'{"v":2,"seq":1}', "bad_version", "version 2"),
    (b"\xff\xfe", "not_json", "not JSON"),
    (b"[1,2]", "invalid", "JSON object"),
    (b'{"v":1,"seq":1,"ts_ms":%d,"vwc_pct":30,"vwc":3}' % NOW, "invalid", "vwc"),
    (b'{"v":1,"seq":-1,"ts_ms":%d,"vwc_pct":30}' % NOW, "invalid", "seq"),
    (b'{"v":1,"seq":1,"ts_ms":12,"vwc_pct":30}', "invalid", "ts_ms"),
    (b'{"v":1,"seq":1,"ts_ms":%d,"vwc_pct":NaN}' % NOW, "not_json", "NaN"),
])
def test_rejections_carry_reason_and_detail(payload: bytes, reason: str, detail: str) -> None:
    d = decode("greeniot/v1/a/d/soil", payload)
    assert d.messages == []
    assert [r.reason for r in d.rejections] == [reason]
    assert detail in d.rejections[0].detail


def test_batch_keeps_good_items_and_indexes_bad_ones() -> None:
    good = [SoilReading(seq=i, ts_ms=NOW + i, vwc_pct=20.0) for i in range(3)]
    body = json.loads(encode_batch(good))
    body["batch"].append({"v": 1, "seq": 9})
    d = decode("greeniot/v1/a/d/soil", json.dumps(body).encode())
    assert [m.seq for m in d.messages] == [0, 1, 2]
    assert d.positions == [0, 1, 2]
    assert [(r.reason, r.index) for r in d.rejections] == [("invalid", 3)]


def test_burst_axes_must_match_and_open_needs_max_run() -> None:
    with pytest.raises(ValueError, match=r"burst\.roll_deg has 1"):
        TiltReading(seq=1, ts_ms=NOW, pitch_deg=0, roll_deg=0,
                    burst={"hz": 10, "pitch_deg": [0, 0], "roll_deg": [0]})
    with pytest.raises(ValueError, match="requires max_run_s"):
        Command(id="c1", ts_ms=NOW, deadline_ms=NOW, op="open")


def test_down_channel_payload_refused_by_ingest_decoder() -> None:
    d = decode("greeniot/v1/a/d/cmd", b"{}")
    assert [r.reason for r in d.rejections] == ["bad_channel"]


def test_infinity_is_refused_even_where_only_a_lower_bound_applies() -> None:
    body = (b'{"v":1,"seq":1,"ts_ms":%d,"state":"closed","cause":"max_run","open_s":Infinity}'
            % NOW)
    d = decode("greeniot/v1/a/v/valve", body)
    assert d.messages == [] and [r.reason for r in d.rejections] == ["not_json"]
    assert "Infinity" in d.rejections[0].detail
