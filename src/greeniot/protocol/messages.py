"""Pydantic models of protocol v1 payloads.

Compact JSON, units in field names, the device's own timestamp in ``ts_ms`` (int ms UTC) and a
per-device sequence number ``seq`` (uint32, wraps). Unknown fields are refused (``extra=forbid``)
so a typo in a field name is an error that names the field, never a silently lost value.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
#: 2000-01-01 .. 2100-01-01 in ms: anything outside is a device clock that was never set.
TS_MIN_MS = 946_684_800_000
TS_MAX_MS = 4_102_444_800_000
MAX_BURST_SAMPLES = 12_000  # 10 min at 20 Hz

TsMs = Annotated[int, Field(ge=TS_MIN_MS, le=TS_MAX_MS, description="device time, ms UTC")]
Seq = Annotated[int, Field(ge=0, le=0xFFFF_FFFF, description="per-device sequence number")]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Deg = Annotated[float, Field(ge=-90.0, le=90.0)]
TempC = Annotated[float, Field(ge=-60.0, le=100.0)]
BatV = Annotated[float, Field(ge=0.0, le=15.0)]


class _Msg(BaseModel):
    # NaN and infinity are no measurements (and InfluxDB refuses them in line protocol).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Reading(_Msg):
    v: Literal[1] = 1
    seq: Seq
    ts_ms: TsMs


class SoilReading(_Reading):
    """Capacitive soil-moisture probe: volumetric water content after the node's calibration."""

    vwc_pct: Annotated[float, Field(ge=0.0, le=100.0)]
    temp_c: TempC | None = None
    bat_v: BatV | None = None
    raw: Annotated[int, Field(ge=0, le=65535)] | None = None


class TiltBurst(BaseModel):
    """Evenly sampled tilt starting at the reading's ``ts_ms``, for sway analysis."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    hz: Annotated[float, Field(gt=0.0, le=200.0)]
    pitch_deg: Annotated[list[Deg], Field(min_length=1, max_length=MAX_BURST_SAMPLES)]
    roll_deg: Annotated[list[Deg], Field(min_length=1, max_length=MAX_BURST_SAMPLES)]

    @model_validator(mode="after")
    def _same_length(self) -> TiltBurst:
        if len(self.pitch_deg) != len(self.roll_deg):
            raise ValueError(
                f"burst.pitch_deg has {len(self.pitch_deg)} samples, "
                f"burst.roll_deg has {len(self.roll_deg)}"
            )
        return self


class TiltReading(_Reading):
    """Trunk-base tilt from gravity, averaged over ``n`` accelerometer samples."""

    pitch_deg: Deg
    roll_deg: Deg
    temp_c: TempC | None = None
    bat_v: BatV | None = None
    n: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    burst: TiltBurst | None = None


class WeatherReading(_Reading):
    """Estate weather station. ``rain_mm`` is rain since the station's previous reading."""

    wind_ms: Annotated[float, Field(ge=0.0, le=120.0)]
    gust_ms: Annotated[float, Field(ge=0.0, le=150.0)] | None = None
    rain_mm: Annotated[float, Field(ge=0.0, le=500.0)] = 0.0
    air_temp_c: TempC | None = None
    rh_pct: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    bat_v: BatV | None = None


class ValveEvent(_Reading):
    """A valve changed state. ``cause``: a command, the node's own max-run cut-off, or boot."""

    state: Literal["open", "closed"]
    cause: Literal["cmd", "max_run", "boot", "manual"]
    cmd_id: Id | None = None
    open_s: Annotated[float, Field(ge=0.0)] | None = None
    flow_l: Annotated[float, Field(ge=0.0)] | None = None


class Status(_Msg):
    """Retained device status; the broker publishes the last will ``{"v":1,"state":"offline"}``.

    Planned states: ``sleeping`` (deep sleep until ``next_ms``, the next scheduled wake-up) and
    ``shutdown`` (a clean stop, e.g. a simulator run that ends or a node taken down for
    service; with ``next_ms`` if a restart is scheduled). Neither is a fault until the device
    misses ``next_ms`` by a margin.
    """

    v: Literal[1] = 1
    state: Literal["online", "offline", "sleeping", "shutdown"]
    ts_ms: TsMs | None = None
    next_ms: TsMs | None = None
    kind: Literal["soil", "tilt", "valve", "weather", "multi"] | None = None
    fw: Annotated[str, Field(max_length=32)] | None = None
    bat_v: BatV | None = None
    rssi_dbm: Annotated[int, Field(ge=-150, le=0)] | None = None
    uptime_s: Annotated[int, Field(ge=0)] | None = None
    outbox: Annotated[int, Field(ge=0)] | None = None


class Ack(_Msg):
    """A device's answer to a command, echoing its ``id``."""

    v: Literal[1] = 1
    id: Id
    seq: Seq
    ts_ms: TsMs
    ok: bool
    state: Literal["open", "closed"] | None = None
    reason: Annotated[str, Field(max_length=200)] | None = None


class Command(_Msg):
    """Backend → device, QoS 1. A node ignores a command past ``deadline_ms`` (acks not ok).

    ``max_run_s`` is enforced by the valve node itself: it closes after that long whatever the
    network does (and never later than its own configured hard cap).
    """
    v: Literal[1] = 1
    id: Id
    ts_ms: TsMs
    deadline_ms: TsMs
    op: Literal["open", "close"]
    max_run_s: Annotated[int, Field(ge=1, le=86_400)] | None = None

    @model_validator(mode="after")
    def _open_needs_max_run(self) -> Command:
        if self.op == "open" and self.max_run_s is None:
            raise ValueError("op 'open' requires max_run_s")
        return self


class DeviceConfig(_Msg):
    """Backend → device, retained: sampling and safety settings."""

    v: Literal[1] = 1
    interval_s: Annotated[int, Field(ge=1, le=86_400)] | None = None
    max_run_s: Annotated[int, Field(ge=1, le=86_400)] | None = None
    burst_s: Annotated[int, Field(ge=0, le=600)] | None = None
    burst_hz: Annotated[float, Field(gt=0, le=200)] | None = None
    sleep: bool | None = None


class Alert(_Msg):
    """Backend → crews on ``greeniot/v1/{site}/alerts``."""

    v: Literal[1] = 1
    id: Id
    ts_ms: TsMs
    site: str
    kind: str
    severity: Literal["info", "warning", "critical"]
    message: str
    device: str | None = None
    tree: str | None = None
    zone: str | None = None
    task_id: int | None = None
    value: float | None = None


Reading = SoilReading | TiltReading | WeatherReading | ValveEvent
