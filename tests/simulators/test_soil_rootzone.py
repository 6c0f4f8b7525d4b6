"""The closed-loop ground truth: root-zone water balance closes, infiltration limits make
spray on clay run off unless split into cycles, probes read through their calibration."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.calibration import CalibrationSpec, CalibrationTable, calibrate
from greeniot.simulators.soil import DRAIN_TAU_DAYS, INTAKE_MM_H, Probes, RootZones


def _zones(texture: str, n: int = 1, d0: float = 0.0) -> RootZones:
    fc, wp, por = {"sand": (0.12, 0.045, 0.437), "clay": (0.36, 0.22, 0.475)}[texture]
    one = np.ones(n)
    return RootZones(theta_fc=fc * one, theta_wp=wp * one, porosity=por * one,
                     root_depth_m=0.4 * one, kc_true=0.9 * one, p_true=0.5 * one,
                     intake_mm_h=INTAKE_MM_H[texture] * one,
                     drain_tau_days=DRAIN_TAU_DAYS[texture] * one, depletion0_mm=d0 * one)


@pytest.mark.parametrize("texture", ["sand", "clay"])
def test_water_balance_closes(texture: str) -> None:
    z = _zones(texture, d0=10.0)
    rng = np.random.default_rng(4)
    w0 = float(z.w_mm[0])
    total_in = total_out = 0.0
    for _ in range(60):
        infil, _ = z.irrigate(cycle_mm=np.array([5.0]), n_cycles=np.array([2]),
                              rate_mm_h=np.array([12.0]), efficiency=np.array([0.8]))
        rain = rng.gamma(0.6, 10.0, 1)
        out = z.day(et0_mm=rng.uniform(2, 7, 1), rain_mm=rain, rain_hours=np.array([3.0]))
        total_in += float(infil[0] + rain[0] - out["runoff_mm"][0])
        total_out += float(out["eta_mm"][0] + out["drain_mm"][0])
        assert 0.0 <= z.w_mm[0] <= z.sat_mm[0]
    assert float(z.w_mm[0]) - w0 == pytest.approx(total_in - total_out, abs=1e-9)


def test_spray_on_clay_runs_off_unless_cycled() -> None:
    # 12 mm gross at 40 mm/h in one go on clay (3 mm/h intake): most of it runs off.
    one = _zones("clay", d0=30.0)
    infil1, runoff1 = one.irrigate(cycle_mm=np.array([12.0]), n_cycles=np.array([1]),
                                   rate_mm_h=np.array([40.0]), efficiency=np.array([1.0]))
    four = _zones("clay", d0=30.0)
    infil4, runoff4 = four.irrigate(cycle_mm=np.array([3.0]), n_cycles=np.array([4]),
                                    rate_mm_h=np.array([40.0]), efficiency=np.array([1.0]))
    assert runoff1[0] > 5.0 and infil1[0] < 5.0 and runoff4[0] == 0.0
    assert infil4[0] == pytest.approx(12.0)


def test_probes_read_through_their_calibration() -> None:
    z = _zones("clay", n=3, d0=20.0)
    rng = np.random.default_rng(1)
    probes = Probes(zone=np.array([0, 1, 2]), porosity=z.porosity, rng=rng, fault_rate=0.0)
    cal = probes.field_calibration(z.theta_wp + 0.02, z.theta_fc)
    table = CalibrationTable.build([CalibrationSpec("two_point", points=c) for c in cal])
    theta, q = calibrate(probes.read(z.theta()), table)
    assert (q == 0).all()
    # Each probe sees its own spot (± ~0.012) through a calibration with gravimetric error.
    assert np.abs(theta - z.theta()).max() < 0.06
    faulty = Probes(zone=np.zeros(200, dtype=np.int64), porosity=z.porosity, rng=rng,
                    fault_rate=1.0)
    idx = faulty.read(z.theta())
    assert np.isnan(idx[faulty.fault == "dead"]).all()
    assert (idx[faulty.fault == "unseated"] < 0.5).all()
    again = faulty.read(z.theta())
    stuck = faulty.fault == "stuck"
    assert np.array_equal(idx[stuck], again[stuck])
