"""Vectorized row statistics against per-row numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.core.rowstats import (
    group_median,
    linfit,
    masked_median,
    pack_groups,
    robust_linfit,
)


@pytest.mark.parametrize("width", [1, 2, 7, 64, 65])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_masked_median_matches_numpy_per_row(width: int, dtype: type) -> None:
    rng = np.random.default_rng(width)
    x = rng.normal(size=(300, width)).astype(dtype)
    mask = rng.random((300, width)) < 0.6
    x[~mask & (rng.random((300, width)) < 0.5)] = np.nan  # masked-out may hold NaN
    got = masked_median(x, mask)
    for i in range(300):
        vals = x[i][mask[i]]
        if vals.size == 0:
            assert np.isnan(got[i])
        else:
            assert got[i] == pytest.approx(float(np.median(vals.astype(np.float64))), abs=1e-6)


def test_masked_median_ignores_nan_inside_mask() -> None:
    x = np.array([[1.0, np.nan, 3.0, 100.0]])
    assert masked_median(x, np.array([[True, True, True, False]]))[0] == 2.0


def test_masked_median_names_bad_argument() -> None:
    with pytest.raises(ValueError, match="mask"):
        masked_median(np.zeros((2, 3)), np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="x must be 2-D"):
        masked_median(np.zeros(3), np.zeros(3, bool))


def test_linfit_recovers_slope_and_its_error() -> None:
    rng = np.random.default_rng(1)
    t = np.tile(np.linspace(-5, 0, 200), (50, 1))
    y = 0.3 * t + 2 + rng.normal(0, 0.1, t.shape)
    fit = linfit(t, y, np.ones(t.shape, bool))
    assert np.allclose(fit.slope, 0.3, atol=0.02)
    # the reported standard error matches the scatter of the estimates across rows
    assert fit.se_slope.mean() == pytest.approx(fit.slope.std(), rel=0.35)
    assert np.allclose(fit.span, 5.0)


def test_robust_linfit_trims_outliers_ordinary_fit_does_not() -> None:
    t = np.tile(np.arange(48.0), (2, 1))
    y = 0.1 * t + 1.0
    y[:, 40] += 50.0  # one wild sample
    mask = np.ones(t.shape, bool)
    assert abs(linfit(t, y, mask).slope[0] - 0.1) > 0.05
    assert robust_linfit(t, y, mask).slope == pytest.approx([0.1, 0.1], abs=1e-9)


def test_linfit_needs_three_points() -> None:
    t = np.array([[0.0, 1.0, 2.0]])
    fit = linfit(t, t, np.array([[True, True, False]]))
    assert np.isnan(fit.slope[0])


def test_group_median_and_counts() -> None:
    med, n = group_median(np.array([5.0, 1.0, 3.0, 10.0, np.nan, 7.0, 8.0]),
                          np.array([0, 0, 0, 2, 2, 1, 1]), 4)
    assert med[:3].tolist() == [3.0, 7.5, 10.0]
    assert np.isnan(med[3])
    assert n.tolist() == [3, 2, 1, 0]


def test_pack_groups_sorts_each_group_by_time() -> None:
    ts, (v,) = pack_groups(np.array([1, 0, 1, 1]), np.array([30, 10, 5, 20]), 3,
                           np.array([3.0, 1.0, 0.5, 2.0]))
    assert ts.tolist() == [[10, 0, 0], [5, 20, 30], [0, 0, 0]]
    assert v[1].tolist() == [0.5, 2.0, 3.0]
    assert np.isnan(v[0, 1]) and np.isnan(v[2]).all()


def test_masked_median_equals_numpy_median_of_the_masked_entries() -> None:
    """Also with the leading or trailing columns unused (those are not sorted at all)."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        r, w = int(rng.integers(1, 20)), int(rng.integers(1, 30))
        x = rng.normal(size=(r, w))
        x[rng.random((r, w)) < 0.1] = np.nan
        m = rng.random((r, w)) < rng.random()
        if rng.random() < 0.5:
            m[:, : int(rng.integers(0, w))] = False
        if rng.random() < 0.5:
            m[:, int(rng.integers(0, w)):] = False
        ok = m & np.isfinite(x)
        expect = [np.median(x[i][ok[i]]) if ok[i].any() else np.nan for i in range(r)]
        np.testing.assert_array_equal(masked_median(x, m), expect)
