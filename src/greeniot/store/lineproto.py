"""Protocol messages → InfluxDB line protocol. Pure.

Field types are fixed per measurement by this schema, never inferred from the JSON: a value the
device sent as ``30`` is still written as the float ``30.0``, or InfluxDB would refuse later
points of the series with a field-type conflict.

Timestamps are in microseconds (write with ``precision=u``): a reading's point time is
``ts_ms * 1000 + seq % 1000``. InfluxDB identifies a point by series and time, so two distinct
readings of one device in the same millisecond stay two points (their seqs differ), while a
redelivered reading (same ``ts_ms``, same ``seq``) lands on the same point and overwrites
itself. Queries with ``epoch=ms`` still return the device's ``ts_ms``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from greeniot.protocol.channels import SCHEMA, FieldType, channel_of
from greeniot.protocol.messages import Status, TiltReading

__all__ = ["PRECISION", "SCHEMA", "FieldType", "escape_tag", "field_text", "line", "point_us",
           "tag_suffix", "to_lines"]

#: The InfluxDB write precision of every line made here.
PRECISION = "u"
_US_PER_MS = 1000


def point_us(ts_ms: int, seq: int | None) -> int:
    """Point time [µs] of a reading: its ms timestamp plus ``seq % 1000`` µs."""
    return ts_ms * _US_PER_MS + (seq % _US_PER_MS if seq is not None else 0)


_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": ""})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def field_text(value: object, kind: FieldType) -> str:
    """One field value in line protocol, typed by the channel table (never inferred)."""
    if kind == "float":
        return repr(float(value))  # type: ignore[arg-type]
    if kind == "int":
        return f"{int(value)}i"  # type: ignore[call-overload]
    if kind == "bool":
        return "true" if value else "false"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{text}"'


def line(measurement: str, tags: str, fields: Mapping[str, object], ts: int,
         quality: str | None = None) -> str:
    """One line; ``tags`` is the pre-escaped ``,k=v,...`` suffix; ``None`` fields are left out.

    ``ts`` is in the precision the caller writes with (``to_lines``: µs, see ``point_us``).
    ``quality`` adds the string field ``quality`` (e.g. ``implausible:bat_v``).
    """
    types = SCHEMA[measurement]
    body = ",".join(f"{k}={field_text(v, types[k])}" for k, v in fields.items() if v is not None)
    if quality:
        body += f",quality={field_text(quality, 'str')}"
    return f"{measurement}{tags} {body} {ts}"


def tag_suffix(site: str, device: str, extra: Mapping[str, str] | None = None) -> str:
    """``,device=..,site=..[,tree=..][,zone=..]`` with keys sorted, as InfluxDB prefers."""
    tags = {"site": site, "device": device, **(extra or {})}
    return "".join(f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)


def to_lines(msg: BaseModel, tags: str, received_ms: int, quality: str | None = None
             ) -> list[str]:
    """Lines (µs timestamps, ``PRECISION``) for one decoded up-channel message, as the channel
    table says: its measurement, its fields with their fixed types, its extra tags; a tilt
    burst adds ``sway`` samples, sample *i* at ``point_us(ts_ms, seq) + round(i * 1e6 / hz)``;
    with ``quality``, the reading's quality flag (:func:`greeniot.protocol.plausible.quality_flag`).
    """
    row = channel_of(msg)
    if row.measurement is None:
        raise TypeError(f"channel {row.name!r} ({type(msg).__name__}) is not stored")
    extra = "".join(f",{t}={escape_tag(str(getattr(msg, a)))}" for t, a in row.tags.items())
    seq: int | None = getattr(msg, "seq", None)
    # a status without a time (the broker's last will) is stored at its receive time
    ts_ms: int = (msg.ts_ms or received_ms) if isinstance(msg, Status) else msg.ts_ms  # type: ignore[attr-defined]
    t_us = point_us(ts_ms, seq)
    out = [line(row.measurement, extra + tags,
                {k: f.get(k, msg) for k, f in row.fields.items()}, t_us, quality)]
    if isinstance(msg, TiltReading) and msg.burst is not None:
        step = 1e6 / msg.burst.hz
        out.extend(
            f"sway{tags} pitch_deg={float(p)!r},roll_deg={float(r)!r} {t_us + round(i * step)}"
            for i, (p, r) in enumerate(zip(msg.burst.pitch_deg, msg.burst.roll_deg,
                                           strict=True))
        )
    return out
