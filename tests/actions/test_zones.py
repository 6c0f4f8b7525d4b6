"""Zone state tracking from weather readings, valve events, commands and acks."""

from __future__ import annotations

import pytest

from greeniot.actions.zones import ZoneTracker
from greeniot.estate import EstateContext, ZoneInfo
from greeniot.protocol import Ack, ValveEvent, WeatherReading

T0 = 1_795_510_737_944
H = 3600 * 1000
S = "estate-a"


def wx(ts_ms: int, rain_mm: float = 0.0, air_temp_c: float | None = 20.0, seq: int = 1
       ) -> WeatherReading:
    return WeatherReading(seq=seq, ts_ms=ts_ms, wind_ms=2.0, rain_mm=rain_mm,
                          air_temp_c=air_temp_c)


def valve(ts_ms: int, state: str, cause: str = "cmd", cmd_id: str | None = None,
          open_s: float | None = None) -> ValveEvent:
    return ValveEvent(seq=1, ts_ms=ts_ms, state=state, cause=cause, cmd_id=cmd_id,  # type: ignore[arg-type]
                      open_s=open_s)


@pytest.mark.parametrize(("readings", "now_ms", "rain_mm"), [
    ([(T0, 2.0), (T0 + H, 3.5)], T0 + 2 * H, 5.5),
    ([(T0, 2.0), (T0 + H, 3.5)], T0 + 24 * H, 3.5),      # the first fell out of the window
    ([(T0, 2.0), (T0 + H, 3.5)], T0 + 25 * H + 1, 0.0),
    ([(T0, 0.0)], T0 + H, 0.0),
])
def test_rain_is_summed_over_the_last_24_h(readings: list[tuple[int, float]], now_ms: int,
                                           rain_mm: float) -> None:
    tr = ZoneTracker()
    for ts, mm in readings:
        tr.observe_weather(S, wx(ts, mm))
    assert tr.state(S, "v1", now_ms).rain_last_24h_mm == pytest.approx(rain_mm)
    assert tr.state("other-site", "v1", now_ms).rain_last_24h_mm == 0.0


def test_air_temperature_is_latest_and_goes_stale() -> None:
    tr = ZoneTracker()
    tr.observe_weather(S, wx(T0 + H, air_temp_c=1.0))
    tr.observe_weather(S, wx(T0, air_temp_c=15.0))  # late, older reading: ignored
    tr.observe_weather(S, wx(T0 + 2 * H, air_temp_c=None))
    assert tr.state(S, None, T0 + 2 * H).air_temp_c == 1.0
    assert tr.state(S, None, T0 + 5 * H).air_temp_c is None  # older than 3 h: unknown


def test_valve_open_time_and_last_end() -> None:
    tr = ZoneTracker()
    tr.observe_valve(S, "v1", valve(T0, "open"))
    st = tr.state(S, "v1", T0 + 300_000)
    assert st.valve_open and st.open_s_today == 300.0 and st.last_irrigation_end_ms is None
    tr.observe_valve(S, "v1", valve(T0 + 600_000, "closed", "max_run", open_s=600.0))
    st = tr.state(S, "v1", T0 + H)
    assert not st.valve_open
    assert st.open_s_today == 600.0
    assert st.last_irrigation_end_ms == T0 + 600_000
    # a close report without the open (missed while offline) still counts its open_s
    tr.observe_valve(S, "v1", valve(T0 + 2 * H, "closed", "max_run", open_s=120.0))
    assert tr.state(S, "v1", T0 + 2 * H).open_s_today == 720.0
    # 24 h later the first run has left the rolling window
    assert tr.state(S, "v1", T0 + 24 * H + 300_000).open_s_today == pytest.approx(420.0)


def test_pending_command_settles_on_ack_event_or_deadline() -> None:
    tr = ZoneTracker()
    tr.command_sent(S, "v1", "c-1", deadline_ms=T0 + 60_000)
    assert tr.state(S, "v1", T0).pending_cmd == "c-1"
    assert tr.state(S, "v1", T0 + 60_001).pending_cmd is None  # past its deadline
    tr.observe_ack(S, "v1", Ack(id="c-1", seq=1, ts_ms=T0 + 500, ok=True, state="open"))
    st = tr.state(S, "v1", T0 + 1000)
    assert st.pending_cmd is None and st.valve_open
    tr.command_sent(S, "v1", "c-2", deadline_ms=T0 + 60_000)
    tr.observe_valve(S, "v1", valve(T0 + 2000, "closed", cmd_id="c-2"))
    st = tr.state(S, "v1", T0 + 3000)
    assert st.pending_cmd is None and not st.valve_open and st.open_s_today == 1.5


def test_states_for_every_zone_in_the_context() -> None:
    tr = ZoneTracker()
    tr.observe_weather(S, wx(T0, 6.0))
    tr.set_forecast(S, 11.0)
    tr.observe_valve(S, "v2", valve(T0, "open"))
    ctx = EstateContext(zones=(ZoneInfo(S, "z1", valve_device="v1"),
                               ZoneInfo(S, "z2", valve_device="v2"), ZoneInfo(S, "z3")))
    states = tr.states(ctx, T0 + 1000)
    assert set(states) == {(S, "z1"), (S, "z2"), (S, "z3")}
    assert all(s.rain_last_24h_mm == 6.0 and s.rain_forecast_mm == 11.0
               for s in states.values())
    assert [states[(S, z)].valve_open for z in ("z1", "z2", "z3")] == [False, True, False]


def test_boot_close_is_not_an_irrigation() -> None:
    """A node reports "closed, cause boot" at start-up: no watering ended, so no lockout."""
    tr = ZoneTracker()
    tr.observe_valve(S, "v1", valve(T0, "closed", "boot"))
    st = tr.state(S, "v1", T0 + 60_000)
    assert st.last_irrigation_end_ms is None and st.open_s_today == 0.0
