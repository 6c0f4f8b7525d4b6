"""The channel table: one row per channel of ``greeniot/v1/{site}/{device}/{channel}``.

Everything that needs to know what a channel is reads this table: topics and ingest filters
(:mod:`greeniot.protocol.topics`), the codec (which model, whether batches are allowed), line
protocol (measurement, field types, extra tags), analytics routing (which stages consume it and
which numeric columns they take), warm start (how much history), the API's readings routes,
Grafana generation and the broker ACL generator. Adding a channel is one :class:`Channel` row
and its payload model; a channel whose stages the engine does not have is refused at start-up
(:func:`check_routing`), never silently ignored. The firmware mirrors the channel names in
``firmware/micropython/lib/proto.py``; tests/firmware/test_parity.py keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from greeniot.protocol.messages import (
    Ack,
    Command,
    DeviceConfig,
    FlowReading,
    SiteForecast,
    SoilReading,
    Status,
    Stored,
    TiltReading,
    ValveEvent,
    WeatherReading,
)

FieldType = Literal["float", "int", "bool", "str"]
Direction = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Field:
    """One InfluxDB field: its type, and how it is read off the payload model.

    ``attr`` names the model attribute (default: the field's own name); ``value`` derives the
    field from the message instead (e.g. ``open`` = 1 when ``state == "open"``).
    """

    type: FieldType
    attr: str | None = None
    value: Callable[[Any], object] | None = None

    def get(self, name: str, msg: BaseModel) -> object:
        if self.value is not None:
            return self.value(msg)
        return getattr(msg, self.attr or name)


@dataclass(frozen=True, slots=True)
class Channel:
    """What travels on one channel and where it goes.

    Attributes
    ----------
    name : the topic's last level
    model : the pydantic model of one payload
    direction : ``up`` (device → backend) or ``down`` (backend → device)
    retained : published retained (status, config)
    batch : the payload may be ``{"v":1,"batch":[...]}`` (an offline-buffer flush)
    measurement : InfluxDB measurement it is stored in (None: not stored)
    fields : InfluxDB fields with fixed types (never inferred from the JSON)
    tags : extra InfluxDB tags read off the payload (tag → model attribute)
    stages : analytics stages that consume it (``check_routing`` verifies they exist)
    columns : the numeric values analytics windows take (protocol names and units)
    required : columns a reading cannot do without
    watch : columns device health checks for stuck, noisy and out-of-range sensors
    history_days : history the stages need after a restart (warm start) [days]
    site_device : a per-site channel: the fixed device level of its one topic per site
        (``greeniot/v1/{site}/{site_device}/{name}``); no device publishes it (the broker
        ACL generator grants it to none), the backend does (API, CLI, weather adapters)
    devices : the device kinds that publish it (up) or take it (down); None = every kind.
        The broker ACL generator (``provision/acl.py``) grants each device exactly these.
    """

    name: str
    model: type[BaseModel]
    direction: Direction
    retained: bool = False
    batch: bool = False
    measurement: str | None = None
    fields: Mapping[str, Field] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    stages: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    watch: tuple[str, ...] = ()
    history_days: float = 0.0
    site_device: str | None = None
    devices: tuple[str, ...] | None = None


def _f(*names: str, kind: FieldType = "float") -> dict[str, Field]:
    return {n: Field(kind) for n in names}


_SEQ = {"seq": Field("int")}

CHANNELS: Mapping[str, Channel] = {c.name: c for c in (
    Channel("soil", SoilReading, "up", batch=True, measurement="soil",
            fields={**_f("vwc_pct", "temp_c", "bat_v"), "raw": Field("int"), **_SEQ},
            stages=("soil", "health", "water"), columns=("vwc_pct", "temp_c", "bat_v"),
            required=("vwc_pct",), watch=("vwc_pct",), history_days=3.0, devices=("soil",)),
    Channel("tilt", TiltReading, "up", batch=True, measurement="tilt",
            fields={**_f("pitch_deg", "roll_deg", "temp_c", "bat_v"), "n": Field("int"), **_SEQ},
            # sway bursts ride on tilt readings: the sway stage takes them (see SUB_MEASUREMENTS)
            stages=("tilt", "sway", "health"), columns=("pitch_deg", "roll_deg", "temp_c", "bat_v"),
            required=("pitch_deg", "roll_deg"), watch=("pitch_deg", "roll_deg"),
            history_days=14.0, devices=("tilt",)),
    Channel("weather", WeatherReading, "up", batch=True, measurement="weather",
            fields={**_f("wind_ms", "gust_ms", "rain_mm", "air_temp_c", "rh_pct", "solar_w_m2",
                         "bat_v"), **_SEQ},
            stages=("storm", "health", "water"),
            columns=("wind_ms", "gust_ms", "rain_mm", "air_temp_c", "bat_v", "rh_pct",
                     "solar_w_m2"),
            required=("wind_ms",), history_days=2.0, devices=("weather",)),
    Channel("valve", ValveEvent, "up", batch=True, measurement="valve",
            fields={"open": Field("int", value=lambda m: 1 if m.state == "open" else 0),
                    "cause": Field("str"), "cmd_id": Field("str"), **_f("open_s", "flow_l"),
                    **_SEQ},
            # the water stage balances again the days since the newest stored decision, and
            # the zone tracker rebuilds the last watering and today's run time (restart)
            stages=("health", "water"), columns=("open_s",), history_days=2.0,
            devices=("valve",)),
    Channel("status", Status, "up", retained=True, measurement="status",
            fields={"state": Field("str"),
                    "online": Field("int", value=lambda m: 1 if m.state == "online" else 0),
                    "kind": Field("str"), "fw": Field("str"), "bat_v": Field("float"),
                    **_f("rssi_dbm", "uptime_s", "outbox", kind="int")},
            stages=("health",)),
    # The command id is also a tag: two acks a node sends in the same millisecond are two
    # points, not one overwriting the other (one series per command; acks are rare).
    Channel("ack", Ack, "up", measurement="ack",
            fields={"cmd_id": Field("str", attr="id"), "ok": Field("bool"),
                    "state": Field("str"), "reason": Field("str"), **_SEQ},
            tags={"cmd": "id"}, devices=("valve",)),
    # Pulse flow meter on a valve node (docs/protocol.md "Flow"): judged by the actions'
    # flow watch on arrival (a burst closes the valve at once), not by an analytics stage.
    Channel("flow", FlowReading, "up", batch=True, measurement="flow",
            fields={**_f("flow_l_min", "total_l", "window_s", "bat_v"),
                    "open": Field("int", value=lambda m: 1 if m.valve == "open" else 0),
                    **_SEQ}, devices=("valve",)),
    # A site's weather forecast, one retained topic per site (the newest survives restarts);
    # the maintenance process feeds it to the watering planner and the pre-storm sweep.
    Channel("forecast", SiteForecast, "up", retained=True, measurement="forecast",
            fields={**_f("rain_today_mm", "rain_tomorrow_mm", "temp_min_c", "temp_max_c",
                         "temp_min_tomorrow_c", "wind_ms", "wind_max_ms", "gust_max_ms"),
                    "signal": Field("int"), "source": Field("str")},
            site_device="forecast", devices=()),
    Channel("cmd", Command, "down", devices=("valve",)),
    Channel("config", DeviceConfig, "down", retained=True),
    # which of the device's seqs ingest holds durably: end-to-end confirmation (QoS 1)
    Channel("stored", Stored, "down"),
)}

#: model → its row (the first in table order if several share one), for channel_of
_BY_MODEL: Mapping[type[BaseModel], Channel] = {
    c.model: c for c in reversed(tuple(CHANNELS.values()))}

#: Measurements written beside a channel's own: tilt bursts → ``sway`` samples, each at
#: ``ts_ms + i * 1000 / hz``.
SUB_MEASUREMENTS: Mapping[str, Mapping[str, Mapping[str, Field]]] = {
    "tilt": {"sway": _f("pitch_deg", "roll_deg")},
}


def names(direction: Direction) -> tuple[str, ...]:
    """Channel names of one direction, in table order."""
    return tuple(c.name for c in CHANNELS.values() if c.direction == direction)


UP_CHANNELS = names("up")
DOWN_CHANNELS = names("down")
#: Channels stored as time series with a per-device ``seq`` that may come in batches.
READING_CHANNELS = tuple(c.name for c in CHANNELS.values() if c.batch)
#: Per-site channels (one topic per site, published by the backend, never by a device).
SITE_CHANNELS = tuple(c.name for c in CHANNELS.values() if c.site_device)
#: Channels analytics consumes (routed to at least one stage).
ANALYTICS_CHANNELS = tuple(c.name for c in CHANNELS.values() if c.stages)

#: measurement → field → type, for line protocol and queries.
SCHEMA: Mapping[str, Mapping[str, FieldType]] = {
    **{c.measurement: {k: f.type for k, f in c.fields.items()}
       for c in CHANNELS.values() if c.measurement},
    **{m: {k: f.type for k, f in fs.items()}
       for subs in SUB_MEASUREMENTS.values() for m, fs in subs.items()},
}


def channel(name: str) -> Channel:
    """The row of ``name``; a KeyError lists the known channels."""
    try:
        return CHANNELS[name]
    except KeyError:
        raise KeyError(f"unknown channel {name!r}; known: {sorted(CHANNELS)}") from None


def channel_of(msg: BaseModel) -> Channel:
    """The row of a message's model (exact type)."""
    row = _BY_MODEL.get(type(msg))
    if row is None:
        raise KeyError(f"no channel carries {type(msg).__name__}")
    return row


class RoutingError(RuntimeError):
    """A channel is routed to a stage that does not exist, or a stage to no channel."""


def check_routing(stages: Mapping[str, Iterable[str]]) -> None:
    """Refuse a set of analytics stages that does not match the table, naming what is wrong.

    ``stages`` maps each stage the engine runs to the channels it consumes. Every stage a
    channel names must exist and consume it; every channel a stage consumes must name it.
    """
    problems = []
    for c in CHANNELS.values():
        for s in c.stages:
            if s not in stages:
                problems.append(f"channel {c.name!r} is routed to stage {s!r}, which the "
                                f"engine does not run (stages: {sorted(stages)})")
            elif c.name not in set(stages[s]):
                problems.append(f"stage {s!r} does not consume channel {c.name!r}")
    for s, kinds in stages.items():
        for k in kinds:
            if k not in CHANNELS:
                problems.append(f"stage {s!r} consumes unknown channel {k!r}")
            elif s not in CHANNELS[k].stages:
                problems.append(f"stage {s!r} consumes channel {k!r}, whose row does not "
                                f"route to it")
    if problems:
        raise RoutingError("; ".join(problems))
