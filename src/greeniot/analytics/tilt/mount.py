"""Mount faults: a tilt sensor moved or re-mounted, told apart from a leaning tree. Pure.

A root plate rotates under load, in the wind; without wind it creeps (hours to days) or, when
it fails, goes on moving. A sensor knocked or re-mounted jumps between two readings, by a
similar amount on both axes (the housing turns about an arbitrary axis), in calm weather, and
its temperature jumps with it (it was handled, warmed, moved into sun or shade) — the daily
cycle moves a node's temperature by well under a degree per reading. Such a jump is a device
check, never a lean alarm; the tree's baseline is re-learned once a crew confirms the mount.
Thresholds: :class:`greeniot.analytics.params.TiltParams` (``mount_step_deg``,
``mount_temp_c``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import F64, I64, Bool, as_1d, as_2d, same_shape


@dataclass(frozen=True, slots=True)
class MountJump:
    """Per row: a jump found, its tilt size [deg] (hypot of both axes), the temperature jump
    [°C] and the time of the reading after the jump [ms UTC] (0 if none)."""

    found: Bool
    step_deg: F64
    temp_jump_c: F64
    ts_ms: I64


def mount_jump(ts_ms: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray,
               temp_c: np.ndarray, calm: np.ndarray, *, after_ms: np.ndarray | int,
               step_deg: float, temp_jump_c: float) -> MountJump:
    """Find a mount jump between consecutive calm readings newer than ``after_ms``.

    Parameters
    ----------
    ts_ms : (rows, samples) int64, time order [ms UTC], 0 = empty
    pitch_deg, roll_deg : (rows, samples) raw tilt [deg]
    temp_c : (rows, samples) sensor temperature [°C], NaN unknown (then no jump is found:
        without the temperature a calm two-axis step may be the tree)
    calm : (rows, samples) bool, readings that may be judged (classified calm or windy: the
        temperature jump, not the wind, tells the sensor from the tree)
    after_ms : (rows,) or scalar; only readings after it are judged (each jump once) [ms UTC]
    step_deg : float, least jump on *each* axis [deg]
    temp_jump_c : float, least temperature jump [°C]

    Returns
    -------
    MountJump (the newest jump per row).
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    p = as_2d("pitch_deg", pitch_deg, np.float64)
    r = as_2d("roll_deg", roll_deg, np.float64)
    t = as_2d("temp_c", temp_c, np.float64)
    c = as_2d("calm", calm, bool)
    same_shape(ts.shape, pitch_deg=p, roll_deg=r, temp_c=t, calm=c)
    rows = ts.shape[0]
    after = as_1d("after_ms", after_ms, rows, np.int64)
    if ts.shape[1] < 2:
        z = np.zeros(rows)
        return MountJump(np.zeros(rows, bool), z, z.copy(), np.zeros(rows, np.int64))
    dp = np.abs(np.diff(p, axis=1))
    dr = np.abs(np.diff(r, axis=1))
    dt = np.abs(np.diff(t, axis=1))
    pair = (ts[:, :-1] > 0) & c[:, :-1] & c[:, 1:] & (ts[:, 1:] > after[:, None])
    with np.errstate(invalid="ignore"):
        jump = pair & (dp >= step_deg) & (dr >= step_deg) & (dt >= temp_jump_c)
    found = jump.any(axis=1)
    last = np.where(jump, np.arange(jump.shape[1]), -1).max(axis=1)
    j = np.maximum(last, 0)
    ar = np.arange(rows)
    return MountJump(found, np.where(found, np.hypot(dp[ar, j], dr[ar, j]), np.nan),
                     np.where(found, dt[ar, j], np.nan),
                     np.where(found, ts[ar, j + 1], 0).astype(np.int64))
