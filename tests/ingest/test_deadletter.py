"""Dead letters (ingest/deadletter.py): bundled per reason, each with a bounded prefix of its
payload that reads back as the payload's first bytes."""

from __future__ import annotations

import base64
import json

from greeniot.ingest.deadletter import (
    LETTERS_PER_MESSAGE,
    MAX_DEAD_PAYLOAD_BYTES,
    bundle,
    dead_letter,
)
from greeniot.protocol.codec import Rejection

TOPIC = "greeniot/v1/s/d/soil"


def head_of(letter: dict[str, object]) -> bytes:
    text = str(letter["payload"])
    return base64.b64decode(text) if letter.get("encoding") == "base64" else text.encode()


def test_bundles_group_by_reason_and_read_back() -> None:
    payloads = [b'{"v":2}', "{\"x\":\"\u00e9\u4e2d\"}".encode(), b"\xff\xfe", b"x" * 300_000,
                '{"a":"\u00e9'.encode() * 400, b'{"q":"\\"\\n"}']
    letters = []
    for i, p in enumerate(payloads * 300):
        reason = ("bad_version", "not_json", "too_large")[i % 3]
        letters.append(dead_letter(TOPIC, p, Rejection(reason, f"why {i}", i % 2 or None),
                                   1_795_510_737_944))
    messages = bundle(letters)
    back: list[dict[str, object]] = []
    for topic, body in messages:
        doc = json.loads(body)
        assert doc["v"] == 1 and 0 < len(doc["letters"]) <= LETTERS_PER_MESSAGE
        # bounded: a prefix, escaped at most twofold, and a few fields
        assert len(body) <= len(doc["letters"]) * (2 * MAX_DEAD_PAYLOAD_BYTES + 300)
        assert {d["reason"] for d in doc["letters"]} == {topic.rsplit("/", 1)[1]}
        back.extend(doc["letters"])
    assert sorted(back, key=str) == sorted(letters, key=str)
    for letter, p in zip(letters, payloads * 300, strict=True):
        head = head_of(letter)
        assert len(head) <= MAX_DEAD_PAYLOAD_BYTES and p.startswith(head)
        assert letter.get("truncated", False) == (len(p) > MAX_DEAD_PAYLOAD_BYTES)
        assert letter.get("payload_bytes", len(p)) == len(p)
