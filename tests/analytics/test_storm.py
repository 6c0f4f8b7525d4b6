"""Storm episodes with hysteresis, and the windy mask of tilt samples."""

from __future__ import annotations

import numpy as np

from greeniot.analytics.params import STORM_PARAMS
from greeniot.analytics.storm.detect import site_sway_rms, storm_episodes, windy_at, windy_readings
from tests.analytics.analytics_synth import HOUR, MIN, T0

P = STORM_PARAMS["default"]
HOLD = int(P.end_hold_minutes * MIN)


def episodes(wind: list[float], every_min: int = 10, now_ms: int | None = None):
    ts = T0 + np.arange(len(wind)) * every_min * MIN
    return storm_episodes(ts[None, :], np.asarray(wind, float)[None, :], onset=P.onset_ms,
                          end=P.end_ms, end_hold_ms=HOLD,
                          now_ms=int(ts[-1]) if now_ms is None else now_ms), ts


def test_calm_day_has_no_storm() -> None:
    st, _ = episodes([5.0] * 50)
    assert not st.active[0] and st.onset_ts_ms[0] == 0 and st.end_ts_ms[0] == 0


def test_storm_starts_at_gale_and_ends_after_an_hour_below_strong_breeze() -> None:
    wind = [5.0] * 6 + [18.0, 22.0, 19.0] + [12.0] * 3 + [6.0] * 8
    st, ts = episodes(wind)
    assert not st.active[0]
    assert st.onset_ts_ms[0] == ts[6]
    assert st.end_ts_ms[0] == ts[11]  # last reading at or above 10.8 m/s
    assert st.peak[0] == 22.0


def test_storm_is_active_until_the_hold_has_passed() -> None:
    wind = [18.0, 20.0] + [6.0] * 5  # 50 min calm after the last windy reading
    st, ts = episodes(wind)
    assert st.active[0] and st.end_ts_ms[0] == 0
    st2, _ = episodes(wind, now_ms=int(ts[1]) + HOLD)  # station silent, the hold has passed
    assert not st2.active[0] and st2.end_ts_ms[0] == ts[1]


def test_hysteresis_band_does_not_flap() -> None:
    # hovering between end (10.8) and onset (17.2) keeps one storm going
    wind = [18.0] + [16.0, 11.0, 17.0, 12.0] * 10
    st, ts = episodes(wind)
    assert st.active[0] and st.onset_ts_ms[0] == ts[0]
    # and never starts one
    st, _ = episodes([16.0, 11.0] * 20)
    assert not st.active[0] and st.onset_ts_ms[0] == 0


def test_second_storm_reports_its_own_onset() -> None:
    wind = [20.0] * 3 + [5.0] * 10 + [25.0] * 3
    st, ts = episodes(wind)
    assert st.active[0] and st.onset_ts_ms[0] == ts[13] and st.peak[0] == 25.0


def test_sites_are_independent_rows() -> None:
    ts = np.tile(T0 + np.arange(20) * 10 * MIN, (3, 1))
    wind = np.full(ts.shape, 5.0)
    wind[1, 5:] = 20.0
    ts[2, 10:] = 0  # a site with fewer readings: padded
    st = storm_episodes(ts, wind, onset=P.onset_ms, end=P.end_ms, end_hold_ms=HOLD,
                        now_ms=int(ts.max()))
    assert st.active.tolist() == [False, True, False]


def test_windy_mask_with_settling_and_gaps() -> None:
    ref_ts = T0 + np.array([0, 10, 20, 30, 40]) * MIN
    ref_windy = np.array([False, True, False, False, False])
    samples = T0 + np.array([5, 15, 35, 45, 75, 115]) * MIN
    w, known = windy_at(np.zeros(6, int), samples, np.zeros(5, int), ref_ts, ref_windy,
                        settle_ms=int(P.settle_minutes * MIN),
                        max_gap_ms=int(P.max_gap_minutes * MIN))
    # 15 min: windy reading at 10; 35: within 30 min settle; 45: 35 min after, calm
    assert w.tolist() == [False, True, True, False, False, False]
    # 75 min: newest reading (40) is 35 min old and not windy: unknown
    assert known.tolist() == [True, True, True, True, False, False]


def test_windy_mask_does_not_leak_between_sites() -> None:
    ref_site = np.array([0, 1])
    ref_ts = np.array([T0, T0])
    w, known = windy_at(np.array([0, 1, 2]), np.array([T0 + MIN] * 3), ref_site, ref_ts,
                        np.array([True, False]), settle_ms=30 * MIN, max_gap_ms=30 * MIN)
    assert w.tolist() == [True, False, False]
    assert known.tolist() == [True, True, False]


def test_windy_readings_by_mean_or_gust() -> None:
    w = windy_readings(np.array([3.0, 8.0, 5.0, 5.0]), np.array([5.0, 9.0, 14.0, np.nan]))
    assert w.tolist() == [False, True, True, False]


def test_site_sway_median() -> None:
    med, n = site_sway_rms(np.array([0.1, 0.3, 5.0, 0.2]), np.array([0, 0, 0, 1]), 2)
    assert med.tolist() == [0.3, 0.2] and n.tolist() == [3, 1]


def test_hourly_boundaries_inclusive_of_now() -> None:
    ts = np.array([[T0, T0 + HOUR]])
    st = storm_episodes(ts, np.array([[20.0, 20.0]]), onset=P.onset_ms, end=P.end_ms,
                        end_hold_ms=HOLD, now_ms=T0)  # the second reading is in the future
    assert st.active[0] and st.latest[0] == 20.0 and st.onset_ts_ms[0] == T0
