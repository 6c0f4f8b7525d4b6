"""Device health detectors."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.health.detect import (
    battery_levels,
    battery_v,
    offline,
    out_of_range_frac,
    reporting_interval_s,
    stuck,
    successive_noise,
)
from greeniot.analytics.params import HEALTH_PARAMS
from tests.analytics.analytics_synth import MIN, T0

P = HEALTH_PARAMS["default"]


def test_reporting_interval_is_the_median_gap() -> None:
    ts = np.array([[0, 0, T0, T0 + 5 * MIN, T0 + 10 * MIN, T0 + 60 * MIN, T0 + 65 * MIN],
                   [0, 0, 0, 0, 0, T0, T0 + MIN]])
    iv = reporting_interval_s(ts, np.array([900.0, 900.0]), P)
    assert iv[0] == 300.0  # one long gap does not count
    assert iv[1] == 900.0  # too few readings: default


def test_offline_after_three_intervals() -> None:
    now = T0 + 20 * MIN
    s = offline(np.array([now - 14 * MIN, now - 16 * MIN, 0]), np.full(3, 300.0), P, now)
    assert (s.silence_s >= s.limit_s).tolist() == [False, True, False]


def test_battery_median_ignores_one_sag() -> None:
    v = np.array([[3.9, 3.9, 3.0, 3.9], [3.3, 3.3, 3.3, np.nan], [np.nan] * 4])
    b = battery_v(v)
    assert b[0] == 3.9 and b[1] == pytest.approx(3.3) and np.isnan(b[2])
    on, hold = battery_levels(np.array([3.9, 3.35, 3.1, 3.45]), P)
    assert on.tolist() == [0, 2, 3, 0] and hold.tolist() == [0, 2, 3, 2]


def test_stuck_needs_all_newest_equal_and_present() -> None:
    v = np.tile(np.linspace(20, 21, 50), (4, 1))
    v[1, -30:] = 20.5  # frozen for 30 readings
    v[2, -30:] = 20.5
    v[2, -10] = np.nan  # a gap: not proven stuck
    v[3, :] = 20.5
    assert stuck(v, np.array([24, 24, 24, 0])).tolist() == [False, True, False, False]


def test_noise_is_median_jump() -> None:
    rng = np.random.default_rng(0)
    v = np.tile(np.linspace(0, 1, 30), (2, 1))
    v[0, 20] = 50.0  # one real jump
    v[1] = rng.choice([0.0, 20.0], 30)  # flapping
    n = successive_noise(v, 12)
    assert n[0] < 1.0 and n[1] >= 10.0


def test_out_of_range_fraction_of_newest_readings() -> None:
    v = np.array([[30.0] * 8 + [0.0] * 4, [0.0] * 4 + [30.0] * 8, [np.nan] * 12])
    f = out_of_range_frac(v, np.full(3, 0.5), np.full(3, 99.5), 8)
    assert f[0] == 0.5 and f[1] == 0.0 and np.isnan(f[2])
