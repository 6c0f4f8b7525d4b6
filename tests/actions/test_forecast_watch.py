"""Forecasts into the planner and the tracker; one pre-storm sweep per storm (pure)."""

from __future__ import annotations

from greeniot.actions.forecast import STORM_GAP_S, ForecastWatch, storm_forecast
from greeniot.actions.plan import Task
from greeniot.actions.watering import WateringPlanner
from greeniot.actions.zones import ZoneTracker
from greeniot.estate import EstateContext, TreeInfo
from greeniot.protocol import SiteForecast

S = "estate-a"
T0 = 1_795_510_000_000
H = 3_600_000
CTX = EstateContext(trees=(TreeInfo(S, "t1", heritage=True), TreeInfo(S, "t2"),
                           TreeInfo("other", "t9")))


def fc(at_h: float, **kw: float) -> SiteForecast:
    return SiteForecast(ts_ms=T0 + int(at_h * H), **kw)  # type: ignore[arg-type]


def sweep(actions: list[object]) -> list[str]:
    return sorted(a.tree for a in actions if isinstance(a, Task) and a.tree)  # type: ignore[misc]


def test_the_newest_forecast_reaches_planner_and_tracker_and_an_older_one_does_not() -> None:
    w = ForecastWatch(WateringPlanner(), ZoneTracker())
    assert w.observe(S, fc(0, rain_today_mm=7.0), CTX) == []
    assert w.zones.state(S, None, T0).rain_forecast_mm == 7.0
    w.observe(S, fc(-1, rain_today_mm=0.0), CTX)  # issued earlier: ignored
    assert w.latest[S].rain_today_mm == 7.0 and w.zones.state(S, None, T0).rain_forecast_mm == 7.0
    w.prime("other", fc(-5, rain_today_mm=3.0))  # a warm start's stored one
    assert "other" not in w.latest and w.zones.state("other", None, T0).rain_forecast_mm == 3.0


def test_one_sweep_per_storm_and_a_new_storm_after_the_gap() -> None:
    w = ForecastWatch(WateringPlanner(), ZoneTracker())
    assert sweep(w.observe(S, fc(0, wind_max_ms=12.0), CTX)) == []  # a breeze
    assert sweep(w.observe(S, fc(1, wind_max_ms=18.0), CTX)) == ["t1", "t2"]  # gale: the site
    assert sweep(w.observe(S, fc(7, signal=8), CTX)) == []  # the same storm
    assert sweep(w.observe(S, fc(13, wind_max_ms=10.0), CTX)) == []  # it passed
    gap_h = STORM_GAP_S / 3600
    assert sweep(w.observe(S, fc(7 + gap_h - 1, signal=9), CTX)) == []  # within the gap
    assert sweep(w.observe(S, fc(7 + 2 * gap_h, signal=8), CTX)) == ["t1", "t2"]  # next storm
    assert w.sweeps == 2


def test_the_sweeps_view_takes_the_highest_wind_and_the_signal() -> None:
    sf = storm_forecast(S, fc(0, wind_ms=9.0, wind_max_ms=16.0, signal=3))
    assert (sf.max_wind_ms, sf.signal, sf.triggers) == (16.0, 3, False)
    assert storm_forecast(S, fc(0, wind_ms=17.5)).triggers
