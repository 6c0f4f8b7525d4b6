"""The engine end to end on synthetic estates: the events, and only the events, we expect."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from greeniot.analytics.contract import Event
from greeniot.analytics.core.columns import ColumnBatch
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import TILT_PARAMS, AnalyticsParams
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo
from greeniot.protocol.messages import (
    SoilReading,
    Status,
    TiltBurst,
    TiltReading,
    WeatherReading,
)
from tests.analytics.analytics_synth import (
    DAY,
    HOUR,
    MIN,
    T0,
    daily_temp,
    kinds,
    replay,
    soil,
    storm_wind,
    tilt,
    times,
    weather,
)

SITE = "estate-a"
TREE_EVENTS = ("lean", "lean_step", "lean_trend", "failure")
ONSET = T0 + 2 * DAY + 6 * HOUR
END = T0 + 2 * DAY + 14 * HOUR


def estate(*, heritage: tuple[str, ...] = ()) -> EstateContext:
    trees = ("t-std", "t-her")
    return EstateContext(
        devices=(
            *(DeviceBinding(SITE, f"tilt-{t}", "tilt", tree=t) for t in trees),
            *(DeviceBinding(SITE, f"soil-{z}-{i}", "soil", zone=z)
              for z in ("z-dry", "z-wet", "z-noisy", "z-bog") for i in range(3)),
            DeviceBinding(SITE, "wx", "weather"),
        ),
        trees=tuple(TreeInfo(SITE, t, heritage=t in heritage or t == "t-her") for t in trees),
        zones=tuple(ZoneInfo(SITE, z) for z in ("z-dry", "z-wet", "z-noisy", "z-bog")),
    )


def storm_day(days: float = 4.0) -> tuple[ColumnBatch, np.ndarray, np.ndarray]:
    """Weather with a gale on day 2 (06:00–14:00), and the wind at 5-min tilt times."""
    wts = times(days, 10)
    wind = storm_wind(wts, ONSET, END)
    tts = times(days, 5)
    return weather(SITE, "wx", wts, wind), tts, np.interp(tts, wts, wind)


def swaying(tts: np.ndarray, wind: np.ndarray, rest_deg: float, seed: int = 1) -> np.ndarray:
    """Tilt of a tree pushed by the wind: up to 1.2° static lean plus 0.3° sway at peak."""
    load = (wind / 22.0) ** 2
    return rest_deg + 1.2 * load + np.random.default_rng(seed).normal(0, 0.3, tts.size) * load


def test_healthy_tree_swaying_in_a_storm_raises_no_tree_event() -> None:
    wx, tts, wind = storm_day()
    pitch = swaying(tts, wind, 0.1)
    assert pitch.max() > TILT_PARAMS["standard"].lean_deg.critical  # sway would alarm as lean
    events = replay(AnalyticsEngine(estate()), [
        wx, tilt(SITE, "tilt-t-std", tts, pitch, np.full(tts.size, -0.05), daily_temp(tts))],
        T0, T0 + 4 * DAY)
    assert kinds(events, *TREE_EVENTS) == []
    storm = kinds(events, "storm")
    assert [e.detail.split(";")[0] for e in storm] == ["started", "ended"]
    assert storm[0].severity == "warning" and storm[0].ts_ms >= ONSET
    assert storm[0].value > 17.2 and storm[0].unit == "m/s"


@pytest.mark.parametrize(("tree", "step_severity", "lean_severity"), [
    ("t-std", "critical", "warning"),  # 1.1°: step ≥ 0.9 [James2013]; lean ≥ 0.9, < 1.6
    ("t-her", "critical", "critical"),  # heritage: step ≥ 0.25, lean ≥ 0.9
])
def test_lean_step_that_persists_after_the_wind_drops(tree: str, step_severity: str,
                                                      lean_severity: str) -> None:
    wx, tts, wind = storm_day()
    pitch = swaying(tts, wind, 0.1)
    pitch = np.where(tts >= END - 2 * HOUR, swaying(tts, wind, 1.2), pitch)  # uprooting starts
    events = replay(AnalyticsEngine(estate()), [
        wx, tilt(SITE, f"tilt-{tree}", tts, pitch, np.full(tts.size, -0.05), daily_temp(tts))],
        T0, T0 + 4 * DAY)
    tree_events = kinds(events, *TREE_EVENTS)
    assert [(e.kind, e.severity) for e in tree_events] == [
        ("lean", lean_severity), ("lean_step", step_severity)]
    step = tree_events[1]
    assert step.value == pytest.approx(1.1, abs=0.05)
    assert step.tree == tree and step.device == f"tilt-{tree}"
    assert step.heritage == (tree == "t-her")
    assert step.ts_ms > END  # judged on calm readings after the storm


def test_heritage_tree_gets_an_event_at_a_smaller_lean() -> None:
    tts = times(3, 5)
    # both trees drift by 0.2° over day 2 and stay there
    shift = np.clip((tts - (T0 + DAY + 6 * HOUR)) / (18 * HOUR), 0, 1) * 0.2
    roll = np.zeros(tts.size)
    events = replay(AnalyticsEngine(estate()), [
        tilt(SITE, "tilt-t-std", tts, 0.05 + shift, roll, seed=1),
        tilt(SITE, "tilt-t-her", tts, 0.05 + shift, roll, seed=2)], T0, T0 + 3 * DAY)
    leans = kinds(events, "lean")
    assert [(e.tree, e.severity) for e in leans] == [("t-her", "info")]
    assert leans[0].threshold == TILT_PARAMS["heritage"].lean_deg.watch
    assert leans[0].heritage


def test_daily_temperature_cycle_is_compensated() -> None:
    tts = times(4, 5)
    temp = daily_temp(tts)  # 20 °C peak to peak
    pitch = 0.2 + 0.05 * (temp - 22)  # ±0.5° of pure sensor drift
    roll = -0.1 - 0.03 * (temp - 22)
    batch = tilt(SITE, "tilt-t-std", tts, pitch, roll, temp, noise_deg=0.015)
    engine = AnalyticsEngine(estate())
    assert kinds(replay(engine, [batch], T0, T0 + 4 * DAY), *TREE_EVENTS) == []
    row = engine.tilt.index.get(SITE, "tilt-t-std")
    assert engine.tilt.base.k_pitch_deg_per_c[row] == pytest.approx(0.05, abs=0.003)
    assert engine.tilt.base.k_roll_deg_per_c[row] == pytest.approx(-0.03, abs=0.003)
    # control: without compensation the same data raise false leans
    std = dataclasses.replace(TILT_PARAMS["standard"], temp_fit_min_span_c=1e9)
    uncompensated = AnalyticsEngine(estate(), params=AnalyticsParams(tilt=std))
    assert kinds(replay(uncompensated, [batch], T0, T0 + 4 * DAY), "lean")


def test_slow_trend_reported_once_with_its_rate() -> None:
    tts = times(10, 15)
    lean = 0.05 * (tts - T0) / DAY  # 0.05°/day, away from the baseline, diagonally
    temp = daily_temp(tts)
    events = replay(AnalyticsEngine(estate()), [
        tilt(SITE, "tilt-t-std", tts, 0.6 * lean + 0.04 * (temp - 22), 0.8 * lean, temp,
             noise_deg=0.015)], T0, T0 + 10 * DAY, step_ms=HOUR)
    trends = kinds(events, "lean_trend")
    assert [e.severity for e in trends] == ["warning"]  # 0.03 ≤ 0.05 < 0.1 deg/day
    assert trends[0].value == pytest.approx(0.05, abs=0.005)
    assert trends[0].unit == "deg/day"
    assert kinds(events, "lean_step", "failure") == []


def test_fallen_tree_is_a_failure_and_nothing_else() -> None:
    tts = times(2, 5)
    fall = T0 + DAY + 12 * HOUR
    pitch = np.where(tts >= fall, 74.0, 0.1)
    events = replay(AnalyticsEngine(estate()), [
        tilt(SITE, "tilt-t-std", tts, pitch, np.zeros(tts.size))], T0, T0 + 2 * DAY,
        step_ms=5 * MIN)
    tree_events = kinds(events, *TREE_EVENTS)
    assert [(e.kind, e.severity) for e in tree_events] == [("failure", "critical")]
    assert tree_events[0].ts_ms == fall + 5 * MIN  # the second reading confirms it
    assert tree_events[0].value == pytest.approx(73.9, abs=0.1)


def test_set_context_rebinds_known_devices() -> None:
    tts = times(3, 5)
    shift = np.clip((tts - (T0 + DAY + 6 * HOUR)) / (18 * HOUR), 0, 1) * 0.2
    batch = tilt(SITE, "tilt-x", tts, 0.05 + shift, np.zeros(tts.size))
    engine = AnalyticsEngine(EstateContext())
    assert kinds(replay(engine, [batch], T0, T0 + 2 * DAY), "lean") == []  # standard: 0.2 < 0.25
    engine.set_context(EstateContext(
        devices=(DeviceBinding(SITE, "tilt-x", "tilt", tree="old-oak"),),
        trees=(TreeInfo(SITE, "old-oak", heritage=True),)))
    (lean,) = kinds(engine.tick(T0 + 2 * DAY + 5 * MIN).events, "lean")
    assert (lean.tree, lean.heritage, lean.severity) == ("old-oak", True, "info")


def test_unknown_device_is_analysed_by_device() -> None:
    tts = times(2, 5)
    pitch = np.where(tts >= T0 + DAY + 12 * HOUR, 80.0, 0.0)
    events = replay(AnalyticsEngine(EstateContext()), [
        tilt("other-site", "mystery", tts, pitch, np.zeros(tts.size))], T0, T0 + 2 * DAY)
    (fail,) = kinds(events, "failure")
    assert (fail.site, fail.device, fail.tree, fail.heritage) == (
        "other-site", "mystery", None, False)
    assert fail.subject == "mystery"


def burst_reading(ts_ms: int, seq: int, freq_hz: float, seed: int) -> TiltReading:
    rng = np.random.default_rng(seed)
    t = np.arange(1200) / 10.0
    p = 0.1 + 0.08 * np.sin(2 * np.pi * freq_hz * t) + rng.normal(0, 0.02, t.size)
    r = 0.05 * np.sin(2 * np.pi * freq_hz * t + 1) + rng.normal(0, 0.02, t.size)
    return TiltReading(seq=seq, ts_ms=ts_ms, pitch_deg=0.1, roll_deg=0.0, temp_c=20.0,
                       burst=TiltBurst(hz=10.0, pitch_deg=list(p), roll_deg=list(r)))


@pytest.mark.parametrize(("late_hz", "expected"), [(0.40, []), (0.30, ["warning"])])
def test_sway_frequency_drop_against_the_trees_own_past(late_hz: float,
                                                         expected: list[str]) -> None:
    engine = AnalyticsEngine(estate())
    events: list[Event] = []
    for i in range(12):  # two bursts a day; the last three at late_hz
        ts = T0 + i * DAY // 2
        engine.ingest(SITE, "tilt-t-std", burst_reading(ts, i, 0.40 if i < 9 else late_hz, i))
        events += engine.tick(ts + 3 * MIN).events  # the 2-min burst has ended
    sway = kinds(events, "sway")
    assert [e.severity for e in sway] == expected
    if sway:
        assert sway[0].freq_hz == pytest.approx(0.30, abs=0.02)
        assert sway[0].unit == "deg" and sway[0].value > 0  # RMS, per the contract
        assert sway[0].tree == "t-std"


def zone_probes(zone: str, vwc: float | np.ndarray, ts: np.ndarray, seed: int = 0
                ) -> list[ColumnBatch]:
    return [soil(SITE, f"soil-{zone}-{i}", ts, np.broadcast_to(vwc, ts.shape) + i * 0.5,
                 seed=seed + i) for i in range(3)]


def test_drought_for_the_dry_zone_only() -> None:
    ts = times(1, 15)
    noisy = np.full(ts.size, 30.0)
    noisy[50] = 3.0  # one bad reading
    batches = (zone_probes("z-dry", 12.0, ts) + zone_probes("z-wet", 30.0, ts)
               + zone_probes("z-noisy", noisy, ts))
    events = replay(AnalyticsEngine(estate()), batches, T0, T0 + DAY)
    (drought,) = kinds(events, "drought")
    assert (drought.zone, drought.device, drought.severity) == ("z-dry", None, "warning")
    assert drought.value == pytest.approx(12.5, abs=0.5) and drought.threshold == 18.0
    assert drought.ts_ms <= T0 + HOUR  # three readings of each probe are enough


def test_waterlogging_needs_its_duration() -> None:
    ts = times(1, 15)
    vwc = np.where(ts >= T0 + 2 * HOUR, 95.0, 30.0)  # uncalibrated: near the index's wet end
    engine = AnalyticsEngine(estate())
    events = replay(engine, zone_probes("z-bog", vwc, ts), T0, T0 + 8 * HOUR)
    assert kinds(events, "waterlog") == []  # 6 h above saturation: not yet
    later = replay(engine, zone_probes("z-bog", vwc, ts), T0 + 8 * HOUR + 30 * MIN, T0 + DAY)
    (wl,) = kinds(later, "waterlog")
    assert wl.zone == "z-bog" and wl.ts_ms >= T0 + 14 * HOUR
    assert wl.threshold == 90.0


def test_device_health_offline_battery_stuck() -> None:
    ts = times(1, 15)
    live = soil(SITE, "soil-z-wet-0", ts, np.full(ts.size, 30.0))
    quiet = soil(SITE, "soil-z-wet-1", ts[ts < T0 + 6 * HOUR], np.full(24, 30.0))
    weak = soil(SITE, "soil-z-wet-2", ts, np.full(ts.size, 30.0), bat_v=3.3)
    frozen = ColumnBatch("soil", SITE, ["stuck-probe"] * ts.size, ts,
                         {"vwc_pct": np.full(ts.size, 27.3)})
    live_vwc = 30.0 + np.random.default_rng(9).normal(0, 0.3, ts.size)
    railed = ColumnBatch("soil", SITE, ["railed-probe"] * ts.size, ts,  # shorted at 12:00
                         {"vwc_pct": np.where(ts > T0 + 12 * HOUR, 0.0, live_vwc)})
    events = replay(AnalyticsEngine(estate()), [live, quiet, weak, frozen, railed], T0, T0 + DAY)
    got = sorted((e.kind, e.device, e.severity, e.detail.split(":")[0]) for e in events)
    assert got == [("device_offline", "soil-z-wet-1", "warning",
                    "no reading for 2700 s; expected every 900 s (limit 3x, at least 120 s)"),
                   ("low_battery", "soil-z-wet-2", "warning",
                    "battery 3.30 V below 3.4 V (li_ion_1s)"),
                   ("out_of_range", "railed-probe", "warning", "out_of_range"),
                   ("sensor_stuck", "stuck-probe", "warning", "stuck")]
    # the railed probe reads 0 %: as a faulty sensor it raises no drought for its zone
    offline = kinds(events, "device_offline")[0]
    assert offline.ts_ms == T0 + 6 * HOUR - 15 * MIN + 3 * 15 * MIN  # last reading + 3 intervals
    assert offline.threshold == 3 * 900.0


def test_status_last_will_marks_a_valve_offline_until_it_returns() -> None:
    engine = AnalyticsEngine(estate())
    engine.ingest(SITE, "valve-z1", Status(state="offline"))
    (e,) = engine.tick(T0).events
    assert (e.kind, e.device, e.ts_ms) == ("device_offline", "valve-z1", T0)
    assert engine.tick(T0 + HOUR).events == []
    engine.ingest(SITE, "valve-z1", Status(state="online", ts_ms=T0 + 2 * HOUR))
    (back,) = engine.tick(T0 + 2 * HOUR).events  # the alarm clears
    assert (back.kind, back.phase, back.ts_ms) == ("device_offline", "clear", T0 + 2 * HOUR)
    engine.ingest(SITE, "valve-z1", Status(state="offline", ts_ms=T0 + 3 * HOUR))
    assert [x.kind for x in engine.tick(T0 + 3 * HOUR).events] == ["device_offline"]  # re-armed


def test_last_will_after_a_buffered_reading_stays_offline() -> None:
    engine = AnalyticsEngine(estate())
    engine.ingest(SITE, "soil-z-wet-0", SoilReading(seq=1, ts_ms=T0, vwc_pct=30.0))
    engine.ingest(SITE, "soil-z-wet-0", Status(state="offline"))  # will, after that reading
    assert [e.kind for e in engine.tick(T0 + MIN).events] == ["device_offline"]
    engine.ingest(SITE, "soil-z-wet-0", SoilReading(seq=2, ts_ms=T0 + 10 * MIN, vwc_pct=30.0))
    engine.tick(T0 + 11 * MIN)
    assert engine.health.status_offline[engine.health.index.get(SITE, "soil-z-wet-0")] == 0


def test_one_event_per_condition_escalation_and_rearm() -> None:
    tts = times(5, 5)
    day = (tts - T0) / DAY
    # lean 0 → 0.3 (info) → 1.0 (warning) → back to 0 → 0.3 again (info)
    pitch = np.select([day < 1.5, day < 2.5, day < 3.5, day < 4.2], [0.0, 0.3, 1.0, 0.0], 0.3)
    engine = AnalyticsEngine(estate())
    batch = tilt(SITE, "tilt-t-std", tts, pitch, np.zeros(tts.size))
    events = replay(engine, [batch, batch], T0, T0 + 5 * DAY, step_ms=5 * MIN)  # redelivered
    leans = kinds(events, "lean")
    assert [e.severity for e in leans] == ["info", "warning", "info"]
    assert [round((e.ts_ms - T0) / DAY, 1) for e in leans] == [1.5, 2.5, 4.2]
    # one step event per sudden increase (0.3°, 0.7°, 0.3°: warnings); the drop back to the
    # baseline at day 3.5 is no "sudden increase" and raises nothing
    steps = kinds(events, "lean_step")
    assert [(e.severity, round(e.value, 1)) for e in steps] == [
        ("warning", 0.3), ("warning", 0.7), ("warning", 0.3)]
    assert [round((e.ts_ms - T0) / DAY, 1) for e in steps] == [1.5, 2.5, 4.2]


def messages(batches: list[ColumnBatch]) -> list[tuple[int, str, object]]:
    """The same readings as protocol messages, as devices would send them."""
    out: list[tuple[int, str, object]] = []
    for b in batches:
        for i, (dev, ts) in enumerate(zip(b.device, np.asarray(b.ts_ms), strict=True)):
            v = {k: float(np.asarray(x)[i]) for k, x in b.values.items()}
            if b.kind == "tilt":
                msg: object = TiltReading(seq=i, ts_ms=int(ts), pitch_deg=v["pitch_deg"],
                                          roll_deg=v["roll_deg"], temp_c=v.get("temp_c"),
                                          bat_v=v.get("bat_v"))
            elif b.kind == "soil":
                msg = SoilReading(seq=i, ts_ms=int(ts), vwc_pct=v["vwc_pct"], bat_v=v.get("bat_v"))
            else:
                msg = WeatherReading(seq=i, ts_ms=int(ts), wind_ms=v["wind_ms"],
                                     gust_ms=v["gust_ms"])
            out.append((int(ts), str(dev), msg))
    return out


def test_replay_is_deterministic_whatever_the_arrival_order() -> None:
    wx, tts, wind = storm_day(3.5)
    pitch = np.where(tts >= END - 2 * HOUR, swaying(tts, wind, 0.9), swaying(tts, wind, 0.1))
    batches = [wx, tilt(SITE, "tilt-t-her", tts, pitch, np.zeros(tts.size), daily_temp(tts)),
               *zone_probes("z-dry", 12.0, times(3.5, 15))]
    end = T0 + int(3.5 * DAY)
    live = replay(AnalyticsEngine(estate()), batches, T0, end)

    # the same readings one message at a time, shuffled within each tick and partly
    # redelivered (at-least-once), on the same event-time ticks
    msgs = messages(batches)
    rng = np.random.default_rng(5)
    engine = AnalyticsEngine(estate())
    replayed: list[Event] = []
    ticks = np.arange(T0, end + 1, 30 * MIN)
    msg_ts = np.array([m[0] for m in msgs])
    prev = -1
    for t in ticks:
        due = np.flatnonzero((msg_ts > prev) & (msg_ts <= t))
        due = np.concatenate([due, rng.choice(due, due.size // 4)]) if due.size else due
        for i in rng.permutation(due):
            engine.ingest(SITE, msgs[i][1], msgs[i][2])  # type: ignore[arg-type]
        prev = int(t)
        replayed += engine.tick(int(t)).events
    assert replayed == live
    assert {e.kind for e in live} >= {"storm", "lean_step", "drought"}


def test_warm_start_then_prime_does_not_repeat_known_conditions() -> None:
    wx, tts, _wind = storm_day(3.0)
    pitch = np.where(tts >= END - 2 * HOUR, 1.2, 0.1)
    history = [wx, tilt(SITE, "tilt-t-std", tts, pitch, np.zeros(tts.size)),
               *zone_probes("z-dry", 12.0, times(3.0, 15))]
    now = T0 + 3 * DAY
    cold = AnalyticsEngine(estate())
    cold.warm_start(history)
    first = cold.tick(now).events
    assert {e.kind for e in first} >= {"lean", "drought"}  # ongoing conditions reported once
    assert cold.tick(now + 5 * MIN).events == []
    primed = AnalyticsEngine(estate())
    primed.warm_start(history, prime_at_ms=now)
    assert primed.tick(now + 5 * MIN).events == []
    row = primed.tilt.index.get(SITE, "tilt-t-std")
    assert primed.tilt.base.ok[row]  # baseline fitted from the warm-started hourly history


def test_event_time_must_not_go_backwards_and_inputs_are_checked() -> None:
    engine = AnalyticsEngine(estate())
    engine.tick(T0)
    with pytest.raises(ValueError, match="before the previous tick"):
        engine.tick(T0 - 1)
    with pytest.raises(ValueError, match="now_ms must be an int"):
        engine.tick(float(T0 + 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="msg must be a protocol message"):
        engine.ingest(SITE, "x", object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="values lacks required fields"):
        ColumnBatch("tilt", SITE, ["a"], np.array([T0]), {"pitch_deg": np.zeros(1)})
    with pytest.raises(ValueError, match="window must be"):
        AnalyticsEngine(estate(), window=4)


def test_site_without_weather_station_detects_storms_from_tree_sway() -> None:
    engine = AnalyticsEngine(EstateContext())
    events: list[Event] = []
    for i in range(30):  # a burst from each of three trees every 10 min; gusty from 1 h to 2 h
        ts = T0 + i * 10 * MIN
        amp = 0.5 if 6 <= i < 12 else 0.005
        for tree in range(3):
            rng = np.random.default_rng(100 * i + tree)
            t = np.arange(600) / 10.0
            p = 0.1 + amp * np.sin(2 * np.pi * 0.4 * t + tree) + rng.normal(0, 0.002, t.size)
            engine.ingest("park", f"tilt-{tree}", TiltReading(
                seq=i, ts_ms=ts, pitch_deg=0.1, roll_deg=0.0,
                burst=TiltBurst(hz=10.0, pitch_deg=list(p), roll_deg=list(0 * p))))
        events += engine.tick(ts + MIN).events
    storms = kinds(events, "storm")
    assert [e.detail.split(";")[0] for e in storms] == ["started", "ended"]
    assert storms[0].unit == "deg" and storms[0].ts_ms == T0 + 60 * MIN
    assert storms[0].value > 0.2  # estate median sway RMS, above the onset stand-in
    assert "no weather station" in storms[0].detail


def test_probe_of_an_unknown_zone_is_judged_alone_by_device() -> None:
    ts = times(1, 15)
    events = replay(AnalyticsEngine(EstateContext()), [soil("far", "probe-9", ts,
                                                           np.full(ts.size, 10.0))], T0, T0 + DAY)
    (d,) = kinds(events, "drought")
    assert (d.site, d.zone, d.device, d.threshold) == ("far", None, "probe-9", 18.0)
    assert d.subject == "probe-9"


def test_row_level_ingest_checks_rows_and_fields() -> None:
    engine = AnalyticsEngine(estate())
    rows = engine.rows_for("soil", SITE, ["p1", "p2"])
    assert rows.tolist() == [0, 1] and engine.rows_for("soil", SITE, ["p2"]).tolist() == [1]
    engine.ingest_rows("soil", rows, [T0, T0], {"vwc_pct": [20.0, 21.0]})
    with pytest.raises(ValueError, match=r"rows must come from rows_for\('soil'"):
        engine.ingest_rows("soil", [5], [T0], {"vwc_pct": [20.0]})
    with pytest.raises(ValueError, match="values lacks required fields"):
        engine.ingest_rows("soil", rows, [T0, T0], {"temp_c": [1.0, 2.0]})
    with pytest.raises(ValueError, match="ts_ms has 1 entries"):
        engine.ingest_rows("soil", rows, [T0], {"vwc_pct": [1.0, 2.0]})
    with pytest.raises(ValueError, match="kind must be one of"):
        engine.rows_for("ack", SITE, ["v"])  # ack is routed to no stage
