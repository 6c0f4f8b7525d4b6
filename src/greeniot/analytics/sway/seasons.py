"""Seasonal sway baselines: per tree and foliage state, and the drop judged against them.

A deciduous tree sways faster and with less damping once its leaves are gone [Leaves],
[KaneJames2011], [Acer2010]: its leaf-off frequency is its own, not a stiffness gain, and a
leaf-on frequency read against a leaf-off baseline is no stiffness loss. So each tree keeps a
small ring of trusted bursts per foliage state (:mod:`greeniot.analytics.sway.phenology`) and
its newest bursts are compared with the baseline of the state they were measured in:

- evergreen → its one baseline; leaf-on → leaf-on;
- leaf-off → leaf-off (until that exists, leaf-on: lower, so phenology cannot alarm);
- leaf fall and leaf-out → leaf-on: between the two states the frequency lies between the
  leaf-on and leaf-off ones, so only a drop below the *leaf-on* level is not phenology.

Near a transition a step shared by the site's whole deciduous population is phenology, not
failure (the calendar may be weeks off): each deciduous tree's ratio to its baseline is then
divided by the site's median ratio (:func:`population_ratio`). Away from transitions nothing
is removed, so a storm that loosens many trees at once still shows.

References: see :mod:`greeniot.analytics.params`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import F64, I64, as_2d, masked_median, same_shape
from greeniot.analytics.sway.phenology import (
    EVERGREEN,
    LEAF_FALL,
    LEAF_OFF,
    LEAF_ON,
    LEAF_OUT,
    N_STATES,
)


class SeasonRings:
    """Per row and foliage state, the last ``ring`` trusted bursts ``spacing_ms`` apart:
    their times [ms], frequencies [Hz] and damping ratios [-]. Arrays (rows, states, ring)."""

    __slots__ = ("freq", "head", "last", "ring", "sigma_floor", "spacing_ms", "ts", "zeta")

    def __init__(self, ring: int, spacing_ms: int) -> None:
        if ring < 2:
            raise ValueError(f"season ring must hold >= 2 bursts, got {ring}")
        self.ring = int(ring)
        self.spacing_ms = int(spacing_ms)
        self.ts = np.zeros((0, N_STATES, self.ring), np.int64)
        self.freq = np.full((0, N_STATES, self.ring), np.nan)
        self.zeta = np.full((0, N_STATES, self.ring), np.nan)
        self.head = np.zeros((0, N_STATES), np.int64)
        self.last = np.zeros((0, N_STATES), np.int64)
        self.sigma_floor = np.zeros((0, N_STATES))  # scatter of a restored baseline

    def ensure_rows(self, n: int) -> None:
        k = n - self.ts.shape[0]
        if k <= 0:
            return
        self.ts = np.concatenate([self.ts, np.zeros((k, N_STATES, self.ring), np.int64)])
        self.freq = np.concatenate([self.freq, np.full((k, N_STATES, self.ring), np.nan)])
        self.zeta = np.concatenate([self.zeta, np.full((k, N_STATES, self.ring), np.nan)])
        self.head = np.concatenate([self.head, np.zeros((k, N_STATES), np.int64)])
        self.last = np.concatenate([self.last, np.zeros((k, N_STATES), np.int64)])
        self.sigma_floor = np.concatenate([self.sigma_floor, np.zeros((k, N_STATES))])

    def push(self, rows: np.ndarray, ts_ms: np.ndarray, state: np.ndarray,
             freq_hz: np.ndarray, damping: np.ndarray) -> int:
        """Add trusted bursts (finite frequency) in time order, each only if ``spacing_ms``
        after the last one kept for its row and state. Returns how many were kept."""
        r = np.asarray(rows, np.int64).ravel()
        t = np.asarray(ts_ms, np.int64).ravel()
        s = np.asarray(state, np.int64).ravel()
        f = np.asarray(freq_hz, np.float64).ravel()
        z = np.asarray(damping, np.float64).ravel()
        kept = 0
        for i in np.lexsort((t, r)):  # bursts per tick are few: a plain loop is clear
            if not np.isfinite(f[i]) or t[i] < self.last[r[i], s[i]] + self.spacing_ms:
                continue
            h = self.head[r[i], s[i]] % self.ring
            self.ts[r[i], s[i], h] = t[i]
            self.freq[r[i], s[i], h] = f[i]
            self.zeta[r[i], s[i], h] = z[i]
            self.head[r[i], s[i]] += 1
            self.last[r[i], s[i]] = t[i]
            kept += 1
        return kept

    def baseline(self, rows: np.ndarray, state: np.ndarray, before_ms: np.ndarray
                 ) -> tuple[F64, F64, I64, F64]:
        """Median frequency [Hz], median damping [-], count, and the frequency's relative
        scatter (σ = 1.4826 × median absolute deviation / median, at least that of a restored
        baseline) of each row's ring entries of ``state`` older than ``before_ms``."""
        r = np.asarray(rows, np.int64).ravel()
        s = np.asarray(state, np.int64).ravel()
        ts = self.ts[r, s]
        use = (ts > 0) & (ts < np.asarray(before_ms, np.int64).ravel()[:, None])
        f = self.freq[r, s]
        use &= np.isfinite(f)
        z = self.zeta[r, s]
        med = masked_median(f, use)
        with np.errstate(invalid="ignore", divide="ignore"):
            mad = masked_median(np.abs(f - med[:, None]), use) * 1.4826 / med
        return (med, masked_median(z, use & np.isfinite(z)), use.sum(axis=1).astype(np.int64),
                np.fmax(mad, self.sigma_floor[r, s]))

    def restore(self, row: int, state: int, freq_hz: float, damping: float, n_bursts: int,
                newest_ms: int, scatter: float = 0.0) -> None:
        """Seed a row's ring of one state from a stored baseline: ``min(n, ring)`` entries of
        its median at ``newest_ms`` (the median is kept; later bursts replace them)."""
        if not 0 <= state < N_STATES:
            raise ValueError(f"state must be 0..{N_STATES - 1}, got {state}")
        if not (np.isfinite(freq_hz) and freq_hz > 0) or n_bursts < 1 or newest_ms <= 0:
            raise ValueError(f"a stored sway baseline needs freq_hz > 0, n_bursts >= 1 and "
                             f"newest_ms > 0, got {freq_hz}, {n_bursts}, {newest_ms}")
        self.ensure_rows(row + 1)
        k = min(int(n_bursts), self.ring)
        self.ts[row, state] = 0
        self.freq[row, state] = np.nan
        self.zeta[row, state] = np.nan
        self.ts[row, state, :k] = newest_ms
        self.freq[row, state, :k] = freq_hz
        self.zeta[row, state, :k] = damping
        self.head[row, state] = k
        self.last[row, state] = newest_ms
        self.sigma_floor[row, state] = scatter if np.isfinite(scatter) else 0.0

    def summary(self) -> tuple[I64, I64, F64, F64, I64, I64, F64]:
        """Every kept (row, state): ``(rows, states, freq median, damping median, count,
        newest ms, relative scatter)``."""
        use = (self.ts > 0) & np.isfinite(self.freq)
        cnt = use.sum(axis=2)
        r, s = np.nonzero(cnt > 0)
        if r.size == 0:
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0), np.zeros(0), z.copy(), z.copy(), np.zeros(0)
        newest = np.where(use, self.ts, 0).max(axis=2)[r, s]
        f, zm, _n, sig = self.baseline(r, s, newest + 1)
        return (r.astype(np.int64), s.astype(np.int64), f, zm, cnt[r, s].astype(np.int64),
                newest.astype(np.int64), sig)


