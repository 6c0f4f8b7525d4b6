"""Waterlogging on calibrated water content (issue 7, item 8), driven by probe readings
through the engine: θ above field capacity for longer than the zone's limit and than its own
soil's free drainage, in the site's rainy season, raises a drain event with the hours so far.

The readings come from soil physics, not from a threshold: after a soaking rain a freely
draining root zone loses the water above field capacity by AquaCrop's τ a day
(:func:`greeniot.soils.drain_fraction_per_day`); a zone whose drainage is blocked stays near
saturation. Each probe reads a two-point index with its own response (index = 100 θ / θ at
which it would read 100) and noise; the registry holds its two-point field calibration.
"""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.contract import Event
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.soil.detect import free_drain_hours, in_season, waterlog_levels
from greeniot.calibration import CalibrationSpec
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.soils import drain_fraction_per_day, texture
from tests.analytics.analytics_synth import DAY, HOUR, T0, kinds, replay, soil, times

SITE = "wl"
SEASON = (("06-01", "10-31"),)  # T0 is 2026-09-21: inside, for the whole test


def theta_after_rain(ts: np.ndarray, soil_name: str, *, blocked: bool) -> np.ndarray:
    """θ of a root zone soaked to saturation at T0: free drainage by τ a day, or (blocked)
    held just under saturation."""
    t = texture(soil_name)
    days = (ts - T0) / DAY
    if blocked:
        return np.full(ts.shape, t.porosity - 0.01)
    tau = drain_fraction_per_day(soil_name)
    return t.theta_fc + (t.porosity - t.theta_fc) * (1.0 - tau) ** days


def zone(soil_name: str, zid: str, *, calibrated: bool = True, season: tuple = SEASON,
         waterlog_hours: float = 12.0, n: int = 3, rng: np.random.Generator,
         resp: tuple[float, float] = (1.05, 1.25)
         ) -> tuple[ZoneInfo, list[DeviceBinding], list[float]]:
    """A zone of ``n`` probes; each reads 100 at θ = porosity × U(``resp``) (above the
    soil's porosity: 100 is the probe in water)."""
    t = texture(soil_name)
    resp = list(t.porosity * rng.uniform(*resp, n))
    probes = []
    for i in range(n):
        cal = None
        if calibrated:  # two gravimetric samples, at wilting point and at saturation
            spec = CalibrationSpec("two_point", points=(
                (100 * t.theta_wp / resp[i], t.theta_wp + rng.normal(0, 0.005)),
                (100 * t.porosity / resp[i], t.porosity + rng.normal(0, 0.005))))
            cal = spec.coefficients()
        probes.append(DeviceBinding(SITE, f"soil-{zid}-{i}", "soil", zone=zid,
                                    calibration=cal))
    return (ZoneInfo(SITE, zid, theta_fc=t.theta_fc, theta_wp=t.theta_wp,
                     soil_texture=soil_name, waterlog_hours=waterlog_hours,
                     rainy_season=season), probes, resp)


def run(zones: list[tuple[ZoneInfo, list[DeviceBinding], list[float]]],
        thetas: dict[str, np.ndarray | list[np.ndarray]], ts: np.ndarray, seed: int
        ) -> list[Event]:
    ctx = EstateContext(devices=tuple(b for _z, bs, _r in zones for b in bs),
                        zones=tuple(z for z, _b, _r in zones))
    batches = []
    for z, bs, resp in zones:
        th = thetas[z.zone]
        for i, b in enumerate(bs):
            theta = th[i] if isinstance(th, list) else th
            batches.append(soil(SITE, b.device, ts, np.clip(100 * theta / resp[i], 0, 100),
                                noise_pct=0.6, seed=seed + i))
    return kinds(replay(AnalyticsEngine(ctx), batches, int(ts[0]), int(ts[-1]), HOUR),
                 "waterlog")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_free_draining_soils_after_a_soaking_rain_are_not_waterlogged(seed: int) -> None:
    """Sand to clay, each draining at its own rate after the rain: no drain task in 12 days —
    although clay stays above field capacity for days, and at field capacity every one of
    these probes reads an index far above the old fixed 45 % "saturation"."""
    rng = np.random.default_rng(seed)
    ts = times(12, 30)
    soils = ["sand", "loam", "silt_loam", "clay"]
    zones = [zone(s, f"z-{s}", rng=rng) for s in soils]
    events = run(zones, {f"z-{s}": theta_after_rain(ts, s, blocked=False) for s in soils},
                 ts, seed)
    assert events == []


