"""Alarm latching: one event when a condition starts or escalates, none while it lasts.

ThingsBoard raises duplicate alarms when two messages arrive close together; we must not. Each
condition is a level per subject (0 none, 1 watch/info, 2 warning, 3 critical). A detector
gives two levels: ``on`` with the raising thresholds and ``hold`` with relaxed (hysteresis)
thresholds (``hold >= on``). The latched level becomes ``max(on, min(active, hold))``: it rises
at once, falls only when the value leaves the hysteresis band, and emits only when it rises —
so a value hovering at a threshold raises one event, and a condition that clears re-arms.
Where the detector cannot judge (no calm data in a storm, a silent probe) the level is kept.
"""

from __future__ import annotations

import numpy as np

from greeniot.analytics.core.rowstats import as_1d

SEVERITY = ("info", "info", "warning", "critical")  # by level; level 0 never emits


def grade(value: np.ndarray, thresholds: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Level 0–3 of a "higher is worse" value against (watch, warning, critical) thresholds.

    Parameters
    ----------
    value : (rows,) in the thresholds' unit; NaN grades 0
    thresholds : (3,) or (rows, 3) ascending
    scale : multiply thresholds (``hysteresis`` for the hold level)
    """
    v = np.asarray(value, np.float64)
    th = np.asarray(thresholds, np.float64) * scale
    if th.shape[-1] != 3:
        raise ValueError(f"thresholds must end in 3 levels, got shape {th.shape}")
    th = np.broadcast_to(th, (*v.shape, 3))
    with np.errstate(invalid="ignore"):
        return np.asarray((v[..., None] >= th).sum(axis=-1), np.int8)


def graded(value: np.ndarray, thresholds: np.ndarray,
           hysteresis: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(on, hold, known)`` for a graded value: raise at the thresholds, keep down to
    ``hysteresis`` × them, and judge only where the value is finite."""
    v = np.asarray(value, np.float64)
    return grade(v, thresholds), grade(v, thresholds, hysteresis), np.isfinite(v)


def latch(active: np.ndarray, on: np.ndarray, hold: np.ndarray,
          known: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Advance latched levels by one tick.

    Parameters
    ----------
    active : (rows,) int8, latched level before this tick
    on, hold : (rows,) int8, level with raising / with relaxed thresholds
    known : (rows,) bool, where the detector could judge (elsewhere ``active`` is kept)

    Returns
    -------
    (new_active, emit): the new levels, and where an event is due (onset or escalation).
    """
    a = as_1d("active", active, None, np.int8)
    on_ = as_1d("on", on, a.size, np.int8)
    hold_ = as_1d("hold", hold, a.size, np.int8)
    k = np.ones(a.size, bool) if known is None else as_1d("known", known, a.size, bool)
    judged = np.maximum(on_, np.minimum(a, np.maximum(hold_, on_)))
    new = np.where(k, judged, np.maximum(a, on_)).astype(np.int8)
    return new, new > a


class Latches:
    """Latched levels of several conditions over growing rows (one array per condition)."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: dict[str, np.ndarray] = {}

    def level(self, name: str, rows: int) -> np.ndarray:
        """The latched levels of ``name`` for rows ``0..rows-1`` (new rows at 0)."""
        cur = self._levels.get(name, np.zeros(0, np.int8))
        if cur.size < rows:
            cur = np.concatenate([cur, np.zeros(rows - cur.size, np.int8)])
            self._levels[name] = cur
        return cur[:rows]

    def update(self, name: str, on: np.ndarray, hold: np.ndarray,
               known: np.ndarray | None = None, rows: slice | None = None) -> np.ndarray:
        """Latch ``name`` (for all rows, or the block ``rows``); return the emit mask."""
        n = np.asarray(on).shape[0]
        sl = rows if rows is not None else slice(0, n)
        full = self.level(name, max(sl.stop or n, n))
        new, emit = latch(full[sl], on, hold, known)
        full[sl] = new
        return emit

    def update_rows(self, name: str, n_rows: int, rows: np.ndarray, on: np.ndarray,
                    hold: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
        """Latch ``name`` for a subset of rows (indices); return the emit mask of that subset."""
        full = self.level(name, n_rows)
        new, emit = latch(full[rows], on, hold, known)
        full[rows] = new
        return emit

    def reset(self, name: str, rows: np.ndarray) -> None:
        """Clear the latched level of some rows (e.g. after a re-baselining)."""
        if name in self._levels:
            r = np.asarray(rows, np.int64)
            r = r[r < self._levels[name].size]
            self._levels[name][r] = 0