def reference_state(state: np.ndarray, n_leaf_off: np.ndarray, min_bursts: int
                    ) -> np.ndarray:
    """The foliage state whose baseline judges bursts of ``state`` (see module docstring):
    transitions → leaf-on; leaf-off → leaf-on while leaf-off has fewer than ``min_bursts``."""
    s = np.asarray(state, np.int64)
    ref = np.where((s == LEAF_FALL) | (s == LEAF_OUT), LEAF_ON, s)
    return np.where((s == LEAF_OFF) & (np.asarray(n_leaf_off) < min_bursts), LEAF_ON, ref)


@dataclass(frozen=True, slots=True)
class RecentSway:
    """Per tree: the newest bursts of one foliage state — their state, median frequency [Hz]
    and damping [-], the oldest of them [ms], the newest [ms] and how many there are."""

    state: I64
    freq_hz: F64
    damping: F64
    oldest_ms: I64
    newest_ms: I64
    n: I64


def recent_sway(ts_ms: np.ndarray, freq_hz: np.ndarray, damping: np.ndarray,
                state: np.ndarray, now_ms: int, *, recent_bursts: int) -> RecentSway:
    """The newest ``recent_bursts`` trusted bursts (finite frequency, at or before
    ``now_ms``) measured in the same foliage state as the newest trusted one.

    Parameters
    ----------
    ts_ms, freq_hz, damping, state : (trees, bursts), ascending in time per row; ts 0 = empty
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    f = as_2d("freq_hz", freq_hz, np.float64)
    z = as_2d("damping", damping, np.float64)
    st = as_2d("state", state, np.int64)
    same_shape(ts.shape, freq_hz=f, damping=z, state=st)
    valid = (ts > 0) & (ts <= now_ms) & np.isfinite(f)
    rows = ts.shape[0]
    any_valid = valid.any(axis=1)
    last = ts.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    newest_state = np.where(any_valid, st[np.arange(rows), last], EVERGREEN)
    same = valid & (st == newest_state[:, None])
    from_end = np.cumsum(same[:, ::-1], axis=1)[:, ::-1]
    recent = same & (from_end <= recent_bursts)
    n = recent.sum(axis=1)
    big = np.iinfo(np.int64).max
    oldest = np.where(recent, ts, big).min(axis=1)
    newest = np.where(recent, ts, 0).max(axis=1)
    return RecentSway(newest_state.astype(np.int64), masked_median(f, recent),
                      masked_median(z, recent & np.isfinite(z)),
                      np.where(n > 0, oldest, 0).astype(np.int64), newest.astype(np.int64),
                      n.astype(np.int64))


def population_ratio(ratio: np.ndarray, site: np.ndarray, pooled: np.ndarray, *,
                     min_trees: int) -> F64:
    """Each pooled tree's frequency ratio (recent / baseline) divided by the median ratio of
    the pooled trees of its site, where a site has at least ``min_trees`` of them with a
    finite ratio; other trees' ratios unchanged.

    A shift every deciduous tree of a site shows at once (leaf fall, leaf-out) cancels; a tree
    losing stiffness while its neighbours do not still stands out.
    """
    r = np.asarray(ratio, np.float64).ravel().copy()
    s = np.asarray(site, np.int64).ravel()
    p = np.asarray(pooled, bool).ravel() & np.isfinite(r)
    for code in np.unique(s[p]):
        m = p & (s == code)
        if m.sum() >= min_trees:
            r[m] = r[m] / np.median(r[m])
    return r
