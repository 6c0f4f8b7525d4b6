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
from typing import Literal

from pydantic import BaseModel

from greeniot.protocol.messages import (
    Ack,
    SoilReading,
    Status,
    TiltReading,
    ValveEvent,
    WeatherReading,
)

FieldType = Literal["float", "int", "bool", "str"]

#: The InfluxDB write precision of every line made here.
PRECISION = "u"
_US_PER_MS = 1000


def point_us(ts_ms: int, seq: int | None) -> int:
    """Point time [µs] of a reading: its ms timestamp plus ``seq % 1000`` µs."""
    return ts_ms * _US_PER_MS + (seq % _US_PER_MS if seq is not None else 0)

#: measurement → field → type. The measurement is the channel name; burst samples → ``sway``.
SCHEMA: dict[str, dict[str, FieldType]] = {
    "soil": {"vwc_pct": "float", "temp_c": "float", "bat_v": "float", "raw": "int", "seq": "int"},
    "tilt": {"pitch_deg": "float", "roll_deg": "float", "temp_c": "float", "bat_v": "float",
             "n": "int", "seq": "int"},
    "sway": {"pitch_deg": "float", "roll_deg": "float"},
    "weather": {"wind_ms": "float", "gust_ms": "float", "rain_mm": "float",
                "air_temp_c": "float", "rh_pct": "float", "bat_v": "float", "seq": "int"},
    "valve": {"open": "int", "cause": "str", "cmd_id": "str", "open_s": "float",
              "flow_l": "float", "seq": "int"},
    "ack": {"cmd_id": "str", "ok": "bool", "state": "str", "reason": "str", "seq": "int"},
    "status": {"state": "str", "online": "int", "kind": "str", "fw": "str", "bat_v": "float",
               "rssi_dbm": "int", "uptime_s": "int", "outbox": "int"},
}

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


def line(measurement: str, tags: str, fields: Mapping[str, object], ts: int) -> str:
    """One line; ``tags`` is the pre-escaped ``,k=v,...`` suffix; ``None`` fields are left out.

    ``ts`` is in the precision the caller writes with (``to_lines``: µs, see ``point_us``).
    """
    types = SCHEMA[measurement]
    body = ",".join(f"{k}={_field(v, types[k])}" for k, v in fields.items() if v is not None)
    return f"{measurement}{tags} {body} {ts}"


def tag_suffix(site: str, device: str, extra: Mapping[str, str] | None = None) -> str:
    """``,device=..,site=..[,tree=..][,zone=..]`` with keys sorted, as InfluxDB prefers."""
    tags = {"site": site, "device": device, **(extra or {})}
    return "".join(f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)


def to_lines(msg: BaseModel, tags: str, received_ms: int) -> list[str]:
    """Lines (µs timestamps, ``PRECISION``) for one decoded up-channel message (several for a
    tilt burst: sample *i* at ``point_us(ts_ms, seq) + round(i * 1e6 / hz)``)."""
    if isinstance(msg, SoilReading):
        return [line("soil", tags, {"vwc_pct": msg.vwc_pct, "temp_c": msg.temp_c,
                                    "bat_v": msg.bat_v, "raw": msg.raw, "seq": msg.seq},
                     point_us(msg.ts_ms, msg.seq))]
    if isinstance(msg, TiltReading):
        out = [line("tilt", tags, {"pitch_deg": msg.pitch_deg, "roll_deg": msg.roll_deg,
                                   "temp_c": msg.temp_c, "bat_v": msg.bat_v, "n": msg.n,
                                   "seq": msg.seq}, point_us(msg.ts_ms, msg.seq))]
        if msg.burst is not None:
            step = 1e6 / msg.burst.hz
            t0 = point_us(msg.ts_ms, msg.seq)
            out.extend(
                f"sway{tags} pitch_deg={float(p)!r},roll_deg={float(r)!r} {t0 + round(i * step)}"
                for i, (p, r) in enumerate(zip(msg.burst.pitch_deg, msg.burst.roll_deg,
                                               strict=True))
            )
        return out
    if isinstance(msg, WeatherReading):
        return [line("weather", tags, {"wind_ms": msg.wind_ms, "gust_ms": msg.gust_ms,
                                       "rain_mm": msg.rain_mm, "air_temp_c": msg.air_temp_c,
                                       "rh_pct": msg.rh_pct, "bat_v": msg.bat_v,
                                       "seq": msg.seq}, point_us(msg.ts_ms, msg.seq))]
    if isinstance(msg, ValveEvent):
        return [line("valve", tags, {"open": 1 if msg.state == "open" else 0, "cause": msg.cause,
                                     "cmd_id": msg.cmd_id, "open_s": msg.open_s,
                                     "flow_l": msg.flow_l, "seq": msg.seq},
                     point_us(msg.ts_ms, msg.seq))]
    if isinstance(msg, Ack):
        # The command id is also a tag: two acks a node sends in the same millisecond are two
        # points, not one overwriting the other (one series per command; acks are rare).
        return [line("ack", f",cmd={escape_tag(msg.id)}{tags}",
                     {"cmd_id": msg.id, "ok": msg.ok, "state": msg.state, "reason": msg.reason,
                      "seq": msg.seq}, point_us(msg.ts_ms, msg.seq))]
    if isinstance(msg, Status):
        return [line("status", tags, {"state": msg.state,
                                      "online": 1 if msg.state == "online" else 0,
                                      "kind": msg.kind, "fw": msg.fw, "bat_v": msg.bat_v,
                                      "rssi_dbm": msg.rssi_dbm, "uptime_s": msg.uptime_s,
                                      "outbox": msg.outbox},
                     point_us(msg.ts_ms or received_ms, None))]
    raise TypeError(f"no line-protocol mapping for {type(msg).__name__}")
