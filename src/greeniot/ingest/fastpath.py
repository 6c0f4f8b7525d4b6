"""The ingest hot path: strict msgspec decoding and compiled line builders, both generated at
import from the protocol's pydantic models and the channel table.

:meth:`FastDecoder.decode` only ever *accepts*. A payload it cannot take whole — any
refusal, a payload with a backslash escape, a possible duplicate key, a time outside
ingest's window — goes to :meth:`FastDecoder.refusal` (below) and, where that cannot be
certain, to :func:`greeniot.protocol.codec.decode`, which gives the documented reason (and
keeps the good items of a batch). So the rules of docs/protocol.md hold as long as the fast path
accepts nothing that ``decode`` refuses and stores what ``to_lines`` would: the tests in
tests/ingest/test_fastpath.py check both on hypothesis and fuzz payloads.

What ``decode`` checks and how the fast path matches it:

- strict types, bounds, ``extra=forbid``: msgspec Structs, strict by nature, with the same
  ``Meta`` bounds and ``forbid_unknown_fields``; ``null`` is no member of any field type
  (absent optional fields are ``UNSET``), ``v`` is required;
- duplicate keys (msgspec keeps the last one silently): every key of a JSON text is followed by
  its own ``:`` outside any string, so the payload holds at least as many colons as keys; the
  decoded Structs count the distinct keys they were given, and any difference (a duplicate,
  or a colon inside a string) goes to the slow path;
- strings reach line protocol unescaped: a payload with a backslash (the only way to put a
  quote or control character into a JSON string) goes to the slow path;
- NaN/Infinity, bad UTF-8, deep nesting: msgspec refuses them (the slow path names them);
- model validators: mirrored in :data:`_CHECKS`; a model with a validator not listed there
  makes this module refuse to import, so a new rule cannot be skipped silently.

Refusals (:meth:`FastDecoder.refusal`) are told here too when that is certain, since the
codec's path costs 40-80 µs a payload (pydantic building its errors; ~0.5 ms for deep
nesting) and a flood of bad payloads must not slow the good ones: the same checks in the
codec's order, with msgspec's parse and conversion standing in for ``json`` and pydantic only
where they agree — a payload without backslashes and with few brackets, whose keys are counted
against its colons (a duplicate key is ``not_json``). Whatever that cannot settle (an item
msgspec accepts, an escape, a number msgspec cannot hold) goes to the codec as before;
tests/ingest/test_refusals.py checks that every verdict equals the codec's.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import msgspec
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from greeniot.protocol.channels import CHANNELS, SUB_MEASUREMENTS, Channel
from greeniot.protocol.codec import (
    MAX_BATCH,
    MAX_PAYLOAD_BYTES,
    Rejection,
    batch_precheck,
    parse_json,
    precheck,
    seq_of,
    too_large,
)
from greeniot.protocol.messages import MAX_BURST_SPAN_MS, SCHEMA_VERSION, TS_MAX_MS, TiltBurst
from greeniot.protocol.plausible import quality_flag, ranges
from greeniot.protocol.topics import TopicError, parse_topic
from greeniot.store.lineproto import escape_tag, point_us

UNSET = msgspec.UNSET


# -- pydantic model → msgspec Struct ------------------------------------------------------------
def _meta(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in items:
        if isinstance(m, FieldInfo):
            out.update(_meta(m.metadata))
        elif isinstance(m, at.Ge):
            out["ge"] = m.ge
        elif isinstance(m, at.Le):
            out["le"] = m.le
        elif isinstance(m, at.Gt):
            out["gt"] = m.gt
        elif isinstance(m, at.Lt):
            out["lt"] = m.lt
        elif isinstance(m, at.MinLen):
            out["min_length"] = m.min_length
        elif isinstance(m, at.MaxLen):
            out["max_length"] = m.max_length
        elif type(m).__name__ == "_PydanticGeneralMetadata" and set(vars(m)) == {"pattern"}:
            out["pattern"] = vars(m)["pattern"]
        else:
            raise TypeError(f"fast path: no msgspec equivalent for constraint {m!r}")
    return out


def _type(tp: Any, meta: list[Any]) -> Any:
    """The msgspec type of a pydantic annotation (with its constraints ``meta``)."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *extra = get_args(tp)
        return _type(inner, [*meta, *extra])
    kw = _meta(meta)
    base: Any
    if origin is list:
        (item,) = get_args(tp)
        base = list[_type(item, [])]  # type: ignore[misc]
    elif origin is Literal or tp in (int, float, str, bool):
        base = tp
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        base = struct_of(tp)
    else:
        raise TypeError(f"fast path: no msgspec equivalent for {tp!r}")
    return Annotated[base, msgspec.Meta(**kw)] if kw else base


