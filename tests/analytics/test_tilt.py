"""Tilt detectors on synthetic trees whose true lean, rate and coefficient are known."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.core.latch import grade
from greeniot.analytics.params import TILT_PARAMS
from greeniot.analytics.tilt.baseline import TiltBaseline, fit_baseline
from greeniot.analytics.tilt.detect import (
    failure_tilt,
    hourly_calm_medians,
    lean_rate,
    level_thresholds,
    residual_lean,
    segment_level,
    step_magnitude,
)
from tests.analytics.analytics_synth import DAY, HOUR, MIN, T0, daily_temp

STD = TILT_PARAMS["standard"]


def hourly(days: float, rows: int = 1) -> np.ndarray:
    return np.tile(T0 + HOUR // 2 + np.arange(int(days * 24)) * HOUR, (rows, 1))


def test_baseline_recovers_temperature_coefficient_and_position() -> None:
    ts = hourly(2, rows=3)
    temp = daily_temp(ts)  # 20 °C peak to peak
    k = np.array([[0.05], [-0.02], [0.0]])
    rng = np.random.default_rng(0)
    pitch = 0.3 + k * (temp - 22) + rng.normal(0, 0.01, ts.shape)
    roll = -0.1 - 0.5 * k * (temp - 22) + rng.normal(0, 0.01, ts.shape)
    b = fit_baseline(ts, pitch, roll, temp, np.ones(ts.shape, bool), int(ts.max()))
    assert b.ok.all()
    np.testing.assert_allclose(b.k_pitch_deg_per_c, k[:, 0], atol=0.002)
    np.testing.assert_allclose(b.k_roll_deg_per_c, -0.5 * k[:, 0], atol=0.002)
    np.testing.assert_allclose(b.pitch_deg, 0.3, atol=0.01)
    np.testing.assert_allclose(b.roll_deg, -0.1, atol=0.01)


def test_baseline_needs_a_full_reference_period() -> None:
    ts = hourly(0.5)
    z = np.zeros(ts.shape)
    b = fit_baseline(ts, z, z, z, np.ones(ts.shape, bool), int(ts.max()))
    assert not b.ok[0] and np.isnan(b.pitch_deg[0])


def test_baseline_without_temperature_spread_fits_no_coefficient() -> None:
    ts = hourly(2)
    temp = np.full(ts.shape, 20.0) + np.linspace(0, 1, ts.shape[1])  # 1 °C: unidentifiable
    b = fit_baseline(ts, 0.2 + 0.5 * (temp - 20), np.zeros(ts.shape), temp,
                     np.ones(ts.shape, bool), int(ts.max()))
    assert b.ok[0] and b.k_pitch_deg_per_c[0] == 0.0


def base(p0: float = 0.0, r0: float = 0.0, k: float = 0.0, rows: int = 1,
         k_roll: float | None = None) -> TiltBaseline:
    one = np.ones(rows)
    kr = k if k_roll is None else k_roll
    return TiltBaseline(p0 * one, r0 * one, k * one, kr * one, 22.0 * one, one.astype(bool))


def test_residual_lean_uses_calm_samples_only() -> None:
    ts = np.tile(T0 + np.arange(24) * 5 * MIN, (2, 1))
    now = int(ts.max())
    pitch = np.full(ts.shape, 0.1)
    pitch[:, -6:] = 2.0  # the last half hour: swaying in wind
    calm = np.ones(ts.shape, bool)
    calm[0, -6:] = False  # row 0 knows it was windy, row 1 does not
    z = np.zeros(ts.shape)
    lean = residual_lean(ts, pitch, z, np.full(ts.shape, 22.0), calm, base(rows=2), now)
    assert lean.lean_deg[0] == pytest.approx(0.1)
    assert lean.ts_ms[0] == ts[0, -7]
    assert lean.lean_deg[1] == pytest.approx(0.1)  # the median still outvotes 6 of 24


def test_residual_lean_is_nan_in_a_storm_and_without_baseline() -> None:
    ts = np.tile(T0 + np.arange(24) * 5 * MIN, (1, 1))
    z = np.zeros(ts.shape)
    calm = np.zeros(ts.shape, bool)
    assert np.isnan(residual_lean(ts, z, z, z, calm, base(), int(ts.max())).lean_deg[0])
    assert np.isnan(residual_lean(ts, z, z, z, ~calm, TiltBaseline.empty(1),
                                  int(ts.max())).lean_deg[0])


def test_temperature_compensation_removes_daily_cycle() -> None:
    ts = np.tile(T0 + np.arange(0, DAY, 5 * MIN), (1, 1))
    temp = daily_temp(ts)
    pitch = 0.4 + 0.05 * (temp - 22)  # ±0.5°: above the 0.25° watch level uncompensated
    calm = np.ones(ts.shape, bool)
    worst_comp, worst_raw = 0.0, 0.0
    for end in range(24, ts.shape[1], 6):
        sl = slice(end - 24, end)
        now = int(ts[0, end - 1])
        args = (ts[:, sl], pitch[:, sl], np.zeros((1, 24)), temp[:, sl], calm[:, sl])
        comp = residual_lean(*args, base(0.4, 0.0, 0.05, k_roll=0.0), now).lean_deg[0]
        raw = residual_lean(*args, base(0.4, 0.0, 0.0), now).lean_deg[0]
        worst_comp, worst_raw = max(worst_comp, comp), max(worst_raw, raw)
    assert worst_comp < 1e-6
    assert worst_raw > STD.lean_deg.watch  # the test can fail: uncompensated it would alarm


def test_failure_needs_two_samples_and_ignores_wind() -> None:
    ts = np.tile(T0 + np.arange(12) * 5 * MIN, (2, 1))
    pitch = np.zeros(ts.shape)
    pitch[0, -3:] = 70.0  # fallen: three readings
    pitch[1, -1] = 70.0  # one glitch
    z = np.zeros(ts.shape)
    f = failure_tilt(ts, pitch, z, base(rows=2), int(ts.max()))
    assert f.lean_deg[0] == pytest.approx(70.0)
    assert f.ts_ms[0] == ts[0, -1]
    assert f.lean_deg[1] == 0.0  # the newest two must both be past it: one glitch is not


def test_step_magnitude_between_levels() -> None:
    ts = hourly(1)
    z = np.zeros(ts.shape)
    pitch = np.where(ts < T0 + 12 * HOUR, 0.1, 1.2)
    b = base()
    before = segment_level(ts, pitch, z, z, np.ones(ts.shape, bool), T0, T0 + 12 * HOUR, b,
                           int(ts.max()))
    after = segment_level(ts, pitch, z, z, np.ones(ts.shape, bool), T0 + 12 * HOUR,
                          T0 + DAY, b, int(ts.max()))
    assert step_magnitude(before, after, 3)[0] == pytest.approx(1.1)
    assert np.isnan(step_magnitude(before, after, 13)[0])


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.2])
def test_lean_rate_recovers_a_slow_trend(rate: float) -> None:
    ts = hourly(7)
    now = int(ts.max())
    days = (ts - now) / DAY
    rng = np.random.default_rng(4)
    temp = daily_temp(ts)
    # moving diagonally (3-4-5 triangle) away from the baseline, with noise and a
    # compensated temperature effect
    pitch = 0.6 * rate * (days + 7) + 0.05 * (temp - 22) + rng.normal(0, 0.015, ts.shape)
    roll = 0.8 * rate * (days + 7) + 0.05 * (temp - 22) + rng.normal(0, 0.015, ts.shape)
    r = lean_rate(ts, pitch, roll, temp, np.ones(ts.shape, bool), base(k=0.05), now)
    assert r.significant[0]
    assert r.rate_deg_per_day[0] == pytest.approx(rate, rel=0.1, abs=0.002)


def test_lean_rate_of_a_tree_moving_back_is_negative() -> None:
    ts = hourly(5)
    now = int(ts.max())
    pitch = 0.5 - 0.05 * (ts - T0) / DAY
    r = lean_rate(ts, pitch, np.zeros(ts.shape), np.zeros(ts.shape), np.ones(ts.shape, bool),
                  base(), now)
    assert r.rate_deg_per_day[0] == pytest.approx(-0.05, rel=0.05)


def test_a_step_is_not_a_trend() -> None:
    ts = hourly(4)
    now = int(ts.max())
    pitch = np.where(ts < now - 12 * HOUR, 0.1, 1.2)
    z = np.zeros(ts.shape)
    r = lean_rate(ts, pitch, z, z, np.ones(ts.shape, bool), base(), now)
    assert r.t_stat[0] > STD.trend_min_t  # least squares alone would call it a trend
    assert not r.significant[0]


def test_hourly_calm_medians_skip_windy_samples() -> None:
    ts = np.tile(T0 + np.arange(24) * 5 * MIN, (2, 1))  # two hours
    p = np.tile(np.arange(24.0), (2, 1))
    calm = np.ones(ts.shape, bool)
    calm[1, :12] = False  # row 1's first hour was windy
    hm = hourly_calm_medians(ts, {"pitch_deg": p}, calm, T0, T0 + 2 * HOUR)
    assert hm.rows.tolist() == [0, 0, 1]
    assert hm.ts_ms.tolist() == [T0 + HOUR // 2, T0 + 3 * HOUR // 2, T0 + 3 * HOUR // 2]
    assert hm.values["pitch_deg"].tolist() == [5.5, 17.5, 17.5]


def test_shape_errors_name_the_argument() -> None:
    ts = hourly(1)
    with pytest.raises(ValueError, match="roll_deg has shape"):
        residual_lean(ts, ts, ts[:, :3], ts, ts > 0, base(), int(ts.max()))
    with pytest.raises(ValueError, match="since_ms has 2 rows"):
        fit_baseline(ts, ts, ts, ts, ts > 0, int(ts.max()), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="now_ms must be an int"):
        failure_tilt(ts, ts, ts, base(), 1.5)  # type: ignore[arg-type]


def test_graded_level_heritage_stricter() -> None:
    her = TILT_PARAMS["heritage"]
    lean = np.array([0.2, 0.2, 0.5, 0.5, 1.0, 1.0, 2.0, np.nan])
    heritage = np.array([False, True] * 4)
    levels = grade(lean, level_thresholds(heritage, STD.lean_deg, her.lean_deg))
    assert levels.tolist() == [0, 1, 1, 2, 2, 3, 3, 0]
