"""30-day closed loop of the water-balance irrigation through the real stages.

Drip (4 mm/h), rotor (12 mm/h) and spray (40 mm/h) zones on loam (root depth 0.3 m, TAW 39 mm)
share one weather station and month (dry spells, rain days, one frost morning). Every message
goes through the real analytics engine (the water stage: ET0 from the station's readings,
valve runs, calibrated probes) and the real actions path (zone tracker, lockouts, the daily
``WateringPlanner``); a valve opened by a ``ValveOpen`` runs for its ``run_s`` and reports its
close with ``open_s`` like the firmware does. The ground truth is ``simulators.soil.RootZones``
(water above field capacity that drains over days, runoff when water comes faster than the
loam takes it in, true efficiency off the nominal), read by probes with spot variability.

Checked per zone and month (4 weather months): days with true Dr > RAW ≤ 10 %, ETa/ETc ≥ 0.95,
water applied within ±30 % of the FAO-56 MAD policy run with perfect knowledge on a copy of the
same zones in each month and within ±20 % over the four; no opening on a day with ≥ 5 mm rain
observed or forecast, or with the air at or below 2 °C; every opening named with its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pytest

from greeniot.actions.plan import ValveOpen
from greeniot.actions.watering import MARGIN_FRAC, WateringPlanner
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.irrigation.et0 import clear_sky_radiation_mj_m2, daily_et0_mm
from greeniot.calibration import CalibrationSpec
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol.messages import SiteForecast, SoilReading, ValveEvent, WeatherReading
from greeniot.simulators.soil import DRAIN_TAU_DAYS, INTAKE_MM_H, Probes, RootZones

SITE = "estate-loop"
OFFSET_H = 8.0
LAT, ELEV = 22.3, 40.0
START = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp() * 1000) - int(
    OFFSET_H * MS_PER_HOUR)  # local midnight, 1 October
DAYS = 30
TICK_MS = 20 * MS_PER_MIN
LOAM = (0.25, 0.12, 0.463)
KINDS = {  # rate [mm/h], nominal efficiency, max run [s] (cycle-and-soak on loam for spray)
    "drip": (4.0, 0.9, 4 * 3600),
    "rotor": (12.0, 0.75, 2 * 3600),
    "spray": (40.0, 0.7, 540),
}


def month_weather(seed: int) -> dict[str, np.ndarray]:
    """Daily truth of one month: a dry spell, showers, two wet days, a frost morning."""
    rng = np.random.default_rng(seed)
    n = DAYS + 1
    doy = np.array([(dt.date(2026, 10, 1) + dt.timedelta(days=d)).timetuple().tm_yday
                    for d in range(n)])
    tmax = rng.uniform(26, 31, n)
    tmin = tmax - rng.uniform(7, 10, n)
    tmin[17] = 1.0  # a cold front: frost morning on day 17
    tmax[17] = 12.0
    rain = np.zeros(n)
    rain[[6, 7, 21]] = [18.0, 6.0, 25.0]
    rain[[12, 26]] = [2.0, 3.0]  # showers below the lockout
    rs_frac = np.where(rain > 0, 0.45, rng.uniform(0.75, 0.95, n))
    return {"doy": doy, "tmin": tmin, "tmax": tmax, "rain": rain, "rs_frac": rs_frac,
            "rh_max": rng.uniform(80, 95, n), "rh_min": rng.uniform(40, 55, n),
            "wind": rng.uniform(1.5, 3.5, n)}


def hourly(w: dict[str, np.ndarray], d: int, h: int) -> dict[str, float]:
    """The station's reading at local hour ``h`` of day ``d``."""
    phase = np.sin(2 * np.pi * (h - 9) / 24)
    temp = 0.5 * (w["tmin"][d] + w["tmax"][d]) + 0.5 * (w["tmax"][d] - w["tmin"][d]) * phase
    rh = 0.5 * (w["rh_min"][d] + w["rh_max"][d]) - 0.5 * (w["rh_max"][d] - w["rh_min"][d]) * phase
    rso = float(clear_sky_radiation_mj_m2(LAT, w["doy"][d], ELEV)) / 0.0864  # mean W/m2
    arc = max(0.0, np.sin(np.pi * (h + 0.5 - 6) / 12)) if 6 <= h < 18 else 0.0
    solar = rso * w["rs_frac"][d] * arc * np.pi  # the arc averages 1/π over the 24 h
    rain = w["rain"][d] / 4 if 13 <= h < 17 else 0.0
    return {"air_temp_c": round(float(temp), 1), "rh_pct": round(float(np.clip(rh, 5, 100))),
            "wind_ms": round(float(w["wind"][d]), 1), "solar_w_m2": round(float(solar), 1),
            "rain_mm": round(rain, 2)}