def _optional(tp: Any) -> Any | None:
    """``X`` of ``X | None``, else None."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0]
    return None


_STRUCTS: dict[type[BaseModel], type[msgspec.Struct]] = {}


def struct_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    """A strict msgspec Struct accepting what ``model`` accepts in the codec (``v`` required,
    no ``null``); fields the payload left out are ``UNSET``."""
    if model in _STRUCTS:
        return _STRUCTS[model]
    if not model.model_config.get("strict") or model.model_config.get("extra") != "forbid":
        raise TypeError(f"fast path: {model.__name__} is not strict with extra=forbid")
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.field_serializers:
        raise TypeError(f"fast path: {model.__name__} has field validators")
    for name in decorators.model_validators:
        if (model.__name__, name) not in _CHECKED:
            raise TypeError(f"fast path: validator {model.__name__}.{name} has no mirror")
    fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
    for name, f in model.model_fields.items():
        inner = _optional(f.annotation)
        if name == "v" or f.is_required():
            fields.append((name, _type(f.annotation, list(f.metadata))))
        elif inner is not None and f.default is None:
            fields.append((name, _type(inner, list(f.metadata)) | msgspec.UnsetType, UNSET))
        else:  # a default other than None (rain_mm = 0.0): absent is UNSET, stored as default
            fields.append((name, _type(f.annotation, list(f.metadata)) | msgspec.UnsetType,
                           UNSET))
    st = msgspec.defstruct(f"Fast{model.__name__}", fields, kw_only=True,
                           forbid_unknown_fields=True)
    _STRUCTS[model] = st
    return st


# -- model validators, mirrored ------------------------------------------------------------------
def _burst_ok(b: Any) -> bool:
    n = len(b.pitch_deg)
    return n == len(b.roll_deg) and (n - 1) * 1000.0 / b.hz <= MAX_BURST_SPAN_MS


def _tilt_ok(m: Any) -> bool:
    b = m.burst
    return b is UNSET or (_burst_ok(b) and m.ts_ms + (len(b.pitch_deg) - 1) * 1000.0 / b.hz
                          <= TS_MAX_MS)


#: (model, validator) pairs the checks below stand for.
_CHECKED = {("TiltBurst", "_same_length"), ("TiltReading", "_burst_in_time_range")}
#: Checks of one decoded payload item per channel (nested models included).
_CHECKS: Mapping[str, Callable[[Any], bool]] = {"tilt": _tilt_ok}


# -- compiled per-channel code -------------------------------------------------------------------
class FloatText(dict[float | msgspec.UnsetType, str]):
    """``repr(x)`` of floats, remembered: ``FloatText()[x] == repr(x)``.

    Formatting a float is most of the cost of a line (shortest round-trip digits, several
    hundred ns), while devices send rounded values (vwc and temperatures to 0.1, volts to
    0.01, angles to 0.001) that repeat. A hit is one dict lookup. Bounded: emptied when it
    holds ``max_size`` texts (~110 bytes each; one memo per optional float field and one per
    channel for the others, 18 in all: at most ~8 MB together). Zero is never remembered:
    ``0.0 == -0.0`` as a key, but their texts differ."""

    def __init__(self, max_size: int = 4096, prefix: str = "") -> None:
        """``prefix``: put before each text (``FloatText(prefix=",t=")[1.5] == ",t=1.5"``),
        and ``UNSET`` (an absent optional field) gives ``""``: one lookup, no branch."""
        super().__init__()
        self.max_size = max_size
        self.prefix = prefix

    def __missing__(self, x: float | msgspec.UnsetType) -> str:
        if x is UNSET:
            return ""
        text = self.prefix + repr(x)
        if x:
            if len(self) >= self.max_size:
                self.clear()
            self[x] = text
        return text


_THREE_DIGITS = tuple(f"{i:03d}" for i in range(1000))


def _fmt(kind: str, x: str) -> str:
    """f-string text of a field value ``x`` (msgspec gives floats for float fields)."""
    if kind == "float":
        return f"{{FT[{x}]}}"
    if kind == "int":
        return f"{{{x}}}i"
    if kind == "bool":
        return f"{{B[{x}]}}"
    return f'"{{{x}}}"'  # no backslash or quote reaches here (module docstring)


def _plausible_expr(row: Channel, env: dict[str, Any]) -> str:
    """A boolean expression: every field of ``m`` in its plausible range (or absent), as
    ``flags(m) == ()`` says, but without building tuples (the ``L{k}``/``H{k}`` of flags)."""
    mf = row.model.model_fields
    terms = []
    for k, (name, (lo, hi)) in enumerate(ranges(row.name).items()):
        if name not in mf:
            continue
        env[f"L{k}"], env[f"H{k}"] = lo, hi
        terms.append(f"(m.{name} is U or L{k} <= m.{name} <= H{k})")
    return " and ".join(terms) or "True"


def _source(row: Channel) -> tuple[str, dict[str, Any]]:
    """Python source of ``keys(m)``, ``line(m, tags, received_ms, quality)`` and ``flags(m)``
    for one channel: straight-line code, one f-string per line, no loop over fields."""
    model = row.model
    # Generated f-strings are single-quoted, and their expressions hold no quotes.
    env: dict[str, Any] = {"U": UNSET, "esc": escape_tag, "B": ("false", "true"),
                           "FT": FloatText()}
    mf = model.model_fields
    # keys(m, lo, hi): the number of JSON keys this item was given (nested objects included),
    # or -1 when its time lies outside [lo, hi] (ingest's window: the slow path refuses it)
    terms = []
    for name, f in mf.items():
        if name == "v" or f.is_required():
            terms.append("1")
        elif _optional(f.annotation) is TiltBurst:
            terms.append(f"(0 if m.{name} is U else {1 + len(TiltBurst.model_fields)})")
        else:
            terms.append(f"(m.{name} is not U)")
    window = "lo <= m.ts_ms <= hi" if mf["ts_ms"].is_required() \
        else "(m.ts_ms is U or lo <= m.ts_ms <= hi)"
    src = [f"def keys(m, lo, hi):\n    return ({' + '.join(terms)}) if {window} else -1\n",
           # count(items, lo, hi): keys() summed over a batch, in one call (hot path)
           "def count(items, lo, hi):\n    n = 0\n    for m in items:\n"
           f"        if not ({window}):\n            return -1\n"
           f"        n += {' + '.join(terms)}\n    return n\n"]
    # line(m, tags, received_ms, quality): optional fields as locals, then one f-string
    pre, body = [], []
    for i, (fname, fld) in enumerate(row.fields.items()):
        if fld.value is not None:  # derived (e.g. open = state == "open"); None: left out
            env[f"F{i}"] = fld.value
            pre.append(f"    x{i} = F{i}(m)\n    o{i} = '' if x{i} is None else "
                       f"f',{fname}={_fmt(fld.type, f'{fld.type}(x{i})')}'\n")
            body.append(f"{{o{i}}}")
            continue
        attr = fld.attr or fname
        f = mf[attr]
        if attr == "v" or f.is_required():
            body.append(f",{fname}={_fmt(fld.type, f'm.{attr}')}")
        elif f.default is None and fld.type == "float":  # absent: "" from the lookup
            env[f"FT{i}"] = FloatText(prefix=f",{fname}=")
            body.append(f"{{FT{i}[m.{attr}]}}")
        elif f.default is None:
            pre.append(f"    o{i} = '' if m.{attr} is U else "
                       f"f',{fname}={_fmt(fld.type, f'm.{attr}')}'\n")
            body.append(f"{{o{i}}}")
        else:  # a default other than None: written when absent, as the model has it
            env[f"D{i}"] = f.default
            pre.append(f"    d{i} = D{i} if m.{attr} is U else m.{attr}\n")
            body.append(f",{fname}={_fmt(fld.type, f'd{i}')}")
    extra = "".join(f",{tag}={{esc(m.{attr})}}" for tag, attr in row.tags.items())
    ts = "(received_ms if m.ts_ms is U else m.ts_ms)" if not mf["ts_ms"].is_required() \
        else "m.ts_ms"
    # ts_ms * 1000 + seq % 1000 written as the digits of ts_ms and then three digits of seq
    # (ts_ms >= 0 by the models' bounds): no big-int arithmetic per line
    env["S3"] = _THREE_DIGITS
    t_us = f"{{{ts}}}{{S3[m.seq % 1000]}}" if "seq" in mf else f"{{{ts}}}000"
    src.append(
        "def line(m, tags, received_ms, quality):\n" + "".join(pre) +
        f"    body = f'{''.join(body)}'\n"
        "    if quality:\n"
        "        body += f',quality=\"{quality}\"'\n"
        f"    return f'{row.measurement}{extra}{{tags}} {{body[1:]}} {t_us}'\n")
    # lines(items, tags, received_ms, out): line() for a whole batch, appended to ``out``,
    # with the plausibility test inlined (flags() only for an item outside a range) and the
    # sub-measurement lines after each item; returns how many items were flagged. One call
    # per message instead of three per reading (docs/architecture.md, the ingest hot path).
    ok = _plausible_expr(row, env)
    more = "        out.extend(X(m, tags))\n" if row.name in _EXTRA else ""
    env["X"], env["QF"] = _EXTRA.get(row.name), quality_flag
    src.append(
        "def lines(items, tags, received_ms, out):\n    flagged = 0\n    add = out.append\n"
        "    for m in items:\n" + "".join("    " + x for x in "".join(pre).splitlines(True)) +
        f"        body = f'{''.join(body)}'\n"
        f"        if not ({ok}):\n"
        "            q = QF(flags(m))\n"
        "            if q:\n"
        "                flagged += 1\n"
        "                body += f',quality=\"{q}\"'\n"
        f"        add(f'{row.measurement}{extra}{{tags}} {{body[1:]}} {t_us}')\n" + more +
        "    return flagged\n")
    # flags(m): the fields outside their plausible range, in plausible.ranges order
    checks = []
    for k, (name, (lo, hi)) in enumerate(ranges(row.name).items()):
        if name not in mf:  # implausible() reads it with getattr(..., None): never flagged
            continue
        env[f"L{k}"], env[f"H{k}"] = lo, hi
        checks.append(f"(('{name}',) if m.{name} is not U and not L{k} <= m.{name} <= H{k} "
                      "else ())")
    src.append(f"def flags(m):\n    return {' + '.join(checks) or '()'}\n")
    return "".join(src), env


def _sway(m: Any, tags: str) -> list[str]:
    """A tilt burst's samples as ``sway`` lines (as ``lineproto.to_lines`` writes them)."""
    b = m.burst
    if b is UNSET:
        return []
    t_us = point_us(m.ts_ms, m.seq)
    step = 1e6 / b.hz
    return [f"sway{tags} pitch_deg={float(p)!r},roll_deg={float(r)!r} {t_us + round(i * step)}"
            for i, (p, r) in enumerate(zip(b.pitch_deg, b.roll_deg, strict=True))]


