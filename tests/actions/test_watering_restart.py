"""A restart mid-month gives the same watering decisions as no restart.

Two closed loops over the same weather, soil truth and probes (the drip/rotor/spray zones of
tests/e2e/test_irrigation_loop.py): one runs through; the other is stopped in the night of
day 8 (after a rainy afternoon) and started again with a new engine, planner and zone
tracker, rebuilt the way the maintenance process rebuilds them (runtime/maintenance.py): the
planner and the water stage from the registry's newest decision per zone (real SQLite), the
windows by the warm start and
the tracker from InfluxDB (real InfluxDB, the points written as ingest writes them). Every
decision before and after is compared: outcome, depth, run time, cycles and the Dr it used.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from greeniot.actions.executor import ActionExecutor
from greeniot.actions.plan import ValveOpen
from greeniot.actions.valves import ValveCommander
from greeniot.actions.watering_restore import (
    restore_planner,
    restore_stage,
    restore_tracker,
)
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.irrigation.decision import WateringDecision
from greeniot.calibration import CalibrationSpec
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from greeniot.config import Settings
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol.messages import SiteForecast, SoilReading, ValveEvent, WeatherReading
from greeniot.registry.decisions import list_decisions, record_decisions
from greeniot.runtime.warmstart import warm_start
from greeniot.simulators.soil import DRAIN_TAU_DAYS, INTAKE_MM_H, Probes, RootZones
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import tag_suffix, to_lines
from tests.e2e.test_irrigation_loop import KINDS, LAT, LOAM, OFFSET_H, hourly, month_weather

DAYS = 16
RESTART_DAY = 8  # the morning after 6 mm of rain: the rain lockout must survive
TICK_MS = 20 * MS_PER_MIN
START = int(np.datetime64("2026-10-01", "ms").astype(np.int64)) - int(OFFSET_H * MS_PER_HOUR)


async def _noop_publish(topic: str, payload: bytes, qos: int) -> None:
    """The valves here are the test's own (no broker in this loop): nothing is published."""


@dataclass
class _Valve:
    seq: int = 0
    open_until_ms: int | None = None
    opened_ms: int = 0


@dataclass
class _Proc:
    """One maintenance process: engine, executor (planner, tracker)."""

    engine: AnalyticsEngine
    executor: ActionExecutor
    decisions: list[WateringDecision] = field(default_factory=list)


def _ctx(site: str, cal: list[Any]) -> EstateContext:
    kinds = list(KINDS)
    zones = tuple(ZoneInfo(
        site, f"z-{k}", valve_device=f"v-{k}", application_rate_mm_h=KINDS[k][0],
        efficiency=KINDS[k][1], max_run_s=KINDS[k][2], daily_max_s=12 * 3600,
        min_interval_s=6 * 3600, irrigation_kind=k, theta_fc=LOAM[0], theta_wp=LOAM[1],
        root_depth_m=0.3, mad_p=0.5, kc_by_month=(0.9,) * 12, soak_s=1800, area_m2=50.0,
        lat_deg=LAT, elevation_m=40.0, utc_offset_h=OFFSET_H) for k in kinds)
    devices = [DeviceBinding(site, "wx", "weather")]
    devices += [DeviceBinding(site, f"v-{k}", "valve", zone=f"z-{k}") for k in kinds]
    devices += [DeviceBinding(site, f"p{j}-{kinds[j // 2]}", "soil", zone=f"z-{kinds[j // 2]}",
                              calibration=CalibrationSpec("two_point", points=cal[j])
                              .coefficients()) for j in range(2 * len(kinds))]
    return EstateContext(devices=tuple(devices), zones=zones)


