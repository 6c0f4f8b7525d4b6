"""Irrigation decision quality in closed loop: randomized zones and weather months, many seeds.

Each seed draws sites (latitude, elevation, whether the station measures radiation), a weather
month (summer dry spell, wet season, spring, winter with frost nights) and zones: soil texture
sand..clay (the true θFC/θWP within the FAO-56 Table 19 range; the registry knows either a soil
test or only the texture class), root depth, drip / rotor / spray equipment (rate and
efficiency off their nominal values), sun, part shade or shade (the registry's Kc may not know),
0–3 soil probes with spot variability, field or per-soil calibration and faults.

The ground truth is ``simulators.soil.RootZones`` (drainage above field capacity, runoff when
water comes faster than the soil takes it in, the true Kc and efficiency). Every morning each
zone's decision is made by the pure ``greeniot.analytics.irrigation.decision.decide`` from what
the backend would know: its own sensor-corrected FAO-56 balance, measured weather (ET0 by
Penman–Monteith, or Hargreaves–Samani without radiation), a forecast with misses and false
alarms. The FAO-56 MAD policy with perfect knowledge runs on a copy of the same zones and
weather. Printed per run (over all seeds):

* openings precision: share of the MAD rule's openings made when the zone truly needed water
  — true depletion plus the day's true ETc reached the true RAW, i.e. the zone would be past
  RAW before the next decision (the issue's "opened when Dr ≥ RAW" with one decision a day;
  it is the MAD policy's own rule below). Also printed: "already past RAW" (true Dr ≥ RAW at
  the decision; no once-a-day rule meets it without a stress day per refill) and "by
  tomorrow" (at most a day early; the headline until this revision, too lenient). Openings of
  the winter-watering rule (issue item 5, a rule of its own) are counted apart, with how many
  were followed by the freeze; the MAD policy applies the same winter rule on the truth;
* missed refills: zone-days already past RAW in truth, with no true lockout, left unwatered;
* lockout violations: openings against a lockout in the decision's own inputs (must be 0), and
  openings on days that turned out wet or frosty although the forecast said otherwise;
* days in stress (true Dr > RAW at the end of the day) and ETa/ETc;
* water applied against the MAD policy: total ratio and the share of zones within ±20 %;
  and the same at equal end storage (added after the first measurements, because the plain
  ratio is not a fair comparison at the window's edge: water the product put into the root
  zone on day 29 that the policy would put in on day 31 counted as an excess. The adjusted
  figure adds (true Dr at the end − policy's Dr at the end) / efficiency to the product's
  water, so both sides are compared at the same stored water; the plain figures are still
  printed).

The scorer was checked again: it uses the simulator's TRUE depletion and
RAW (``truth.depletion_mm``, ``truth.raw_mm``) at decision time against the day's true ETc;
all cycles of a decision are applied the same day and count as one opening; lockouts are
judged on the decision's own inputs.

The same seeds also run, in the same process, with the earlier product (the same Kalman
filter, FAO-56 eq. 88 drainage, the mean rule Dr + ETc ≥ RAW − margin), the fixed-gain probe
blend and no probe correction (model only); ``--confidence`` sets the product's
P(Dr + ETc ≥ RAW) to water, ``--margin`` the earlier rule's trigger margin (share of TAW),
``--first-seed`` another seed range, ``--trace`` prints the openings not needed by tonight
by cause (:func:`false_opening_causes`), ``--calibration`` the error of the estimated need
(Dr + ETc − RAW) per class of zone-day against the spread the decision assumed for it
(:func:`print_calibration`: no usable probe; probed, before and after the first wetting).

Run::

    .venv/bin/python benchmarks/irrigation_quality.py            # 20 seeds
    .venv/bin/python benchmarks/irrigation_quality.py --first-seed 100 --trace
    .venv/bin/python benchmarks/irrigation_quality.py --confidence 0.95
    .venv/bin/python benchmarks/irrigation_quality.py --seeds 40 --zones 60
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from greeniot.actions.watering import MARGIN_FRAC, NEED_CONFIDENCE
from greeniot.analytics.irrigation import balance, estimator, probe_drift, probe_offsets
from greeniot.analytics.irrigation.decision import WaterState, decide, need_sd_mm
from greeniot.analytics.irrigation.et0 import (
    clear_sky_radiation_mj_m2,
    daily_et0_mm,
)
from greeniot.analytics.irrigation.evening import ProbeReadings
from greeniot.analytics.irrigation.lockouts import (
    DEFAULT_LOCKOUTS,
    Conditions,
    Forecast,
    weather_lockouts,
)
from greeniot.calibration import CalibrationSpec, CalibrationTable, calibrate
from greeniot.estate import ZoneHydraulics
from greeniot.simulators.soil import DRAIN_TAU_DAYS, INTAKE_MM_H, PONDING_MM, Probes, RootZones
from greeniot.soils import TEXTURES, drain_fraction_per_day, taw_sd_mm

KINDS = {"drip": (4.0, 0.9), "rotor": (12.0, 0.75), "spray": (40.0, 0.7)}
#: Days since the truth was last above field capacity beyond which a zone counts as never
#: wetted since the start (its start value is 99 days back): the probes' offset unlearned.
NEVER_WETTED_DAYS = 50
SHADE = (1.0, 0.8, 0.6)  # sun, part shade, shade: share of the open-sky crop ET


@dataclass(frozen=True)
class Climate:
    month: int
    doy0: int
    tmax: tuple[float, float]
    dtr: tuple[float, float]  # daily temperature range
    rh_max: tuple[float, float]
    rain_p: float
    rain_mean_mm: float
    cloud: tuple[float, float]  # Rs / Rso
    wind: tuple[float, float]  # daily mean at 2 m


CLIMATES = {
    "summer_dry": Climate(7, 182, (29, 36), (8, 12), (70, 90), 0.08, 10, (0.7, 1.0), (1, 4)),
    "wet_season": Climate(6, 152, (27, 32), (5, 8), (85, 100), 0.45, 14, (0.35, 0.8), (1, 5)),
    "spring": Climate(4, 91, (18, 26), (7, 11), (70, 95), 0.25, 8, (0.5, 0.95), (1.5, 5)),
    "winter": Climate(12, 335, (3, 12), (6, 10), (70, 95), 0.15, 6, (0.4, 0.9), (1, 4)),
}


def draw_weather(rng: np.random.Generator, c: Climate, n_days: int, lat: float,
                 elev: float) -> dict[str, np.ndarray]:
    n = n_days + 1  # one more for tomorrow's forecast
    doy = c.doy0 + np.arange(n)
    tmax = rng.uniform(*c.tmax, n) + np.cumsum(rng.normal(0, 0.6, n))  # warm and cool spells
    tmin = tmax - rng.uniform(*c.dtr, n)
    rh_max = rng.uniform(*c.rh_max, n)
    rain = np.where(rng.random(n) < c.rain_p, rng.gamma(1.2, c.rain_mean_mm / 1.2, n), 0.0)
    wet = rain > 0
    rh_min = np.clip(rh_max * np.where(wet, rng.uniform(0.65, 0.9, n),
                                       rng.uniform(0.35, 0.65, n)), 10, 100)
    rs = clear_sky_radiation_mj_m2(lat, doy, elev) * np.where(
        wet, rng.uniform(0.3, 0.6, n), rng.uniform(*c.cloud, n))
    wind = rng.uniform(*c.wind, n)
    et0, _ = daily_et0_mm(tmin_c=tmin, tmax_c=tmax, lat_deg=lat, doy=doy, elevation_m=elev,
                          rs_mj_m2=rs, wind_ms=wind, rh_min_pct=rh_min, rh_max_pct=rh_max)
    return {"doy": doy, "tmin": tmin, "tmax": tmax, "rh_min": rh_min, "rh_max": rh_max,
            "rain": rain, "rain_hours": rng.uniform(1, 8, n), "rs": rs, "wind": wind,
            "et0": et0}


@dataclass
class Tally:
    openings: int = 0
    winter_openings: int = 0
    winter_freeze_came: int = 0
    policy_openings: int = 0
    precise: int = 0
    today: int = 0
    strict: int = 0
    needed: int = 0
    missed: int = 0
    violations_inputs: int = 0
    wet_or_frosty_openings: int = 0
    zone_days: int = 0
    stress_days: int = 0
    eta: float = 0.0
    etc: float = 0.0
    water_mm: float = 0.0
    policy_mm: float = 0.0
    zones_within_20: int = 0
    zones_compared: int = 0
    water_adj_mm: float = 0.0
    zones_within_20_adj: int = 0

    def add(self, other: Tally) -> None:
        for k, v in vars(other).items():
            setattr(self, k, getattr(self, k) + v)


def run_seed(seed: int, n_zones: int, n_days: int, mode: str = "filter", ideal: bool = False,
             half_weight: float = balance.SENSOR_HALF_WEIGHT,
             margin_frac: float = MARGIN_FRAC, confidence: float | None = NEED_CONFIDENCE,
             drain: bool = True, warmup_days: int = 0, perfect_probes: bool = False,
             drift_check: bool = True, outage_p: float = 0.0, evening_k: int = 1,
             spike_p: float = 0.0, evening_median: bool = True, relative: bool = True,
             trace: list[dict[str, object]] | None = None,
             calib: list[tuple[str, float, float]] | None = None) -> Tally:
    """One seed in closed loop. ``mode``: ``filter`` (the product: the Kalman estimator of
    :mod:`greeniot.analytics.irrigation.estimator`), ``blend`` (the fixed-gain blend of
    :func:`balance.blend`, the earlier product), ``model`` (no probe correction)."""
    correct = mode != "model"
    rng = np.random.default_rng([seed, 0x1881])
    n_sites = 2
    climate = CLIMATES[list(CLIMATES)[seed % len(CLIMATES)]]
    lat = rng.uniform(20, 45, n_sites)
    elev = rng.uniform(0, 500, n_sites)
    has_rs = rng.random(n_sites) > 0.3
    wx = [draw_weather(rng, climate, warmup_days + n_days, float(lat[s]), float(elev[s]))
          for s in range(n_sites)]
    site = rng.integers(0, n_sites, n_zones)
    # --- zones: truth and what the registry knows -------------------------------------------
    tex = [list(TEXTURES.values())[i] for i in rng.integers(0, len(TEXTURES), n_zones)]
    q = rng.uniform(-0.25, 0.25, (2, n_zones))
    fc_t = np.array([t.theta_fc + q[0, i] * (t.fc_range[1] - t.fc_range[0])
                     for i, t in enumerate(tex)])
    wp_t = np.array([min(t.theta_wp + q[1, i] * (t.wp_range[1] - t.wp_range[0]),
                         fc_t[i] - 0.04) for i, t in enumerate(tex)])
    por = np.array([t.porosity for t in tex])
    tested = rng.random(n_zones) < 0.6
    fc_r = np.where(tested, fc_t + rng.normal(0, 0.01, n_zones), [t.theta_fc for t in tex])
    wp_r = np.where(tested, wp_t + rng.normal(0, 0.01, n_zones), [t.theta_wp for t in tex])
    zr = rng.uniform(0.2, 0.6, n_zones)
    p = rng.uniform(0.4, 0.6, n_zones)
    kind = rng.choice(list(KINDS), n_zones)
    rate_nom = np.array([KINDS[k][0] for k in kind])
    eff_nom = np.array([KINDS[k][1] for k in kind])
    rate_t = rate_nom * rng.uniform(0.9, 1.1, n_zones)
    eff_t = np.minimum(eff_nom * rng.uniform(0.92, 1.05, n_zones), 1.0)
    shade = rng.choice(SHADE, n_zones)
    kc_plant = rng.uniform(0.6, 0.9, n_zones)
    kc_t = kc_plant * shade
    kc_r = kc_plant * np.where(rng.random(n_zones) < 0.5, shade, 1.0) * rng.uniform(0.9, 1.1,
                                                                                  n_zones)
    if ideal:  # the registry knows the truth: checks the loop itself
        fc_r, wp_r, kc_r = fc_t, wp_t, kc_t
        rate_t, eff_t = rate_nom, eff_nom
    intake = np.array([INTAKE_MM_H[t.name] for t in tex])
    taw_r = 1000 * (fc_r - wp_r) * zr
    raw_r = p * taw_r
    raw_sd = p * np.array([taw_sd_mm(tex[i].name, measured=bool(tested[i]) or ideal,
                                     root_depth_m=float(zr[i])) for i in range(n_zones)])
    d0 = rng.uniform(0.0, 0.5, n_zones) * p * 1000 * (fc_t - wp_t) * zr

    def zones() -> RootZones:
        return RootZones(theta_fc=fc_t, theta_wp=wp_t, porosity=por, root_depth_m=zr,
                         kc_true=kc_t, p_true=p, intake_mm_h=intake,
                         drain_tau_days=np.array([DRAIN_TAU_DAYS[t.name] for t in tex]),
                         depletion0_mm=d0)

    truth, oracle = zones(), zones()
    # Cycle design: one cycle applies no more than the soil takes in plus what ponds.
    fast = rate_nom > intake
    cycle_h = np.where(fast, 0.9 * PONDING_MM / np.maximum(rate_nom - intake, 1e-9), 3.0)
    max_run = np.clip(cycle_h * 3600, 300, 3 * 3600).astype(int)
    daily_max = np.minimum(1.3 * taw_r / eff_nom / rate_nom * 3600 + 1800, 86_400).astype(int)
    hyd = [ZoneHydraulics(site=f"s{site[i]}", zone=f"z{i}", application_rate_mm_h=rate_nom[i],
                          efficiency=eff_nom[i], kind=str(kind[i]), max_run_s=int(max_run[i]),
                          soak_s=int(PONDING_MM / intake[i] * 3600) + 600,
                          daily_max_s=int(daily_max[i])) for i in range(n_zones)]
    # --- probes -------------------------------------------------------------------------------
    n_probes = rng.choice([0, 1, 2, 3], n_zones, p=[0.2, 0.4, 0.3, 0.1])
    pz = np.repeat(np.arange(n_zones), n_probes)
    if perfect_probes:  # a ceiling: no spot variability, exact calibrations, no faults
        probes = Probes(zone=pz, porosity=por, rng=rng, spot_sd=0.0, fault_rate=0.0)
        field = probes.field_calibration(wp_t + 0.3 * (fc_t - wp_t), fc_t, grav_sd=0.0)
    else:
        probes = Probes(zone=pz, porosity=por, rng=rng)
        field = probes.field_calibration(wp_t + 0.3 * (fc_t - wp_t), fc_t)
    how = rng.choice(["field", "soil", "none"], pz.size, p=[0.7, 0.2, 0.1])
    specs = [CalibrationSpec("two_point", points=field[j]) if how[j] == "field"
             else CalibrationSpec("soil", texture=tex[pz[j]].name) if how[j] == "soil" else None
             for j in range(pz.size)]
    table = CalibrationTable.build(specs)
    flagged = (probes.fault == "stuck") & (rng.random(pz.size) < 0.5)

    history = probe_drift.ProbeDays.empty(pz.size)
    outage_rng = np.random.default_rng([seed, 0x0FF])  # apart: the other draws stay the same
    evening_rng = np.random.default_rng([seed, 0xE0E])
    offsets = probe_offsets.ProbeOffsets.empty(pz.size)
    rebased = np.zeros(n_zones, bool)  # a zone's probe reference is a new one today
    fresh = np.zeros(n_zones, bool)  # ... or the plain mean of today's probes
    relearn = rebased if relative else None  # else: a changed probe weight relearns b
    down = np.zeros(pz.size, np.int64)
    day_no = [0]

    def probe_dr(clip: bool = True) -> tuple[np.ndarray, np.ndarray]:
        index = probes.read(truth.theta())
        if evening_k > 1:  # the evening's readings, some of them spikes (a probe in air, ...)
            k = np.arange(evening_k)
            ts = 1_780_000_000_000 - (evening_k - 1 - k) * 15 * 60_000  # every 15 min
            taken = np.clip(index[:, None] + evening_rng.normal(0.0, probes.noise_index,
                                                                (pz.size, evening_k)), 0, 100)
            spiked = evening_rng.random((pz.size, evening_k)) < spike_p
            taken = np.where(spiked, evening_rng.uniform(0, 100, taken.shape), taken)
            taken = np.where(np.isfinite(index)[:, None], taken, np.nan)
            if evening_median:  # the product (WaterStage: evening.ProbeReadings)
                ring = ProbeReadings.empty(pz.size)
                ring.add(np.repeat(np.arange(pz.size), evening_k), np.tile(ts, pz.size),
                         taken.ravel())
                index, _ = ring.at(np.arange(pz.size), int(ts[-1]))
            else:  # the newest reading alone
                index = taken[:, -1]
        theta, _ = calibrate(index, table, faulty=flagged)
        rejected = flagged.copy()
        if outage_p:  # probes offline for 1–3 days now and then: no evening reading
            down[:] = np.where(down > 0, down - 1, np.where(
                outage_rng.random(pz.size) < outage_p, outage_rng.integers(1, 4, pz.size), 0))
            theta = np.where(down > 0, np.nan, theta)
        if drift_check:  # the product's drift test (WaterStage._sensor), each evening
            history.record(day_no[0], np.arange(pz.size), theta)
            aside = probe_drift.drifting(history.window(day_no[0]), history.days(), pz)
            theta = np.where(aside, np.nan, theta)
            rejected |= aside
            day_no[0] += 1
        if relative and not clip:  # the product (WaterStage): one reference per zone
            dr_p = balance.probe_depletion_mm(theta=theta, probe_zone=pz, theta_fc=fc_r,
                                              root_depth_m=zr, taw_mm=taw_r)
            ref, w_today, rebased[:], fresh[:] = probe_offsets.zone_reference(
                dr_p, table.weight, pz, n_zones, offsets, rejected=rejected)
            return ref, w_today
        return balance.sensor_depletion_mm(theta=theta, weight=table.weight, probe_zone=pz,
                                           theta_fc=fc_r, root_depth_m=zr, taw_mm=taw_r,
                                           clip=clip)

    # How fast water above field capacity drains, from the registered texture class
    # (greeniot.soils.drain_fraction_per_day); None: FAO-56 eq. 88 as it stands.
    drain_frac = np.array([drain_fraction_per_day(t.name) for t in tex]) if drain else None
    dr_est = np.full(n_zones, 0.25) * raw_r
    filt = estimator.initial(dr_est, dr_sd_mm=0.5 * raw_r, root_depth_m=zr)
    usable = None if calib is None else [
        any(how[j] != "none" and probes.fault[j] == "ok" for j in np.flatnonzero(pz == i))
        for i in range(n_zones)]
    if mode == "filter":
        sensor, w = probe_dr(clip=False)
        filt = estimator.update(filt, dr_probe_mm=sensor, weight_sum=w, taw_mm=taw_r,
                                root_depth_m=zr, relearn=relearn, fresh=fresh)
        dr_est = np.maximum(filt.dr_mm, 0.0)
    elif correct:
        sensor, w = probe_dr()
        dr_est, _ = balance.blend(dr_est, sensor, w, half_weight=half_weight)
    et0_prev = np.array([wx[s]["et0"][0] for s in site])  # a first guess for day 0's ETc
    tally = Tally()
    water = np.zeros(n_zones)
    policy = np.zeros(n_zones)
    params = DEFAULT_LOCKOUTS
    last_above = np.full(n_zones, -99)  # trace, calib: last day truth ended above FC
    start_held = np.zeros(n_zones)
    for d in range(warmup_days + n_days):
        if d == warmup_days and d:  # scored from here: the product has run for warmup_days
            tally, water[:], policy[:] = Tally(), 0.0, 0.0
            start_held = (truth.depletion_mm - oracle.depletion_mm) / eff_t
        w_site = [{k: v[d] for k, v in w.items()} for w in wx]
        meas = [{"rain_prev": (w["rain"][d - 1] * rng.normal(1, 0.05)) if d else 0.0,
                 "air": w["tmin"][d] + 0.5 + rng.normal(0, 0.3),
                 "wind": w["wind"][d] * rng.uniform(0.5, 0.9)} for w in wx]
        fcst = []
        for w in wx:
            r = w["rain"][d]
            r_f = (r * rng.lognormal(0, 0.35) if rng.random() < 0.85 else 0.0) if r > 0 else (
                rng.gamma(1.0, 3.0) if rng.random() < 0.08 else 0.0)
            fcst.append(Forecast(rain_today_mm=r_f, rain_tomorrow_mm=w["rain"][d + 1],
                                 temp_min_c=w["tmin"][d] + rng.normal(0, 1.0),
                                 temp_max_c=w["tmax"][d] + rng.normal(0, 1.0),
                                 temp_min_tomorrow_c=w["tmin"][d + 1] + rng.normal(0, 1.5),
                                 wind_ms=w["wind"][d] + rng.normal(0, 0.8)))
        # The day's expected ETc: Kc × the filter's learned ET scale (1 for the others).
        scale = filt.et_scale if mode == "filter" else np.ones(n_zones)
        cycle_mm = np.zeros(n_zones)
        n_cyc = np.zeros(n_zones, dtype=np.int64)
        gross_est = np.zeros(n_zones)
        etc_true_today = kc_t * np.array([w_site[s]["et0"] for s in site])
        dr_true = truth.depletion_mm
        packed = estimator.pack(filt)
        for i in range(n_zones):
            s = site[i]
            cond = Conditions(rain_observed_24h_mm=meas[s]["rain_prev"], air_temp_c=meas[s]["air"],
                              wind_ms=meas[s]["wind"], forecast=fcst[s])
            state = WaterState(dr_mm=float(dr_est[i]), taw_mm=float(taw_r[i]),
                               raw_mm=float(raw_r[i]), et0_mm=float(et0_prev[i]),
                               etc_mm=float(kc_r[i] * scale[i] * et0_prev[i]),
                               **({"dr_sd_mm": float(filt.dr_sd_mm[i]),
                                   "et_scale": float(scale[i]), "raw_sd_mm": float(raw_sd[i]),
                                   "estimator": tuple(packed[i].tolist())}
                                  if mode == "filter" else {}))
            dec = decide(hyd[i], state, cond, now_ms=1_780_000_000_000 + d * 86_400_000,
                         month=climate.month, margin_frac=margin_frac,
                         confidence=confidence if mode == "filter" else None)
            if usable is not None and calib is not None and d >= warmup_days \
                    and dec.rule != "winter_watering":
                sd_need = need_sd_mm(state)
                wetted = d - int(last_above[i]) <= NEVER_WETTED_DAYS
                cls = ("no usable probe" if not usable[i] else
                       "probed, wetted since the start" if wetted else
                       "probed, not wetted since the start")
                calib.append((cls, state.dr_mm + state.etc_mm - state.raw_mm
                              - (dr_true[i] + etc_true_today[i] - truth.raw_mm[i]),
                              float(sd_need) if sd_need is not None else np.nan))
            # Needed today: past RAW by tonight. Needed by tomorrow: at most a day early.
            need = dr_true[i] + etc_true_today[i] >= truth.raw_mm[i]
            soon = dr_true[i] + 2.0 * etc_true_today[i] >= truth.raw_mm[i]
            past = dr_true[i] >= truth.raw_mm[i]
            true_lock = (w_site[s]["rain"] >= 5 or (d and wx[s]["rain"][d - 1] >= 5)
                         or w_site[s]["tmin"] <= params.frost_c
                         or (kind[i] == "spray" and w_site[s]["wind"] >= params.high_wind_ms))
            tally.needed += int(past and not true_lock)
            if dec.water and dec.rule == "winter_watering":
                # A rule of its own (issue item 5), not the MAD rule: scored apart, and the
                # policy below applies it too (on the true freeze and depletion).
                tally.winter_openings += 1
                tally.winter_freeze_came += int(wx[s]["tmin"][d + 1] <= params.winter_freeze_c)
            elif dec.water:
                tally.openings += 1
                tally.precise += int(soon)
                tally.today += int(need)
                tally.strict += int(past)
            if dec.water:
                tally.violations_inputs += int(bool(weather_lockouts(kind=str(kind[i]),
                                                                     cond=cond, params=params)))
                tally.wet_or_frosty_openings += int(bool(true_lock))
                cycle_mm[i] = dec.cycles_s[0] * rate_t[i] / 3600.0
                n_cyc[i] = len(dec.cycles_s)
                gross_est[i] = dec.gross_mm
                if trace is not None and d >= warmup_days:
                    trace.append({
                        "seed": seed, "zone": i, "day": d, "kind": str(kind[i]), "rule": dec.rule,
                        "texture": tex[i].name, "tested": bool(tested[i]),
                        "n_probes": int(n_probes[i]),
                        "how": [str(how[j]) for j in np.flatnonzero(pz == i)],
                        "faults": [str(probes.fault[j]) for j in np.flatnonzero(pz == i)],
                        "dr_true": float(dr_true[i]), "dr_est": float(dr_est[i]),
                        "dr_sd": float(filt.dr_sd_mm[i]) if mode == "filter" else np.nan,
                        "raw_true": float(truth.raw_mm[i]), "raw_r": float(raw_r[i]),
                        "taw_true": float(truth.taw_mm[i]), "taw_r": float(taw_r[i]),
                        "etc_true": float(etc_true_today[i]), "etc_est": float(state.etc_mm),
                        "kc_ratio": float(kc_r[i] / kc_t[i]), "k": float(scale[i]),
                        "above_fc_mm": float(truth.w_mm[i] - truth.taw_mm[i]),
                        "since_above": d - int(last_above[i]),
                        "has_rs": bool(has_rs[s]), "need": bool(need), "soon": bool(soon),
                        "past": bool(past), "margin": margin_frac * float(taw_r[i]),
                        "offset": float(filt.offset_mm[i]) if mode == "filter" else np.nan,
                        "eff_ratio": float(eff_t[i] / eff_nom[i]),
                        "rate_ratio": float(rate_t[i] / rate_nom[i])})
            elif past and not true_lock:
                tally.missed += 1
        water += cycle_mm * n_cyc
        truth.irrigate(cycle_mm=cycle_mm, n_cycles=n_cyc, rate_mm_h=rate_t, efficiency=eff_t)
        # The FAO-56 MAD policy with perfect knowledge, same equipment and lockout rules.
        o_dr = oracle.depletion_mm
        o_need = o_dr + etc_true_today >= oracle.raw_mm
        o_lock = np.array([(wx[site[i]]["rain"][d] >= 5) or (d and wx[site[i]]["rain"][d - 1] >= 5)
                           or wx[site[i]]["tmin"][d] <= params.frost_c
                           or (kind[i] == "spray" and wx[site[i]]["wind"][d] >= params.high_wind_ms)
                           for i in range(n_zones)], dtype=bool)
        o_winter = np.array([climate.month in params.winter_months
                             and wx[site[i]]["tmin"][d + 1] <= params.winter_freeze_c
                             for i in range(n_zones)]) & (
            o_dr >= params.winter_min_depletion * oracle.taw_mm)
        o_gross = np.where((o_need | o_winter) & ~o_lock & (o_dr > 0), o_dr / eff_t, 0.0)
        tally.policy_openings += int((o_gross > 0).sum())
        o_cyc = np.maximum(np.ceil(o_gross / rate_t * 3600 / max_run), 1).astype(np.int64)
        oracle.irrigate(cycle_mm=o_gross / o_cyc, n_cycles=np.where(o_gross > 0, o_cyc, 0),
                        rate_mm_h=rate_t, efficiency=eff_t)
        policy += o_gross
        rain = np.array([w_site[s]["rain"] for s in site])
        et0_t = np.array([w_site[s]["et0"] for s in site])
        rh = np.array([w_site[s]["rain_hours"] for s in site])
        out = truth.day(et0_mm=et0_t, rain_mm=rain, rain_hours=rh)
        oracle.day(et0_mm=et0_t, rain_mm=rain, rain_hours=rh)
        tally.zone_days += n_zones
        last_above = np.where(truth.w_mm > truth.taw_mm + 0.5, d, last_above)
        tally.stress_days += int((truth.depletion_mm > truth.raw_mm).sum())
        tally.eta += float(out["eta_mm"].sum())
        tally.etc += float(out["etc_mm"].sum())
        # --- what the backend computes at the end of the day ------------------------------
        est = []
        for s in range(n_sites):
            w = w_site[s]
            e, _ = daily_et0_mm(tmin_c=w["tmin"] + rng.normal(0, 0.3),
                                tmax_c=w["tmax"] + rng.normal(0, 0.3), lat_deg=lat[s],
                                doy=w["doy"], elevation_m=elev[s],
                                rs_mj_m2=w["rs"] * rng.normal(1, 0.05) if has_rs[s] else None,
                                wind_ms=w["wind"] * rng.uniform(0.9, 1.1),
                                rh_min_pct=w["rh_min"], rh_max_pct=w["rh_max"])
            est.append(float(e))
        et0_est = np.array([est[s] for s in site])
        rain_meas = rain * rng.normal(1, 0.05, n_zones)
        if mode == "filter":
            filt, _ = estimator.predict(filt, et0_mm=et0_est, kc=kc_r, taw_mm=taw_r, p=p,
                                        rain_mm=rain_meas, irrigation_mm=gross_est * eff_nom,
                                        drain_frac=drain_frac)
            sensor, w = probe_dr(clip=False)
            filt = estimator.update(filt, dr_probe_mm=sensor, weight_sum=w, taw_mm=taw_r,
                                    root_depth_m=zr, signed=drain_frac is not None,
                                    relearn=relearn, fresh=fresh)
            dr_est = np.maximum(filt.dr_mm, 0.0)
            et0_prev = et0_est
            continue
        day = balance.step(dr_est, et0_mm=et0_est, kc=kc_r, taw_mm=taw_r, p=p,
                           rain_mm=rain_meas, irrigation_mm=gross_est * eff_nom)
        dr_est = day.dr_mm
        if correct:
            sensor, w = probe_dr()
            dr_est, _ = balance.blend(dr_est, sensor, w, half_weight=half_weight)
        et0_prev = et0_est
    tally.water_mm = float(water.sum())
    tally.policy_mm = float(policy.sum())
    ratio = np.where(policy > 0, water / np.maximum(policy, 1e-9), np.where(water > 0, np.inf, 1))
    tally.zones_compared = n_zones
    tally.zones_within_20 = int((np.abs(ratio - 1) <= 0.2).sum())
    # The same at equal end storage: water still held in the root zone on the last evening
    # (or still missing from it) is counted for both, so a refill on day 29 that the policy
    # would make on day 31 is not an excess (see the module docstring).
    held = (truth.depletion_mm - oracle.depletion_mm) / eff_t - start_held
    adj = water + held
    ratio_adj = np.where(policy > 0, adj / np.maximum(policy, 1e-9), np.where(adj > 1, np.inf, 1))
    tally.water_adj_mm = float(adj.sum())
    tally.zones_within_20_adj = int((np.abs(ratio_adj - 1) <= 0.2).sum())
    return tally


def false_opening_causes(trace: list[dict[str, object]], *, margin: bool
                         ) -> dict[str, tuple[int, np.ndarray]]:
    """MAD-rule openings not needed by tonight, by their main cause: the count and the mean
    of (true Dr, estimated Dr, the filter's sd, true RAW, the registry's RAW, the day's true
    ETc) [mm] over them.

    The rule fired because Dr_est + ETc_est ≥ RAW_registry (+ the trigger's own term) while
    Dr_true + ETc_true < RAW_true; the cause is the largest of: Dr overestimated (with the
    situation the zone was in), the day's ETc forecast high, the registry's RAW below the
    true one, and (old rule) the trigger margin.
    """
    out: dict[str, list[list[float]]] = {}
    for t in trace:
        if t["rule"] != "mad" or t["need"]:
            continue
        f = {k: float(v) for k, v in t.items() if isinstance(v, (int, float))}
        comp = {"Dr overestimated": f["dr_est"] - f["dr_true"],
                "the day's ETc forecast high": f["etc_est"] - f["etc_true"],
                "registry RAW below the true RAW": f["raw_true"] - f["raw_r"]}
        if margin:
            comp["the trigger margin (share of TAW before RAW)"] = f["margin"]
        cause = max(comp, key=lambda k: comp[k])
        if cause == "Dr overestimated":
            probes = list(zip(t["how"], t["faults"], strict=True))  # type: ignore[call-overload]
            if any(h != "none" and x in ("drift", "stuck", "unseated") for h, x in probes):
                cause += ": a faulty probe not flagged"
            elif not any(h != "none" and x == "ok" for h, x in probes):
                cause += ": no usable probe (model and ET scale only)"
            elif f["since_above"] <= 4:
                cause += ": water above field capacity still draining"
            elif f["since_above"] > NEVER_WETTED_DAYS:
                cause += ": probe offset not learned yet (no wetting since the start)"
            else:
                cause += ": other (probe scatter, rain runoff, efficiency)"
        out.setdefault(cause, []).append([f["dr_true"], f["dr_est"], f["dr_sd"], f["raw_true"],
                                          f["raw_r"], f["etc_true"]])
    rows = {k: (len(v), np.mean(np.array(v), axis=0)) for k, v in out.items()}
    return dict(sorted(rows.items(), key=lambda kv: -kv[1][0]))


def print_calibration(calib: list[tuple[str, float, float]]) -> None:
    """Per class of zone: zone-days, mean and RMS error of the estimated need [mm], the mean
    spread the decision assumed [mm] and the RMS of error / spread (z)."""
    print("  estimated need (Dr + ETc - RAW) against the truth, by class of zone-day:")
    for cls in sorted({c for c, _, _ in calib}):
        err = np.array([e for c, e, _ in calib if c == cls])
        sd = np.array([s for c, _, s in calib if c == cls])
        z = err / sd
        print(f"    {cls}: {err.size} zone-days, error mean {err.mean():+.1f} RMS "
              f"{np.sqrt(np.mean(err ** 2)):.1f} mm; assumed sd {sd.mean():.1f} mm; RMS z "
              f"{np.sqrt(np.mean(z ** 2)):.2f}")


def report(name: str, t: Tally) -> None:
    print(f"{name}:")
    n = max(t.openings, 1)
    print(f"  MAD-rule openings {t.openings} (policy: {t.policy_openings} incl. winter "
          f"watering): precision {t.today / n:.3f} (true Dr + the day's ETc ≥ RAW: past RAW "
          f"before the next decision; already past RAW {t.strict / n:.3f}; by tomorrow "
          f"{t.precise / n:.3f})")
    print(f"  winter-watering openings {t.winter_openings}, the freeze came after "
          f"{t.winter_freeze_came}")
    print(f"  missed refills {t.missed} of {t.needed} zone-days already past RAW with no "
          f"lockout ({t.missed / max(t.needed, 1):.3f})")
    print(f"  lockout violations against the decision's inputs: {t.violations_inputs}; "
          f"openings on days that turned out wet/frosty/windy (forecast misses): "
          f"{t.wet_or_frosty_openings}")
    print(f"  days in stress {t.stress_days / t.zone_days:.3f} of {t.zone_days} zone-days; "
          f"ETa/ETc {t.eta / t.etc:.3f}")
    print(f"  water vs FAO-56 MAD policy: {t.water_mm / max(t.policy_mm, 1e-9):.3f} of the "
          f"policy's total; zones within ±20 %: {t.zones_within_20 / t.zones_compared:.3f}")
    print(f"  at equal end storage: {t.water_adj_mm / max(t.policy_mm, 1e-9):.3f} of the "
          f"policy's total; zones within ±20 %: "
          f"{t.zones_within_20_adj / t.zones_compared:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--confidence", type=float, default=NEED_CONFIDENCE,
                    help="the product's P(Dr + ETc >= RAW) to water (the planner's "
                         "NEED_CONFIDENCE)")
    ap.add_argument("--margin", type=float, default=MARGIN_FRAC,
                    help="the earlier rule's trigger margin, share of TAW before RAW "
                         "(the planner's MARGIN_FRAC)")
    ap.add_argument("--zones", type=int, default=48, help="zones per seed")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--warmup-days", type=int, default=0,
                    help="run this many days of the same climate before scoring (the "
                         "product's filter then starts from what it learned, as on an estate "
                         "it has watched before; 0: every zone starts cold)")
    ap.add_argument("--ideal", action="store_true",
                    help="the registry knows the true soil, Kc, rate and efficiency (a ceiling)")
    ap.add_argument("--perfect-probes", action="store_true",
                    help="probes without spot variability, calibration error or faults "
                         "(a ceiling)")
    ap.add_argument("--no-drift-check", action="store_true",
                    help="keep probes that drift against their zone's others in the balance "
                         "(the product sets them aside: analytics/irrigation/probe_drift.py)")
    ap.add_argument("--probe-outages", type=float, default=0.0, metavar="P",
                    help="each evening a probe that reports goes offline for 1-3 days with "
                         "probability P (radio or battery outages; 0: never)")
    ap.add_argument("--evening-readings", type=int, default=1, metavar="K",
                    help="each probe sends K readings in the evening, 15 min apart (1: the "
                         "day's one reading, as before)")
    ap.add_argument("--spikes", type=float, default=0.0, metavar="P",
                    help="with --evening-readings: each reading is a spike (any index "
                         "0-100) with probability P")
    ap.add_argument("--newest-reading", action="store_true",
                    help="with --evening-readings: correct the day by the newest reading "
                         "alone instead of the product's evening median")
    ap.add_argument("--plain-mean", action="store_true",
                    help="correct a zone by the plain mean of the probes that reported that "
                         "day (its offset learned again when the set changes) instead of the "
                         "product's one reference per zone (probe_offsets.py)")
    ap.add_argument("--calibration", action="store_true",
                    help="also print, per class of zone, the error of the estimated need "
                         "(Dr + ETc - RAW) against the truth and the spread the decision "
                         "assumed for it (a calibrated spread has RMS z near 1)")
    ap.add_argument("--trace", action="store_true",
                    help="also print the openings not needed by tonight, by cause")
    args = ap.parse_args()
    t0 = time.perf_counter()
    runs = (
        ("product: Kalman (Dr, probe offset, ET scale), drainage above field capacity, "
         f"water at P(need) >= {args.confidence:g}",
         {"mode": "filter", "confidence": args.confidence, "drain": True}),
        (f"earlier product: the same Kalman, eq. 88 drainage, mean rule with margin "
         f"{args.margin:g} TAW", {"mode": "filter", "confidence": None, "drain": False}),
        ("baseline: fixed-gain probe blend, mean rule with margin",
         {"mode": "blend", "confidence": None, "drain": False}),
        ("baseline: FAO-56 balance without probe correction, mean rule with margin",
         {"mode": "model", "confidence": None, "drain": False}),
    )
    for name, kw in runs:
        total = Tally()
        trace: list[dict[str, object]] | None = [] if args.trace and kw["mode"] == "filter" \
            else None
        calib: list[tuple[str, float, float]] | None = [] if args.calibration \
            and kw["confidence"] is not None else None
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            total.add(run_seed(seed, args.zones, args.days, str(kw["mode"]),
                               margin_frac=args.margin,
                               confidence=kw["confidence"],  # type: ignore[arg-type]
                               drain=bool(kw["drain"]), warmup_days=args.warmup_days,
                               ideal=args.ideal, perfect_probes=args.perfect_probes,
                               drift_check=not args.no_drift_check,
                               outage_p=args.probe_outages,
                               evening_k=args.evening_readings, spike_p=args.spikes,
                               evening_median=not args.newest_reading,
                               relative=not args.plain_mean, trace=trace, calib=calib))
        report(f"{name} ({args.seeds} seeds from {args.first_seed} × {args.zones} zones × "
               f"{args.days} days, after {args.warmup_days} days' warm-up)", total)
        if calib is not None:
            print_calibration(calib)
        if trace is not None:
            causes = false_opening_causes(trace, margin=kw["confidence"] is None)
            print(f"  openings not needed by tonight, by cause "
                  f"({sum(c for c, _ in causes.values())}); means [mm]: Dr true / estimated "
                  "(filter sd), RAW true / registry, the day's ETc:")
            for cause, (count, m) in causes.items():
                print(f"    {count:5d}  {cause}: Dr {m[0]:.1f} / {m[1]:.1f} (sd {m[2]:.1f}), "
                      f"RAW {m[3]:.1f} / {m[4]:.1f}, ETc {m[5]:.1f}")
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