#: Lines beside a channel's own, per channel (the sub-measurements of channels.py).
_EXTRA: Mapping[str, Callable[[Any, str], list[str]]] = {"tilt": _sway}


@dataclass(frozen=True, slots=True)
class Compiled:
    """Everything the hot path runs for one channel."""

    channel: str
    single: msgspec.json.Decoder[Any]
    struct: type[msgspec.Struct]  # what ``single`` decodes to (refusals convert items to it)
    batch: msgspec.json.Decoder[Any] | None
    keys: Callable[[Any, int, int], int]
    count: Callable[[list[Any], int, int], int]  # keys() summed over items, -1 if any is out
    line: Callable[[Any, str, int, str | None], str]
    lines: Callable[[list[Any], str, int, list[str]], int]  # all lines of items → flagged
    flags: Callable[[Any], tuple[str, ...]]
    check: Callable[[Any], bool] | None
    extra: Callable[[Any, str], list[str]] | None  # (m, tags) → sub-measurement lines
    has_seq: bool
    has_ts: bool  # ts_ms required (else a status without one: stored at its receive time)
    source: str  # the generated code, for reading and debugging


def compile_channel(row: Channel) -> Compiled:
    if row.name in SUB_MEASUREMENTS and row.name not in _EXTRA:
        raise TypeError(f"fast path: no lines for the sub-measurements of {row.name!r}")
    st = struct_of(row.model)
    batch = None
    if row.batch:
        bt = msgspec.defstruct(f"FastBatch{row.model.__name__}", [
            ("v", Annotated[int, msgspec.Meta(ge=SCHEMA_VERSION, le=SCHEMA_VERSION)]),
            ("batch", Annotated[list[st], msgspec.Meta(max_length=MAX_BATCH)]),  # type: ignore[valid-type]
        ], forbid_unknown_fields=True)
        batch = msgspec.json.Decoder(bt)
    src, env = _source(row)
    exec(compile(src, f"<fastpath {row.name}>", "exec"), env)
    mf = row.model.model_fields
    return Compiled(row.name, msgspec.json.Decoder(st), st, batch, env["keys"], env["count"],
                    env["line"], env["lines"], env["flags"], _CHECKS.get(row.name),
                    _EXTRA.get(row.name), "seq" in mf, mf["ts_ms"].is_required(), src)


