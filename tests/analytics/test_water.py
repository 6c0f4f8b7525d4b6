"""Probe smoothing, zone aggregation, drought and waterlogging levels."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.params import SOIL_PARAMS
from greeniot.analytics.soil.detect import (
    drought_levels,
    hours_above,
    probe_level,
    waterlog_levels,
    zone_water,
)
from tests.analytics.analytics_synth import HOUR, MIN, T0

P = SOIL_PARAMS["default"]


def test_one_noisy_sample_does_not_move_the_level() -> None:
    ts = np.tile(T0 + np.arange(12) * 15 * MIN, (1, 1))
    v = np.full(ts.shape, 30.0)
    v[0, -1] = 2.0  # a single bad reading, the newest
    lvl = probe_level(ts, v, smooth_hours=P.smooth_hours, min_samples=P.min_samples,
                      now_ms=int(ts.max()))
    assert lvl.vwc_pct[0] == 30.0 and lvl.n[0] == 12


def test_level_needs_recent_samples() -> None:
    ts = np.array([[T0, T0 + 15 * MIN, T0 + 4 * HOUR]])
    lvl = probe_level(ts, np.array([[20.0, 20.0, 20.0]]), smooth_hours=P.smooth_hours,
                      min_samples=P.min_samples, now_ms=T0 + 4 * HOUR)
    assert np.isnan(lvl.vwc_pct[0])  # only one sample in the last 3 h


def test_hours_above_saturation_and_restart() -> None:
    ts = np.tile(T0 + np.arange(0, 20 * HOUR, HOUR), (3, 1))
    v = np.full(ts.shape, 50.0)
    v[1, 10] = 30.0  # drained once, 9 h ago
    v[2, 10] = 44.0  # dipped into the hysteresis band only: no restart
    h = hours_above(ts, v, np.full(3, 45.0), hysteresis_pct=P.hysteresis_pct,
                    now_ms=int(ts.max()))
    assert h.tolist() == [19.0, 8.0, 19.0]


def test_zone_median_of_probes() -> None:
    zw = zone_water(np.array([10.0, 12.0, 40.0, np.nan, 30.0]),
                    np.array([0.0, 0.0, 0.0, 5.0, 1.0]), np.array([0, 0, 0, 1, 1]), 3)
    assert zw.vwc_pct[0] == 12.0 and zw.vwc_pct[1] == 30.0 and np.isnan(zw.vwc_pct[2])
    assert zw.n_probes.tolist() == [3, 1, 0]
    assert zw.hours_above[1] == 1.0  # the probe without a level is not counted


def test_drought_hysteresis() -> None:
    on, hold = drought_levels(np.array([15.0, 19.0, 21.0, np.nan]), np.full(4, 18.0),
                              hysteresis_pct=P.hysteresis_pct)
    assert on.tolist() == [2, 0, 0, 0] and hold.tolist() == [2, 2, 0, 0]


@pytest.mark.parametrize(("vwc", "hours", "on"), [(50.0, 13.0, 2), (50.0, 6.0, 0),
                                                  (40.0, 13.0, 0)])
def test_waterlog_needs_the_duration(vwc: float, hours: float, on: int) -> None:
    o, h = waterlog_levels(np.array([vwc - 45.0]), np.array([hours]), np.array([12.0]))
    assert o[0] == on and h[0] == 2
