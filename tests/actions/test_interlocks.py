"""Interlocks: every lockout on its own, several at once, and run-time capping."""

from __future__ import annotations

import pytest

from greeniot.actions.interlocks import InterlockParams, ZoneState, may_open
from greeniot.estate import ZoneInfo

NOW_MS = 1_795_510_737_944
H_MS = 3600 * 1000
ZONE = ZoneInfo(site="s1", zone="z02", valve_device="valve-z02", max_run_s=600,
                min_interval_s=6 * 3600, daily_max_s=1800)
DRY = ZoneState(air_temp_c=20.0)


@pytest.mark.parametrize(("state", "zone", "code", "words"), [
    (ZoneState(rain_last_24h_mm=5.0, air_temp_c=20.0), ZONE, "rain_24h", "recent rain"),
    (ZoneState(rain_last_24h_mm=12.3, air_temp_c=20.0), ZONE, "rain_24h", "12.3 mm"),
    (ZoneState(rain_forecast_mm=8.0, air_temp_c=20.0), ZONE, "rain_forecast", "rain forecast"),
    (ZoneState(air_temp_c=2.0), ZONE, "freeze", "would freeze"),
    (ZoneState(air_temp_c=-4.5), ZONE, "freeze", "pipes or on foliage"),
    (ZoneState(air_temp_c=20.0, valve_open=True), ZONE, "valve_open", "already open"),
    (ZoneState(air_temp_c=20.0, pending_cmd="c-1"), ZONE, "cmd_pending", "c-1"),
    (ZoneState(air_temp_c=20.0, last_irrigation_end_ms=NOW_MS - 2 * H_MS), ZONE,
     "min_interval", "120 min ago"),
    (ZoneState(air_temp_c=20.0, open_s_today=1800), ZONE, "daily_cap", "daily cap"),
    (ZoneState(air_temp_c=20.0, open_s_today=1750), ZONE, "daily_cap", "1750 s of 1800 s"),
    (DRY, ZoneInfo(site="s1", zone="z09"), "no_valve", "no valve"),
])
def test_each_lockout_refuses_with_its_reason(state: ZoneState, zone: ZoneInfo, code: str,
                                              words: str) -> None:
    d = may_open(zone, state, NOW_MS)
    assert not d.ok
    assert d.run_s == 0
    assert d.lockouts == (code,)
    assert len(d.reasons) == 1
    assert words in d.reasons[0]


@pytest.mark.parametrize("state", [
    ZoneState(rain_last_24h_mm=4.9, air_temp_c=2.1),  # just under rain, just above freezing
    ZoneState(air_temp_c=25.0, last_irrigation_end_ms=NOW_MS - 6 * H_MS),  # interval met
    ZoneState(air_temp_c=25.0, rain_forecast_mm=4.9),
])
def test_just_inside_the_limits_opens(state: ZoneState) -> None:
    d = may_open(ZONE, state, NOW_MS)
    assert d.ok, d.reasons
    assert d.lockouts == ()
    assert d.run_s == 600


def test_wet_rained_on_freezing_zone_reports_every_lockout() -> None:
    state = ZoneState(rain_last_24h_mm=20.0, rain_forecast_mm=15.0, air_temp_c=0.5,
                      valve_open=True, pending_cmd="c-9",
                      last_irrigation_end_ms=NOW_MS - H_MS, open_s_today=1800)
    d = may_open(ZONE, state, NOW_MS)
    assert not d.ok
    assert set(d.lockouts) == {"rain_24h", "rain_forecast", "freeze", "valve_open",
                               "cmd_pending", "min_interval", "daily_cap"}
    assert len(d.reasons) == len(d.lockouts)


@pytest.mark.parametrize(("max_run_s", "daily_max_s", "open_s_today", "run_s", "capped"), [
    (600, 1800, 0, 600, False),       # zone max run
    (600, 1800, 1500, 300, True),     # remaining daily budget is smaller
    (600, 1800, 1200, 600, False),    # exactly the max run left
    (3600, 1800, 0, 1800, True),      # max run above the daily cap
    (600, 1800, 1740.0, 60, True),    # exactly min_run_s left still runs
])
def test_run_time_is_capped(max_run_s: int, daily_max_s: int, open_s_today: float,
                            run_s: int, capped: bool) -> None:
    zone = ZoneInfo(site="s1", zone="z", valve_device="v", max_run_s=max_run_s,
                    daily_max_s=daily_max_s)
    d = may_open(zone, ZoneState(air_temp_c=20.0, open_s_today=open_s_today), NOW_MS)
    assert d.ok and d.run_s == run_s
    assert any("capped" in r for r in d.reasons) is capped


def test_thresholds_are_parameters() -> None:
    strict = InterlockParams(rain_24h_mm=1.0, freeze_c=5.0)
    state = ZoneState(rain_last_24h_mm=2.0, air_temp_c=4.0)
    assert may_open(ZONE, state, NOW_MS).ok
    assert may_open(ZONE, state, NOW_MS, strict).lockouts == ("rain_24h", "freeze")


def test_unknown_air_temperature_does_not_block_but_says_so() -> None:
    d = may_open(ZONE, ZoneState(), NOW_MS)
    assert d.ok and d.run_s == 600
    assert any("freeze lockout not checked" in r for r in d.reasons)