#: Per-site channels (the forecast) are rare and their topic rule is the codec's: slow path.
COMPILED: Mapping[str, Compiled] = {
    r.name: compile_channel(r) for r in CHANNELS.values()
    if r.direction == "up" and r.measurement is not None and r.site_device is None
}


# -- decoding ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Route:
    """A topic the fast path knows: its device and channel code."""

    site: str
    device: str
    code: Compiled

    @property
    def key(self) -> tuple[str, str]:
        return (self.site, self.device)


class FastDecoder:
    """``decode(topic, payload)`` → (route, items), or None: then use the codec's ``decode``.

    Remembers the routes of up to ``max_topics`` valid topics (a topic is parsed once)."""

    def __init__(self, max_topics: int = 200_000) -> None:
        self.max_topics = max_topics
        self._routes: dict[str, Route | None] = {}
        #: the payload whose single-item decoding msgspec refused last, and why
        self._refused: tuple[bytes, msgspec.ValidationError] | None = None

    def route(self, topic: str) -> Route | None:
        try:
            return self._routes[topic]
        except KeyError:
            pass
        try:
            t = parse_topic(topic)
        except TopicError:
            return None  # bad topics are rare and not remembered
        code = COMPILED.get(t.channel)
        r = Route(t.site, t.device, code) if code is not None else None
        if len(self._routes) >= self.max_topics:
            self._routes.clear()
        self._routes[topic] = r
        return r

    def decode(self, topic: str, payload: bytes, lo: int, hi: int
               ) -> tuple[Route, list[Any]] | None:
        """The route and decoded items of one message, all with ``lo <= ts_ms <= hi``
        (ingest's time window), or None."""
        r = self.route(topic)
        if (r is None or len(payload) > MAX_PAYLOAD_BYTES or payload[:1] == b"["
                or b"\\" in payload):  # an array is no payload (and may be deep: no scan)
            return None
        c = r.code
        try:
            if c.batch is not None and b'"batch"' in payload:
                items = c.batch.decode(payload).batch
                k = c.count(items, lo, hi)
                if k < 0:
                    return None
                n = 2 + k
            else:
                try:
                    items = [c.single.decode(payload)]
                except msgspec.ValidationError as err:  # kept: refusal() may tell it
                    self._refused = (payload, err)
                    return None
                n = c.keys(items[0], lo, hi)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        if payload.count(b":") != n:  # a duplicate key, or a colon inside a string
            return None
        if c.check is not None and not all(map(c.check, items)):
            return None
        return r, items

    def refusal(self, topic: str, payload: bytes, lo: int = 0, hi: int = TS_MAX_MS,
                size: int | None = None) -> Refused | None:
        """The codec's verdict on a payload :meth:`decode` did not take, when it is certain
        here: its rejections, and the good items of a batch beside them (each with
        ``lo <= ts_ms <= hi``); None when only the codec can tell. ``size``: the payload's
        full size if ``payload`` is only its first bytes."""
        r = self.route(topic)
        if r is None:
            return None
        big = too_large(len(payload) if size is None else size)
        if big is not None:
            return Refused(r, [big], [])
        obj = strict_json(payload)
        if obj is None:
            return None
        if isinstance(obj, Rejection):
            return Refused(r, [obj], [])
        c = r.code
        if c.batch is not None and isinstance(obj, dict) and "batch" in obj:
            bad = batch_precheck(obj)
            if bad is not None:
                return Refused(r, [bad], [])
            rejections, seqs, good = [], [], []
            for i, item in enumerate(obj["batch"]):
                rej = precheck(item, i)
                if rej is None:
                    try:
                        it = msgspec.convert(item, c.struct)
                    except msgspec.ValidationError as err:
                        rej = Rejection("invalid", str(err)[:500], i)
                    else:  # good as decode() would take it, or the codec tells why not
                        if c.keys(it, lo, hi) < 0 or (c.check is not None and not c.check(it)):
                            return None
                        good.append(it)
                        continue
                rejections.append(rej)
                seq = seq_of(item)
                if seq is not None:
                    seqs.append(seq)
            if not rejections:  # all good, yet decode() did not take it: the codec's call
                return None
            return Refused(r, rejections, seqs, good)
        refused, self._refused = self._refused, None
        if refused is not None and refused[0] is payload and precheck(obj, None) is None:
            # decode() met this payload's schema error already: the same the codec meets
            # (well-formed JSON, so an error of the schema, and precheck's come first)
            rej = Rejection("invalid", str(refused[1])[:500])
        else:
            rej = _refused_item(c, obj, None)
        if rej is None:
            return None
        seq = seq_of(obj)
        return Refused(r, [rej], [] if seq is None else [seq])


