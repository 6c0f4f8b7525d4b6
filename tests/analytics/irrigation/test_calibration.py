"""Probe calibration: index → θ per probe or per soil; bad probes give NaN and a flag."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.calibration import (
    CalibrationSpec,
    CalibrationTable,
    ProbeQuality,
    calibrate,
)


def test_two_point_poly_and_soil_calibrations() -> None:
    table = CalibrationTable.build([
        CalibrationSpec("two_point", points=((20.0, 0.10), (60.0, 0.30))),
        CalibrationSpec("poly", coef=(0.02, 0.004, 1e-5)),
        CalibrationSpec("soil", texture="loam"),
        None,
    ])
    theta, q = calibrate(np.array([40.0, 50.0, 50.0, 50.0]), table)
    assert theta[0] == pytest.approx(0.20)
    assert theta[1] == pytest.approx(0.02 + 0.004 * 50 + 1e-5 * 2500)
    assert theta[2] == pytest.approx(0.463 * 0.5)  # loam porosity × index
    assert np.isnan(theta[3])
    assert q.tolist() == [ProbeQuality.OK, ProbeQuality.OK, ProbeQuality.OK,
                          ProbeQuality.UNCALIBRATED]


def test_faulty_out_of_range_and_missing_readings_are_excluded() -> None:
    spec = CalibrationSpec("two_point", points=((20.0, 0.10), (60.0, 0.30)))
    table = CalibrationTable.build([spec] * 5)
    theta, q = calibrate(np.array([40.0, 40.0, 0.0, 100.0, np.nan]), table,
                         faulty=np.array([False, True, False, False, False]))
    assert q.tolist() == [ProbeQuality.OK, ProbeQuality.FAULTY, ProbeQuality.OUT_OF_RANGE,
                          ProbeQuality.OUT_OF_RANGE, ProbeQuality.MISSING]
    assert np.isfinite(theta).tolist() == [True, False, False, False, False]
    # θ below zero from an extrapolated line is out of range too.
    steep = CalibrationSpec("two_point", points=((30.0, 0.10), (60.0, 0.30)))
    theta, q = calibrate(np.array([5.0]), CalibrationTable.build([steep]))
    assert q.tolist() == [ProbeQuality.OUT_OF_RANGE] and np.isnan(theta[0])


def test_probe_by_time_matrix_and_shape_check() -> None:
    table = CalibrationTable.build([CalibrationSpec("soil", texture="sand")] * 2)
    theta, q = calibrate(np.array([[10.0, 20.0, 30.0], [40.0, 50.0, np.nan]]), table)
    assert theta.shape == (2, 3) and q[1, 2] == ProbeQuality.MISSING
    with pytest.raises(ValueError, match="probes"):
        calibrate(np.array([1.0, 2.0, 3.0]), table)


@pytest.mark.parametrize(("spec", "match"), [
    (CalibrationSpec("two_point"), "points"),
    (CalibrationSpec("two_point", points=((20.0, 0.1), (20.0, 0.3))), "distinct"),
    (CalibrationSpec("poly", coef=(0.0,) * 5), "coefficients"),
    (CalibrationSpec("soil"), "texture"),
])
def test_bad_specs_name_what_is_wrong(spec: CalibrationSpec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CalibrationTable.build([spec])
