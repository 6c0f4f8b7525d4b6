"""Run pyfao56 (test-only reference) as a single-Kc FAO-56 chapter-8 balance.

pyfao56 is a dual-coefficient model (ETa = (Ks Kcb + Ke) ET0). To compare it with a single-Kc
balance on the same inputs its extra features are switched off:

* Kcb is held at ``Kcbini`` = our Kc for the whole run (``Lini`` longer than the run), so
  plant height and root depth stay at their initial values and Zr = ``Zrini``;
* soil evaporation Ke ≈ 0: an evaporation layer so deep (Ze = 10 km, TEW ≈ 10⁶ mm) that the
  evaporation reduction coefficient Kr = (TEW − De)/(TEW − REW) stays < 10⁻⁴ over a year;
* no runoff (``roff=False``), FAO-56 Ks (``aq_Ks=False``), p constant (``cons_p=True``) or
  FAO-56-adjusted (``cons_p=False``), ETref given directly, irrigation with ieff = 100 %.
"""

from __future__ import annotations

import datetime as dt

import numpy as np


def run_pyfao56(*, et0_mm: np.ndarray, rain_mm: np.ndarray, irrigation_mm: np.ndarray,
                kc: float, theta_fc: float, theta_wp: float, theta0: float,
                root_depth_m: float, p: float, cons_p: bool = True,
                start: dt.date = dt.date(2026, 6, 1)) -> dict[str, np.ndarray]:
    import pandas as pd
    import pyfao56 as fao

    n = len(et0_mm)
    par = fao.Parameters(Kcbini=kc, Kcbmid=kc + 0.1, Kcbend=kc, Kcmini=kc, Kcmmid=kc,
                         Kcmend=kc, Lini=n + 10, Ldev=10, Lmid=10, Lend=10, hini=0.3, hmax=0.3,
                         thetaFC=theta_fc, thetaWP=theta_wp, theta0=theta0,
                         Zrini=root_depth_m, Zrmax=root_depth_m, pbase=p, Ze=10_000.0, REW=1.0)
    wth = fao.Weather()
    wth.rfcrp, wth.z, wth.lat, wth.wndht = "T", 100.0, 40.0, 2.0
    keys = [(start + dt.timedelta(days=i)).strftime("%Y-%j") for i in range(n)]
    wth.wdata = pd.DataFrame(
        {"Srad": np.nan, "Tmax": 25.0, "Tmin": 15.0, "Vapr": np.nan, "Tdew": np.nan,
         "RHmax": 80.0, "RHmin": 45.0, "Wndsp": 2.0, "Rain": rain_mm, "ETref": et0_mm,
         "MorP": "M"}, index=keys)
    irr = fao.Irrigation()
    for i in np.flatnonzero(irrigation_mm > 0):
        day = start + dt.timedelta(days=int(i))
        irr.addevent(day.year, day.timetuple().tm_yday, float(irrigation_mm[i]), 1.0, 100.0)
    model = fao.Model(keys[0], keys[-1], par, wth, irr=irr, roff=False, cons_p=cons_p)
    model.run()
    out = model.odata
    return {name: out[name].to_numpy(dtype=float) for name in ("Dr", "ETa", "ETc", "Ks", "DP")}
