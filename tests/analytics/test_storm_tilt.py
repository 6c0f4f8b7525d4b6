"""Storm-time tilt assessment and mount faults: pure functions, then the real engine stages.

Synthetic trees whose answer is known: an elastic response to the wind load (compliance ×
U², along a turning wind), noise and a daily temperature cycle, and for some a yield that grows
during the storm and stays (the root plate does not spring back), or a moved sensor.
"""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.actions.plan import Task
from greeniot.actions.rules import decide
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.tilt.mount import mount_jump
from greeniot.analytics.tilt.response import storm_lean_level, storm_response
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo
from greeniot.simulators.estates import draw_estate, tilt_readings
from tests.analytics.analytics_synth import (
    DAY,
    HOUR,
    MIN,
    T0,
    daily_temp,
    kinds,
    replay,
    storm_wind,
    tilt,
    times,
    weather,
)


def _response_inputs(yield_deg: float, rows: int = 1, seed: int = 0
                     ) -> tuple[np.ndarray, ...]:
    """One storm of 8 h at 5-min readings, wind load 0..900 (m/s)² with gusty 10-min means."""
    rng = np.random.default_rng(seed)
    ts = np.tile(T0 + np.arange(96) * 5 * MIN, (rows, 1))
    u = 30 * np.sin(np.pi * np.arange(96) / 96) ** 0.5 * (1 + 0.1 * rng.standard_normal(96))
    load = np.tile(u**2, (rows, 1))
    c = 6.5e-4
    grow = np.clip((np.arange(96) - 48) / 24, 0, 1) * yield_deg  # yields from h4 to h6
    pitch = c * load + grow + rng.normal(0, 0.02, (rows, 96))
    roll = 0.3 * c * load + rng.normal(0, 0.02, (rows, 96))
    return ts, pitch, roll, load


@pytest.mark.parametrize("yield_deg", [0.0, 0.6, 2.0])
def test_storm_response_separates_elastic_sway_from_yield(yield_deg: float) -> None:
    ts, pitch, roll, load = _response_inputs(yield_deg)
    now = int(ts.max())
    r = storm_response(ts, pitch, roll, load, np.ones(ts.shape, bool),
                       pre_pitch_deg=np.zeros(1), pre_roll_deg=np.zeros(1), now_ms=now)
    # elastic compliance along the response: |(1, 0.3)| · c
    np.testing.assert_allclose(r.compliance_ref, 6.5e-4 * np.hypot(1, 0.3), rtol=0.15)
    # the yield, not the wind, is the offset (the elastic part at ~700 (m/s)² is ~0.5°)
    assert abs(r.offset_deg[0] - yield_deg) < 0.12 + 0.05 * yield_deg


def test_growing_offset_is_a_warning_a_steady_one_only_watch() -> None:
    th = np.array([[0.25, 0.5, 1.6]] * 3)
    on, hold, known = storm_lean_level(np.array([0.6, 0.6, 1.7]), np.array([0.3, 0.0, 0.0]),
                                       th, growth_deg_min=0.1, hysteresis=0.8)
    assert on.tolist() == [2, 1, 3] and known.all() and (hold >= on).all()


def test_storm_response_checks_inputs() -> None:
    ts, pitch, roll, load = _response_inputs(0.0)
    with pytest.raises(ValueError, match="load"):
        storm_response(ts, pitch, roll, load[:, :10], np.ones(ts.shape, bool),
                       pre_pitch_deg=np.zeros(1), pre_roll_deg=np.zeros(1), now_ms=int(ts.max()))


def test_mount_jump_needs_both_axes_and_a_temperature_jump() -> None:
    ts = np.tile(T0 + np.arange(6) * 5 * MIN, (4, 1))
    p = np.zeros((4, 6))
    r = np.zeros((4, 6))
    t = np.full((4, 6), 20.0)
    p[:, 3:] += 0.8
    r[[0, 2, 3], 3:] += 0.6  # row 1: one axis only
    t[[0, 1, 2], 3:] += 5.0  # row 3: no temperature jump (could be the tree)
    calm = np.ones((4, 6), bool)
    calm[2] = False  # row 2: windy
    j = mount_jump(ts, p, r, t, calm, after_ms=0, step_deg=0.3, temp_jump_c=3.0)
    assert j.found.tolist() == [True, False, False, False]
    assert j.ts_ms[0] == ts[0, 3] and j.step_deg[0] == pytest.approx(1.0)


# -- through the real engine -----------------------------------------------------------------
CTX = EstateContext(
    devices=(DeviceBinding("s", "t-lean", "tilt", tree="lean"),
             DeviceBinding("s", "t-sway", "tilt", tree="sway"),
             DeviceBinding("s", "t-big", "tilt", tree="big"),
             DeviceBinding("s", "wx", "weather")),
    trees=(TreeInfo("s", "lean", height_m=15.0), TreeInfo("s", "sway", height_m=12.0),
           TreeInfo("s", "big", height_m=25.0)))


def _storm_estate(end_deg: float, yield_h: float = 2.0, seed: int = 3):
    ts = times(4, 5)
    onset, end = T0 + 2 * DAY, T0 + 2 * DAY + 10 * HOUR
    rng = np.random.default_rng(seed)
    wind = storm_wind(ts, onset, end, peak_ms=32.0) * (1 + 0.08 * rng.standard_normal(ts.size))
    load = wind**2
    temp = daily_temp(ts, swing_c=8.0)
    start = onset + 3 * HOUR
    lean = np.clip((ts - start) / (yield_h * HOUR), 0, 1) * end_deg
    # the wind turns 60° over the storm: the elastic response turns with it
    turn = np.deg2rad(60) * np.clip((ts - onset) / (end - onset), 0, 1)
    batches = [weather("s", "wx", ts, wind)]
    for dev, c, extra, s in (("t-lean", 6.5e-4, lean, 1), ("t-sway", 6.5e-4, 0 * lean, 2),
                             ("t-big", 1.1e-3, 0 * lean, 4)):
        push = c * load
        batches.append(tilt("s", dev, ts, 0.4 + push * np.cos(turn) + extra + 0.01 * (temp - 22),
                            -0.2 + push * np.sin(turn) - 0.008 * (temp - 22), temp,
                            noise_deg=0.02, seed=s))
    cross = start + int(0.5 / end_deg * yield_h * HOUR)
    return batches, cross


