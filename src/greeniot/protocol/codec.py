"""bytes → validated messages, or rejections with a reason; and messages → compact JSON.

A payload on a reading channel is one reading or a batch ``{"v":1,"batch":[{...},...]}`` (an
offline-buffer flush). Every item of a batch is checked on its own: a bad item is rejected with
its index, the good ones beside it are kept.

Wire rules a pydantic model cannot see are checked here (docs/protocol.md): the payload is
UTF-8 JSON of at most ``MAX_PAYLOAD_BYTES`` with no duplicate keys, no ``NaN``/``Infinity`` and
nesting the parser can take; ``v`` is present and exactly the integer 1; ``null`` is never a
value (a field without a value is left out). ``decode`` never raises.
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
    #: Valid ``seq``s of refused items (the device need not resend them: they are refused).
    refused_seqs: list[int] = field(default_factory=list)

    def _add(self, res: BaseModel | Rejection, index: int | None, obj: Any = None) -> None:
        if isinstance(res, Rejection):
            self.rejections.append(res)
            seq = seq_of(obj)
            if seq is not None:
                self.refused_seqs.append(seq)
        else:
            self.messages.append(res)
            self.positions.append(index)


class _WireError(ValueError):
    """Valid JSON text that the protocol still refuses (duplicate key, NaN)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _WireError(f"duplicate key {key[:40]!r}")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _WireError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def parse_json(payload: bytes) -> Any | Rejection:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity. A ``not_json`` Rejection else.

    Deep nesting makes the parser raise RecursionError; it is refused the same way.
    """
    try:
        return _DECODER.decode(payload.decode("utf-8"))
    except UnicodeDecodeError as err:
        return Rejection("not_json", f"payload is not JSON (not UTF-8): {err}")
    except RecursionError:
        return Rejection("not_json",
                         "payload is not JSON we parse: nested deeper than the parser allows")
    except ValueError as err:  # JSONDecodeError, _WireError, an int of more than 4300 digits
        return Rejection("not_json", f"payload is not JSON: {err}")


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "payload"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)[:500]


def check_version(obj: dict[str, Any], index: int | None) -> Rejection | None:
    """``bad_version`` unless ``v`` is present and exactly the integer 1."""
    if "v" not in obj:
        return Rejection("bad_version", "field v (schema version) is required", index)
    v = obj["v"]
    if type(v) is not int or v != SCHEMA_VERSION:  # bool is an int subclass: refuse it
        shown = repr(v)[:40]
        return Rejection("bad_version", f"schema version {shown} is not supported (want 1)",
                         index)
    return None


def seq_of(obj: Any) -> int | None:
    """The valid ``seq`` of a payload item, if it has one."""
    seq = obj.get("seq") if isinstance(obj, dict) else None
    return seq if type(seq) is int and 0 <= seq <= 0xFFFF_FFFF else None


def precheck(obj: Any, index: int | None) -> Rejection | None:
    """What refuses an item before its model sees it: not an object, ``v``, ``null``."""
    if not isinstance(obj, dict):
        return Rejection("invalid", f"expected a JSON object, got {type(obj).__name__}", index)
    bad = check_version(obj, index)
    if bad is not None:
        return bad
    nulls = [k for k, val in obj.items() if val is None]
    if nulls:
        return Rejection("invalid", f"null is not a value (leave the field out): "
                         f"{', '.join(nulls[:5])}", index)
    return None


def batch_precheck(obj: dict[str, Any]) -> Rejection | None:
    """What refuses a batch ``{"v":1,"batch":[...]}`` as a whole, before its items."""
    bad = check_version(obj, None)
    if bad is not None:
        return bad
    items = obj["batch"]
    if set(obj) != {"v", "batch"} or not isinstance(items, list):
        return Rejection("invalid", "a batch is {\"v\":1,\"batch\":[...]} and nothing else")
    if len(items) > MAX_BATCH:
        return Rejection("too_large", f"batch of {len(items)} > {MAX_BATCH}")
    return None


def too_large(size: int) -> Rejection | None:
    """``too_large`` for a payload of ``size`` bytes over the limit."""
    if size > MAX_PAYLOAD_BYTES:
        return Rejection("too_large", f"{size} bytes > {MAX_PAYLOAD_BYTES}")
    return None


def _validate(model: type[BaseModel], obj: Any, index: int | None) -> BaseModel | Rejection:
    bad = precheck(obj, index)
    if bad is not None:
        return bad
    try:
        return model.model_validate(obj)
    except ValidationError as err:
        return Rejection("invalid", _describe(err), index)


def decode(topic: str, payload: bytes, size: int | None = None) -> Decoded:
    """Decode one MQTT message from a device. Never raises on bad input.

    ``size``: the payload's full size when ``payload`` is only its first bytes (a transport
    keeps no more of a payload over ``MAX_PAYLOAD_BYTES``, refused on its size).
    """
    try:
        t = parse_topic(topic)
    except TopicError as err:
        return Decoded(None, rejections=[Rejection("bad_topic", str(err)[:300])])
    out = Decoded(t)
    row = CHANNELS[t.channel]  # parse_topic admits only channels of the table
    if row.direction != "up":
        out.rejections.append(Rejection("bad_channel", f"{t.channel!r} is not an up channel"))
        return out
    big = too_large(len(payload) if size is None else size)
    if big is not None:
        out.rejections.append(big)
        return out
    obj = parse_json(payload)
    if isinstance(obj, Rejection):
        out.rejections.append(obj)
        return out
    model = row.model
    if isinstance(obj, dict) and "batch" in obj and row.batch:
        bad = batch_precheck(obj)
        if bad is not None:
            out.rejections.append(bad)
            return out
        for i, item in enumerate(obj["batch"]):
            out._add(_validate(model, item, i), i, item)
        return out
    out._add(_validate(model, obj, None), None, obj)
    return out


def encode(msg: BaseModel) -> bytes:
    """Compact JSON, ``None`` fields left out."""
    return msg.model_dump_json(exclude_none=True).encode()


def encode_batch(msgs: list[BaseModel]) -> bytes:
    items = [m.model_dump(mode="json", exclude_none=True) for m in msgs]
    return json.dumps({"v": SCHEMA_VERSION, "batch": items}, separators=(",", ":")).encode()
