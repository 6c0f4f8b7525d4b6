"""Scenario ground truth against what was really published on the broker."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.protocol import SoilReading, TiltReading, WeatherReading
from greeniot.services import MosquittoProcess
from greeniot.simulators import Fleet, SimOptions, run_sync
from tests.simulators.conftest import Observer, wait_until


def test_typhoon_truth_matches_published_tilt(mosquitto: MosquittoProcess, observer: Observer,
                                              site_id: str) -> None:
    fleet = Fleet.generate(trees_per_site=12, zones_per_site=1, seed=11, site_ids=[site_id])
    result = run_sync("typhoon", fleet, port=mosquitto.port, speed=None, step_s=600,
                      options=SimOptions(burst_s=10.0))
    wait_until(lambda: observer.count() >= result.published, 30, "all messages")
    truth = result.truth
    span_ms = result.end_ms - result.start_ms
    assert len(truth.failures) == 1 and len(truth.lean_steps) == 1  # 10 % of 12 trees
    assert truth.storm is not None

    series = observer.by_device("tilt")
    assert set(series) == {t.tilt_device for t in fleet.trees}

    def calm_mean(readings: list[TiltReading], lo: float, hi: float) -> np.ndarray:
        sel = [(r.pitch_deg, r.roll_deg) for r in readings
               if lo <= (r.ts_ms - result.start_ms) / span_ms < hi]
        assert len(sel) >= 10
        return np.mean(sel, axis=0)

    by_device = {t.tilt_device: t.tree for t in fleet.trees}
    for dev, msgs in series.items():
        readings = [r for r in msgs if isinstance(r, TiltReading)]
        tree = by_device[dev]
        before = calm_mean(readings, 0.0, 0.15)  # calm before the storm
        after = calm_mean(readings, 0.85, 1.0)  # calm after it
        shift = after - before
        if tree in truth.failures:
            f = truth.failures[tree]
            down = [np.hypot(r.pitch_deg, r.roll_deg)
                    for r in readings if r.ts_ms > f.ts_ms + 60_000]
            up = [np.hypot(r.pitch_deg - before[0], r.roll_deg - before[1])
                  for r in readings if r.ts_ms < f.precursor_from_ms]
            assert min(down) > 10.0, "a fallen tree lies tens of degrees over"
            assert max(up) < 3.0
        elif tree in truth.lean_steps:
            s = truth.lean_steps[tree]
            assert np.hypot(*shift) > 0.8
            assert shift == pytest.approx([s.pitch_deg, s.roll_deg], abs=0.2)
        else:
            assert np.hypot(*shift) < 0.15, f"healthy {tree} returns to its baseline"

    wx = [m for m in observer.messages(channel="weather") if isinstance(m, WeatherReading)]
    assert 35.0 <= max(m.gust_ms or 0 for m in wx) <= 60.0
    peak = max(wx, key=lambda m: m.wind_ms)
    assert truth.storm.start_ms < peak.ts_ms < truth.storm.end_ms
    calm_after = [m.wind_ms for m in wx if m.ts_ms > result.start_ms + 0.8 * span_ms]
    assert max(calm_after) < 8.0


def test_drought_drives_zones_below_refill(mosquitto: MosquittoProcess, observer: Observer,
                                          site_id: str) -> None:
    fleet = Fleet.generate(trees_per_site=1, zones_per_site=4, seed=4, site_ids=[site_id])
    result = run_sync("drought", fleet, port=mosquitto.port, speed=None, step_s=900)
    wait_until(lambda: observer.count() >= result.published, 30, "all messages")
    truth = result.truth
    assert 1 <= len(truth.dry_zones) < len(fleet.zones)
    span_ms = result.end_ms - result.start_ms
    for z in fleet.zones:
        for dev in z.soil_devices:
            vals = [(m.ts_ms, m.vwc_pct) for m in observer.messages(dev, "soil")
                    if isinstance(m, SoilReading)]
            assert len(vals) == span_ms // 900_000
            first = np.mean([v for ts, v in vals[:8]])
            last = np.mean([v for ts, v in vals[-8:]])
            assert first > z.refill_vwc_pct + 1.0, "every zone starts above refill"
            if z.zone in truth.dry_zones:
                assert last < z.refill_vwc_pct - 1.0, f"{dev} shows {z.zone} went dry"
            else:
                assert min(v for _, v in vals) > z.refill_vwc_pct, f"{dev} stays above refill"
