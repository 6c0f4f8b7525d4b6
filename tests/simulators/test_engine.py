"""The simulation without a broker: determinism, schedules, scenario outcomes, irrigation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from greeniot.protocol import Command, device_topic, encode
from greeniot.simulators import Fleet, SimOptions, Simulation, get_scenario
from greeniot.simulators.outgoing import Outgoing

START = 1_795_000_000_000


def play(sim: Simulation, step_s: float) -> list[Outgoing]:
    out = sim.boot()
    while not sim.done:
        out += sim.step(step_s)
    return out


def make(name: str, seed: int = 1, *, trees: int = 20, zones: int = 4, span_s: float | None = None,
         **opts: object) -> Simulation:
    sc = get_scenario(name)
    fleet = Fleet.generate(trees_per_site=trees, zones_per_site=zones, seed=seed)
    return Simulation(fleet, sc, start_ms=START, span_s=span_s or sc.default_span_s,
                      options=SimOptions(**opts))  # type: ignore[arg-type]


def test_same_inputs_same_bytes() -> None:
    a = play(make("typhoon", trees=5, zones=2, span_s=6 * 3600), 300)
    b = play(make("typhoon", trees=5, zones=2, span_s=6 * 3600), 300)
    assert [(o.topic, o.payload) for o in a] == [(o.topic, o.payload) for o in b]


def test_step_size_does_not_change_when_devices_report() -> None:
    def stamps(step: float) -> list[tuple[str, int]]:
        sim = make("calm", trees=4, zones=2, span_s=4 * 3600, burst=False)
        return sorted((o.device, o.ts_ms) for o in play(sim, step) if o.channel != "valve")

    fine, coarse = stamps(60), stamps(1800)
    assert fine == coarse
    assert all(START <= ts < START + 4 * 3600_000 for _, ts in fine)


def test_calm_raises_nothing() -> None:
    sim = make("calm")
    play(sim, 600)
    t = sim.truth
    assert (t.storm, t.lean_steps, t.failures, t.dry_zones) == (None, {}, {}, {})


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_drought_dries_the_fastest_zones_clearly_and_spares_the_rest(seed: int) -> None:
    sim = make("drought", seed, trees=2, zones=4)
    play(sim, 1800)
    t = sim.truth
    zones = {z.zone: z for z in sim.fleet.zones}
    assert len(t.dry_zones) == 2, t.min_vwc_pct
    for zid, z in zones.items():
        if zid in t.dry_zones:
            assert t.min_vwc_pct[zid] <= z.refill_vwc_pct - 2.0
            assert START < t.dry_zones[zid] < t.end_ms  # it crossed during the run
        else:
            assert t.min_vwc_pct[zid] >= z.refill_vwc_pct + 2.0
    fastest = max(zones.values(), key=lambda z: z.kc / z.root_depth_mm)
    assert fastest.zone in t.dry_zones


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_typhoon_fates(seed: int) -> None:
    sim = make("typhoon", seed, trees=20, zones=1, span_s=48 * 3600)
    t = sim.truth
    heritage = [tr.tree for tr in sim.fleet.trees if tr.heritage]
    assert len(t.failures) == 1 and len(t.lean_steps) == 2
    (failed,) = t.failures
    assert failed not in heritage and failed not in t.lean_steps
    assert heritage[0] in t.lean_steps, "heritage trees are among the leaning ones"
    assert all(1.0 <= s.step_deg <= 2.0 for s in t.lean_steps.values())
    assert t.storm is not None and t.storm.start_ms < t.storm.peak_ms < t.storm.end_ms
    for s in t.lean_steps.values():
        assert t.storm.start_ms < s.ts_ms < t.storm.end_ms
        assert s.step_deg == pytest.approx(np.hypot(s.pitch_deg, s.roll_deg), abs=0.002)


def test_typhoon_weather_reaches_typhoon_gusts_and_bursts_only_when_windy() -> None:
    sim = make("typhoon", trees=3, zones=1, burst_s=10.0)
    out = play(sim, 600)
    wx = [json.loads(o.payload) for o in out if o.channel == "weather"]
    gust = max(w["gust_ms"] for w in wx)
    assert 40.0 <= gust <= 60.0
    assert sum(w["rain_mm"] for w in wx) > 100.0
    tilt = [json.loads(o.payload) for o in out if o.channel == "tilt"]
    bursts = [r for r in tilt if "burst" in r]
    assert bursts and all(len(r["burst"]["pitch_deg"]) == 100 for r in bursts)
    storm = sim.truth.storm
    assert storm is not None
    assert all(storm.start_ms - 6 * 3600_000 < r["ts_ms"] < storm.end_ms + 6 * 3600_000
               for r in bursts)


def test_open_valve_waters_its_zone_only() -> None:
    sim = make("calm", trees=0, zones=2, span_s=4 * 3600)
    play_until = 3600.0
    while sim.t_s < play_until:
        sim.step(300)
    before = sim.vwc_pct.copy()
    z = sim.fleet.zones[0]
    c = Command(id="c-1", ts_ms=sim.now_ms, deadline_ms=sim.now_ms + 60_000, op="open",
                max_run_s=1800)
    out = sim.handle(device_topic(z.site, z.valve_device, "cmd"), encode(c))
    assert [o.channel for o in out] == ["valve", "ack"]
    while sim.t_s < play_until + 3600:
        out += sim.step(300)
    rise = sim.vwc_pct - before
    expected = 100 * z.irrigation_mm_h * 0.5 / z.root_depth_mm
    assert rise[0] == pytest.approx(expected, abs=0.6)
    assert abs(rise[1]) < 0.6
    assert sim.truth.valve_open_s == {z.zone: 1800.0, sim.fleet.zones[1].zone: 0.0}
    closed = [json.loads(o.payload) for o in out if o.channel == "valve"][-1]
    assert closed["cause"] == "max_run" and closed["ts_ms"] == c.ts_ms + 1_800_000


def test_bad_external_valve_is_refused() -> None:
    fleet = Fleet.generate()
    with pytest.raises(ValueError, match="valve-z99"):
        Simulation(fleet, get_scenario("calm"), start_ms=START, span_s=3600,
                   external_valves={"valve-z99"})
