"""Storm-time tilt response: the non-elastic lean offset and the compliance to wind load. Pure.

While the wind blows, a tree's trunk-base tilt is its calm position plus an *elastic* response
that grows with the wind load and springs back when the load drops, plus whatever the root
plate has *yielded* (a non-elastic offset that does not spring back). Pulling tests keep
root-plate tilt elastic up to about 0.25° [SAG]; wind-loading studies read root-plate
inclination against the wind load (wind speed squared) to judge anchorage during the storm
itself [Gocke2018], [James2013]. Model, per tree and storm::

    m(t) = |tilt(t) − tilt_pre| = offset(t) + c · W(t) + noise

``tilt_pre`` is the calm level before the storm's onset (so ``offset`` starts at 0), ``W`` the
wind load at the sample (station mean wind squared [(m/s)²], or the estate's sway RMS [deg]
without a station) and ``c`` the tree's compliance [deg per unit load]. ``c`` is estimated
from the storm's own data as a low quantile of block ratios ``Σm / ΣW`` over consecutive
strong-wind samples: yielding only ever *adds* tilt, so the stiffest sustained blocks are the
elastic ones. The offset of each sample is then ``m − c·W``; its median over the last minutes
is the current non-elastic lean, and its change against earlier samples taken at about the
same load says whether it is growing ("growing offset at equal wind": a response that is not
quite linear in the load cancels out there). Lulls count with a small ``W``: lean that does
not recover between gusts shows directly.

Limits: the response is taken as linear in ``W``, so a tree whose response stiffens or softens
strongly with load shows part of it as offset at the peak (it does not persist); the magnitude
form assumes the yield is roughly downwind (it is, for wind-thrown trees), a yield at right
angles to the current wind is underestimated. Readings must be averages over about a minute or
more so sway is averaged out; bursts are analysed by :mod:`greeniot.analytics.sway`.

References: see :mod:`greeniot.analytics.params` ([SAG], [James2013], [Gocke2018]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import F64, I64, as_1d, detector_inputs, masked_median
from greeniot.clock import MS_PER_MIN


@dataclass(frozen=True, slots=True)
class StormResponse:
    """Per row: current non-elastic offset [deg] and its growth over the growth window [deg],
    the reference (elastic) and recent compliance [deg per unit load], and the samples used."""

    offset_deg: F64
    growth_deg: F64
    se_deg: F64  # standard error of the current offset, from the row's own scatter [deg]
    compliance_ref: F64
    compliance_recent: F64
    n: I64


def storm_response(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
                   load: np.ndarray, mask: np.ndarray, *, pre_pitch_deg: np.ndarray,
                   pre_roll_deg: np.ndarray, now_ms: int, current_minutes: float = 20.0,
                   growth_minutes: float = 60.0, block_samples: int = 6,
                   ref_quantile: float = 0.25, min_load_frac: float = 0.3,
                   equal_load_frac: float = 0.15, min_samples: int = 3) -> StormResponse:
    """Non-elastic offset and compliance of every row's storm samples at once.

    Parameters
    ----------
    ts_ms : (rows, samples) int64 sample times in time order [ms UTC], 0 = empty
    pitch_deg, roll_deg : (rows, samples) temperature-compensated tilt [deg]
    load : (rows, samples) wind load at each sample [(m/s)² or deg], NaN unknown
    mask : (rows, samples) bool, samples of the storm (since its onset)
    pre_pitch_deg, pre_roll_deg : (rows,) calm level before the storm [deg]
    now_ms : int, event time [ms UTC]
    current_minutes : float, the current offset is the median of this many minutes [min]
        (or of the newest ``min_samples`` samples, when readings are sparser)
    growth_minutes : float, growth = current offset − the offset of samples at least this
        old [min] taken at about the current load (within ``equal_load_frac``): "growing
        offset at equal wind"; while the storm is younger than that, against 0 (the pre-storm
        level); NaN when no earlier sample had a similar load
    equal_load_frac : float, relative load difference that counts as equal wind
    block_samples : int, consecutive strong samples per compliance block
    ref_quantile : float, quantile of the block compliances taken as elastic
    min_load_frac : float, a sample is strong at ≥ this × the row's peak load
    min_samples : int, fewest samples behind the current offset

    Returns
    -------
    StormResponse; NaN offset where the row has too few samples or no complete block.
    """
    a = detector_inputs(now_ms, ts_ms=ts_ms, pitch_deg=pitch_deg, roll_deg=roll_deg,
                        load=load, mask=mask)
    ts = a["ts_ms"].astype(np.int64)
    rows, n = ts.shape
    if block_samples < 1:
        raise ValueError(f"block_samples must be >= 1, got {block_samples}")
    if not 0.0 <= ref_quantile <= 1.0:
        raise ValueError(f"ref_quantile must be in [0, 1], got {ref_quantile}")
    p0 = as_1d("pre_pitch_deg", pre_pitch_deg, rows)
    r0 = as_1d("pre_roll_deg", pre_roll_deg, rows)
    w = a["load"]
    m = np.hypot(a["pitch_deg"] - p0[:, None], a["roll_deg"] - r0[:, None])
    sel = (a["mask"].astype(bool) & (ts > 0) & (ts <= now_ms) & np.isfinite(m)
           & np.isfinite(w) & (w >= 0))
    peak = np.where(sel, w, 0.0).max(axis=1, initial=0.0)
    strong = sel & (w >= min_load_frac * peak[:, None]) & (peak[:, None] > 0)

    # compliance blocks: consecutive strong samples, complete blocks only
    rank = np.cumsum(strong, axis=1) - 1
    n_blocks = max(1, n // block_samples + 1)
    block = np.where(strong, rank // block_samples, 0)
    key = (np.arange(rows)[:, None] * n_blocks + block)[strong]
    sum_m = np.bincount(key, m[strong], rows * n_blocks).reshape(rows, n_blocks)
    sum_w = np.bincount(key, w[strong], rows * n_blocks).reshape(rows, n_blocks)
    cnt = np.bincount(key, None, rows * n_blocks).reshape(rows, n_blocks)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where((cnt == block_samples) & (sum_w > 0), sum_m / sum_w, np.nan)
    has_block = np.isfinite(ratio).any(axis=1)
    c_ref = np.full(rows, np.nan)
    if has_block.any():
        c_ref[has_block] = np.nanquantile(ratio[has_block], ref_quantile, axis=1)

    offset = m - c_ref[:, None] * w
    cur_ms = int(current_minutes * MS_PER_MIN)
    grow_ms = int(growth_minutes * MS_PER_MIN)
    # the last ``current_minutes``, or the newest ``min_samples`` samples if that holds fewer
    # (10-min readings), as long as they are within the growth window
    from_end = np.cumsum(sel[:, ::-1], axis=1)[:, ::-1]
    cur = sel & ((ts > now_ms - cur_ms) | ((from_end <= min_samples) & (ts > now_ms - grow_ms)))
    n_cur = cur.sum(axis=1)
    current = masked_median(offset, cur)
    # growth at equal wind: against the earlier samples (at least the growth window old)
    # whose load was within ``equal_load_frac`` of the current load — a response that is
    # not quite linear in the load then cancels out
    w_cur = masked_median(w, cur)
    older = sel & (ts <= now_ms - grow_ms)
    with np.errstate(invalid="ignore"):
        equal = older & (np.abs(w - w_cur[:, None]) <= equal_load_frac * w_cur[:, None])
    # while the storm still strengthens (or has eased) no earlier sample had the current
    # load: then the ``min_samples`` older samples nearest in load stand in. A response that
    # softens with load shows part of the load difference as growth; the warning's offset
    # threshold (twice the elastic limit, by z standard errors) bounds what that can fake.
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.where(older, np.abs(w - w_cur[:, None]), np.inf)
    kth = np.partition(dist, min(min_samples, n) - 1, axis=1)[:, min(min_samples, n) - 1] \
        if n else np.full(rows, np.inf)
    nearest = older & (dist <= kth[:, None]) & np.isfinite(kth)[:, None]
    equal = np.where((equal.sum(axis=1) >= min_samples)[:, None], equal, nearest)
    earlier = np.where(equal.sum(axis=1) >= min_samples, masked_median(offset, equal), np.nan)
    # a storm younger than the growth window started from the pre-storm level: offset 0
    first = np.where(sel, ts, np.iinfo(np.int64).max).min(axis=1)
    young = first > now_ms - grow_ms - cur_ms
    earlier = np.where(np.isfinite(earlier), earlier, np.where(young, 0.0, np.nan))
    ok = (n_cur >= min_samples) & np.isfinite(c_ref)
    current = np.where(ok, current, np.nan)
    growth = current - earlier

    # the row's own scatter of offsets (gusts the station's 10-min mean does not resolve grow
    # with the elastic response): robust sd of successive differences of selected samples
    rank_all = np.cumsum(sel, axis=1)
    order = np.argsort(np.where(sel, rank_all, n + 1), axis=1, kind="stable")
    packed = np.take_along_axis(np.where(sel, offset, np.nan), order, axis=1)
    diffs = np.diff(packed, axis=1)
    ok_d = np.isfinite(diffs)
    med_d = masked_median(diffs, ok_d)
    mad = masked_median(np.abs(diffs - med_d[:, None]), ok_d)
    sd = 1.4826 * mad / np.sqrt(2.0)
    se = 1.25 * sd / np.sqrt(np.maximum(n_cur, 1))

    recent = strong & (ts > now_ms - grow_ms)
    with np.errstate(invalid="ignore", divide="ignore"):
        c_recent = (np.where(recent, m, 0.0).sum(axis=1)
                    / np.where(recent, w, 0.0).sum(axis=1))
    c_recent = np.where(recent.sum(axis=1) >= block_samples, c_recent, np.nan)
    return StormResponse(current.astype(np.float64), growth.astype(np.float64),
                         np.where(ok, se, np.nan).astype(np.float64), c_ref,
                         c_recent.astype(np.float64), n_cur.astype(np.int64))


def storm_lean_level(offset_deg: np.ndarray, growth_deg: np.ndarray, thresholds: np.ndarray,
                     *, growth_deg_min: float, hysteresis: float,
                     se_deg: np.ndarray | None = None, z: float = 2.0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graded levels (on, hold, known) of the storm-time offset.

    Watch at the elastic limit; warning needs the offset past its threshold *and* growing by
    at least ``growth_deg_min`` over the growth window (a yield still under way while the wind
    blows), critical needs only the offset. With ``se_deg`` (the offset's standard error), the
    offset must pass a threshold by ``z`` standard errors and the growth must exceed
    ``z·√2`` of them too: a tree whose readings scatter with the gusts needs a clearer yield.
    ``thresholds`` (rows, 3) [deg].
    """
    off = np.asarray(offset_deg, np.float64)
    th = np.asarray(thresholds, np.float64)
    se = np.zeros(off.shape) if se_deg is None else np.nan_to_num(np.asarray(se_deg, np.float64))
    sure = off - z * se
    with np.errstate(invalid="ignore"):
        on = (sure[:, None] >= th).sum(axis=1).astype(np.int8)
        hold = (off[:, None] >= hysteresis * th).sum(axis=1).astype(np.int8)
        growing = (np.asarray(growth_deg, np.float64)
                   >= np.maximum(growth_deg_min, z * np.sqrt(2.0) * se))
    on = np.where((on == 2) & ~growing, 1, on).astype(np.int8)
    return on, np.maximum(hold, on).astype(np.int8), np.isfinite(off)