@dataclass
class Valve:
    """A valve node: opens on command, closes itself after ``run_s``, reports both."""

    device: str
    seq: int = 0
    open_until_ms: int | None = None
    opened_ms: int = 0
    runs: list[tuple[int, int]] = field(default_factory=list)


SPOT_SD = 0.006


def run_loop(seed: int) -> dict[str, np.ndarray]:
    """One month in closed loop; asserts the per-decision rules, returns per-zone totals."""
    w = month_weather(seed=seed)
    rng = np.random.default_rng(seed)
    kinds = list(KINDS)
    n = len(kinds)
    zones = tuple(ZoneInfo(
        SITE, f"z-{k}", valve_device=f"v-{k}", application_rate_mm_h=KINDS[k][0],
        efficiency=KINDS[k][1], max_run_s=KINDS[k][2], daily_max_s=12 * 3600,
        min_interval_s=6 * 3600, irrigation_kind=k, theta_fc=LOAM[0], theta_wp=LOAM[1],
        root_depth_m=0.3, mad_p=0.5, kc_by_month=(0.9,) * 12, soak_s=1800, area_m2=50.0,
        lat_deg=LAT, elevation_m=ELEV, utc_offset_h=OFFSET_H) for k in kinds)
    one = np.ones(n)
    truth_args = {"theta_fc": LOAM[0] * one, "theta_wp": LOAM[1] * one, "porosity": LOAM[2] * one,
                  "root_depth_m": 0.3 * one, "kc_true": 0.9 * one, "p_true": 0.5 * one,
                  "intake_mm_h": INTAKE_MM_H["loam"] * one,
                  "drain_tau_days": DRAIN_TAU_DAYS["loam"] * one,
                  "depletion0_mm": np.array([5.0, 8.0, 11.0])}
    truth, oracle = RootZones(**truth_args), RootZones(**truth_args)
    rate_t = np.array([KINDS[k][0] for k in kinds]) * np.array([1.05, 0.95, 1.03])
    eff_t = np.array([KINDS[k][1] for k in kinds]) * np.array([0.97, 1.04, 0.98])
    # Two probes per zone, field-calibrated at a dry and a wet spot (with gravimetric error).
    pz = np.repeat(np.arange(n), 2)
    probes = Probes(zone=pz, porosity=truth.porosity, rng=rng, fault_rate=0.0, spot_sd=SPOT_SD)
    cal = probes.field_calibration(truth.theta_wp + 0.3 * (truth.theta_fc - truth.theta_wp),
                                   truth.theta_fc)
    devices = [DeviceBinding(SITE, "wx", "weather")]
    devices += [DeviceBinding(SITE, f"v-{k}", "valve", zone=f"z-{k}") for k in kinds]
    devices += [DeviceBinding(SITE, f"p{j}-{kinds[pz[j]]}", "soil", zone=f"z-{kinds[pz[j]]}",
                              calibration=CalibrationSpec("two_point", points=cal[j])
                              .coefficients()) for j in range(pz.size)]
    ctx = EstateContext(devices=tuple(devices), zones=zones)
    engine = AnalyticsEngine(ctx)
    tracker = ZoneTracker()
    planner = WateringPlanner()
    valves = {f"v-{k}": Valve(f"v-{k}") for k in kinds}
    seq = {"wx": 0, "soil": 0}
    gross_mm = np.zeros(n)
    policy_mm = np.zeros(n)
    stress_days = np.zeros(n, int)
    eta = np.zeros(n)
    etc = np.zeros(n)
    opened_days: list[tuple[int, str, str]] = []
    log: list[str] = []

    def ingest(device: str, msg: WeatherReading | SoilReading | ValveEvent) -> None:
        engine.ingest(SITE, device, msg)
        if isinstance(msg, WeatherReading):
            tracker.observe_weather(SITE, msg)
        elif isinstance(msg, ValveEvent):
            tracker.observe_valve(SITE, device, msg)

    def read_probes(ts: int) -> None:
        idx = probes.read(truth.theta())
        for j in range(pz.size):
            seq["soil"] += 1
            ingest(f"p{j}-{kinds[pz[j]]}", SoilReading(seq=seq["soil"], ts_ms=ts,
                                                       vwc_pct=round(float(idx[j]), 1)))

    read_probes(START - MS_PER_MIN)
    now = START
    rain_observed: dict[int, float] = {}
    for d in range(DAYS):
        day0 = START + d * MS_PER_DAY
        # The day's forecast, issued at midnight: close to the truth (a service's skill).
        planner.set_forecast(SITE, SiteForecast(
            ts_ms=day0, rain_today_mm=round(float(w["rain"][d]) * 0.9, 1),
            rain_tomorrow_mm=round(float(w["rain"][d + 1]), 1),
            temp_min_c=round(float(w["tmin"][d]) + 0.5, 1),
            temp_max_c=round(float(w["tmax"][d]), 1),
            temp_min_tomorrow_c=round(float(w["tmin"][d + 1]), 1), wind_ms=2.5))
        etc_today = 0.9 * float(daily_et0_mm(
            tmin_c=w["tmin"][d], tmax_c=w["tmax"][d], lat_deg=LAT, doy=w["doy"][d],
            elevation_m=ELEV, rs_mj_m2=clear_sky_radiation_mj_m2(LAT, w["doy"][d], ELEV)
            * w["rs_frac"][d], wind_ms=w["wind"][d], rh_min_pct=w["rh_min"][d],
            rh_max_pct=w["rh_max"][d])[0])
        # The MAD policy with perfect knowledge at 05:00: same lockouts, true depletion.
        locked_day = (w["rain"][d] >= 5 or (d and w["rain"][d - 1] >= 5)
                      or w["tmin"][d] <= 2.0)
        o_dr = oracle.depletion_mm
        o_gross = np.where((o_dr + etc_today >= oracle.raw_mm) & (not locked_day),
                           o_dr / eff_t, 0.0)
        cyc = np.maximum(np.ceil(o_gross / rate_t * 3600 / np.array([KINDS[k][2] for k in kinds])),
                         1).astype(np.int64)
        oracle.irrigate(cycle_mm=o_gross / cyc, n_cycles=np.where(o_gross > 0, cyc, 0),
                        rate_mm_h=rate_t, efficiency=eff_t)
        policy_mm += o_gross
        rain_observed[d] = float(w["rain"][d - 1]) if d else 0.0
        for h in range(24):
            seq["wx"] += 1
            ts = day0 + h * MS_PER_HOUR + 30 * MS_PER_MIN
            ingest("wx", WeatherReading(seq=seq["wx"], ts_ms=ts, **hourly(w, d, h)))
            for step in range(MS_PER_HOUR // TICK_MS):
                now = day0 + h * MS_PER_HOUR + step * TICK_MS
                for v in valves.values():  # valves close themselves after run_s
                    if v.open_until_ms is not None and now >= v.open_until_ms:
                        v.seq += 1
                        ingest(v.device, ValveEvent(seq=v.seq, ts_ms=v.open_until_ms,
                                                    state="closed", cause="max_run",
                                                    open_s=(v.open_until_ms - v.opened_ms) / 1000))
                        v.open_until_ms = None
                result = engine.tick(now)
                states = tracker.states(ctx, now)
                for act in planner.plan(result.balance, ctx, states, now):
                    if not isinstance(act, ValveOpen):
                        log.append(f"day {d:2d} {act.zone}: {act.message}")
                        continue
                    v = valves[act.device]
                    k = kinds.index(act.zone.removeprefix("z-"))
                    assert v.open_until_ms is None, "the planner opened a valve already open"
                    v.seq += 1
                    v.opened_ms, v.open_until_ms = now, now + act.run_s * 1000
                    v.runs.append((now, act.run_s))
                    ingest(v.device, ValveEvent(seq=v.seq, ts_ms=now, state="open",
                                                cause="cmd", cmd_id=f"c-{d}-{k}-{v.seq}"))
                    cycle = act.run_s * rate_t[k] / 3600.0
                    one_zone = np.zeros(n)
                    one_zone[k] = cycle
                    truth.irrigate(cycle_mm=one_zone, n_cycles=(one_zone > 0).astype(np.int64),
                                   rate_mm_h=rate_t, efficiency=eff_t)
                    gross_mm[k] += cycle
                    opened_days.append((d, act.zone, act.reason))
        # The day's water use in the truth (rain and ET of the day; drainage above FC).
        out = truth.day(et0_mm=np.full(n, etc_today / 0.9), rain_mm=np.full(n, w["rain"][d]),
                        rain_hours=np.full(n, 4.0))
        oracle.day(et0_mm=np.full(n, etc_today / 0.9), rain_mm=np.full(n, w["rain"][d]),
                   rain_hours=np.full(n, 4.0))
        stress_days += truth.depletion_mm > truth.raw_mm
        # The truth steps a whole day at once, so the probes read it at the day's end.
        read_probes(day0 + MS_PER_DAY - MS_PER_MIN)
        eta += out["eta_mm"]
        etc += out["etc_mm"]

    decisions = planner.decisions
    for dec in decisions:
        day = int((dec.ts_ms - START) // MS_PER_DAY)
        log.append(f"day {day:2d} {dec.line()}")
    print("\n".join(log))
    assert len({(int((d.ts_ms - START) // MS_PER_DAY), d.zone) for d in decisions}) >= 3 * (
        DAYS - 2), "a decision per zone and day (after the first balanced day)"
    waterings = [d for d in decisions if d.water]
    assert waterings, "a dry month must water"
    for dec in decisions:
        day = int((dec.ts_ms - START) // MS_PER_DAY)
        if dec.water:
            assert rain_observed[day] < 5.0 and w["rain"][day] * 0.9 < 5.0, dec.line()
            assert w["tmin"][day] + 0.5 > 2.0, dec.line()
            trigger = dec.state.raw_mm - MARGIN_FRAC * dec.state.taw_mm
            assert dec.state.dr_mm + dec.state.etc_mm >= trigger, dec.line()
    for d, zone, reason in opened_days:
        assert w["rain"][d] * 0.9 < 5.0 and rain_observed[d] < 5.0, (d, zone, reason)
        assert w["tmin"][d] > 2.0, (d, zone, reason)
    # The rain and frost days were judged with their lockouts (recorded on every decision).
    assert {c for d in decisions for c in d.lockouts} >= {"rain_forecast", "rain_observed",
                                                          "frost"}
    spray_runs = valves["v-spray"].runs
    assert max(r for _, r in spray_runs) <= KINDS["spray"][2]  # cycled, never one long run
    return {"stress_days": stress_days, "eta": eta, "etc": etc, "water_mm": gross_mm,
            "policy_mm": policy_mm}


SEEDS = (11, 12, 13, 14)


def test_thirty_day_closed_loop_drip_rotor_spray() -> None:
    runs = [run_loop(seed) for seed in SEEDS]
    total = {k: np.sum([r[k] for r in runs], axis=0) for k in runs[0]}
    for k, kind in enumerate(KINDS):
        for seed, r in zip(SEEDS, runs, strict=True):
            # Every month: days in stress <= 10 %, ETa/ETc >= 0.95, water within ±30 % of the
            # MAD policy (one refill more or less in a month is ±25–30 % by itself).
            assert r["stress_days"][k] <= 0.1 * DAYS, (kind, seed, r["stress_days"][k])
            assert r["eta"][k] / r["etc"][k] >= 0.95, (kind, seed, r["eta"][k] / r["etc"][k])
            assert r["water_mm"][k] == pytest.approx(r["policy_mm"][k], rel=0.3), (
                kind, seed, r["water_mm"][k], r["policy_mm"][k])
        # Over the months together: water within ±20 % of the MAD policy.
        assert total["water_mm"][k] == pytest.approx(total["policy_mm"][k], rel=0.2), (
            kind, total["water_mm"][k], total["policy_mm"][k])
