"""Zone state tracking: turns weather readings, valve events and sent commands into ZoneState.

The interlocks are pure and need a snapshot of each zone; this module keeps the little history
that snapshot is computed from (rain over the last 24 h, valve-open intervals, the pending
command) and nothing else. Weather is per site (an estate station); valve history per valve
device; a zone's state joins the two through ``ZoneInfo.valve_device``. All times are the
messages' own ``ts_ms`` (event time), so replaying a season gives the same states.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from greeniot.actions.interlocks import ZoneState
from greeniot.clock import MS_PER_DAY
from greeniot.estate import EstateContext
from greeniot.protocol import Ack, ValveEvent, WeatherReading

#: An air temperature older than this no longer describes the present [ms].
AIR_TEMP_MAX_AGE_MS = 3 * 3600 * 1000

ZoneKey = tuple[str, str]  # (site, zone)


@dataclass(slots=True)
class _Weather:
    rain: deque[tuple[int, float]] = field(default_factory=deque)  # (ts_ms, rain_mm)
    air_temp_c: float | None = None
    air_temp_ts_ms: int = 0
    forecast_mm: float = 0.0


@dataclass(slots=True)
class _Valve:
    open_since_ms: int | None = None
    intervals: deque[tuple[int, int]] = field(default_factory=deque)  # closed (start, end) ms
    last_end_ms: int | None = None
    pending_cmd: str | None = None
    pending_deadline_ms: int = 0


def _overlap_s(start_ms: int, end_ms: int, lo_ms: int, hi_ms: int) -> float:
    return max(0, min(end_ms, hi_ms) - max(start_ms, lo_ms)) / 1000


class ZoneTracker:
    """Per-site weather and per-valve history, and ZoneState snapshots built from them."""

    def __init__(self) -> None:
        self._weather: dict[str, _Weather] = {}
        self._valves: dict[tuple[str, str], _Valve] = {}

    # -- inputs ------------------------------------------------------------------------------
    def observe_weather(self, site: str, msg: WeatherReading) -> None:
        """Record a station reading: its rain (since the previous reading) and air temperature."""
        w = self._weather.setdefault(site, _Weather())
        if msg.rain_mm > 0:
            w.rain.append((msg.ts_ms, msg.rain_mm))
        if msg.air_temp_c is not None and msg.ts_ms >= w.air_temp_ts_ms:
            w.air_temp_c, w.air_temp_ts_ms = msg.air_temp_c, msg.ts_ms
        self._prune_rain(w, msg.ts_ms)

    def set_forecast(self, site: str, rain_mm: float) -> None:
        """Rain expected at ``site`` over the coming day [mm] (from a forecast service)."""
        self._weather.setdefault(site, _Weather()).forecast_mm = rain_mm

    def observe_valve(self, site: str, device: str, msg: ValveEvent) -> None:
        """Record a valve state change (the node's own report is the authority on its state)."""
        v = self._valves.setdefault((site, device), _Valve())
        if msg.cmd_id is not None and msg.cmd_id == v.pending_cmd:
            v.pending_cmd = None
        if msg.state == "open":
            if v.open_since_ms is None:
                v.open_since_ms = msg.ts_ms
            return
        start = v.open_since_ms
        if start is None and msg.open_s is not None:
            start = msg.ts_ms - int(msg.open_s * 1000)
        v.open_since_ms = None
        if start is None:
            return  # a close that ends no watering (boot, a repeated close) is no irrigation
        if msg.ts_ms > start:
            v.intervals.append((start, msg.ts_ms))
        if v.last_end_ms is None or msg.ts_ms > v.last_end_ms:
            v.last_end_ms = msg.ts_ms
        while v.intervals and v.intervals[0][1] < msg.ts_ms - MS_PER_DAY:
            v.intervals.popleft()

    def command_sent(self, site: str, device: str, cmd_id: str, deadline_ms: int) -> None:
        """A command is in flight to ``device`` until acked, reported, or past ``deadline_ms``."""
        v = self._valves.setdefault((site, device), _Valve())
        v.pending_cmd, v.pending_deadline_ms = cmd_id, deadline_ms

    def command_failed(self, site: str, device: str, cmd_id: str) -> None:
        """A command never reached the broker: it is not pending any more."""
        v = self._valves.get((site, device))
        if v is not None and v.pending_cmd == cmd_id:
            v.pending_cmd = None

    def observe_ack(self, site: str, device: str, ack: Ack) -> None:
        """An ack settles the pending command; an ok ack with a state also tells the state."""
        v = self._valves.setdefault((site, device), _Valve())
        if ack.id == v.pending_cmd:
            v.pending_cmd = None
        if ack.ok and ack.state == "open" and v.open_since_ms is None:
            v.open_since_ms = ack.ts_ms

    # -- output ------------------------------------------------------------------------------
    def state(self, site: str, valve_device: str | None, now_ms: int) -> ZoneState:
        """The snapshot the interlocks judge, for a zone of ``site`` watered by ``valve_device``."""
        w = self._weather.get(site) or _Weather()
        rain_mm = sum(mm for ts, mm in w.rain if now_ms - MS_PER_DAY < ts <= now_ms)
        air = w.air_temp_c if now_ms - w.air_temp_ts_ms <= AIR_TEMP_MAX_AGE_MS else None
        v = self._valves.get((site, valve_device)) if valve_device else None
        if v is None:
            return ZoneState(rain_last_24h_mm=rain_mm, rain_forecast_mm=w.forecast_mm,
                             air_temp_c=air)
        lo = now_ms - MS_PER_DAY
        open_s = sum(_overlap_s(s, e, lo, now_ms) for s, e in v.intervals)
        if v.open_since_ms is not None:
            open_s += _overlap_s(v.open_since_ms, now_ms, lo, now_ms)
        pending = v.pending_cmd if v.pending_cmd and now_ms <= v.pending_deadline_ms else None
        return ZoneState(
            last_irrigation_end_ms=v.last_end_ms,
            open_s_today=open_s,
            rain_last_24h_mm=rain_mm,
            rain_forecast_mm=w.forecast_mm,
            air_temp_c=air,
            valve_open=v.open_since_ms is not None,
            pending_cmd=pending,
        )

    def states(self, ctx: EstateContext, now_ms: int) -> Mapping[ZoneKey, ZoneState]:
        """ZoneState for every zone in ``ctx``, keyed by ``(site, zone)`` (what rules take)."""
        return {(z.site, z.zone): self.state(z.site, z.valve_device, now_ms) for z in ctx.zones}

    @staticmethod
    def _prune_rain(w: _Weather, now_ms: int) -> None:
        while w.rain and w.rain[0][0] <= now_ms - MS_PER_DAY:
            w.rain.popleft()