def _loop(settings: Settings, sessions: Any, site: str, *, restart: bool
          ) -> list[WateringDecision]:
    seed = 12
    w = month_weather(seed=seed)
    rng = np.random.default_rng(seed)
    kinds = list(KINDS)
    n = len(kinds)
    one = np.ones(n)
    truth = RootZones(theta_fc=LOAM[0] * one, theta_wp=LOAM[1] * one, porosity=LOAM[2] * one,
                      root_depth_m=0.3 * one, kc_true=0.9 * one, p_true=0.5 * one,
                      intake_mm_h=INTAKE_MM_H["loam"] * one,
                      drain_tau_days=DRAIN_TAU_DAYS["loam"] * one,
                      depletion0_mm=np.array([5.0, 8.0, 11.0]))
    rate_t = np.array([KINDS[k][0] for k in kinds])
    eff_t = np.array([KINDS[k][1] for k in kinds])
    pz = np.repeat(np.arange(n), 2)
    probes = Probes(zone=pz, porosity=truth.porosity, rng=rng, fault_rate=0.0, spot_sd=0.006)
    cal = probes.field_calibration(truth.theta_wp + 0.3 * (truth.theta_fc - truth.theta_wp),
                                   truth.theta_fc)
    ctx = _ctx(site, cal)
    start = START
    valves = {f"v-{k}": _Valve() for k in kinds}
    seq = {"wx": 0, "soil": 0}
    forecast: list[SiteForecast] = []

    def new_proc(clock: list[int]) -> _Proc:
        def now() -> int:
            return clock[0]
        commander = ValveCommander(sessions, _noop_publish, now)
        return _Proc(AnalyticsEngine(ctx), ActionExecutor(sessions, _noop_publish, commander,
                                                          now))

    clock = [start]
    proc = new_proc(clock)

    async def main() -> None:
        nonlocal proc
        async with InfluxClient(settings.influx) as influx:
            lines: list[str] = []

            def ingest(device: str, msg: WeatherReading | SoilReading | ValveEvent) -> None:
                proc.engine.ingest(site, device, msg)
                if not isinstance(msg, SoilReading):
                    proc.executor.zones.observe_weather(site, msg) if isinstance(
                        msg, WeatherReading) else proc.executor.observe_valve(site, device, msg)
                zone = next((b.zone for b in ctx.devices if b.device == device), None)
                lines.extend(to_lines(msg, tag_suffix(site, device,
                                                      {"zone": zone} if zone else None), 0))

            def read_probes(ts: int) -> None:
                idx = probes.read(truth.theta())
                for j in range(pz.size):
                    seq["soil"] += 1
                    ingest(f"p{j}-{kinds[pz[j]]}", SoilReading(seq=seq["soil"], ts_ms=ts,
                                                               vwc_pct=round(float(idx[j]), 1)))

            read_probes(start - MS_PER_MIN)
            for d in range(DAYS):
                day0 = start + d * MS_PER_DAY
                fc = SiteForecast(ts_ms=day0, rain_today_mm=round(float(w["rain"][d]) * 0.9, 1),
                                  rain_tomorrow_mm=round(float(w["rain"][d + 1]), 1),
                                  temp_min_c=round(float(w["tmin"][d]) + 0.5, 1),
                                  temp_max_c=round(float(w["tmax"][d]), 1),
                                  temp_min_tomorrow_c=round(float(w["tmin"][d + 1]), 1),
                                  wind_ms=2.5)
                forecast[:] = [fc]
                proc.executor.planner.set_forecast(site, fc)
                for h in range(24):
                    if restart and d == RESTART_DAY and h == 3:
                        # The process stops in the night: what it wrote is in InfluxDB and
                        # the registry; a new one starts from there.
                        await influx.write(lines, precision="u")
                        lines.clear()
                        clock[0] = day0 + h * MS_PER_HOUR
                        proc = new_proc(clock)
                        restore_planner(proc.executor, sessions, now_ms=clock[0])
                        restore_stage(proc.engine, site, sessions, now_ms=clock[0])
                        newest = await warm_start(proc.engine, influx, now_ms=clock[0],
                                                  sites=[site])
                        assert newest > clock[0] - 2 * MS_PER_HOUR
                        await restore_tracker(proc.executor, influx, now_ms=clock[0],
                                              sites=[site])
                        proc.executor.planner.set_forecast(site, forecast[0])  # re-posted
                    seq["wx"] += 1
                    ts = day0 + h * MS_PER_HOUR + 30 * MS_PER_MIN
                    ingest("wx", WeatherReading(seq=seq["wx"], ts_ms=ts, **hourly(w, d, h)))
                    for step in range(MS_PER_HOUR // TICK_MS):
                        now = day0 + h * MS_PER_HOUR + step * TICK_MS
                        clock[0] = now
                        for dev, v in valves.items():
                            if v.open_until_ms is not None and now >= v.open_until_ms:
                                v.seq += 1
                                ingest(dev, ValveEvent(
                                    seq=v.seq, ts_ms=v.open_until_ms, state="closed",
                                    cause="max_run",
                                    open_s=(v.open_until_ms - v.opened_ms) / 1000))
                                v.open_until_ms = None
                        result = proc.engine.tick(now)
                        states = proc.executor.zones.states(ctx, now)
                        acts = proc.executor.planner.plan(result.balance, ctx, states, now)
                        made = proc.executor.planner.take_new()
                        if made:
                            with sessions() as s:
                                record_decisions(s, made, now_ms=now)
                            proc.decisions.extend(made)
                        for act in acts:
                            if not isinstance(act, ValveOpen):
                                continue
                            v = valves[act.device]
                            k = kinds.index(act.zone.removeprefix("z-"))
                            v.seq += 1
                            v.opened_ms, v.open_until_ms = now, now + act.run_s * 1000
                            ingest(act.device, ValveEvent(seq=v.seq, ts_ms=now, state="open",
                                                          cause="cmd"))
                            cyc = np.zeros(n)
                            cyc[k] = act.run_s * rate_t[k] / 3600.0
                            truth.irrigate(cycle_mm=cyc, n_cycles=(cyc > 0).astype(np.int64),
                                           rate_mm_h=rate_t, efficiency=eff_t)
                etc = 0.9 * 4.0
                truth.day(et0_mm=np.full(n, etc / 0.9), rain_mm=np.full(n, w["rain"][d]),
                          rain_hours=np.full(n, 4.0))
                read_probes(day0 + MS_PER_DAY - MS_PER_MIN)
                await influx.write(lines, precision="u")
                lines.clear()

    asyncio.run(main())
    with sessions() as s:
        stored = list_decisions(s, site=site, limit=1000)
    return sorted(stored, key=lambda d: (d.ts_ms, d.zone))


def _key(r: Any) -> tuple[Any, ...]:
    return (r.zone, r.ts_ms, r.outcome, round(r.gross_mm, 6), r.run_s, r.cycles,
            round(r.dr_mm, 6), tuple(r.lockouts))


def test_a_restart_mid_month_changes_no_decision(settings: Settings, sessions,
                                                  site_id: str) -> None:
    through = _loop(settings, sessions, f"{site_id}-a", restart=False)
    restarted = _loop(settings, sessions, f"{site_id}-b", restart=True)
    assert len(through) >= 3 * (DAYS - 1)
    assert any(r.water for r in through) and any(not r.water for r in through)
    a = [_key(r) for r in through]
    b = [_key(r) for r in restarted]
    diff = [(x, y) for x, y in zip(a, b, strict=False) if x != y]
    assert not diff and len(a) == len(b), (len(a), len(b), diff[:3])
    # days after the restart were decided too (not skipped, not doubled)
    restart_ms = START + RESTART_DAY * MS_PER_DAY + 3 * MS_PER_HOUR
    assert sum(r.ts_ms > restart_ms for r in restarted) == 3 * (DAYS - RESTART_DAY)