@pytest.mark.parametrize(("soil_name", "seed"), [("loam", 1), ("clay", 2), ("sandy_loam", 3)])
def test_blocked_drainage_raises_a_drain_event_after_the_soils_own_drainage_time(
        soil_name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ts = times(18, 30)
    z = zone(soil_name, "z-bog", rng=rng)
    t = texture(soil_name)
    limit = max(12.0, float(free_drain_hours(
        np.array([t.theta_fc]), np.array([t.porosity]),
        np.array([drain_fraction_per_day(soil_name)]), to_m3=0.015)[0]))
    events = run([z], {"z-bog": theta_after_rain(ts, soil_name, blocked=True)}, ts, seed)
    start = [e for e in events if e.phase == "start"]
    assert len(start) == 1, events
    ev = start[0]
    assert ev.zone == "z-bog" and ev.severity == "warning"
    hours = (ev.ts_ms - T0) / HOUR
    assert limit <= hours <= limit + 2, (hours, limit)  # on time, not before drainage
    assert ev.duration_s == pytest.approx(hours * 3600, abs=2 * 3600)
    assert ev.threshold == pytest.approx(100 * (t.theta_fc + 0.03))
    assert ev.value > ev.threshold
    if 2 * limit < 18 * 24 - 2:
        (esc,) = [e for e in events if e.phase == "escalate"]
        assert esc.severity == "critical"
        assert 2 * limit <= (esc.ts_ms - T0) / HOUR <= 2 * limit + 2


def test_outside_the_rainy_season_nothing_is_raised() -> None:
    rng = np.random.default_rng(4)
    ts = times(5, 30)
    z = zone("loam", "z-bog", season=(("06-01", "09-15"),), rng=rng)
    assert run([z], {"z-bog": theta_after_rain(ts, "loam", blocked=True)}, ts, 4) == []


def test_one_probe_in_a_puddle_does_not_drain_a_zone() -> None:
    rng = np.random.default_rng(5)
    ts = times(6, 30)
    z = zone("loam", "z-mix", rng=rng)
    free = theta_after_rain(ts, "loam", blocked=False)
    wet = theta_after_rain(ts, "loam", blocked=True)
    assert run([z], {"z-mix": [wet, free, free]}, ts, 5) == []


def test_uncalibrated_probes_judge_the_raw_index_near_its_wet_end() -> None:
    """Without a calibration a clay zone at field capacity (index ~70) is not waterlogged; a
    zone whose probes read near the index's wet end (probes whose wet end sits at the soil's
    saturation, as many capacitive probes' response flattens there) for longer than its
    limit is."""
    rng = np.random.default_rng(6)
    ts = times(3, 30)
    moist = zone("clay", "z-moist", calibrated=False, rng=rng)
    bog = zone("clay", "z-bog", calibrated=False, rng=rng, resp=(0.97, 1.03))
    t = texture("clay")
    events = run([moist, bog], {"z-moist": np.full(ts.shape, t.theta_fc),
                                "z-bog": np.full(ts.shape, t.porosity * 0.96)}, ts, 6)
    (ev,) = [e for e in events if e.phase == "start"]
    assert ev.zone == "z-bog" and ev.threshold == 90.0
    assert 12 <= (ev.ts_ms - T0) / HOUR <= 14


def test_free_drainage_time_grows_from_sand_to_clay() -> None:
    names = ["sand", "sandy_loam", "loam", "silt_loam", "clay"]
    h = free_drain_hours(np.array([texture(n).theta_fc for n in names]),
                         np.array([texture(n).porosity for n in names]),
                         np.array([drain_fraction_per_day(n) for n in names]), to_m3=0.015)
    assert h[0] == 0.0 and np.all(np.diff(h) > 0) and 6 * 24 < h[-1] < 10 * 24


def test_season_windows_wrap_the_new_year() -> None:
    wins = [((601, 915),), ((1101, 315),), ()]
    assert in_season(np.array([914, 1231, 101]), wins).tolist() == [True, True, True]
    assert in_season(np.array([916, 401, 101]), wins).tolist() == [False, False, True]


def test_levels_need_the_duration_the_excess_and_the_season() -> None:
    on, hold = waterlog_levels(np.array([0.02, 0.02, -0.01, 0.02, 0.02]),
                               np.array([50.0, 30.0, 50.0, 100.0, 50.0]),
                               np.array([45.0] * 5),
                               np.array([True, True, True, True, False]))
    assert on.tolist() == [2, 0, 0, 3, 0]
    assert hold.tolist() == [2, 2, 2, 3, 0]
