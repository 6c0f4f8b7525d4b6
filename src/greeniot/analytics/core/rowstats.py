"""Vectorized statistics over masked rows (devices × samples), shared by the detectors.

Every function works on all rows at once: no Python loop over rows. Masked-out entries are
ignored whatever they hold (NaN included). Rows with too few valid entries give NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]


def as_2d(name: str, a: ArrayLike, dtype: type | None = None) -> np.ndarray:
    """Return ``a`` as a 2-D array or raise a ValueError that names the argument."""
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, samples), got shape {arr.shape}")
    return arr


def as_1d(name: str, a: ArrayLike, rows: int | None = None,
          dtype: type | None = None) -> np.ndarray:
    """Return ``a`` as a 1-D array (scalars broadcast to ``rows``) or raise naming it."""
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim == 0 and rows is not None:
        return np.full(rows, arr, dtype=arr.dtype)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (rows,), got shape {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {rows}")
    return arr


def same_shape(shape: tuple[int, ...], **arrays: np.ndarray) -> None:
    """Raise a ValueError naming the first array whose shape differs from ``shape``."""
    for name, arr in arrays.items():
        if arr.shape != shape:
            raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")


def detector_inputs(now_ms: int, **arrays: ArrayLike) -> dict[str, np.ndarray]:
    """Check a detector's inputs: ``now_ms`` an int and all arrays 2-D of one shape.

    Returns the arrays by name; raises a ValueError naming the first that does not fit.
    """
    if not isinstance(now_ms, (int, np.integer)):
        raise ValueError(f"now_ms must be an int (ms UTC), got {type(now_ms).__name__}")
    out = {name: as_2d(name, a) for name, a in arrays.items()}
    first = next(iter(out.values()))
    same_shape(first.shape, **out)
    return out


def masked_median(x: np.ndarray, mask: np.ndarray) -> F64:
    """Median of each row over the entries where ``mask`` is true (NaN where none).

    Masked-out entries become NaN, which ``np.sort`` places last; each row's median is then
    picked at its own count. A full sort sounds wasteful next to a selection, but numpy's
    vectorized (SIMD) sort beat a ±inf-padded ``np.partition`` 3–5× at every width measured
    here (16–512 samples).
    """
    x = as_2d("x", x)
    mask = as_2d("mask", mask, bool)
    same_shape(x.shape, mask=mask)
    rows, w = x.shape
    if rows == 0:
        return np.zeros(0)
    if w == 0:
        return np.full(rows, np.nan)
    valid = mask & np.isfinite(x)
    # Only the columns some row uses are sorted: detectors pass a window's whole tail and
    # mask all but its newest part (a 2-hour lean among 64 slots), so this often halves the
    # sort. The medians are the same: dropped columns hold no valid entry.
    used = np.flatnonzero(valid.any(axis=0))
    if used.size == 0:
        return np.full(rows, np.nan)
    if used.size < w:
        cols = slice(int(used[0]), int(used[-1]) + 1)
        x, valid = x[:, cols], valid[:, cols]
        w = x.shape[1]
    y = np.where(valid, x, np.nan)
    y.sort(axis=1)
    n = valid.sum(axis=1)
    lo = np.take_along_axis(y, np.maximum((n - 1) // 2, 0)[:, None], axis=1)[:, 0]
    hi = np.take_along_axis(y, np.minimum(n // 2, w - 1)[:, None], axis=1)[:, 0]
    med = 0.5 * (lo.astype(np.float64) + hi)
    med[n == 0] = np.nan
    return np.asarray(med, np.float64)


def masked_mean(x: np.ndarray, mask: np.ndarray) -> F64:
    """Mean of each row over the entries where ``mask`` is true (NaN where none)."""
    valid = mask & np.isfinite(x)
    n = valid.sum(axis=1)
    s = np.where(valid, x, 0).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


@dataclass(frozen=True, slots=True)
class LinFit:
    """Per-row straight line ``y = level + slope · (t − t_mean)``.

    ``se_slope`` is the ordinary-least-squares standard error of the slope; ``span`` the range of
    ``t`` over the samples used; ``n`` their number. Rows with fewer than 3 samples are NaN.
    """

    slope: F64
    level: F64
    t_mean: F64
    se_slope: F64
    span: F64
    n: I64


def linfit(t: np.ndarray, y: np.ndarray, mask: np.ndarray) -> LinFit:
    """Least-squares line per row from masked sums (normal equations, centred ``t``)."""
    t = as_2d("t", t, np.float64)
    y = as_2d("y", y)
    mask = as_2d("mask", mask, bool)
    same_shape(t.shape, y=y, mask=mask)
    valid = mask & np.isfinite(y) & np.isfinite(t)
    n = valid.sum(axis=1)
    tz = np.where(valid, t, 0.0)
    yz = np.where(valid, y, 0.0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.maximum(n, 1)
        tm = tz.sum(axis=1) / nn
        ym = yz.sum(axis=1) / nn
        dt = np.where(valid, t - tm[:, None], 0.0)
        dy = np.where(valid, yz - ym[:, None], 0.0)
        stt = (dt * dt).sum(axis=1)
        sty = (dt * dy).sum(axis=1)
        slope = sty / stt
        resid = np.where(valid, dy - slope[:, None] * dt, 0.0)
        s2 = (resid * resid).sum(axis=1) / np.maximum(n - 2, 1)
        se = np.sqrt(s2 / stt)
        tmax = np.where(valid, t, -np.inf).max(axis=1, initial=-np.inf)
        tmin = np.where(valid, t, np.inf).min(axis=1, initial=np.inf)
        span = tmax - tmin
    bad = (n < 3) | ~(stt > 0)
    for arr in (slope, ym, tm, se, span):
        arr[bad] = np.nan
    return LinFit(slope, ym, tm, se, span, n.astype(np.int64))


def robust_linfit(t: np.ndarray, y: np.ndarray, mask: np.ndarray, *, k: float = 3.0,
                  floor: float = 1e-9) -> LinFit:
    """Least squares, then once more without residuals beyond ``k`` scaled MADs.

    One trimming pass removes isolated outliers (a bumped sensor, one bad hourly value) at the
    cost of two linear passes plus one selection per row, where Theil–Sen would cost O(n²).
    ``floor`` keeps exact lines (MAD 0) from trimming everything.
    """
    first = linfit(t, y, mask)
    pred = first.level[:, None] + first.slope[:, None] * (t - first.t_mean[:, None])
    resid = np.abs(y - pred)
    valid = mask & np.isfinite(resid)
    scale = 1.4826 * masked_median(resid, valid)
    limit = k * np.maximum(np.nan_to_num(scale, nan=np.inf), floor)
    keep = valid & (resid <= limit[:, None])
    return linfit(t, y, keep)


def group_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[F64, I64]:
    """Median of ``values`` per group id in ``[0, n_groups)`` (NaN for empty groups).

    Groups are packed into a (groups × largest group) matrix — one stable sort by group id,
    skipped when the ids already come in order — and :func:`masked_median` selects each
    row's middle. If one group dwarfs the others (the matrix would be mostly padding), it
    sorts by (group, value) instead.
    """
    values = np.asarray(values, np.float64).ravel()
    groups = np.asarray(groups, np.int64).ravel()
    if values.shape != groups.shape:
        raise ValueError(f"groups has shape {groups.shape}, values has {values.shape}")
    ok = np.isfinite(values)
    v = values[ok]
    g = groups[ok]
    if g.size and (g.min() < 0 or g.max() >= n_groups):
        raise ValueError(f"groups must lie in [0, {n_groups})")
    counts = np.bincount(g, minlength=n_groups).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    med = np.full(n_groups, np.nan)
    if g.size == 0:
        return med, counts
    width = int(counts.max())
    if n_groups * width <= 4 * g.size + 1_000_000:
        if np.any(g[1:] < g[:-1]):
            order = np.argsort(g, kind="stable")
            v, g = v[order], g[order]
        rank = np.arange(g.size) - starts[g]
        mat = np.zeros((n_groups, width))
        filled = np.zeros((n_groups, width), bool)
        mat[g, rank] = v
        filled[g, rank] = True
        return masked_median(mat, filled), counts
    order = np.lexsort((v, g))
    v = v[order]
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    med[has] = 0.5 * (v[lo] + v[hi])
    return med, counts


def pack_groups(groups: np.ndarray, ts_ms: np.ndarray, n_groups: int,
                *columns: np.ndarray) -> tuple[I64, list[F64]]:
    """Scatter samples into (groups × samples) matrices sorted by time within each group.

    Returns ``ts_ms`` (padding 0) and each column (padding NaN), with as many columns as the
    largest group has samples. Used to merge several stations of one site into one series.
    """
    groups = np.asarray(groups, np.int64).ravel()
    ts_ms = np.asarray(ts_ms, np.int64).ravel()
    order = np.lexsort((ts_ms, groups))
    g = groups[order]
    counts = np.bincount(g, minlength=n_groups).astype(np.int64)
    width = int(counts.max()) if counts.size else 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rank = np.arange(g.size) - starts[g]
    ts_mat = np.zeros((n_groups, width), np.int64)
    ts_mat[g, rank] = ts_ms[order]
    mats = []
    for col in columns:
        m = np.full((n_groups, width), np.nan)
        m[g, rank] = np.asarray(col, np.float64).ravel()[order]
        mats.append(m)
    return ts_mat, mats
