"""Protocol messages → InfluxDB line protocol. Pure.

Field types are fixed per measurement by this schema, never inferred from the JSON: a value the
device sent as ``30`` is still written as the float ``30.0``, or InfluxDB would refuse later
points of the series with a field-type conflict.
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

#: measurement → field → type. The measurement is the channel name; burst samples → ``sway``.
SCHEMA: dict[str, dict[str, FieldType]] = {
    "soil": {"vwc_pct": "float", "temp_c": "float", "bat_v": "float", "raw": "int", "seq": "int"},
    "tilt": {"pitch_deg": "float", "roll_deg": "float", "temp_c": "float", "bat_v": "float",
             "n": "int", "seq": "int"},
    "sway": {"pitch_deg": "float", "roll_deg": "float"},
    "weather": {"wind_ms": "float", "gust_ms": "float", "rain_mm": "float",
                "air_temp_c": "float", "rh_pct": "float", "solar_w_m2": "float", "bat_v": "float",
                "seq": "int"},
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


def line(measurement: str, tags: str, fields: Mapping[str, object], ts_ms: int) -> str:
    """One line; ``tags`` is the pre-escaped ``,k=v,...`` suffix; ``None`` fields are left out."""
    types = SCHEMA[measurement]
    body = ",".join(f"{k}={_field(v, types[k])}" for k, v in fields.items() if v is not None)
    return f"{measurement}{tags} {body} {ts_ms}"


def tag_suffix(site: str, device: str, extra: Mapping[str, str] | None = None) -> str:
    """``,device=..,site=..[,tree=..][,zone=..]`` with keys sorted, as InfluxDB prefers."""
    tags = {"site": site, "device": device, **(extra or {})}
    return "".join(f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)


def to_lines(msg: BaseModel, tags: str, received_ms: int) -> list[str]:
    """Lines for one decoded up-channel message (several for a tilt burst)."""
    if isinstance(msg, SoilReading):
        return [line("soil", tags, {"vwc_pct": msg.vwc_pct, "temp_c": msg.temp_c,
                                    "bat_v": msg.bat_v, "raw": msg.raw, "seq": msg.seq},
                     msg.ts_ms)]
    if isinstance(msg, TiltReading):
        out = [line("tilt", tags, {"pitch_deg": msg.pitch_deg, "roll_deg": msg.roll_deg,
                                   "temp_c": msg.temp_c, "bat_v": msg.bat_v, "n": msg.n,
                                   "seq": msg.seq}, msg.ts_ms)]
        if msg.burst is not None:
            step = 1000.0 / msg.burst.hz
            t0 = msg.ts_ms
            out.extend(
                f"sway{tags} pitch_deg={float(p)!r},roll_deg={float(r)!r} {t0 + round(i * step)}"
                for i, (p, r) in enumerate(zip(msg.burst.pitch_deg, msg.burst.roll_deg,
                                               strict=True))
            )
        return out
    if isinstance(msg, WeatherReading):
        return [line("weather", tags, {"wind_ms": msg.wind_ms, "gust_ms": msg.gust_ms,
                                       "rain_mm": msg.rain_mm, "air_temp_c": msg.air_temp_c,
                                       "rh_pct": msg.rh_pct, "solar_w_m2": msg.solar_w_m2,
                                       "bat_v": msg.bat_v,
                                       "seq": msg.seq}, msg.ts_ms)]
    if isinstance(msg, ValveEvent):
        return [line("valve", tags, {"open": 1 if msg.state == "open" else 0, "cause": msg.cause,
                                     "cmd_id": msg.cmd_id, "open_s": msg.open_s,
                                     "flow_l": msg.flow_l, "seq": msg.seq}, msg.ts_ms)]
    if isinstance(msg, Ack):
        # The command id is also a tag: two acks a node sends in the same millisecond are two
        # points, not one overwriting the other (one series per command; acks are rare).
        return [line("ack", f",cmd={escape_tag(msg.id)}{tags}",
                     {"cmd_id": msg.id, "ok": msg.ok, "state": msg.state, "reason": msg.reason,
                      "seq": msg.seq}, msg.ts_ms)]
    if isinstance(msg, Status):
        return [line("status", tags, {"state": msg.state,
                                      "online": 1 if msg.state == "online" else 0,
                                      "kind": msg.kind, "fw": msg.fw, "bat_v": msg.bat_v,
                                      "rssi_dbm": msg.rssi_dbm, "uptime_s": msg.uptime_s,
                                      "outbox": msg.outbox}, msg.ts_ms or received_ms)]
    raise TypeError(f"no line-protocol mapping for {type(msg).__name__}")
