"""bytes → validated messages, or rejections with a reason; and messages → compact JSON.

A payload on a reading channel is one reading or a batch ``{"v":1,"batch":[{...},...]}`` (an
offline-buffer flush). Every item of a batch is checked on its own: a bad item is rejected with
its index, the good ones beside it are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from greeniot.protocol.channels import CHANNELS
from greeniot.protocol.messages import SCHEMA_VERSION
from greeniot.protocol.topics import Topic, TopicError, parse_topic

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BATCH = 2000


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a payload was refused. ``reason`` is a stable code; ``detail`` is prose."""

    reason: str
    detail: str
    index: int | None = None  # item within a batch


@dataclass(slots=True)
class Decoded:
    topic: Topic | None
    messages: list[BaseModel] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: For each message, its index in the batch (``None`` for a single message).
    positions: list[int | None] = field(default_factory=list)

    def _add(self, res: BaseModel | Rejection, index: int | None) -> None:
        if isinstance(res, Rejection):
            self.rejections.append(res)
        else:
            self.messages.append(res)
            self.positions.append(index)


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "payload"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def _validate(model: type[BaseModel], obj: Any, index: int | None) -> BaseModel | Rejection:
    if not isinstance(obj, dict):
        return Rejection("invalid", f"expected a JSON object, got {type(obj).__name__}", index)
    v = obj.get("v", SCHEMA_VERSION)
    if v != SCHEMA_VERSION:
        return Rejection("bad_version", f"schema version {v!r} is not supported (want 1)", index)
    try:
        return model.model_validate(obj)
    except ValidationError as err:
        return Rejection("invalid", _describe(err), index)


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode one MQTT message from a device. Never raises on bad input."""
    try:
        t = parse_topic(topic)
    except TopicError as err:
        return Decoded(None, rejections=[Rejection("bad_topic", str(err))])
    out = Decoded(t)
    row = CHANNELS[t.channel]  # parse_topic admits only channels of the table
    if row.direction != "up":
        out.rejections.append(Rejection("bad_channel", f"{t.channel!r} is not an up channel"))
        return out
    if len(payload) > MAX_PAYLOAD_BYTES:
        out.rejections.append(
            Rejection("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
        )
        return out
    model = row.model
    # Fast path: pydantic-core parses and validates in one pass. Anything it refuses (a batch,
    # another version, bad JSON, a bad field) goes the slow way below, which names the reason.
    try:
        out._add(model.model_validate_json(payload), None)
        return out
    except ValidationError:
        pass
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        out.rejections.append(Rejection("not_json", f"payload is not JSON: {err}"))
        return out
    if isinstance(obj, dict) and "batch" in obj and row.batch:
        v = obj.get("v")
        items = obj["batch"]
        if v != SCHEMA_VERSION:
            out.rejections.append(
                Rejection("bad_version", f"schema version {v!r} is not supported (want 1)")
            )
            return out
        if set(obj) != {"v", "batch"} or not isinstance(items, list):
            out.rejections.append(
                Rejection("invalid", "a batch is {\"v\":1,\"batch\":[...]} and nothing else")
            )
            return out
        if len(items) > MAX_BATCH:
            out.rejections.append(Rejection("too_large", f"batch of {len(items)} > {MAX_BATCH}"))
            return out
        for i, item in enumerate(items):
            out._add(_validate(model, item, i), i)
        return out
    out._add(_validate(model, obj, None), None)
    return out


def encode(msg: BaseModel) -> bytes:
    """Compact JSON, ``None`` fields left out."""
    return msg.model_dump_json(exclude_none=True).encode()


def encode_batch(msgs: list[BaseModel]) -> bytes:
    items = [m.model_dump(mode="json", exclude_none=True) for m in msgs]
    return json.dumps({"v": SCHEMA_VERSION, "batch": items}, separators=(",", ":")).encode()
