"""Soil limits: FAO-56 Table 19 defaults, TAW (eq. 82), RAW (eq. 83), p adjustment."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot import soils


def test_table_19_defaults_are_range_midpoints_ordered_sand_to_clay() -> None:
    sand, loam, clay = (soils.texture(n) for n in ("sand", "loam", "clay"))
    assert (sand.theta_fc, sand.theta_wp) == (0.12, 0.045)
    assert (loam.theta_fc, loam.theta_wp) == (0.25, 0.12)
    assert (clay.theta_fc, clay.theta_wp) == (0.36, 0.22)
    for t in soils.TEXTURES.values():
        assert t.fc_range[0] <= t.theta_fc <= t.fc_range[1]
        assert t.wp_range[0] <= t.theta_wp <= t.wp_range[1]
        assert t.theta_wp < t.theta_fc < t.porosity
    fc = [t.theta_fc for t in soils.TEXTURES.values()]
    assert fc == sorted(fc)  # coarse → fine holds more water at field capacity


def test_unknown_texture_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="loamy_sand"):
        soils.texture("peat")


def test_soil_limits_explicit_values_override_texture() -> None:
    assert soils.soil_limits(texture_name="loam") == (0.25, 0.12)
    assert soils.soil_limits(texture_name="loam", theta_fc=0.28) == (0.28, 0.12)
    assert soils.soil_limits(theta_fc=0.3, theta_wp=0.1) == (0.3, 0.1)
    with pytest.raises(ValueError, match="texture"):
        soils.soil_limits(theta_fc=0.3)
    with pytest.raises(ValueError, match="theta_wp < theta_fc"):
        soils.soil_limits(theta_fc=0.1, theta_wp=0.2)


def test_taw_raw_and_p_adjustment() -> None:
    # Loam, 0.3 m roots: TAW = 1000 · 0.13 · 0.3 = 39 mm; p 0.5 → RAW 19.5 mm.
    taw = soils.total_available_water_mm(0.25, 0.12, 0.3)
    assert taw == pytest.approx(39.0)
    assert soils.readily_available_water_mm(0.5, taw) == pytest.approx(19.5)
    # FAO-56 Table 22 footnote: p + 0.04 (5 − ETc), within 0.1..0.8.
    p = soils.depletion_fraction(np.array([0.5, 0.5, 0.5, 0.7]), np.array([5.0, 2.5, 10.0, 0.0]))
    assert p.tolist() == pytest.approx([0.5, 0.6, 0.3, 0.8])
    assert soils.depletion_fraction(0.45).item() == 0.45


def test_drainage_rate_and_limit_spread_by_texture() -> None:
    """AquaCrop τ = 0.0866 Ksat^0.35 from Rawls et al. Ksat: sand drains within the day, clay
    a fifth a day; a texture default's θ spread is a quarter of its Table 19 range, a soil
    test's 0.01."""
    from greeniot.soils import KSAT_MM_H, drain_fraction_per_day, limits_sd, taw_sd_mm

    assert drain_fraction_per_day("sand") == 1.0
    assert drain_fraction_per_day("clay") == pytest.approx(0.0866 * (0.6 * 24) ** 0.35)
    rates = [drain_fraction_per_day(t) for t in KSAT_MM_H]
    assert rates == sorted(rates, reverse=True)  # coarse to fine
    assert drain_fraction_per_day(None) == drain_fraction_per_day("loam")
    assert limits_sd("loam", measured=False) == pytest.approx((0.025, 0.025))
    assert limits_sd("loam", measured=True) == (0.01, 0.01)
    assert taw_sd_mm("clay", measured=True, root_depth_m=0.5) == pytest.approx(
        1000 * 0.5 * 0.01 * 2 ** 0.5)
    with pytest.raises(KeyError, match="unknown soil texture"):
        drain_fraction_per_day("peat")
