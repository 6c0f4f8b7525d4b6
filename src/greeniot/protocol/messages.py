"""Pydantic models of protocol v1 payloads.

Compact JSON, units in field names, the device's own timestamp in ``ts_ms`` (int ms UTC) and a
per-device sequence number ``seq`` (uint32, wraps). Unknown fields are refused (``extra=forbid``)
so a typo in a field name is an error that names the field, never a silently lost value.

Strict mode: nothing is coerced (``"12"`` is no integer, ``true`` no number, ``1.0`` no version);
the only widening is a JSON integer for a float field (``"vwc_pct":30``), which JSON cannot tell
apart anyway. Every number is bounded, so a reading can never produce a timestamp or a field
InfluxDB refuses. The codec adds what a model cannot see: ``v`` present, no ``null``, no
duplicate keys (docs/protocol.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
#: 2000-01-01 .. 2100-01-01 in ms: anything outside is a device clock that was never set.
TS_MIN_MS = 946_684_800_000
TS_MAX_MS = 4_102_444_800_000
MAX_BURST_SAMPLES = 12_000  # 10 min at 20 Hz
#: Burst sample rate bounds [Hz]: sway of trees lies in 0.05-3 Hz; sampling below 0.1 Hz or
#: above 200 Hz is no sway burst (and a tiny rate would push sample times past TS_MAX_MS).
MIN_BURST_HZ = 0.1
MAX_BURST_HZ = 200.0
#: Longest span of one burst, first to last sample [ms]: 1 h (the firmware sends 2-10 min).
MAX_BURST_SPAN_MS = 3_600_000

#: Schema version: exactly the JSON integer 1 (``true`` and ``1.0`` are refused in strict mode).
Version = Annotated[int, Field(ge=SCHEMA_VERSION, le=SCHEMA_VERSION)]
TsMs = Annotated[int, Field(ge=TS_MIN_MS, le=TS_MAX_MS, description="device time, ms UTC")]
Seq = Annotated[int, Field(ge=0, le=0xFFFF_FFFF, description="per-device sequence number")]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Deg = Annotated[float, Field(ge=-90.0, le=90.0)]
TempC = Annotated[float, Field(ge=-60.0, le=100.0)]
BatV = Annotated[float, Field(ge=0.0, le=15.0)]


class _Msg(BaseModel):
    # NaN and infinity are no measurements (and InfluxDB refuses them in line protocol).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class _Reading(_Msg):
    v: Version = 1
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

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)
    hz: Annotated[float, Field(ge=MIN_BURST_HZ, le=MAX_BURST_HZ)]
    pitch_deg: Annotated[list[Deg], Field(min_length=1, max_length=MAX_BURST_SAMPLES)]
    roll_deg: Annotated[list[Deg], Field(min_length=1, max_length=MAX_BURST_SAMPLES)]

    @model_validator(mode="after")
    def _same_length(self) -> TiltBurst:
        if len(self.pitch_deg) != len(self.roll_deg):
            raise ValueError(
                f"burst.pitch_deg has {len(self.pitch_deg)} samples, "
                f"burst.roll_deg has {len(self.roll_deg)}"
            )
        if self.span_ms > MAX_BURST_SPAN_MS:
            raise ValueError(f"burst spans {self.span_ms:.0f} ms ({len(self.pitch_deg)} samples "
                             f"at {self.hz:g} Hz) > {MAX_BURST_SPAN_MS} ms")
        return self

    @property
    def span_ms(self) -> float:
        """Time from the first to the last sample [ms]."""
        return (len(self.pitch_deg) - 1) * 1000.0 / self.hz


class TiltReading(_Reading):
    """Trunk-base tilt from gravity, averaged over ``n`` accelerometer samples."""

    pitch_deg: Deg
    roll_deg: Deg
    temp_c: TempC | None = None
    bat_v: BatV | None = None
    n: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    burst: TiltBurst | None = None

    @model_validator(mode="after")
    def _burst_in_time_range(self) -> TiltReading:
        if self.burst is not None and self.ts_ms + self.burst.span_ms > TS_MAX_MS:
            raise ValueError("burst samples would lie past 2100-01-01")
        return self


class WeatherReading(_Reading):
    """Estate weather station. ``rain_mm`` is rain since the station's previous reading.

    ``solar_w_m2`` is global horizontal irradiance [W m-2] at the reading's time (a
    pyranometer's instantaneous or short-mean value); the daily solar radiation Rs of FAO-56
    [MJ m-2 day-1] is its daily mean × 0.0864. Up to 2000 W m-2: above the solar constant
    (1361) for cloud-edge enhancement, beyond anything a surface sensor can read.
    """

    wind_ms: Annotated[float, Field(ge=0.0, le=120.0)]
    gust_ms: Annotated[float, Field(ge=0.0, le=150.0)] | None = None
    rain_mm: Annotated[float, Field(ge=0.0, le=500.0)] = 0.0
    air_temp_c: TempC | None = None
    rh_pct: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    solar_w_m2: Annotated[float, Field(ge=0.0, le=2000.0)] | None = None
    bat_v: BatV | None = None


class ValveEvent(_Reading):
    """A valve changed state. ``cause``: a command, the node's own max-run cut-off, or boot."""

    state: Literal["open", "closed"]
    cause: Literal["cmd", "max_run", "boot", "manual"]
    cmd_id: Id | None = None
    open_s: Annotated[float, Field(ge=0.0, le=86_400.0)] | None = None
    flow_l: Annotated[float, Field(ge=0.0, le=1_000_000.0)] | None = None


RainMm = Annotated[float, Field(ge=0.0, le=2000.0)]


