"""Foliage state of each tree at each time: evergreen, leaf-on, leaf fall, leaf-off, leaf-out.

Leaves lower a tree's sway frequency and raise its damping [Leaves], [KaneJames2011],
[Acer2010], [Moore2004], so a deciduous tree's frequency steps twice a year for reasons that
have nothing to do with its anchorage. The sway stage keeps one baseline per foliage state and
compares a tree only with its own baseline of the same state.

The state comes from the calendar: the tree's leaf habit (from the registry, else its species'
genus, :data:`DECIDUOUS_GENERA`), the hemisphere of its site (southern: the windows shifted by
half a year) and the day of the year against four window starts (:class:`SeasonWindows`,
defaults in :mod:`greeniot.analytics.params`; per species in ``SwayParams.windows_by_species``).
Calendar dates are only a prior: the real leaf fall moves by weeks from year to year and
accelerometer sway tracks it within days to two weeks [USGS2022]; the stage also removes a
frequency step shared by a site's whole deciduous population near a transition (phenology,
not failure).

References: see :mod:`greeniot.analytics.params`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from greeniot.clock import MS_PER_DAY

#: Foliage codes (stored per burst).
EVERGREEN, LEAF_ON, LEAF_FALL, LEAF_OFF, LEAF_OUT = 0, 1, 2, 3, 4
N_STATES = 5
STATE_NAMES = ("evergreen", "leaf-on", "leaf fall", "leaf-off", "leaf-out")



@dataclass(frozen=True, slots=True)
class SeasonWindows:
    """Day-of-year [1–366] on which each foliage phase starts, northern hemisphere.

    In order through the year: ``leaf_out`` → ``leaf_on`` → ``leaf_fall`` → ``leaf_off``
    (which runs on into the next year). Southern-hemisphere sites use the same windows
    shifted by 182 days.
    """

    leaf_out: int
    leaf_on: int
    leaf_fall: int
    leaf_off: int

    def __post_init__(self) -> None:
        days = (self.leaf_out, self.leaf_on, self.leaf_fall, self.leaf_off)
        if not all(1 <= d <= 366 for d in days) or list(days) != sorted(days):
            raise ValueError(f"SeasonWindows must be days of year 1..366 in the order "
                             f"leaf_out < leaf_on < leaf_fall < leaf_off, got {days}")

    def as_array(self) -> NDArray[np.int64]:
        return np.array([self.leaf_out, self.leaf_on, self.leaf_fall, self.leaf_off], np.int64)


def windows_for(species: str | None, default: SeasonWindows,
                by_species: Mapping[str, SeasonWindows]) -> SeasonWindows:
    """The windows of a species (exact name, then genus), else ``default``."""
    if species:
        s = species.strip()
        if s in by_species:
            return by_species[s]
        genus = s.split(" ")[0]
        if genus in by_species:
            return by_species[genus]
    return default


def day_of_year(ts_ms: NDArray[np.int64]) -> NDArray[np.int64]:
    """Day of year [1–366] of UTC times [ms] (numpy datetime arithmetic, vectorized)."""
    t = np.asarray(ts_ms, np.int64).astype("datetime64[ms]")
    days = (t.astype("datetime64[D]") - t.astype("datetime64[Y]")).astype(np.int64)
    return np.asarray(days + 1, np.int64)


def foliage_state(ts_ms: np.ndarray, deciduous: np.ndarray, southern: np.ndarray,
                  windows: np.ndarray) -> NDArray[np.int8]:
    """Foliage code of every (tree, time).

    Parameters
    ----------
    ts_ms : (trees, times) or (trees,) UTC times [ms]
    deciduous : (trees,) bool, leaf habit
    southern : (trees,) bool, site south of the equator (windows shifted by 182 days)
    windows : (trees, 4) day-of-year starts of leaf-out, leaf-on, leaf fall, leaf-off

    Returns
    -------
    int8 codes of the shape of ``ts_ms``: :data:`EVERGREEN` for evergreen trees, else one of
    :data:`LEAF_OUT`, :data:`LEAF_ON`, :data:`LEAF_FALL`, :data:`LEAF_OFF`.
    """
    ts = np.asarray(ts_ms, np.int64)
    one = ts.ndim == 1
    t2 = ts[:, None] if one else ts
    dec = np.asarray(deciduous, bool).ravel()
    south = np.asarray(southern, bool).ravel()
    w = np.asarray(windows, np.int64).reshape(-1, 4)
    if not dec.size == south.size == w.shape[0] == t2.shape[0]:
        raise ValueError(f"deciduous ({dec.size}), southern ({south.size}) and windows "
                         f"({w.shape[0]}) need one entry per row of ts_ms ({t2.shape[0]})")
    shift = np.where(south, 182 * MS_PER_DAY, 0)[:, None]
    doy = day_of_year(t2 - shift)
    out = np.full(t2.shape, LEAF_OFF, np.int8)  # before leaf-out, and from leaf-off on
    out[doy >= w[:, 0:1]] = LEAF_OUT
    out[doy >= w[:, 1:2]] = LEAF_ON
    out[doy >= w[:, 2:3]] = LEAF_FALL
    out[doy >= w[:, 3:4]] = LEAF_OFF
    out[~dec] = EVERGREEN
    return out[:, 0] if one else out


def near_transition(ts_ms: np.ndarray, southern: np.ndarray, windows: np.ndarray,
                    margin_days: float) -> NDArray[np.bool_]:
    """(trees,) whether each time lies in leaf-out or leaf fall, or within ``margin_days``
    [day] of either (a phase that came early or late: the calendar is only a prior)."""
    ts = np.asarray(ts_ms, np.int64).ravel()
    south = np.asarray(southern, bool).ravel()
    w = np.asarray(windows, np.int64).reshape(-1, 4)
    doy = day_of_year(ts - np.where(south, 182 * MS_PER_DAY, 0))
    m = float(margin_days)

    def within(start: NDArray[np.int64], end: NDArray[np.int64]) -> NDArray[np.bool_]:
        d0 = (doy - (start - m)) % 365.25
        return np.asarray(d0 <= (end - start) + 2 * m)

    return within(w[:, 0], w[:, 1]) | within(w[:, 2], w[:, 3])


def tree_windows(species: Sequence[str | None], default: SeasonWindows,
                 by_species: Mapping[str, SeasonWindows]) -> NDArray[np.int64]:
    """(trees, 4) window starts for each tree's species."""
    if not species:
        return np.zeros((0, 4), np.int64)
    return np.stack([windows_for(s, default, by_species).as_array() for s in species])
