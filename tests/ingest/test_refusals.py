"""Refusals told by the fast path (ingest/fastpath.py, ``FastDecoder.refusal``) are the codec's:
whenever it gives a verdict, ``codec.decode`` refuses the same payload with the same reasons
and indexes, keeps the same good items of a batch (stored as the same lines) and confirms
the same seqs. Payloads come from
tests/fuzzcases.py (every channel, every kind of invalid payload, single and batched, compact
or spaced) and from hypothesis (arbitrary JSON and bytes).
"""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greeniot.ingest.fastpath import MAX_BRACKETS, FastDecoder, Refused, strict_json
from greeniot.protocol.codec import MAX_PAYLOAD_BYTES, Decoded, Rejection, decode, parse_json
from greeniot.protocol.plausible import implausible, quality_flag
from greeniot.store.lineproto import tag_suffix, to_lines
from tests.fuzzcases import CHANNELS, KINDS, invalid, valid

seeds = st.integers(min_value=0, max_value=2**64)
channels = st.sampled_from(CHANNELS)


EVERYWHERE = (0, 10**15)  # ingest's time window: here, any time
TAGS = tag_suffix("s", "d", {"tree": "t1"})


def none(_it: object, _tags: str) -> list[str]:
    return []


def same_as_codec(topic: str, payload: bytes) -> bool:
    """Check the fast refusal against the codec, alone and as ingest calls it (after the fast
    path's decode, whose schema error it may reuse); True if the fast path gave one."""
    fast = FastDecoder()
    if fast.decode(topic, payload, *EVERYWHERE) is not None:
        return False  # accepted: tests/ingest/test_fastpath.py checks those
    told = [ref for ref in (fast.refusal(topic, payload), FastDecoder().refusal(topic, payload))
            if ref is not None]
    if not told:
        return False
    assert len(told) == 2, payload[:200]  # the reuse changes no verdict
    d = decode(topic, payload)
    for ref in told:
        check(ref, d, payload)
    return True


def check(ref: Refused, d: Decoded, payload: bytes) -> None:
    c = ref.route.code
    fast = [x for it in ref.items for x in
            [c.line(it, TAGS, 123, quality_flag(c.flags(it))), *(c.extra or none)(it, TAGS)]]
    slow = [x for m in d.messages for x in to_lines(m, TAGS, 123, quality_flag(implausible(m)))]
    assert fast == slow, payload[:200]
    assert [(r.reason, r.index) for r in ref.rejections] == \
        [(r.reason, r.index) for r in d.rejections], (payload[:200], ref, d.rejections)
    assert ref.seqs == d.refused_seqs
    assert d.topic is not None and ref.route.key == (d.topic.site, d.topic.device)
    assert all(r.detail for r in ref.rejections)


def bad_payload(r: random.Random, channel: str, kind: str | None = None) -> bytes:
    """An invalid payload, sometimes inside a batch beside other items, sometimes spaced."""
    payload, _ = invalid(r, channel, kind=kind)
    if channel not in ("status", "ack") and r.random() < 0.3 and len(payload) < 10_000:
        try:
            item = json.loads(payload)
        except ValueError:
            return payload
        others = [item] * r.randint(1, 3)
        if r.random() < 0.3:
            others.append(valid(r, channel))
        payload = json.dumps({"v": 1, "batch": others}).encode()
    elif r.random() < 0.3 and len(payload) < 10_000:
        with contextlib.suppress(ValueError):
            payload = json.dumps(json.loads(payload), indent=1).encode()
    return payload


@given(seeds, channels)
@settings(max_examples=2000, deadline=None)
def test_fast_refusals_are_the_codecs(seed: int, channel: str) -> None:
    r = random.Random(seed)
    same_as_codec(f"greeniot/v1/s/d/{channel}", bad_payload(r, channel))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_kind_on_every_channel(kind: str, channel: str) -> None:
    """Each way of breaking a payload, on each channel: the same verdict as the codec, and
    the fast path settles most of them (those with a good item beside the bad go the codec's
    way, as do some random garbage with a backslash)."""
    r = random.Random(f"{kind}/{channel}")
    topic = f"greeniot/v1/s/d/{channel}"
    told = sum(same_as_codec(topic, invalid(r, channel, kind=kind)[0]) for _ in range(30))
    if kind != "garbage":  # random bytes with a backslash go the codec's way
        assert told == 30, (kind, channel, told)


@given(seeds, channels)
@settings(max_examples=500, deadline=None)
def test_valid_payloads_are_never_refused(seed: int, channel: str) -> None:
    r = random.Random(seed)
    body: object = valid(r, channel)
    if channel not in ("status", "ack") and r.random() < 0.3:
        body = {"v": 1, "batch": [valid(r, channel) for _ in range(r.randint(1, 4))]}
    assert FastDecoder().refusal(f"greeniot/v1/s/d/{channel}",
                                 json.dumps(body).encode()) is None


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() |
                    st.text(alphabet=st.characters(codec="utf-8"), max_size=8) |
                    st.sampled_from(("a:b", ":", "open", "c-1")),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
                        st.sampled_from(("v", "seq", "ts_ms", "vwc_pct", "batch", "state",
                                         "pitch_deg", "roll_deg", "burst", "hz", "x:y", "id",
                                         "ok")), kids, max_size=6),
                    max_leaves=20), channels, st.booleans())
@settings(max_examples=1500, deadline=None)
def test_arbitrary_json(obj: object, channel: str, duplicate: bool) -> None:
    payload = json.dumps(obj).encode()
    if duplicate and payload.endswith(b"}") and len(payload) > 2:
        payload = payload[:-1] + b',"v":1}'  # the key v once more, or for the first time
    same_as_codec(f"greeniot/v1/s/d/{channel}", payload)


