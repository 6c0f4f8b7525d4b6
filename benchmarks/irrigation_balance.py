"""Speed of the vectorized FAO-56 daily root-zone balance against pyfao56, same zones, same run.

Draws Z zones (soils sand..clay, root depth, Kc, p) and D days of ET0, rain and irrigation
from a seed; runs greeniot's ``balance.step`` over all zones at once, day by day (with and
without the probe correction of two probes per zone), and pyfao56's ``Model.run`` zone by zone
on the first ``--ref-zones`` of the same zones (set to a single-Kc balance, as in
tests/analytics/irrigation/fao56_reference.py). Prints zone-days/s of both, their ratio, and
the largest daily Dr difference on the shared zones (the answers must agree, not just the
speed). Nothing asserts a time: it reports.

Run::

    .venv/bin/python benchmarks/irrigation_balance.py
    .venv/bin/python benchmarks/irrigation_balance.py --zones 100000 --days 365 --ref-zones 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from greeniot.analytics.irrigation import balance
from greeniot.soils import TEXTURES, total_available_water_mm


def draw(n_zones: int, n_days: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tex = list(TEXTURES.values())
    pick = rng.integers(0, len(tex), n_zones)
    fc = np.array([tex[i].theta_fc for i in pick])
    wp = np.array([tex[i].theta_wp for i in pick])
    zr = rng.uniform(0.2, 0.8, n_zones)
    et0 = rng.uniform(1.5, 7.5, (n_zones, n_days))
    rain = np.where(rng.random((n_zones, n_days)) < 0.2, rng.gamma(1.5, 8.0, (n_zones, n_days)),
                    0.0)
    irr = np.where(rng.random((n_zones, n_days)) < 0.1, rng.uniform(5, 30, (n_zones, n_days)),
                   0.0)
    return {"fc": fc, "wp": wp, "zr": zr, "kc": rng.uniform(0.5, 1.0, n_zones),
            "p": rng.uniform(0.3, 0.6, n_zones), "et0": et0, "rain": rain, "irr": irr,
            "taw": total_available_water_mm(fc, wp, zr)}


def run_ours(d: dict[str, np.ndarray], probes: bool) -> tuple[np.ndarray, float]:
    n_zones, n_days = d["et0"].shape
    dr = np.zeros(n_zones)
    out = np.empty((n_zones, n_days))
    probe_zone = np.repeat(np.arange(n_zones), 2)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for i in range(n_days):
        day = balance.step(dr, et0_mm=d["et0"][:, i], kc=d["kc"], taw_mm=d["taw"], p=d["p"],
                           rain_mm=d["rain"][:, i], irrigation_mm=d["irr"][:, i])
        dr = day.dr_mm
        if probes:
            theta = d["fc"][probe_zone] - dr[probe_zone] / (1000 * d["zr"][probe_zone]) \
                + rng.normal(0.0, 0.01, probe_zone.size)
            sensor, w = balance.sensor_depletion_mm(
                theta=theta, weight=np.ones(probe_zone.size), probe_zone=probe_zone,
                theta_fc=d["fc"], root_depth_m=d["zr"], taw_mm=d["taw"])
            dr, _ = balance.blend(dr, sensor, w)
        out[:, i] = dr
    return out, time.perf_counter() - t0


def run_pyfao56(d: dict[str, np.ndarray], n_ref: int) -> tuple[np.ndarray, float]:
    import pandas as pd
    import pyfao56 as fao

    n_days = d["et0"].shape[1]
    start = dt.date(2026, 1, 1)
    keys = [(start + dt.timedelta(days=i)).strftime("%Y-%j") for i in range(n_days)]
    out = np.empty((n_ref, n_days))
    t0 = time.perf_counter()
    for z in range(n_ref):
        kc = float(d["kc"][z])
        par = fao.Parameters(Kcbini=kc, Kcbmid=kc + 0.1, Kcbend=kc, Kcmini=kc, Kcmmid=kc,
                             Kcmend=kc, Lini=n_days + 10, Ldev=10, Lmid=10, Lend=10, hini=0.3,
                             hmax=0.3, thetaFC=float(d["fc"][z]), thetaWP=float(d["wp"][z]),
                             theta0=float(d["fc"][z]), Zrini=float(d["zr"][z]),
                             Zrmax=float(d["zr"][z]), pbase=float(d["p"][z]), Ze=10_000.0,
                             REW=1.0)
        wth = fao.Weather()
        wth.rfcrp, wth.z, wth.lat, wth.wndht = "T", 100.0, 40.0, 2.0
        wth.wdata = pd.DataFrame(
            {"Srad": np.nan, "Tmax": 25.0, "Tmin": 15.0, "Vapr": np.nan, "Tdew": np.nan,
             "RHmax": 80.0, "RHmin": 45.0, "Wndsp": 2.0, "Rain": d["rain"][z],
             "ETref": d["et0"][z], "MorP": "M"}, index=keys)
        irr = fao.Irrigation()
        for i in np.flatnonzero(d["irr"][z] > 0):
            irr.addevent(2026, int(i) + 1, float(d["irr"][z, i]), 1.0, 100.0)
        model = fao.Model(keys[0], keys[-1], par, wth, irr=irr, roff=False, cons_p=True)
        model.run()
        out[z] = model.odata["Dr"].to_numpy(dtype=float)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zones", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--ref-zones", type=int, default=5, help="zones run through pyfao56")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    d = draw(args.zones, args.days, args.seed)
    zd = args.zones * args.days
    ours, t_ours = run_ours(d, probes=False)
    _, t_probes = run_ours(d, probes=True)
    ref, t_ref = run_pyfao56(d, min(args.ref_zones, args.zones))
    ref_rate = ref.size / t_ref
    print(f"zones={args.zones} days={args.days} (zone-days {zd:,})")
    print(f"greeniot balance.step, all zones at once: {zd / t_ours:,.0f} zone-days/s "
          f"({t_ours:.2f} s)")
    print(f"  with the probe correction (2 probes/zone): {zd / t_probes:,.0f} zone-days/s "
          f"({t_probes:.2f} s)")
    print(f"pyfao56 Model.run, zone by zone ({ref.shape[0]} zones): {ref_rate:,.0f} "
          f"zone-days/s ({t_ref:.2f} s)")
    print(f"ratio greeniot / pyfao56: {zd / t_ours / ref_rate:,.0f}x "
          f"(with probes {zd / t_probes / ref_rate:,.0f}x)")
    print(f"max |Dr greeniot - Dr pyfao56| on the shared zones: "
          f"{np.abs(ours[: ref.shape[0]] - ref).max():.3f} mm")


if __name__ == "__main__":
    main()
