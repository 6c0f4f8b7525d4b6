"""Soil probes drifting against their zone's others: the pure test, then through the engine."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.irrigation import probe_drift
from greeniot.calibration import ProbeQuality
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.protocol.messages import SoilReading, WeatherReading
from tests.analytics.irrigation.probe_zone import LOCAL0, three_probe_zone


def _zone_theta(rng: np.random.Generator, days: int) -> np.ndarray:
    """A zone's mean θ through wet/dry cycles: refilled to 0.30 every 4–7 days, drying in
    between by 0.008–0.012 a day, with rain now and then."""
    out, th = [], 0.30
    next_fill = int(rng.integers(4, 8))
    for d in range(days):
        out.append(th)
        th -= rng.uniform(0.008, 0.012)
        if d + 1 == next_fill or rng.random() < 0.1:
            th = 0.30 + rng.uniform(0.0, 0.02)
            next_fill = d + 1 + int(rng.integers(4, 8))
    return np.array(out)


def _probes(rng: np.random.Generator, zone_theta: np.ndarray, n: int, *,
            drift: tuple[float, ...] = ()) -> np.ndarray:
    """n probes of one zone: each with its spot offset (±0.012), calibration slope (±15 %) and
    curvature (a two-point calibration of a curved response), reading noise (0.003 m³/m³)
    and a drift per day (0 unless given) [m³ m⁻³]."""
    d = np.arange(zone_theta.size)
    rows = []
    for j in range(n):
        slope = 1.0 + rng.uniform(-0.15, 0.15)
        r = drift[j] if j < len(drift) else 0.0
        bend = rng.uniform(-3.0, 3.0) * (zone_theta - 0.25) ** 2
        rows.append(0.2 + slope * (zone_theta - 0.2) + bend + rng.normal(0, 0.012)
                    + rng.normal(0, 0.003, d.size) + r * d)
    return np.array(rows)


def test_the_drifting_one_of_three_probes_is_set_aside_alone() -> None:
    rng = np.random.default_rng(7)
    th = _probes(rng, _zone_theta(rng, 20), 3, drift=(0.0, -0.003, 0.0))
    aside = probe_drift.drifting(th, np.arange(20), np.zeros(3, np.int64))
    assert aside.tolist() == [False, True, False]


def test_a_drifting_pair_sets_both_aside_and_a_lone_probe_is_never_judged() -> None:
    rng = np.random.default_rng(8)
    pair = _probes(rng, _zone_theta(rng, 20), 2, drift=(0.003,))
    lone = _probes(rng, _zone_theta(rng, 20), 1, drift=(0.004,))
    th = np.concatenate([pair, lone])
    aside = probe_drift.drifting(th, np.arange(20), np.array([0, 0, 1]))
    assert aside.tolist() == [True, True, False]


def test_no_judgement_before_a_week_in_common() -> None:
    rng = np.random.default_rng(9)
    th = _probes(rng, _zone_theta(rng, 30), 3, drift=(0.0, 0.006, 0.0))
    zone = np.zeros(3, np.int64)
    early = th.copy()
    early[:, probe_drift.MIN_DAYS - 1:] = np.nan
    assert not probe_drift.drifting(early, np.arange(30), zone).any()
    assert probe_drift.drifting(th, np.arange(30), zone).tolist() == [False, True, False]


def test_healthy_probes_with_their_own_offsets_and_slopes_are_kept() -> None:
    """300 zones of 2–3 healthy probes over a 30-day window: none set aside (the test's
    false-alarm rate), while a drift of 0.002 a day is found in at least 9 zones of 10."""
    rng = np.random.default_rng(10)
    healthy, drifting, zones, n_drift = [], [], [], 0
    for z in range(300):
        th = _zone_theta(rng, 30)
        n = int(rng.integers(2, 4))
        healthy.append(_probes(rng, th, n))
        sign = rng.choice([-1.0, 1.0])
        drifting.append(_probes(rng, th, n, drift=(sign * 0.002,)))
        zones += [z] * n
    zone = np.array(zones)
    assert not probe_drift.drifting(np.concatenate(healthy), np.arange(30), zone).any()
    found = probe_drift.drifting(np.concatenate(drifting), np.arange(30), zone)
    first = np.r_[True, zone[1:] != zone[:-1]]  # the drifting probe is each zone's first
    n_drift = int(found[first].sum())
    assert n_drift >= 270


def test_the_ring_keeps_only_the_window() -> None:
    days = probe_drift.ProbeDays.empty(2)
    for d in range(40):
        days.record(d, [0, 1], [0.2 + d * 1e-3, 0.25])
    w = days.window(39)
    assert np.isfinite(w).sum() == 2 * probe_drift.WINDOW_DAYS
    assert np.nanmin(w[0]) == pytest.approx(0.2 + 10e-3)
    days.grow(3)
    assert days.window(39).shape == (3, probe_drift.WINDOW_DAYS)
    assert np.isnan(days.window(39)[2]).all()
    assert np.isnan(days.window(80)).all()  # a month later nothing is left to judge


# -- through the real engine ------------------------------------------------------------------
SITE = "estate-d"


def _stage_run(drift: float) -> tuple[list[dict[str, int]], float]:
    """Three probes report each evening through the engine for 16 days; p3 drifts by
    ``drift`` m³/m³ a day on top of the zone's cycles. The probes' qualities each day and the
    zone's Dr at the end."""
    engine = AnalyticsEngine(three_probe_zone(SITE, theta_wp=0.15, mad_p=0.5))
    rng = np.random.default_rng(11)
    th = _probes(rng, _zone_theta(rng, 16), 3, drift=(0.0, 0.0, drift))
    engine.tick(LOCAL0)
    seen: list[dict[str, int]] = []
    dr = float("nan")
    for d in range(16):
        for h in range(0, 24, 3):
            engine.ingest(SITE, "wx", WeatherReading(
                seq=d * 8 + h // 3 + 1, ts_ms=LOCAL0 + d * MS_PER_DAY + h * MS_PER_HOUR,
                wind_ms=2.0, air_temp_c=22.0 + 5.0 * np.sin(np.pi * h / 24), rh_pct=60.0))
        for j, p in enumerate(("p1", "p2", "p3")):
            engine.ingest(SITE, p, SoilReading(seq=d + 1, ts_ms=LOCAL0 + (d + 1) * MS_PER_DAY
                                               - 60_000, vwc_pct=round(250.0 * th[j, d], 1)))
        res = engine.tick(LOCAL0 + (d + 1) * MS_PER_DAY + MS_PER_HOUR)
        i = res.balance.find(SITE, "z1")
        assert i is not None
        seen.append({p[0]: p[3] for p in res.balance.probes[i]})
        dr = float(res.balance.dr_mm[i])
    return seen, dr


def test_the_water_stage_sets_a_drifting_probe_aside_from_its_readings() -> None:
    """p3 drifts 0.004 m³/m³ a day dry (25 mm of depletion in 16 days). The stage keeps it
    until the drift is proven, then marks it DRIFTING; the same probes without the drift are
    never set aside."""
    seen, _ = _stage_run(-0.004)
    assert seen[probe_drift.MIN_DAYS - 2] == {"p1": ProbeQuality.OK, "p2": ProbeQuality.OK,
                                              "p3": ProbeQuality.OK}
    assert seen[-1] == {"p1": ProbeQuality.OK, "p2": ProbeQuality.OK,
                        "p3": ProbeQuality.DRIFTING}
    healthy_seen, _ = _stage_run(0.0)
    assert all(q == ProbeQuality.OK for day in healthy_seen for q in day.values())
