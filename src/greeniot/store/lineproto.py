"""Protocol messages → InfluxDB line protocol. Pure.

Field types are fixed per measurement by this schema, never inferred from the JSON: a value the
device sent as ``30`` is still written as the float ``30.0``, or InfluxDB would refuse later
points of the series with a field-type conflict.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from greeniot.protocol.channels import SCHEMA, FieldType, channel_of
from greeniot.protocol.messages import Status, TiltReading

__all__ = ["SCHEMA", "FieldType", "escape_tag", "line", "tag_suffix", "to_lines"]

_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": ""})


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def _field(value: object, kind: FieldType) -> str:
    if kind == "float":
        return repr(float(value))  # type: ignore[arg-type]
    if kind == "int":
        return f"{int(value)}i"  # type: ignore[call-overload]
    if kind == "bool":
        return "true" if value else "false"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{text}"'


def line(measurement: str, tags: str, fields: Mapping[str, object], ts_ms: int,
         quality: str | None = None) -> str:
    """One line; ``tags`` is the pre-escaped ``,k=v,...`` suffix; ``None`` fields are left out.
    ``quality`` adds the string field ``quality`` (e.g. ``implausible:bat_v``)."""
    types = SCHEMA[measurement]
    body = ",".join(f"{k}={_field(v, types[k])}" for k, v in fields.items() if v is not None)
    if quality:
        body += f",quality={_field(quality, 'str')}"
    return f"{measurement}{tags} {body} {ts_ms}"


def tag_suffix(site: str, device: str, extra: Mapping[str, str] | None = None) -> str:
    """``,device=..,site=..[,tree=..][,zone=..]`` with keys sorted, as InfluxDB prefers."""
    tags = {"site": site, "device": device, **(extra or {})}
    return "".join(f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)


def to_lines(msg: BaseModel, tags: str, received_ms: int, quality: str | None = None
             ) -> list[str]:
    """Lines for one decoded up-channel message (several for a tilt burst), as the channel
    table says: its measurement, its fields with their fixed types, its extra tags; with
    ``quality``, the reading's quality flag (:func:`greeniot.protocol.plausible.quality_flag`)."""
    row = channel_of(msg)
    if row.measurement is None:
        raise TypeError(f"channel {row.name!r} ({type(msg).__name__}) is not stored")
    extra = "".join(f",{t}={escape_tag(str(getattr(msg, a)))}" for t, a in row.tags.items())
    # a status without a time (the broker's last will) is stored at its receive time
    ts: int = (msg.ts_ms or received_ms) if isinstance(msg, Status) else msg.ts_ms  # type: ignore[attr-defined]
    out = [line(row.measurement, extra + tags,
                {k: f.get(k, msg) for k, f in row.fields.items()}, ts, quality)]
    if isinstance(msg, TiltReading) and msg.burst is not None:
        step = 1000.0 / msg.burst.hz
        t0 = msg.ts_ms
        out.extend(
            f"sway{tags} pitch_deg={float(p)!r},roll_deg={float(r)!r} {t0 + round(i * step)}"
            for i, (p, r) in enumerate(zip(msg.burst.pitch_deg, msg.burst.roll_deg,
                                           strict=True))
        )
    return out