# -- refusals ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Refused:
    """A refused payload: its rejections (in the codec's order), the valid seqs of its
    refused items (confirmed to the device like stored ones: it need not resend them) and,
    for a batch, its good items."""

    route: Route
    rejections: list[Rejection]
    seqs: list[int]
    #: the good items of a batch beside the refused ones, as :meth:`FastDecoder.decode`
    #: gives them (no duplicate key or escape in the payload: strict_json saw to that)
    items: list[Any] = field(default_factory=list)


#: Brackets beyond which a payload is not parsed here: its nesting could come near the
#: limit of the codec's parser, where only that parser can tell.
MAX_BRACKETS = 256
_ANY = msgspec.json.Decoder()
_OPENING = (b"[", b" ", b"\t", b"\r", b"\n")


def _nesting_refused() -> int:
    """A depth of leading ``[`` the codec's parser refuses from any call depth: twice the
    first it refuses here (from Python's recursion limit up)."""
    depth = sys.getrecursionlimit()
    while depth < 1 << 22 and not isinstance(parse_json(b"[" * depth + b"]" * depth),
                                             Rejection):
        depth *= 2
    return 2 * depth


_DEEP = _nesting_refused()


def _keys(obj: Any) -> int:
    """Keys of all objects in ``obj``."""
    if type(obj) is dict:
        n = len(obj)
        for v in obj.values():
            if type(v) is dict or type(v) is list:
                n += _keys(v)
        return n
    if type(obj) is list:
        return sum(_keys(v) for v in obj if type(v) is dict or type(v) is list)
    return 0


