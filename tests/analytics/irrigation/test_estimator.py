"""The Kalman estimator learns a probe offset and an ET scale that a fixed-gain blend keeps."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.irrigation import balance, estimator


def _month(offset_mm: float, et_scale: float, seed: int = 3) -> dict[str, float]:
    """30 days: the truth is the FAO-56 balance with Kc·``et_scale``; probes read the true Dr
    plus ``offset_mm`` plus 1 mm noise; refills to field capacity when Dr + ETc ≥ RAW and a
    12 mm rain on day 9. Returns the mean |error| of the last 10 days and the learned k."""
    rng = np.random.default_rng(seed)
    taw, p, kc, zr = np.array([40.0]), 0.5, 0.9, np.array([0.4])
    raw = p * taw
    dr_true = np.array([5.0])
    est = estimator.initial(np.array([10.0]), dr_sd_mm=10.0, root_depth_m=zr)
    dr_blend = np.array([10.0])
    errs_k, errs_b = [], []
    for d in range(30):
        et0 = np.array([5.0 + rng.normal(0, 0.5)])
        irr = np.where(est.dr_mm + kc * est.et_scale * et0 >= raw, est.dr_mm, 0.0)
        rain = np.array([12.0 if d == 9 else 0.0])
        truth = balance.step(dr_true, et0_mm=et0, kc=kc * et_scale, taw_mm=taw, p=p,
                             rain_mm=rain, irrigation_mm=irr)
        dr_true = truth.dr_mm
        z = dr_true + offset_mm + rng.normal(0, 1.0, 1)
        est, _ = estimator.predict(est, et0_mm=et0, kc=kc, taw_mm=taw, p=p, rain_mm=rain,
                                   irrigation_mm=irr)
        est = estimator.update(est, dr_probe_mm=z, weight_sum=np.ones(1), taw_mm=taw,
                               root_depth_m=zr)
        step = balance.step(dr_blend, et0_mm=et0, kc=kc, taw_mm=taw, p=p, rain_mm=rain,
                            irrigation_mm=irr)
        dr_blend, _ = balance.blend(step.dr_mm, np.clip(z, 0, taw), np.ones(1))
        if d >= 20:
            errs_k.append(abs(float(est.dr_mm[0] - dr_true[0])))
            errs_b.append(abs(float(dr_blend[0] - dr_true[0])))
    return {"kalman": float(np.mean(errs_k)), "blend": float(np.mean(errs_b)),
            "k": float(est.et_scale[0]), "b": float(est.offset_mm[0])}


@pytest.mark.parametrize(("offset_mm", "et_scale"), [(6.0, 1.0), (-5.0, 0.7), (4.0, 0.6)])
def test_offset_and_et_scale_are_learned(offset_mm: float, et_scale: float) -> None:
    r = _month(offset_mm, et_scale)
    assert r["kalman"] < 2.0, r
    assert r["b"] == pytest.approx(offset_mm, abs=2.0), r
    assert r["k"] == pytest.approx(et_scale, abs=0.12), r


def test_a_fixed_gain_blend_keeps_a_wet_offset_the_filter_removes() -> None:
    # Probes reading 6 mm drier than the zone (a dry spot, a calibration off): the blend
    # converges toward their offset.
    r = _month(6.0, 1.0)
    assert r["blend"] > 3.0 and r["kalman"] < 0.5 * r["blend"], r


def test_without_probes_the_prediction_is_the_fao56_balance() -> None:
    est = estimator.initial(np.array([8.0, 30.0]), dr_sd_mm=5.0, root_depth_m=0.3)
    est, day = estimator.predict(est, et0_mm=np.array([5.0, 5.0]), kc=0.8, taw_mm=40.0,
                                 p=0.5, rain_mm=np.array([0.0, 0.0]))
    ref = balance.step(np.array([8.0, 30.0]), et0_mm=5.0, kc=0.8, taw_mm=40.0, p=0.5)
    assert est.dr_mm.tolist() == pytest.approx(ref.dr_mm.tolist())
    est2 = estimator.update(est, dr_probe_mm=np.array([np.nan, np.nan]),
                            weight_sum=np.zeros(2), taw_mm=40.0, root_depth_m=0.3)
    assert est2.dr_mm.tolist() == est.dr_mm.tolist() and est2.gain.tolist() == [0.0, 0.0]
    assert day.etc_mm.tolist() == pytest.approx([4.0, 4.0])


def test_a_wetting_resets_the_depletion_and_its_spread() -> None:
    est = estimator.initial(np.array([10.0]), dr_sd_mm=8.0, root_depth_m=0.3)
    est, _ = estimator.predict(est, et0_mm=np.array([4.0]), kc=1.0, taw_mm=40.0, p=0.5,
                               rain_mm=np.array([40.0]))
    assert est.dr_mm[0] == 0.0
    assert est.dr_sd_mm[0] == pytest.approx(estimator.FC_SD_MM)
    assert est.draining_mm[0] > 20.0  # the surplus still draining: probes read wet a while


def test_pack_round_trip_and_bad_rows() -> None:
    est = estimator.initial(np.array([3.0, 7.0]), dr_sd_mm=2.0, root_depth_m=0.4)
    est = estimator.update(est, dr_probe_mm=np.array([5.0, 6.0]), weight_sum=np.ones(2),
                           taw_mm=40.0, root_depth_m=0.4)
    back = estimator.unpack(estimator.pack(est))
    for name in ("dr_mm", "offset_mm", "et_scale", "cov", "draining_mm", "probe_weight"):
        assert np.array_equal(getattr(back, name), getattr(est, name)), name
    with pytest.raises(ValueError, match="shape"):
        estimator.unpack(np.zeros((1, 13)))
    with pytest.raises(ValueError, match="finite"):
        estimator.unpack(np.full((1, estimator.PACKED), np.nan))
