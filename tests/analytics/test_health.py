"""Device health detectors (keyword arguments, pvlib style) and the health stage's alarms."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.health.detect import (
    battery_levels,
    battery_v,
    flagged_frac,
    offline,
    out_of_range_frac,
    reporting_interval_s,
    stuck,
    stuck_samples,
    successive_noise,
)
from greeniot.analytics.params import HEALTH_PARAMS
from greeniot.estate import EstateContext
from greeniot.protocol.messages import SoilReading, Status
from tests.analytics.analytics_synth import MIN, T0

P = HEALTH_PARAMS["default"]
STUCK = {"false_alarm_p": P.stuck_false_alarm_p, "min_samples": P.stuck_min_samples,
         "min_history": P.stuck_min_history}


def test_reporting_interval_is_the_median_gap() -> None:
    ts = np.array([[0, 0, T0, T0 + 5 * MIN, T0 + 10 * MIN, T0 + 60 * MIN, T0 + 65 * MIN],
                   [0, 0, 0, 0, 0, T0, T0 + MIN]])
    iv = reporting_interval_s(ts, np.array([900.0, 900.0]), min_samples=4)
    assert iv[0] == 300.0  # one long gap does not count
    assert iv[1] == 900.0  # too few readings: default


def test_offline_after_three_intervals_or_after_a_missed_wake_up() -> None:
    now = T0 + 20 * MIN
    s = offline(np.array([now - 14 * MIN, now - 16 * MIN, 0]), np.full(3, 300.0),
                offline_factor=3.0, min_silence_s=120.0, now_ms=now)
    assert s.offline.tolist() == [False, True, False]
    # announced sleep until now + 1 min, or a shutdown without wake-up: not offline
    newest = np.full(3, now - 60 * MIN)
    wake = np.array([now + MIN, -1, now - 20 * MIN])
    s = offline(newest, np.full(3, 300.0), offline_factor=3.0, min_silence_s=120.0,
                now_ms=now, wake_ms=wake)
    assert s.offline.tolist() == [False, False, True]  # the third missed it by 20 > 15 min


def test_min_silence_covers_fast_reporters() -> None:
    now = T0 + 10 * MIN
    s = offline(np.array([now - 90_000]), np.array([10.0]), offline_factor=3.0,
                min_silence_s=120.0, now_ms=now)
    assert not s.offline[0]  # 90 s of silence at a 10 s interval is network jitter


def test_battery_median_ignores_one_sag_and_thresholds_follow_chemistry() -> None:
    v = np.array([[3.9, 3.9, 3.0, 3.9], [3.3, 3.3, 3.3, np.nan], [np.nan] * 4])
    b = battery_v(v)
    assert b[0] == 3.9 and b[1] == pytest.approx(3.3) and np.isnan(b[2])
    on, hold = battery_levels(np.array([3.9, 3.35, 3.1, 3.45, 12.6, 11.9]),
                              warning_v=np.array([3.4, 3.4, 3.4, 3.4, 12.0, 12.0]),
                              critical_v=np.array([3.2, 3.2, 3.2, 3.2, 11.8, 11.8]),
                              hysteresis_v=0.1)
    assert on.tolist() == [0, 2, 3, 0, 0, 2] and hold.tolist() == [0, 2, 3, 2, 0, 2]


def test_stuck_needs_all_newest_equal_and_present() -> None:
    v = np.tile(np.linspace(20, 21, 50), (4, 1))
    v[1, -30:] = 20.5  # frozen for 30 readings
    v[2, -30:] = 20.5
    v[2, -10] = np.nan  # a gap: not proven stuck
    v[3, :] = 20.5
    assert stuck(v, np.array([24, 24, 24, 0])).tolist() == [False, True, False, False]


def test_stuck_samples_follow_the_sensors_noise() -> None:
    rng = np.random.default_rng(3)
    n = 64
    q = 0.1
    quiet = np.round(30 + rng.normal(0, 0.06, n) / q) * q  # noise below the resolution
    mid = np.round(30 + rng.normal(0, 0.2, n) / q) * q
    loud = np.round(30 + rng.normal(0, 1.0, n) / q) * q
    fresh = np.full(n, np.nan)
    fresh[-4:] = 30.0
    got = stuck_samples(np.vstack([quiet, mid, loud, fresh]), max_samples=48, **STUCK)
    assert got[0] > got[1] > got[2] >= P.stuck_min_samples
    assert got[3] == 48  # no history to judge the noise by: the cap
    # the newest run of equal values does not vote on its own length
    frozen = mid.copy()
    frozen[-20:] = 30.0
    again = stuck_samples(frozen[None, :], max_samples=48, **STUCK)
    assert again[0] == pytest.approx(got[1], abs=2)


def test_stuck_samples_keep_false_alarms_rare_on_live_sensors() -> None:
    """Over 2,000 simulated live probes with noise from 1.5 to 5 ADC steps, no stuck alarm."""
    rng = np.random.default_rng(11)
    rows, n, q = 2000, 64, 0.1
    sigma = rng.uniform(1.5, 5.0, rows)[:, None] * q
    drift = np.cumsum(rng.normal(0, 0.01, (rows, n)), axis=1)
    v = np.round((30 + drift + rng.normal(0, 1, (rows, n)) * sigma) / q) * q
    k = stuck_samples(v, max_samples=48, **STUCK)
    assert not stuck(v, k).any()
    assert np.median(k) <= 10  # and found within a few readings when it does freeze


def test_noise_is_median_jump() -> None:
    rng = np.random.default_rng(0)
    v = np.tile(np.linspace(0, 1, 30), (2, 1))
    v[0, 20] = 50.0  # one real jump
    v[1] = rng.choice([0.0, 20.0], 30)  # flapping
    n = successive_noise(v, n_samples=12)
    assert n[0] < 1.0 and n[1] >= 10.0


def test_out_of_range_fraction_of_newest_readings() -> None:
    v = np.array([[30.0] * 8 + [0.0] * 4, [0.0] * 4 + [30.0] * 8, [np.nan] * 12])
    f = out_of_range_frac(v, np.full(3, 0.5), np.full(3, 99.5), n_samples=8)
    assert f[0] == 0.5 and f[1] == 0.0 and np.isnan(f[2])


def test_flagged_fraction_counts_flagged_readings_in_the_tail() -> None:
    ts = np.array([[T0 + i * MIN for i in range(6)], [T0 + i * MIN for i in range(6)]])
    f = flagged_frac(ts, np.array([T0 + 5 * MIN, T0 + 4 * MIN, T0]), np.array([0, 0, 1]),
                     n_samples=4)
    assert f.tolist() == [0.5, 0.0]  # row 1's flag is older than its newest 4


def _soil(engine: AnalyticsEngine, device: str, i: int, vwc: float, bat: float = 3.9) -> None:
    engine.ingest("s", device, SoilReading(seq=i, ts_ms=T0 + i * 15 * MIN, vwc_pct=vwc,
                                           bat_v=bat))


def test_each_fault_kind_is_its_own_alarm_and_clears() -> None:
    """A probe whose battery sags and then goes silent raises low_battery and device_offline as
    two alarms (not one merged under the first kind); each clears when the fault ends."""
    engine = AnalyticsEngine(EstateContext())
    rng = np.random.default_rng(1)
    events = []
    for i in range(40):
        bat = 3.3 if 10 <= i < 20 else 3.9
        if not 25 <= i < 32:  # silent for 7 readings (105 min)
            _soil(engine, "p1", i, 30 + rng.normal(0, 0.4), bat)
        events += engine.tick(T0 + i * 15 * MIN).events
    got = [(e.kind, e.phase) for e in events]
    assert got == [("low_battery", "start"), ("low_battery", "clear"),
                   ("device_offline", "start"), ("device_offline", "clear")]


def test_planned_shutdown_is_not_offline_until_its_wake_up_is_missed() -> None:
    engine = AnalyticsEngine(EstateContext())
    rng = np.random.default_rng(2)
    for i in range(8):
        _soil(engine, "p1", i, 30 + rng.normal(0, 0.4))
        _soil(engine, "p2", i, 30 + rng.normal(0, 0.4))
        engine.tick(T0 + i * 15 * MIN)
    last = T0 + 7 * 15 * MIN
    engine.ingest("s", "p1", Status(state="shutdown", ts_ms=last + 1000))
    engine.ingest("s", "p2", Status(state="sleeping", ts_ms=last + 1000,
                                    next_ms=last + 6 * 3_600_000))
    assert engine.tick(last + 5 * 3_600_000).events == []  # hours of planned silence
    (late,) = engine.tick(last + 7 * 3_600_000).events  # p2 missed its wake-up by 1 h
    assert (late.kind, late.device) == ("device_offline", "p2")
    assert "announced wake-up" in late.detail


def test_implausible_readings_raise_out_of_range_and_clear() -> None:
    engine = AnalyticsEngine(EstateContext())
    rng = np.random.default_rng(4)
    events = []
    for i in range(40):
        _soil(engine, "p1", i, 30 + rng.normal(0, 0.4))
        if 10 <= i < 14:
            engine.health.flag("s", "p1", "soil", T0 + i * 15 * MIN, ("bat_v",), heard=False)
        events += engine.tick(T0 + i * 15 * MIN).events
    got = [(e.kind, e.phase) for e in events]
    assert got == [("out_of_range", "start"), ("out_of_range", "clear")]
    assert "implausible bat_v" in events[0].detail


def test_a_flooded_zone_at_the_wet_rail_is_no_device_fault_but_a_lone_railed_probe_is() -> None:
    """The firmware clamps at its wet point (saturated soil or water), so after a cloudburst
    every probe of a soaked bed reads 100: that is the bed's water (the waterlogging rule's),
    not three broken probes. A probe at the rail while its zone mates read a moist 40 is
    shorted or in a puddle: out_of_range, for that probe only."""
    from greeniot.estate import DeviceBinding, ZoneInfo

    ctx = EstateContext(devices=tuple(DeviceBinding("s", f"p-{z}-{i}", "soil", zone=z)
                                      for z in ("flood", "mixed") for i in range(3)),
                        zones=(ZoneInfo("s", "flood"), ZoneInfo("s", "mixed")))
    engine = AnalyticsEngine(ctx)
    rng = np.random.default_rng(8)
    events = []
    for i in range(60):  # 15 h at 15 min; the rain soaks both beds from reading 20 on
        soaked = i >= 20
        for k in range(3):
            _soil(engine, f"p-flood-{k}", i,
                  100.0 if soaked else round(45 + rng.normal(0, 0.4), 1))
            _soil(engine, f"p-mixed-{k}", i, 100.0 if soaked and k == 0 else
                  round(40 + rng.normal(0, 0.4), 1))
        events += engine.tick(T0 + i * 15 * MIN).events
    got = [(e.kind, e.device) for e in events if e.kind in ("out_of_range", "sensor_stuck")]
    assert got == [("out_of_range", "p-mixed-0")]
