"""A day's probe value is the median of its evening readings: the ring, then through the engine."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.irrigation.evening import EVENING_MS, RING, ProbeReadings
from greeniot.calibration import CalibrationSpec
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol.messages import SoilReading, WeatherReading

END = 1_780_000_000_000
MIN = 60_000


def test_the_evening_median_rejects_a_spike_and_falls_back_to_the_nearest() -> None:
    ring = ProbeReadings.empty(4)
    ts = END - np.arange(12)[::-1] * 15 * MIN  # 12 readings to the day's end
    v = np.full(12, 40.0) + np.linspace(-0.5, 0.5, 12)
    v[-1] = 3.0  # the newest is a spike
    ring.add(np.zeros(12, np.int64), ts, v)
    ring.add([1], [END - 5 * MS_PER_HOUR], [33.0])  # only an afternoon reading
    ring.add([2], [END - 13 * MS_PER_HOUR], [20.0])  # too old to stand for the day
    ring.add([3, 3], [END - MIN, END - 2 * MIN], [np.nan, 50.0])  # NaN is no reading
    value, n = ring.at([0, 1, 2, 3], END)
    assert value[0] == pytest.approx(np.median(v))
    assert 39.5 < value[0] < 40.5
    assert value[1] == 33.0 and np.isnan(value[2]) and value[3] == 50.0
    assert n.tolist() == [12, 1, 0, 1]


def test_the_ring_keeps_the_newest_readings_in_any_order() -> None:
    ring = ProbeReadings.empty(1)
    # 3 RING readings in two batches, out of order within each: only the newest RING remain
    ts = END - np.arange(3 * RING) * MIN
    perm = np.random.default_rng(1).permutation(ts.size)
    half = ts.size // 2
    ring.add(np.zeros(half, np.int64), ts[perm[:half]], np.ones(half))
    ring.add(np.zeros(ts.size - half, np.int64), ts[perm[half:]], np.ones(ts.size - half))
    assert ring.count[0] == 3 * RING
    kept = np.sort(ring.ts[0])
    assert kept.size == RING and np.unique(kept).size == RING
    # the evening span is covered as long as the probe reports at least every ~3 min
    _, n = ring.at([0], END)
    assert n[0] >= min(RING, EVENING_MS // MIN) // 2
    ring.grow(3)
    assert len(ring) == 3 and np.isnan(ring.at([2], END)[0][0])


SITE = "estate-e"
OFFSET_H = 8.0
LOCAL0 = END // MS_PER_DAY * MS_PER_DAY - int(OFFSET_H * MS_PER_HOUR) + MS_PER_DAY
CAL = CalibrationSpec("two_point", points=((25.0, 0.10), (75.0, 0.30)))


def _day_dr(spike: bool) -> float:
    """One probe reporting every 15 min through the engine; its last reading of the day is a
    spike (index 8, θ 0.03: a probe in air) or not. The day's balance as it closes."""
    zone = ZoneInfo(SITE, "z1", valve_device="v1", application_rate_mm_h=12.0, efficiency=0.8,
                    theta_fc=0.30, theta_wp=0.15, root_depth_m=0.4, mad_p=0.5,
                    kc_by_month=(0.8,) * 12, lat_deg=22.3, elevation_m=50.0,
                    utc_offset_h=OFFSET_H)
    devs = (DeviceBinding(SITE, "wx", "weather"), DeviceBinding(SITE, "v1", "valve", zone="z1"),
            DeviceBinding(SITE, "p1", "soil", zone="z1", calibration=CAL.coefficients()))
    engine = AnalyticsEngine(EstateContext(devices=devs, zones=(zone,)))
    engine.ingest(SITE, "p1", SoilReading(seq=1, ts_ms=LOCAL0 - MIN, vwc_pct=65.0))
    engine.tick(LOCAL0)
    seq = 1
    for k in range(96):
        ts = LOCAL0 + (k + 1) * 15 * MIN - MIN
        if k % 4 == 0:
            engine.ingest(SITE, "wx", WeatherReading(seq=k + 1, ts_ms=ts, wind_ms=2.0,
                                                     air_temp_c=25.0, rh_pct=60.0))
        seq += 1
        idx = 8.0 if (spike and k == 95) else 60.0 - k * 0.02
        engine.ingest(SITE, "p1", SoilReading(seq=seq, ts_ms=ts, vwc_pct=idx))
    res = engine.tick(LOCAL0 + MS_PER_DAY + MS_PER_HOUR)
    i = res.balance.find(SITE, "z1")
    assert i is not None
    return float(res.balance.dr_mm[i])


def test_a_spike_at_the_days_end_does_not_move_the_balance() -> None:
    clean, spiked = _day_dr(False), _day_dr(True)
    # index 60 → θ 0.24 → Dr ≈ 24 mm; the spike alone would read Dr ≈ 108 mm (clipped to TAW)
    assert 10.0 < clean < 40.0
    assert spiked == pytest.approx(clean, abs=0.5)
