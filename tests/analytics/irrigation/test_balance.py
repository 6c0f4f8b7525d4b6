"""Root-zone balance: FAO-56 ch. 8 behaviour, pyfao56 agreement, probe correction."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.irrigation import balance as b
from greeniot.soils import total_available_water_mm
from tests.analytics.irrigation.fao56_reference import run_pyfao56


def _weather(n_days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    et0 = rng.uniform(2.0, 7.0, n_days)
    rain = np.where(rng.random(n_days) < 0.2, rng.gamma(1.5, 8.0, n_days), 0.0)
    return et0, rain


CASES = [  # texture-like soils, root depth, Kc, p, initial theta, FAO p adjustment
    (0.12, 0.045, 0.30, 0.80, 0.40, 0.10, True),
    (0.25, 0.12, 0.30, 0.90, 0.50, 0.20, True),
    (0.36, 0.22, 0.50, 1.00, 0.50, 0.30, False),
    (0.31, 0.15, 0.40, 0.70, 0.40, 0.25, False),
]


@pytest.mark.parametrize(("fc", "wp", "zr", "kc", "p", "theta0", "cons_p"), CASES)
def test_daily_depletion_matches_pyfao56(fc: float, wp: float, zr: float, kc: float, p: float,
                                         theta0: float, cons_p: bool) -> None:
    pytest.importorskip("pyfao56")
    n = 40
    et0, rain = _weather(n, seed=int(fc * 100))
    irr = np.zeros(n)
    irr[[8, 19, 30]] = [15.0, 25.0, 40.0]
    ref = run_pyfao56(et0_mm=et0, rain_mm=rain, irrigation_mm=irr, kc=kc, theta_fc=fc,
                      theta_wp=wp, theta0=theta0, root_depth_m=zr, p=p, cons_p=cons_p)
    taw = total_available_water_mm(fc, wp, zr)
    ours = b.simulate(np.array([1000.0 * (fc - theta0) * zr]), et0_mm=et0[None, :],
                      kc=np.array([kc]), taw_mm=np.array([taw]), p=np.array([p]),
                      rain_mm=rain[None, :], irrigation_mm=irr[None, :], adjust_p=not cons_p)
    diff = np.abs(ours["dr_mm"][0] - ref["Dr"])
    assert diff.max() < 0.5, diff.max()
    print(f"max |Dr - pyfao56 Dr| = {diff.max():.4f} mm")
    assert np.abs(ours["eta_mm"][0] - ref["ETa"]).max() < 0.1
    # The case is not trivial: the root zone both dried into stress and was refilled.
    assert ours["ks"][0].min() < 1.0
    assert ours["dr_mm"][0].min() < 0.2 * taw


def test_step_bounds_and_percolation() -> None:
    taw = np.array([50.0, 50.0, 50.0])
    day = b.step(np.array([10.0, 45.0, 50.0]), et0_mm=5.0, kc=1.0, taw_mm=taw, p=0.5,
                 rain_mm=np.array([30.0, 0.0, 0.0]))
    # Zone 0: 30 mm rain on 10 mm deficit → back to field capacity, the rest drains (eq. 88).
    assert day.dr_mm[0] == 0.0
    assert day.dp_mm[0] == pytest.approx(30.0 - 5.0 - 10.0)
    # Zone 1: Ks = (50 − 45) / (0.5 · 50) = 0.2 (eq. 84): ETa = 1 mm.
    assert day.ks[1] == pytest.approx(0.2)
    assert day.dr_mm[1] == pytest.approx(46.0)
    # Zone 2: at wilting point nothing more is used, depletion stays at TAW.
    assert day.eta_mm[2] == 0.0 and day.dr_mm[2] == 50.0


def test_kc_by_month() -> None:
    kc = np.array([[0.5] * 6 + [0.9] * 6, [0.7] * 12])
    assert b.kc_of_month(kc, 7).tolist() == [0.9, 0.7]
    assert b.kc_of_month(kc, np.array([1, 12])).tolist() == [0.5, 0.7]
    assert b.kc_of_month(np.array([0.8, 0.6]), 3).tolist() == [0.8, 0.6]
    with pytest.raises(ValueError, match="month"):
        b.kc_of_month(kc, 13)
    with pytest.raises(ValueError, match="shape"):
        b.kc_of_month(np.ones((2, 5)), 1)


def test_sensor_correction_weights_probes_and_ignores_bad_ones() -> None:
    theta_fc = np.array([0.30, 0.30, 0.30])
    zr = np.array([0.5, 0.5, 0.5])
    taw = np.array([75.0, 75.0, 75.0])
    # Zone 0: two good probes (θ 0.24 → 30 mm, θ 0.20 → 50 mm), weight 1 and 0.5.
    # Zone 1: only a probe with NaN θ (excluded). Zone 2: no probe.
    theta = np.array([0.24, 0.20, np.nan])
    weight = np.array([1.0, 0.5, 1.0])
    zone = np.array([0, 0, 1])
    dr, w = b.sensor_depletion_mm(theta=theta, weight=weight, probe_zone=zone,
                                  theta_fc=theta_fc, root_depth_m=zr, taw_mm=taw)
    assert dr[0] == pytest.approx((30.0 * 1.0 + 50.0 * 0.5) / 1.5)
    assert np.isnan(dr[1]) and np.isnan(dr[2])
    assert w.tolist() == [1.5, 0.0, 0.0]
    blended, alpha = b.blend(np.array([10.0, 20.0, 30.0]), dr, w, half_weight=1.0)
    assert alpha[0] == pytest.approx(1.5 / 2.5)
    assert blended[0] == pytest.approx(10.0 + 0.6 * (dr[0] - 10.0))
    _, alpha3 = b.blend(np.array([10.0, 20.0, 30.0]), dr, w)  # the default W½
    assert alpha3[0] == pytest.approx(1.5 / (1.5 + b.SENSOR_HALF_WEIGHT))
    assert blended[1:].tolist() == [20.0, 30.0] and alpha[1:].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="half_weight"):
        b.blend(blended, dr, w, half_weight=0.0)


def test_sensor_correction_removes_model_drift() -> None:
    """A model with a 30 % ET0 bias drifts; one calibrated probe a day keeps Dr near truth."""
    n = 30
    et0, rain = _weather(n, seed=3)
    taw, zr, fc = 60.0, 0.4, 0.30
    truth = b.simulate(np.array([0.0]), et0_mm=et0[None], kc=np.array([1.0]),
                       taw_mm=np.array([taw]), p=np.array([0.5]), rain_mm=rain[None])["dr_mm"][0]
    dr_free = dr_fix = np.array([0.0])
    err_free, err_fix = [], []
    for d in range(n):
        args = {"et0_mm": 0.7 * et0[d], "kc": 1.0, "taw_mm": taw, "p": 0.5, "rain_mm": rain[d]}
        dr_free = b.step(dr_free, **args).dr_mm
        model = b.step(dr_fix, **args).dr_mm
        theta = np.array([fc - truth[d] / (1000.0 * zr)])
        sensor, w = b.sensor_depletion_mm(theta=theta, weight=np.ones(1), probe_zone=np.zeros(
            1, dtype=int), theta_fc=np.array([fc]), root_depth_m=np.array([zr]),
            taw_mm=np.array([taw]))
        dr_fix, _ = b.blend(model, sensor, w, half_weight=1.0)  # an exact probe: trust it
        err_free.append(abs(float(dr_free[0]) - truth[d]))
        err_fix.append(abs(float(dr_fix[0]) - truth[d]))
    assert max(err_fix) < 0.5 * max(err_free)
    assert max(err_fix) < 3.0