def _keys_and_colons(obj: Any) -> tuple[int, int]:
    """Keys of all objects in ``obj``, and colons inside its strings (keys included)."""
    keys = colons = 0
    stack = [obj]
    while stack:
        x = stack.pop()
        if type(x) is dict:
            keys += len(x)
            for k, v in x.items():
                colons += k.count(":")
                if type(v) is str:
                    colons += v.count(":")
                elif type(v) is dict or type(v) is list:
                    stack.append(v)
        elif type(x) is list:
            for v in x:
                if type(v) is str:
                    colons += v.count(":")
                elif type(v) is dict or type(v) is list:
                    stack.append(v)
        elif type(x) is str:
            colons += x.count(":")
    return keys, colons


def strict_json(payload: bytes) -> Any | Rejection | None:
    """What ``codec.parse_json`` makes of ``payload`` (the same object, or a ``not_json``
    rejection), or None where msgspec's parser and Python's might differ: escapes (lone
    surrogates), numbers msgspec cannot hold (past float range, ~4300 digits), nesting near
    the parser's limit."""
    if payload[:1] in _OPENING:  # an array, maybe nested past the parser's limit
        depth = max(_DEEP, 2 * sys.getrecursionlimit())
        if payload[:2 * depth].translate(None, b" \t\r\n").startswith(b"[" * depth):
            return Rejection("not_json", f"payload is not JSON we parse: nested deeper than "
                             f"the parser allows (more than {depth} arrays)")
    if b"\\" in payload or payload.count(b"[") + payload.count(b"{") > MAX_BRACKETS:
        return None
    try:
        obj = _ANY.decode(payload)
    except msgspec.ValidationError:  # a number msgspec cannot hold; Python's json may
        return None
    except msgspec.DecodeError as err:  # malformed, not UTF-8, NaN/Infinity
        return Rejection("not_json", f"payload is not JSON: {err}")
    # Each key is followed by its own colon; every other colon lies inside a string. More
    # colons than that: a key the parser kept once was given twice. (As many keys as
    # colons: none in strings, none twice; the strings are read only when that fails.)
    colons = payload.count(b":")
    if _keys(obj) == colons:
        return obj
    keys, in_strings = _keys_and_colons(obj)
    if keys + in_strings == colons:
        return obj
    if keys + in_strings < colons:
        return Rejection("not_json", "payload is not JSON: a key appears twice in an object")
    return None  # not reached: each key has its colon


def _refused_item(c: Compiled, obj: Any, index: int | None) -> Rejection | None:
    """The codec's rejection of one payload item, or None if msgspec accepts it (the model
    may still: only the codec can tell)."""
    bad = precheck(obj, index)
    if bad is not None:
        return bad
    try:
        msgspec.convert(obj, c.struct)
    except msgspec.ValidationError as err:
        return Rejection("invalid", str(err)[:500], index)
    return None


__all__ = ["COMPILED", "Compiled", "FastDecoder", "FloatText", "Refused", "Route",
           "compile_channel", "strict_json", "struct_of"]
