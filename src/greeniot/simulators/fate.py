"""Draw what a scenario does to the fleet: which trees lean, which one falls, initial soil."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from greeniot.simulators import soil
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.scenarios import Scenario
from greeniot.simulators.tilt import TreeFate, TreePhysics, project
from greeniot.simulators.truth import Failure, LeanStep, Storm
from greeniot.simulators.weather import WeatherModel

F64 = NDArray[np.float64]


def draw_fate(fleet: Fleet, scenario: Scenario, phys: TreePhysics, weather: WeatherModel,
              span_s: float, rng: np.random.Generator
              ) -> tuple[TreeFate, dict[str, LeanStep], dict[str, Failure]]:
    """Per site: ``failures_per_site`` non-heritage trees fail; ``lean_step_share`` of the
    trees (heritage ones first, since those are the ones a crew must not miss) get a step."""
    n = len(fleet.trees)
    fate = TreeFate.none(n)
    steps: dict[str, LeanStep] = {}
    failures: dict[str, Failure] = {}
    ms = weather.start_ms
    for s, site in enumerate(fleet.sites):
        idx = np.flatnonzero(phys.site_idx == s)
        if idx.size == 0:
            continue
        heritage = [int(i) for i in idx if fleet.trees[i].heritage]
        ordinary = [int(i) for i in idx if not fleet.trees[i].heritage]
        n_fail = min(scenario.failures_per_site, len(ordinary))
        failing = [int(i) for i in rng.choice(ordinary, n_fail, replace=False)] if n_fail else []
        for i in failing:
            t_fail = scenario.failure_at * span_s
            pre_s = scenario.precursor_frac * span_s
            toward = weather.wind_to_rad(np.array([t_fail]), np.array([s]))[0]
            mag = rng.uniform(*scenario.fallen_deg)
            fate.fail_at_s[i], fate.precursor_s[i] = t_fail, pre_s
            pp, pr = project(np.array([scenario.precursor_deg]), toward, phys.sensor_az_rad[i])
            fate.precursor_pitch_deg[i], fate.precursor_roll_deg[i] = pp[0], pr[0]
            fp, fr = project(np.array([mag]), toward, phys.sensor_az_rad[i])
            fate.fallen_pitch_deg[i], fate.fallen_roll_deg[i] = fp[0], fr[0]
            tree = fleet.trees[i]
            failures[tree.tree] = Failure(site.site, tree.tree, tree.tilt_device,
                                          ms + round(t_fail * 1000),
                                          ms + round((t_fail - pre_s) * 1000),
                                          round(float(fp[0]), 3), round(float(fr[0]), 3))
        if scenario.lean_step_share <= 0:
            continue
        candidates = [i for i in heritage if i not in failing]
        rest = [i for i in ordinary if i not in failing]
        candidates += [int(i) for i in rng.permutation(rest)]
        n_step = min(len(candidates), max(1, round(scenario.lean_step_share * idx.size)))
        for i in candidates[:n_step]:
            lo, hi = scenario.lean_step_window
            t_on = rng.uniform(lo, hi) * span_s
            toward = (weather.wind_to_rad(np.array([t_on]), np.array([s]))[0]
                      + np.deg2rad(rng.normal(0.0, 15.0)))
            mag = rng.uniform(*scenario.lean_step_deg)
            sp, sr = project(np.array([mag]), toward, phys.sensor_az_rad[i])
            fate.step_at_s[i] = t_on
            fate.step_pitch_deg[i], fate.step_roll_deg[i] = sp[0], sr[0]
            tree = fleet.trees[i]
            steps[tree.tree] = LeanStep(site.site, tree.tree, tree.tilt_device,
                                        ms + round(t_on * 1000), round(float(mag), 3),
                                        round(float(sp[0]), 3), round(float(sr[0]), 3))
    return fate, steps, failures


def initial_vwc(fleet: Fleet, scenario: Scenario, weather: WeatherModel, span_s: float) -> F64:
    """Starting moisture per zone [VWC %].

    Within each site the zones that dry fastest (highest crop coefficient per mm of root zone)
    start at the low end of the scenario's range. When the scenario wants a share of zones to
    run dry (a drought), the start of each zone is instead solved from a noise-free dry run of
    its bucket over the whole span, so that the chosen zones end clearly below their refill
    point and the others clearly above it: the ground truth is never a coin toss.
    """
    lo, hi = scenario.initial_vwc_pct
    out = np.empty(len(fleet.zones))
    ranks: dict[int, int] = {}
    for site in fleet.sites:
        idx = [i for i, z in enumerate(fleet.zones) if z.site == site.site]
        if not idx:
            continue
        rate = np.array([fleet.zones[i].kc / fleet.zones[i].root_depth_mm for i in idx])
        rank = np.argsort(np.argsort(-rate))  # 0 = fastest drying
        out[idx] = lo + (hi - lo) * rank / max(len(idx) - 1, 1)
        n_dry = max(1, round(scenario.dry_zone_share * len(idx)))
        ranks.update({i: int(r) - n_dry for i, r in zip(idx, rank, strict=True)})
    if scenario.dry_zone_share <= 0 or not fleet.zones:
        return out
    margin = scenario.dry_margin_pct
    refill = np.array([z.refill_vwc_pct for z in fleet.zones])
    fc = np.array([z.field_capacity_vwc_pct for z in fleet.zones])
    # candidate starts from 2 points above refill up to field capacity, 61 per zone
    cand = (refill + 2.0)[:, None] + np.linspace(0.0, 1.0, 61) * (fc - refill - 2.0)[:, None]
    low = _dry_run_min(fleet, weather, span_s, cand)
    for i in range(len(fleet.zones)):
        if ranks[i] < 0:  # meant to run dry: the wettest start that still ends dry
            ok = np.flatnonzero(low[i] <= refill[i] - margin)
            out[i] = cand[i, ok[-1]] if ok.size else cand[i, 0]
        else:  # meant to stay wet: the driest start (not below the plain one) that stays wet
            ok = np.flatnonzero((low[i] >= refill[i] + margin) & (cand[i] >= min(out[i], fc[i])))
            out[i] = cand[i, ok[0]] if ok.size else fc[i]
    return out


def _dry_run_min(fleet: Fleet, weather: WeatherModel, span_s: float, vwc0: F64,
                 dt_s: float = 1800.0) -> F64:
    """Lowest VWC [%] each zone reaches without irrigation from each start in ``vwc0`` (Z, C)."""
    z = fleet.zones
    site_of = {s.site: k for k, s in enumerate(fleet.sites)}
    site = np.array([site_of[x.site] for x in z], dtype=np.int64)
    col = (slice(None), None)
    kc = np.array([x.kc for x in z])[col]
    depth = np.array([x.root_depth_mm for x in z])[col]
    fc = np.array([x.field_capacity_vwc_pct for x in z])[col]
    wp = np.array([x.wilting_point_vwc_pct for x in z])[col]
    vwc, low = vwc0.copy(), vwc0.copy()
    t = 0.0
    while t < span_s:
        t1 = min(t + dt_s, span_s)
        mid = np.full(site.shape, 0.5 * (t + t1))
        rain = weather.rain_mm(np.full(site.shape, t), np.full(site.shape, t1), site)[col]
        et0 = (soil.et0_mm_h(weather.air_temp_c(mid, site), weather.sun_frac(mid, site))
               * (t1 - t) / 3600.0)[col]
        vwc = soil.bucket_step(vwc, dt_s=t1 - t, rain_mm=rain, irrigation_mm=np.zeros(1),
                               et0_mm=et0, kc=kc, root_depth_mm=depth, fc_pct=fc, wp_pct=wp)
        low = np.minimum(low, vwc)
        t = t1
    return low


def storm_window(scenario: Scenario, span_s: float, start_ms: int) -> Storm | None:
    """When the scheduled mean wind is above the storm threshold (1-min grid)."""
    t = np.arange(0.0, span_s + 1.0, 60.0)
    wind = scenario.wind_mean_ms.at(t / span_s)
    above = np.flatnonzero(wind > scenario.storm_wind_ms)
    if above.size == 0:
        return None
    peak = int(np.argmax(wind))
    return Storm(start_ms + round(t[above[0]] * 1000), start_ms + round(t[peak] * 1000),
                 start_ms + round(t[above[-1]] * 1000), round(float(wind[peak]), 2))
