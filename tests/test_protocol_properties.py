"""Property tests of the codec over every up channel: valid payloads are accepted and round-
trip; each kind of invalid payload gets its documented reason; arbitrary bytes never raise."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from greeniot.protocol import decode, encode
from tests.fuzzcases import CHANNELS, invalid, valid
from tests.test_protocol_strict import REASONS

seeds = st.integers(min_value=0, max_value=2**64)
channels = st.sampled_from(CHANNELS)


@given(seeds, channels)
@settings(max_examples=300, deadline=None)
def test_valid_payloads_are_accepted_and_round_trip(seed: int, channel: str) -> None:
    body = valid(random.Random(seed), channel)
    d = decode(f"greeniot/v1/s/d/{channel}", json.dumps(body).encode())
    assert d.rejections == [] and len(d.messages) == 1
    again = decode(f"greeniot/v1/s/d/{channel}", encode(d.messages[0]))
    assert again.messages == d.messages


@given(seeds, channels)
@settings(max_examples=400, deadline=None)
def test_invalid_payloads_get_their_documented_reason(seed: int, channel: str) -> None:
    payload, reason = invalid(random.Random(seed), channel)
    d = decode(f"greeniot/v1/s/d/{channel}", payload)
    assert reason in {r.reason for r in d.rejections}, (payload[:200], d.rejections)
    if b'"batch"' not in payload[:20]:
        assert d.messages == []
    assert {r.reason for r in d.rejections} <= REASONS


@given(st.binary(max_size=512), channels)
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise(payload: bytes, channel: str) -> None:
    d = decode(f"greeniot/v1/s/d/{channel}", payload)
    assert d.messages or d.rejections
    assert {r.reason for r in d.rejections} <= REASONS


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
                    max_leaves=30), channels)
@settings(max_examples=300, deadline=None)
def test_arbitrary_json_never_raises(obj: object, channel: str) -> None:
    d = decode(f"greeniot/v1/s/d/{channel}", json.dumps(obj).encode())
    assert d.messages or d.rejections
    assert {r.reason for r in d.rejections} <= REASONS
