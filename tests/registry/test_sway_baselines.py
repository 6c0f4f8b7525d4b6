"""Seasonal sway baselines survive a restart through the registry (migration 0013)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy.orm import Session

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo
from greeniot.protocol.messages import TiltBurst, TiltReading
from greeniot.registry import sway_baselines

DAY = 86_400_000
T0 = int(np.datetime64("2026-07-01T12:00", "ms").astype(np.int64))
CTX = EstateContext(
    devices=(DeviceBinding("s", "tilt-1", "tilt", tree="t1"),
             DeviceBinding("s", "tilt-2", "tilt", tree="t2")),
    trees=(TreeInfo("s", "t1", species="Tilia cordata", lat_deg=51.0),
           TreeInfo("s", "t2", species="Pinus sylvestris", lat_deg=51.0)))


def fed_engine(days: int) -> AnalyticsEngine:
    eng = AnalyticsEngine(CTX)
    rng = np.random.default_rng(0)
    t = np.arange(1200) / 10.0
    for d in range(days):
        ts = T0 + d * DAY
        for dev, f in (("tilt-1", 0.21), ("tilt-2", 0.33)):
            p = 0.1 * np.sin(2 * np.pi * f * t) + rng.normal(0, 0.01, t.size)
            eng.ingest("s", dev, TiltReading(seq=d + 1, ts_ms=ts, pitch_deg=0.0, roll_deg=0.0,
                                             burst=TiltBurst(hz=10.0, pitch_deg=p.tolist(),
                                                             roll_deg=(0.5 * p).tolist())))
        eng.tick(ts + 600_000)
    return eng


def test_baselines_round_trip_and_restore(session: Session) -> None:
    eng = fed_engine(8)
    kept = eng.sway.baselines()
    assert {(b.device, b.state) for b in kept} == {("tilt-1", 1), ("tilt-2", 0)}  # leaf-on
    assert sway_baselines.save(session, "s", kept, T0 + 9 * DAY) == 2
    assert sway_baselines.save(session, "s", kept, T0 + 10 * DAY) == 2  # replaced, not added
    back = sway_baselines.load(session, "s")
    assert len(back) == 2
    for a, b in zip(sorted(kept, key=lambda b: b.device), back, strict=True):
        assert (a.device, a.state, a.n_bursts, a.newest_ms) == (b.device, b.state, b.n_bursts,
                                                                b.newest_ms)
        assert b.freq_hz == pytest.approx(a.freq_hz)
        assert math.isnan(a.damping) == math.isnan(b.damping)
    fresh = AnalyticsEngine(CTX)
    fresh.sway.restore_baselines(back, fresh.board)
    again = sorted(fresh.sway.baselines(), key=lambda b: b.device)
    assert [(b.device, b.state, b.n_bursts) for b in again] == [
        (b.device, b.state, b.n_bursts) for b in back]
    assert [b.freq_hz for b in again] == pytest.approx([b.freq_hz for b in back])
    assert sway_baselines.load(session, "other") == []
