"""Ring buffers (rows × window) of timestamps and values for one kind of reading.

Invariant: read from ``head`` around the ring, every row is in ascending timestamp order, empty
slots (``ts_ms == 0``, values NaN) first. So the newest ``k`` samples of every row are the ``k``
slots before ``head``, which the detectors read without sorting, and each row holds the
``window`` newest distinct timestamps it has been given.

Appending a batch is vectorized:

* in-order samples (newer than the row's newest) are scattered into the ring at
  ``head + rank`` — the common case, O(batch);
* a sample whose ``(row, ts_ms)`` is already held replaces it in place (an at-least-once
  redelivery never counts twice, and a corrected value wins, as an InfluxDB point does);
* a late sample (older than the row's newest, not held) triggers a sorted merge of only the
  rows concerned; one older than everything a full row holds is dropped, since it would be
  evicted first anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Timestamp of an empty slot. Protocol timestamps start in 2000, so 0 sorts first and any
#: "within the last T" mask excludes it.
EMPTY_TS_MS = 0


def _row_time_order(rows: NDArray[np.int64], ts: NDArray[np.int64]) -> NDArray[np.int64]:
    """The order that sorts samples by (row, time, arrival).

    One int64 key ``row · span + (ts − ts_min)`` sorted stably (arrival breaks ties) gives
    the order of a three-key ``lexsort`` at a fraction of its cost: a batch is mostly runs
    already in key order (one device's readings, or one time step of every device, as a
    warm start's history comes), which the stable sort merges instead of sorting afresh.
    """
    n = rows.size
    t0 = int(ts.min())
    span = int(ts.max()) - t0 + 1
    if int(rows.max()) >= (2**62) // span:  # the key would overflow: sort by three keys
        return np.lexsort((np.arange(n), ts, rows))
    key = rows * span + (ts - t0)
    if n < 2 or bool((key[1:] >= key[:-1]).all()):
        return np.arange(n)
    return np.argsort(key, kind="stable")


@dataclass(frozen=True, slots=True)
class AppendStats:
    """What one :meth:`Windows.append` did with its samples."""

    appended: int
    replaced: int
    dropped: int


class Windows:
    """Per-row ring buffers of ``window`` samples: ``int64`` ts_ms plus one array per field."""

    def __init__(self, fields: Sequence[str], window: int, *, rows: int = 0,
                 dtype: type = np.float32) -> None:
        if window < 2:
            raise ValueError(f"window must be >= 2 samples, got {window}")
        if len(set(fields)) != len(fields) or not fields:
            raise ValueError(f"fields must be distinct and non-empty, got {fields!r}")
        self.fields = tuple(fields)
        self.window = int(window)
        self.dtype = np.dtype(dtype)
        self.n_rows = 0
        cap = max(int(rows), 8)
        self._ts = np.zeros((cap, self.window), np.int64)
        self._val = {f: np.full((cap, self.window), np.nan, self.dtype) for f in self.fields}
        self._head = np.zeros(cap, np.int64)
        self._newest = np.zeros(cap, np.int64)
        self._stamp = np.zeros(cap, np.int64)
        #: appends so far; each row's ``stamp`` is the number of the last one that wrote it
        self.writes = 0
        self.ensure_rows(rows)

    # -- views (the first n_rows rows; writable, no copies) ---------------------------------
    @property
    def ts_ms(self) -> NDArray[np.int64]:
        return self._ts[: self.n_rows]

    def values(self, field: str) -> np.ndarray:
        """The (rows × window) array of ``field`` in ring order."""
        return self._val[field][: self.n_rows]

    @property
    def head(self) -> NDArray[np.int64]:
        return self._head[: self.n_rows]

    @property
    def newest_ts_ms(self) -> NDArray[np.int64]:
        """Per row, the newest timestamp held (0 if none)."""
        return self._newest[: self.n_rows]

    @property
    def stamp(self) -> NDArray[np.int64]:
        """Per row, the :attr:`writes` count of the last append that changed it (0: never):
        rows with ``stamp > w`` changed since ``writes`` was ``w`` (the "dirty rows")."""
        return self._stamp[: self.n_rows]

    def count(self) -> NDArray[np.int64]:
        """Per row, how many slots hold a sample."""
        return np.asarray((self.ts_ms != EMPTY_TS_MS).sum(axis=1), np.int64)

    # -- growth ---------------------------------------------------------------------------
    def ensure_rows(self, n: int) -> None:
        """Make rows ``0..n-1`` exist (new rows empty); capacity grows by doubling."""
        cap = self._ts.shape[0]
        if n > cap:
            new_cap = max(n, 2 * cap)
            ts = np.zeros((new_cap, self.window), np.int64)
            ts[:cap] = self._ts
            self._ts = ts
            for f, old in self._val.items():
                arr = np.full((new_cap, self.window), np.nan, self.dtype)
                arr[:cap] = old
                self._val[f] = arr
            for name in ("_head", "_newest", "_stamp"):
                old1 = getattr(self, name)
                new1 = np.zeros(new_cap, np.int64)
                new1[:cap] = old1
                setattr(self, name, new1)
        self.n_rows = max(self.n_rows, int(n))

    # -- reading in time order -------------------------------------------------------------
    def tail_index(self, k: int, rows: NDArray[np.int64] | slice | None = None
                   ) -> NDArray[np.int64]:
        """Slot numbers of each row's newest ``k`` samples, oldest first: (rows × k)."""
        k = min(int(k), self.window)
        head = self.head if rows is None else self._head[: self.n_rows][rows]
        idx = head[:, None] + np.arange(self.window - k, self.window)
        # < 2 windows: one conditional subtraction, no modulo (arithmetic, not a mask)
        idx -= (idx >= self.window) * self.window
        return idx

    def count_since(self, t_ms: int, rows: NDArray[np.int64] | slice | None = None,
                    guess: int = 16) -> NDArray[np.int64]:
        """Per row, how many samples are at or after ``t_ms`` (> 0): the ``k`` for which
        :meth:`tail` holds them all. The newest ``guess`` slots answer most rows (recent
        samples are few); the rest get a binary search over their ring (rows are in time
        order from ``head``): O(rows · log window), never a pass over every slot."""
        if t_ms <= EMPTY_TS_MS:
            raise ValueError(f"t_ms must be > 0, got {t_ms}")
        ids = self._row_ids(rows)
        w = self.window
        g = max(1, min(int(guess), w))
        newest = self.tail("ts_ms", g, ids)
        out: NDArray[np.int64] = np.asarray((newest >= t_ms).sum(axis=1), np.int64)
        deep = np.flatnonzero(newest[:, 0] >= t_ms) if g < w else np.zeros(0, np.int64)
        if deep.size == 0:
            return out
        r = ids[deep]
        flat = self._ts.reshape(-1)
        base = r * w
        head = self._head[r]
        lo = np.zeros(r.size, np.int64)  # first position (from head) with ts >= t_ms
        hi = np.full(r.size, w - g, np.int64)  # the newest g are all >= t_ms
        while True:
            live = lo < hi
            if not live.any():
                break
            mid = (lo + hi) // 2
            older = flat[base + (head + np.minimum(mid, w - 1)) % w] < t_ms
            lo = np.where(live & older, mid + 1, lo)
            hi = np.where(live & ~older, mid, hi)
        out[deep] = w - lo
        return out

    def _row_ids(self, rows: NDArray[np.int64] | slice | None) -> NDArray[np.int64]:
        if rows is None:
            return np.arange(self.n_rows)
        if isinstance(rows, slice):
            return np.arange(self.n_rows)[rows]
        r = np.asarray(rows)
        return np.flatnonzero(r) if r.dtype == bool else r.astype(np.int64, copy=False)

    def tail(self, name: str, k: int, rows: NDArray[np.int64] | slice | None = None,
             index: NDArray[np.int64] | None = None) -> np.ndarray:
        """The newest ``k`` samples of ``name`` (``"ts_ms"`` or a field), oldest first.

        ``index`` (from :meth:`tail_index` with the same ``k`` and ``rows``) saves recomputing
        it when several fields are read. One flat ``take`` from the (rows × window) buffer:
        no copy of the rows' whole windows, 3–5× faster than ``take_along_axis``.
        """
        buf = self._ts if name == "ts_ms" else self._val[name]
        idx = self.tail_index(k, rows) if index is None else index
        flat = idx + (self._row_ids(rows) * self.window)[:, None]
        return buf.reshape(-1).take(flat)

    def chronological(self, name: str, rows: NDArray[np.int64] | slice | None = None
                      ) -> np.ndarray:
        """All slots of ``name`` in time order (empty slots first)."""
        return self.tail(name, self.window, rows)

    def held(self, name: str) -> np.ndarray:
        """:meth:`chronological` without the leading columns that are empty in every row
        (at least one column): the same samples in the same places from the right, for
        detectors that ignore empty slots — a long, mostly empty window costs what it holds."""
        return self.tail(name, max(1, int(self.count_since(1).max(initial=0))))

    # -- writing ----------------------------------------------------------------------------
    def append(self, rows: ArrayLike, ts_ms: ArrayLike,
               values: Mapping[str, ArrayLike]) -> AppendStats:
        """Add a batch of samples ``(rows[i], ts_ms[i], values[f][i])``.

        Fields missing from ``values`` are stored as NaN. Within a batch, the last of several
        samples with the same ``(row, ts_ms)`` wins.
        """
        rows_a = np.asarray(rows, np.int64).ravel()
        ts_a = np.asarray(ts_ms, np.int64).ravel()
        n = rows_a.size
        if ts_a.size != n:
            raise ValueError(f"ts_ms has {ts_a.size} samples, rows has {n}")
        unknown = set(values) - set(self.fields)
        if unknown:
            raise ValueError(f"values has unknown fields {sorted(unknown)}; known {self.fields}")
        vals = {}
        for f in self.fields:
            if f in values:
                v = np.asarray(values[f], self.dtype).ravel()
                if v.size != n:
                    raise ValueError(f"values[{f!r}] has {v.size} samples, rows has {n}")
            else:
                v = np.full(n, np.nan, self.dtype)
            vals[f] = v
        if n == 0:
            return AppendStats(0, 0, 0)
        if rows_a.min() < 0:
            raise ValueError("rows must be >= 0")
        if ts_a.min() <= EMPTY_TS_MS:
            raise ValueError("ts_ms must be > 0 (ms since the Unix epoch)")
        self.ensure_rows(int(rows_a.max()) + 1)
        self.writes += 1
        self._stamp[rows_a] = self.writes  # appended, replaced or merged (dropped: harmless)

        # Sort by (row, ts, arrival) and keep the last arrival of each (row, ts).
        order = _row_time_order(rows_a, ts_a)
        r, t = rows_a[order], ts_a[order]
        last = np.ones(n, bool)
        last[:-1] = (r[1:] != r[:-1]) | (t[1:] != t[:-1])
        sel = order[last]
        r, t = rows_a[sel], ts_a[sel]
        vals = {f: v[sel] for f, v in vals.items()}

        # Redelivered timestamps: overwrite in place.
        replaced = 0
        maybe = np.flatnonzero(t <= self._newest[r])
        is_dup = np.zeros(r.size, bool)
        if maybe.size:
            hit = self._ts[r[maybe]] == t[maybe, None]
            found = hit.any(axis=1)
            slot = hit.argmax(axis=1)
            dup_i = maybe[found]
            dup_slot = slot[found]
            for f, v in vals.items():
                self._val[f][r[dup_i], dup_slot] = v[dup_i]
            is_dup[dup_i] = True
            replaced = int(dup_i.size)

        keep = ~is_dup
        r, t = r[keep], t[keep]
        vals = {f: v[keep] for f, v in vals.items()}
        if r.size == 0:
            return AppendStats(0, replaced, 0)
        late = t < self._newest[r]
        late_rows = np.unique(r[late])
        merge = np.isin(r, late_rows) if late_rows.size else np.zeros(r.size, bool)
        appended = self._append_in_order(r[~merge], t[~merge],
                                         {f: v[~merge] for f, v in vals.items()})
        a2, dropped = self._merge(late_rows, r[merge], t[merge],
                                  {f: v[merge] for f, v in vals.items()})
        return AppendStats(appended + a2, replaced, dropped)

    def _append_in_order(self, r: NDArray[np.int64], t: NDArray[np.int64],
                         vals: dict[str, np.ndarray]) -> int:
        """Scatter samples that are newer than their row's newest; ``r`` is sorted."""
        if r.size == 0:
            return 0
        w = self.window
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        counts = np.diff(np.r_[starts, r.size])
        group_start = np.repeat(starts, counts)
        rank = np.arange(r.size) - group_start
        per_row = np.repeat(counts, counts)
        skip = np.maximum(per_row - w, 0)  # more than a window at once: keep the newest w
        keep = rank >= skip
        slot = (self._head[r] + rank - skip) % w
        rk, sk = r[keep], slot[keep]
        self._ts[rk, sk] = t[keep]
        for f, v in vals.items():
            self._val[f][rk, sk] = v[keep]
        urows = r[starts]
        self._head[urows] = (self._head[urows] + np.minimum(counts, w)) % w
        self._newest[urows] = t[starts + counts - 1]
        return int(keep.sum())

    def _merge(self, urows: NDArray[np.int64], r: NDArray[np.int64], t: NDArray[np.int64],
               vals: dict[str, np.ndarray]) -> tuple[int, int]:
        """Sorted merge of held and new samples for the rows that received late ones."""
        if urows.size == 0:
            return 0, 0
        w = self.window
        k = urows.size
        pos = np.searchsorted(urows, r)
        starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        counts = np.diff(np.r_[starts, r.size])
        m = int(counts.max())
        rank = np.arange(r.size) - np.repeat(starts, counts)
        idx = self.tail_index(w, urows)
        new_ts = np.zeros((k, m), np.int64)
        new_ts[pos, rank] = t
        all_ts = np.concatenate([np.take_along_axis(self._ts[urows], idx, axis=1), new_ts],
                                axis=1)
        order = np.argsort(all_ts, axis=1, kind="stable")[:, -w:]
        kept_ts = np.take_along_axis(all_ts, order, axis=1)
        self._ts[urows] = kept_ts
        for f, v in vals.items():
            new_v = np.full((k, m), np.nan, self.dtype)
            new_v[pos, rank] = v
            all_v = np.concatenate(
                [np.take_along_axis(self._val[f][urows], idx, axis=1), new_v], axis=1)
            self._val[f][urows] = np.take_along_axis(all_v, order, axis=1)
        self._head[urows] = 0
        self._newest[urows] = kept_ts[:, -1]
        kept_new = int(((order >= w) & (kept_ts != EMPTY_TS_MS)).sum())
        return kept_new, int(r.size) - kept_new