def test_a_tree_yielding_in_the_storm_is_warned_within_30_min_swaying_trees_never() -> None:
    batches, cross = _storm_estate(2.0)
    eng = AnalyticsEngine(CTX)
    # 30-min ticks while calm, 5-min ticks from the storm's onset (as the event clock would)
    onset = T0 + 2 * DAY
    ticks: list = []
    replay(eng, batches, T0, T0, per_tick=ticks,
           ticks=[*range(T0, onset, 30 * MIN), *range(onset, T0 + 4 * DAY, 5 * MIN)])
    first_task: dict[str, int] = {}
    events = [e for _, evs in ticks for e in evs]
    for t, evs in ticks:
        for a in decide(evs, CTX):
            if isinstance(a, Task) and a.tree and "sweep" not in a.title:
                first_task.setdefault(a.tree, t)
    warn = [e for e in kinds(events, "lean_storm") if e.severity != "info"]
    assert warn and warn[0].tree == "lean"
    assert first_task["lean"] - cross <= 30 * MIN
    assert "sway" not in first_task and "big" not in first_task
    assert not [e for e in events if e.tree in ("sway", "big") and e.severity != "info"
                and e.kind != "storm"]


def _mount_batches(remount_at: int) -> list:
    ts = times(5, 5)
    temp = daily_temp(ts, swing_c=8.0)
    moved = ts >= remount_at
    temp = temp + np.where(moved, 5.0, 0.0)
    pitch = 0.3 + 0.01 * (temp - 22) + np.where(moved, 0.9, 0.0)
    roll = 0.1 + np.where(moved, -0.7, 0.0)
    wind = np.full(ts.size, 2.0)
    return [weather("s", "wx", ts, wind), tilt("s", "t-lean", ts, pitch, roll, temp, seed=5)]


def test_a_moved_sensor_is_a_device_check_not_a_lean_alarm_until_rebaselined() -> None:
    remount = T0 + 2 * DAY + 7 * HOUR + 2 * MIN
    batches = _mount_batches(remount)
    eng = AnalyticsEngine(CTX)
    events = replay(eng, batches, T0, T0 + 3 * DAY, step_ms=30 * MIN)
    tasks = [a for a in decide(events, CTX) if isinstance(a, Task)]
    assert [(t.kind, t.device) for t in tasks] == [("device_check", "t-lean")]
    assert kinds(events, "mount_moved")[0].ts_ms >= remount
    assert not kinds(events, "lean", "lean_step", "lean_trend", "lean_storm")
    # the crew confirms the re-mount: the baseline is re-learned from then on, no alarms
    eng.rebaseline("s", "t-lean", T0 + 3 * DAY)
    later = replay(eng, batches, T0 + 3 * DAY + 30 * MIN, T0 + 5 * DAY - 1, step_ms=30 * MIN,
                   prev_ms=T0 + 3 * DAY)
    assert not [e for e in later if e.kind != "storm"]
    assert eng.tilt.base.ok[eng.tilt.index.get("s", "t-lean")]


def test_site_without_a_station_raises_no_lean_alarm_in_ten_calm_days() -> None:
    """100 trees, 10 days of calm with afternoon breezes, no weather station: the trees' own
    sway is the only wind reference, and nothing leans, so nothing may be raised."""
    est = draw_estate(42, start_ms=T0, days=10.0, n_sites=1, trees_per_site=(100, 100),
                      station_share=0.0, p_yield=0.0, p_fail=0.0, p_remount=0.0,
                      storm_peak_ms=(0.0, 0.1))
    tr = est.trees
    ctx = EstateContext(
        devices=tuple(DeviceBinding(est.sites[0], d, "tilt", tree=t)
                      for d, t in zip(tr.device, tr.tree, strict=True)),
        trees=tuple(TreeInfo(est.sites[0], t, heritage=bool(h))
                    for t, h in zip(tr.tree, tr.heritage, strict=True)))
    eng = AnalyticsEngine(ctx)
    rng = np.random.default_rng(1)
    t_read = np.arange(0.0, est.span_s, 300.0)
    pitch, roll, temp = tilt_readings(est, t_read, rng)
    rows = eng.rows_for("tilt", est.sites[0], np.array(tr.device, dtype=object))
    lean_alarms = []
    per_tick = 6  # readings per 30-min tick
    for c0 in range(0, t_read.size, per_tick):
        for c in range(c0, min(c0 + per_tick, t_read.size)):
            eng.ingest_rows("tilt", rows, np.full(rows.size, T0 + int(t_read[c] * 1000)),
                            {"pitch_deg": pitch[:, c], "roll_deg": roll[:, c],
                             "temp_c": temp[:, c], "bat_v": np.full(rows.size, 3.9)})
        now = T0 + int(t_read[min(c0 + per_tick, t_read.size) - 1] * 1000)
        evs = eng.tick(now).events
        lean_alarms += [a for a in decide(evs, ctx) if isinstance(a, Task)]
    assert lean_alarms == []
    assert len(tr) == 100 and est.span_s == 10 * DAY / 1000