@given(st.binary(max_size=300), channels)
@settings(max_examples=1000, deadline=None)
def test_arbitrary_bytes(payload: bytes, channel: str) -> None:
    same_as_codec(f"greeniot/v1/s/d/{channel}", payload)


@pytest.mark.parametrize("payload", [
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5,"seq":2}',
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5,"x:y":1,"x:y":2}',
    b'{"a":"b:c","a":"d"}',
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":NaN}',
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":Infinity}',
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":"\xff"}',
    b'\xef\xbb\xbf{"v":1}',
    b'{"v":1,"seq":1}x',
    b"",
    b"[" * 100_000,
    b'{"v":1,"batch":[{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5},{"v":2},'
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5,"seq":3}]}',  # a duplicate
    b"[ " * 5_000 + b"]" * 5_000,
])
def test_not_json_is_told_as_the_codec_does(payload: bytes) -> None:
    assert same_as_codec("greeniot/v1/s/d/soil", payload)
    assert {r.reason for r in decode("greeniot/v1/s/d/soil", payload).rejections} == \
        {"not_json"}


@pytest.mark.parametrize("payload", [
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5,"temp_c":"\\u0031"}',  # an escape
    b'{"v":1,"seq":-' + b"9" * 4300 + b',"ts_ms":1795510737944,"vwc_pct":23.5}',  # 4300 digits
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":1e400}',  # past float
    b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5}',  # good
    b"[" * 300 + b"]" * 300,  # many brackets, not deep enough to be sure
    b'{"v":1,"batch":[{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5},{"v":2},'
    b'{"v":1,"seq":2,"ts_ms":1795510737944,"vwc_pct":2,"temp_c":"\\u0031"}]}',  # an escape
])
def test_what_only_the_codec_can_tell_goes_to_it(payload: bytes) -> None:
    assert FastDecoder().refusal("greeniot/v1/s/d/soil", payload) is None


def test_bad_topics_and_forecasts_go_to_the_codec() -> None:
    fast = FastDecoder()
    assert fast.refusal("greeniot/v1/S/d/soil", b"x") is None
    assert fast.refusal("greeniot/v1/s/forecast/forecast", b"x") is None


def test_strict_json_gives_the_codecs_object_or_stands_aside() -> None:
    r = random.Random(3)
    for _ in range(300):
        ch = r.choice(CHANNELS)
        payload = json.dumps(valid(r, ch)).encode()
        assert strict_json(payload) == parse_json(payload)
    deep = b"[" * (MAX_BRACKETS + 1) + b"]" * (MAX_BRACKETS + 1)
    assert strict_json(deep) is None  # the codec parses it: a list, refused as not an object
    assert not isinstance(parse_json(deep), Rejection)


def test_a_good_reading_that_names_a_batch_is_not_refused() -> None:
    """The fast path decodes a payload holding the text "batch" as a batch; when that fails,
    its error must not be taken for the single reading's."""
    topic = "greeniot/v1/s/d/valve"
    payload = (b'{"v":1,"seq":4,"ts_ms":1795510737944,"state":"open","cause":"cmd",'
               b'"cmd_id":"batch"}')
    assert decode(topic, payload).messages
    fast = FastDecoder()
    assert fast.decode(topic, payload, *EVERYWHERE) is None
    assert fast.refusal(topic, payload) is None


def test_good_items_beside_bad_ones_are_kept_within_the_time_window() -> None:
    topic = "greeniot/v1/s/d/tilt"
    good = {"v": 1, "seq": 5, "ts_ms": 1795510737944, "pitch_deg": 0.4, "roll_deg": -0.1,
            "burst": {"hz": 10.0, "pitch_deg": [0.1, 0.2], "roll_deg": [0.0, 0.1]}}
    bad = {**good, "seq": "6"}
    payload = json.dumps({"v": 1, "batch": [good, bad]}).encode()
    ref = FastDecoder().refusal(topic, payload)
    assert ref is not None and [r.index for r in ref.rejections] == [1]
    assert [it.seq for it in ref.items] == [5]
    assert same_as_codec(topic, payload)
    # outside ingest's window the codec's path names the time: the fast one stands aside
    ts = good["ts_ms"]
    assert FastDecoder().refusal(topic, payload, ts + 1, ts + 10) is None
    uneven = {**good, "burst": {"hz": 10.0, "pitch_deg": [0.1, 0.2], "roll_deg": [0.0]}}
    payload = json.dumps({"v": 1, "batch": [uneven, bad]}).encode()
    assert FastDecoder().refusal(topic, payload) is None  # a validator: the codec tells


def test_a_kept_prefix_is_judged_by_its_full_size() -> None:
    """A transport keeps only the first bytes of a payload over the limit: however good they
    look, the payload is too large, and a bad topic stays a bad topic."""
    head = b'{"v":1,"seq":1,"ts_ms":1795510737944,"vwc_pct":23.5}'
    size = MAX_PAYLOAD_BYTES + 1
    ref = FastDecoder().refusal("greeniot/v1/s/d/soil", head, size=size)
    assert ref is not None and [r.reason for r in ref.rejections] == ["too_large"]
    assert [r.reason for r in decode("greeniot/v1/s/d/soil", head, size).rejections] == \
        ["too_large"]
    assert [r.reason for r in decode("greeniot/v1/S/d/soil", head, size).rejections] == \
        ["bad_topic"]
    assert decode("greeniot/v1/s/d/soil", head).messages  # whole, it is a good reading