class SiteForecast(_Msg):
    """A site's weather forecast: from a weather-service adapter or posted through the API.

    Per site, not per device. ``ts_ms`` is when the forecast was issued; rain [mm] is for the
    rest of the local day and for the next day; temperatures [°C] are today's minimum and
    maximum and tomorrow's minimum (for frost lockouts and winter watering); ``wind_ms`` is
    the day's forecast mean wind [m s-1] (spray-zone wind lockout).
    """

    v: Literal[1] = 1
    ts_ms: TsMs
    rain_today_mm: RainMm = 0.0
    rain_tomorrow_mm: RainMm = 0.0
    temp_min_c: TempC | None = None
    temp_max_c: TempC | None = None
    temp_min_tomorrow_c: TempC | None = None
    wind_ms: Annotated[float, Field(ge=0.0, le=120.0)] | None = None
    #: highest forecast mean wind [m s-1] over today and tomorrow (the pre-storm sweep's
    #: trigger, Beaufort 8 = 17.2 m/s) and the highest gust [m s-1]
    wind_max_ms: Annotated[float, Field(ge=0.0, le=120.0)] | None = None
    gust_max_ms: Annotated[float, Field(ge=0.0, le=150.0)] | None = None
    #: tropical cyclone warning signal in force or forecast, where the weather service issues
    #: one (Hong Kong Observatory numbering 1, 3, 8, 9, 10)
    signal: Annotated[int, Field(ge=0, le=10)] | None = None
    source: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _min_below_max(self) -> SiteForecast:
        if (self.temp_min_c is not None and self.temp_max_c is not None
                and self.temp_min_c > self.temp_max_c):
            raise ValueError(f"temp_min_c ({self.temp_min_c}) is above temp_max_c "
                             f"({self.temp_max_c})")
        return self


class FlowReading(_Reading):
    """A valve node's pulse flow meter: the flow over the last report interval.

    ``flow_l_min`` [L min-1] is the mean over ``window_s`` seconds ending at ``ts_ms``;
    ``total_l`` [L] the volume since the valve opened (this run) or, while closed, since it
    closed (a leak's volume); ``valve`` the valve's state the node drove during the interval.
    A node sends one every report interval while open and, while closed, only when pulses
    came (a leak or a stuck valve).
    """

    flow_l_min: Annotated[float, Field(ge=0.0, le=10_000.0)]
    total_l: Annotated[float, Field(ge=0.0, le=1_000_000.0)]
    valve: Literal["open", "closed"]
    window_s: Annotated[float, Field(gt=0.0, le=86_400.0)] | None = None
    bat_v: BatV | None = None


class Status(_Msg):
    """Retained device status; the broker publishes the last will ``{"v":1,"state":"offline"}``.

    Planned states: ``sleeping`` (deep sleep until ``next_ms``, the next scheduled wake-up) and
    ``shutdown`` (a clean stop, e.g. a simulator run that ends or a node taken down for
    service; with ``next_ms`` if a restart is scheduled). Neither is a fault until the device
    misses ``next_ms`` by a margin.
    """

    v: Version = 1
    state: Literal["online", "offline", "sleeping", "shutdown"]
    ts_ms: TsMs | None = None
    next_ms: TsMs | None = None
    kind: Literal["soil", "tilt", "valve", "weather", "multi"] | None = None
    fw: Annotated[str, Field(max_length=32)] | None = None
    bat_v: BatV | None = None
    rssi_dbm: Annotated[int, Field(ge=-150, le=0)] | None = None
    uptime_s: Annotated[int, Field(ge=0, le=3_153_600_000)] | None = None  # 100 years
    outbox: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


class Ack(_Msg):
    """A device's answer to a command, echoing its ``id``."""

    v: Version = 1
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
    v: Version = 1
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

    v: Version = 1
    interval_s: Annotated[int, Field(ge=1, le=86_400)] | None = None
    max_run_s: Annotated[int, Field(ge=1, le=86_400)] | None = None
    burst_s: Annotated[int, Field(ge=0, le=600)] | None = None
    burst_hz: Annotated[float, Field(gt=0, le=200)] | None = None
    sleep: bool | None = None


#: Longest list of ranges in one ``stored`` confirmation.
MAX_STORED_RANGES = 5000
SeqRange = Annotated[list[Seq], Field(min_length=2, max_length=2)]


class Stored(_Msg):
    """Backend → device on ``.../stored`` (QoS 1, not retained): the device's ``seq``s that
    ingest now holds durably — fsynced in its spool, or refused with a dead letter the broker
    acknowledged. ``seqs`` are inclusive ``[first, last]`` ranges. A device keeps a reading in
    its outbox until a confirmation covers its seq, and resends it when none came in time."""

    v: Version = 1
    seqs: Annotated[list[SeqRange], Field(min_length=1, max_length=MAX_STORED_RANGES)]

    def covers(self, seq: int) -> bool:
        return any(lo <= seq <= hi for lo, hi in self.seqs)


def seq_ranges(seqs: list[int]) -> list[list[int]]:
    """Sorted, merged inclusive ranges of ``seqs``: [3, 1, 2, 7] → [[1, 3], [7, 7]]."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


class Alert(_Msg):
    """Backend → crews on ``greeniot/v1/{site}/alerts``."""

    v: Version = 1
    id: Id
    ts_ms: TsMs
    site: Annotated[str, Field(max_length=64)]
    kind: Annotated[str, Field(max_length=64)]
    severity: Literal["info", "warning", "critical"]
    message: Annotated[str, Field(max_length=2000)]
    device: Annotated[str, Field(max_length=64)] | None = None
    tree: Annotated[str, Field(max_length=64)] | None = None
    zone: Annotated[str, Field(max_length=64)] | None = None
    task_id: Annotated[int, Field(ge=0)] | None = None
    value: float | None = None


Reading = SoilReading | TiltReading | WeatherReading | ValveEvent | FlowReading
