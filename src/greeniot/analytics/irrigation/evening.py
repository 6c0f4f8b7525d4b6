"""Each probe's reading for a day's balance: the median of its evening readings (pure numpy).

The daily balance is corrected once a day, at the day's end (:mod:`.stage`). One reading is a
poor sample of it: a node that reports every 15 min sends a dozen readings in the last three
hours, and the newest of them may be a spike (a loose connector, a radio glitch) that the
health checks flag only after several more (``analytics/health``). Soil water in the root
zone moves by a few tenths of a millimetre an hour in the evening (ET is near zero after
sunset), so the readings of the last :data:`EVENING_MS` before the day's end measure one value,
and their median rejects a minority of spikes and divides the noise. With no reading in that
span the one nearest the day's end within :data:`NEAREST_MS` stands in (a node that reports
every few hours); with none at all the probe is missing that day.

Per probe a ring of the last :data:`RING` readings (time, index) is kept — 3 h at a reading
every ~3 min; a node reporting faster leaves the newest 64, still a sound median.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from greeniot.clock import MS_PER_HOUR

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

RING: Final = 64
#: The evening span whose readings are pooled [ms].
EVENING_MS: Final = 3 * MS_PER_HOUR
#: Without an evening reading, the nearest reading within this of the day's end [ms].
NEAREST_MS: Final = 12 * MS_PER_HOUR
_NO_TS: Final = np.iinfo(np.int64).min // 2


@dataclass(slots=True)
class ProbeReadings:
    """The last :data:`RING` readings of P probes: times [ms] and index values."""

    ts: I64
    value: F64
    count: I64

    @classmethod
    def empty(cls, n_probes: int = 0) -> ProbeReadings:
        return cls(np.full((n_probes, RING), _NO_TS, np.int64), np.full((n_probes, RING), np.nan),
                   np.zeros(n_probes, np.int64))

    def __len__(self) -> int:
        return int(self.count.shape[0])

    def grow(self, n_probes: int) -> None:
        extra = n_probes - len(self)
        if extra > 0:
            self.ts = np.concatenate([self.ts, np.full((extra, RING), _NO_TS, np.int64)])
            self.value = np.concatenate([self.value, np.full((extra, RING), np.nan)])
            self.count = np.concatenate([self.count, np.zeros(extra, np.int64)])

    def add(self, rows: ArrayLike, ts_ms: ArrayLike, value: ArrayLike) -> None:
        """Keep readings (non-finite values are skipped); any order, rows may repeat."""
        r = np.asarray(rows, np.int64)
        t = np.asarray(ts_ms, np.int64)
        v = np.asarray(value, np.float64)
        ok = np.isfinite(v)
        r, t, v = r[ok], t[ok], v[ok]
        if not r.size:
            return
        order = np.argsort(r, kind="stable")
        rs = r[order]
        start = np.r_[0, np.flatnonzero(rs[1:] != rs[:-1]) + 1]
        rank_sorted = np.arange(rs.size) - np.repeat(start, np.diff(np.r_[start, rs.size]))
        rank = np.empty_like(rank_sorted)
        rank[order] = rank_sorted
        per_row = np.bincount(r, minlength=len(self))
        keep = rank >= per_row[r] - RING  # more than RING of one probe: its newest RING
        r, t, v, rank = r[keep], t[keep], v[keep], rank[keep]
        slot = (self.count[r] + rank) % RING
        self.ts[r, slot] = t
        self.value[r, slot] = v
        self.count += per_row

    def at(self, rows: ArrayLike, end_ms: int, *, evening_ms: int = EVENING_MS,
           nearest_ms: int = NEAREST_MS) -> tuple[F64, NDArray[np.int64]]:
        """Per probe of ``rows``: the median index of its readings in
        [end − evening_ms, end], else its reading nearest ``end_ms`` within ``nearest_ms``,
        else NaN; and how many readings that value stands for (0: none)."""
        r = np.asarray(rows, np.int64)
        ts, val = self.ts[r], self.value[r]
        evening = (ts >= end_ms - evening_ms) & (ts <= end_ms) & np.isfinite(val)
        n = evening.sum(axis=1)
        out = np.full(r.size, np.nan)
        if n.any():
            with np.errstate(all="ignore"):
                med = np.nanmedian(np.where(evening, val, np.nan)[n > 0], axis=1)
            out[n > 0] = med
        gap = np.where(np.isfinite(val), np.abs(ts - end_ms), np.iinfo(np.int64).max)
        best = np.argmin(gap, axis=1)
        near = (n == 0) & (gap[np.arange(r.size), best] <= nearest_ms)
        out[near] = val[np.arange(r.size), best][near]
        return out, np.where(n > 0, n, near.astype(np.int64))
