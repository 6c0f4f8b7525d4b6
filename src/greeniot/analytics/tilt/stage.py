"""Engine stage: tilt windows → lean, step, trend and failure events.

Two windows per tilt device: raw readings (with a per-sample windy flag filled in once the
site's wind for that time is known) and hourly calm medians (days of history for baselines
and trends at 1/12 the size). Every tick runs the detectors of
:mod:`greeniot.analytics.tilt.detect` over blocks of ``chunk_rows`` rows (bounded temporaries, all
rows of a block at once) — the rows whose verdict may have changed since they were last judged
(see :meth:`TiltStage.detect`); baselines and trends change only when an hour closes, so they
are refitted then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.contract import Event, EventKind, TreeRiskState, Unit
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches, grade, graded
from greeniot.analytics.core.rowstats import group_median
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.params import AnalyticsParams
from greeniot.analytics.stage import Board, StageBatch
from greeniot.analytics.storm.stage import SiteStorms, WindReference
from greeniot.analytics.tilt.baseline import TiltBaseline, compensate_tilt, fit_baseline
from greeniot.analytics.tilt.detect import (
    Level,
    failure_at_readings,
    failure_tilt,
    hourly_calm_medians,
    lean_rate,
    level_thresholds,
    residual_lean,
    segment_level,
    step_magnitude,
)
from greeniot.analytics.tilt.mount import mount_jump
from greeniot.analytics.tilt.storm import StormMemory, StormTilt
from greeniot.clock import MS_PER_HOUR, MS_PER_MIN

_NEVER = np.iinfo(np.int64).max  # a due time that never comes


def _window_due(ts: np.ndarray, now_ms: int, offsets: tuple[int, ...]) -> np.ndarray:
    """Per row, the first event time after ``now_ms`` at which one of the samples ``ts``
    (rows × samples, time order, 0 = empty) enters or leaves a window ``(now − C, now]``:
    at ``ts`` (a sample not yet due) and at ``ts + C``, for each ``C`` in ``offsets`` [ms]."""
    rows, k = ts.shape
    out = np.full(rows, _NEVER, np.int64)
    if k == 0:
        return out
    ar = np.arange(rows)
    for c in offsets:
        # rows are in time order: the first sample with ts + c > now gives the earliest
        j = (ts <= now_ms - c).sum(axis=1)
        has = j < k
        out[has] = np.minimum(out[has], ts[ar[has], j[has]] + c)
    return out


@dataclass(frozen=True, slots=True)
class _Block:
    """The newest readings of one block of rows, in time order, shared by its detectors."""

    rows: np.ndarray  # the block's row numbers
    ts: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    pc: np.ndarray  # temperature-compensated pitch
    rc: np.ndarray  # temperature-compensated roll
    windy: np.ndarray  # 1 windy, 0 calm, NaN not yet classified
    calm: np.ndarray
    base: TiltBaseline
    last_windy: np.ndarray  # newest windy reading of the whole tail [ms UTC], 0 if none


class TiltStage:
    name = "tilt"
    kinds: tuple[str, ...] = ("tilt",)
    RAW = ("pitch_deg", "roll_deg", "temp_c", "windy", "load")
    HOURLY = ("pitch_deg", "roll_deg", "temp_c")

    def __init__(self, params: AnalyticsParams, *, window: int, hourly_window: int,
                 chunk_rows: int, incremental: bool = True) -> None:
        self.params = params
        self.incremental = incremental  # False: classify scans every slot (the reference)
        self.chunk_rows = chunk_rows
        self.index = DeviceIndex()
        self.raw = Windows(self.RAW, window)
        self.hourly = Windows(self.HOURLY, hourly_window)
        self.site = np.zeros(0, np.int64)
        self.heritage = np.zeros(0, bool)
        self.tree: list[str | None] = []
        self._trees: np.ndarray | None = None  # self.tree as an array (see _tree_array)
        self.base = TiltBaseline.empty(0)
        self.since = np.zeros(0, np.int64)
        self.latches = Latches()
        self.next_hour_ms: int | None = None
        self.lean_deg = np.zeros(0)  # newest calm residual lean per row [deg]
        self.storm = StormMemory.empty(0)
        self.mount_ts = np.zeros(0, np.int64)  # newest reading checked for a mount fault
        #: samples before this time all have their windy flag (the oldest one appended since
        #: the last classification bounds which samples need one)
        self.unclassified_ms = np.iinfo(np.int64).max
        self._ticks = 0
        #: rows whose inputs changed since they were last judged (readings, windy flags,
        #: hourly medians, baseline, bindings, their site's storm state)
        self._dirty = np.zeros(0, bool)
        #: per row, the event time from which its last verdict may no longer hold because a
        #: sample enters or leaves one of the detectors' time windows [ms UTC]
        self._due_ms = np.zeros(0, np.int64)
        #: rows with readings the failure check has not seen, and its own due times
        self._fresh = np.zeros(0, bool)
        self._fail_due_ms = np.zeros(0, np.int64)
        #: the steps' "before" level per row (pitch, roll [deg], samples) and the event time
        #: until which it holds (it changes only with the hourly tier, the baseline, the
        #: site's storms, or an hourly median entering or leaving its window)
        self._before = (np.zeros(0), np.zeros(0), np.zeros(0, np.int64))
        self._before_until = np.zeros(0, np.int64)
        self._storms_seen: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        #: the failure detector has judged every reading up to this time (the last pass)
        self.failure_judged_ms = 0
        #: failure events raised ahead of the pass (:meth:`urgent_failure`), by row
        self.urgent: dict[int, Event] = {}

    # -- rows -------------------------------------------------------------------------------
    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board) -> np.ndarray:
        site_codes = board.site_codes(sites)
        meta = board.lookup.meta
        before = len(self.index)
        rows = self.index.rows(list(sites), list(devices))
        n = len(self.index)
        if n > before:
            new_site = np.zeros(n - before, np.int64)
            new_site[rows[rows >= before] - before] = site_codes[rows >= before]
            self.site = np.concatenate([self.site, new_site])
            metas = [meta(*self.index.key(r)) for r in range(before, n)]
            self.tree.extend(m.tree for m in metas)
            self.heritage = np.concatenate([self.heritage, [m.heritage for m in metas]])
            b, e = self.base, TiltBaseline.empty(n - before)
            self.base = TiltBaseline(*(np.concatenate([getattr(b, f), getattr(e, f)])
                                       for f in TiltBaseline.__slots__))
            # a confirmed re-mount (registry) bounds the data a new row's baseline learns from
            since = [getattr(board.lookup.binding(*self.index.key(r)), "remount_ms", None) or 0
                     for r in range(before, n)]
            self.since = np.concatenate([self.since, np.asarray(since, np.int64)])
            self.lean_deg = np.concatenate([self.lean_deg, np.full(n - before, np.nan)])
            self.storm = self.storm.grown(n)
            self.mount_ts = np.concatenate([self.mount_ts, np.zeros(n - before, np.int64)])
            self._dirty = np.concatenate([self._dirty, np.ones(n - before, bool)])
            self._due_ms = np.concatenate([self._due_ms, np.zeros(n - before, np.int64)])
            self._fresh = np.concatenate([self._fresh, np.ones(n - before, bool)])
            self._fail_due_ms = np.concatenate([self._fail_due_ms,
                                                np.zeros(n - before, np.int64)])
            self._before = tuple(np.concatenate([a, np.zeros(n - before, a.dtype)])
                                 for a in self._before)  # type: ignore[assignment]
            self._before_until = np.concatenate([self._before_until,
                                                 np.zeros(n - before, np.int64)])
            for w in (self.raw, self.hourly):
                w.ensure_rows(n)
        return rows

    def remeta(self, board: Board) -> None:
        """Re-read every tree binding and heritage flag (the registry changed), and re-learn
        the baseline of every sensor whose re-mount a crew confirmed since the last look
        (``DeviceBinding.remount_ms``, :mod:`greeniot.registry.remount`)."""
        keys = [self.index.key(r) for r in range(len(self.index))]
        metas = [board.lookup.meta(*k) for k in keys]
        self.tree = [m.tree for m in metas]
        self._trees = None
        self.heritage = np.asarray([m.heritage for m in metas], bool)
        self._dirty[:] = True  # thresholds may have changed with the heritage flags
        self._before_until[:] = 0
        for row, key in enumerate(keys):
            b = board.lookup.binding(*key)
            if b is not None and b.remount_ms and b.remount_ms > self.since[row]:
                self.rebaseline(row, int(b.remount_ms))

    def append(self, batch: StageBatch, board: Board) -> None:
        """Write readings; history (``warm``) is classified by the wind of its own time and
        also builds the hourly tier directly (it may be longer than the raw window)."""
        rows, ts = batch.rows, batch.ts_ms
        vals = {f: batch.column(f) for f in ("pitch_deg", "roll_deg", "temp_c")}
        if batch.warm and board.wind is not None:
            w, _ = board.wind.windy_for(self.site[rows], ts)
            self.warm_hours(rows, ts, vals, ~w)
            vals["windy"] = w.astype(np.float64)
            vals["load"] = board.wind.load_for(self.site[rows], ts)
        if ts.size:
            self.unclassified_ms = min(self.unclassified_ms, int(ts.min()))
        self.raw.append(rows, ts, vals)
        self._fresh[rows] = True
        if batch.warm:
            self._dirty[rows] = True
            self._before_until[rows] = 0

    def tick(self, now_ms: int, board: Board) -> list[Event]:
        """Classify samples calm or windy, close hours (refit baselines and trends), then
        judge failure, lean and steps; publish the trees' risk state."""
        emit: list[Event] = []
        sp = self.params.storm
        if len(self.index) and board.wind is not None and board.storms is not None:
            self.classify(now_ms, board.wind)
            lag_ms = int(sp.classify_lag_minutes * MS_PER_MIN)
            if self.close_hours(now_ms, lag_ms) or self._ticks == 0:
                self.refit(now_ms, emit)
            self.detect(now_ms, board.storms, int(sp.settle_minutes * MS_PER_MIN), emit)
            self.failure_judged_ms = max(self.failure_judged_ms, now_ms)
            # a raised event the pass did not confirm (a late reading changed the verdict)
            # is not waited for any longer
            self.urgent = {r: e for r, e in self.urgent.items() if e.ts_ms > now_ms}
            self.storm_tick(now_ms, board, emit)
        self._ticks += 1
        board.trees = self.state(now_ms)
        return emit

    def state(self, now_ms: int) -> TreeRiskState:
        n = len(self.index)
        site, device = self.index.key_arrays()  # read-only, shared between ticks
        return TreeRiskState(
            ts_ms=now_ms, site=site, device=device, tree=self._tree_array(),
            heritage=self.heritage.copy(), baseline_ok=self.base.ok[:n].copy(),
            lean_deg=self.lean_deg.copy(), lean_level=self.level("lean"),
            step_level=self.level("step"), trend_level=self.level("trend"),
            failure_level=self.level("failure"), storm_level=self.level("storm"),
            storm_offset_deg=self.storm.offset_deg[:n].copy(),
            compliance=self.storm.compliance[:n].copy(), mount_level=self.level("mount"))

    def _tree_array(self) -> np.ndarray:
        """``tree`` as a read-only object array, rebuilt only when bindings changed."""
        if self._trees is None or self._trees.size != len(self.tree):
            self._trees = np.asarray(self.tree, dtype=object)
            self._trees.flags.writeable = False
        return self._trees

    def rebaseline(self, row: int, since_ms: int) -> None:
        """Forget a tree's baseline; refit from calm data from ``since_ms`` on."""
        for f in TiltBaseline.__slots__:
            arr = getattr(self.base, f)
            arr[row] = False if f == "ok" else (0.0 if f.startswith("k_") else np.nan)
        self.since[row] = since_ms
        self._dirty[row] = True
        self._before_until[row] = 0
        self.urgent.pop(row, None)
        for name in ("lean", "step", "trend", "storm", "stiffness", "mount"):
            self.latches.reset(name, np.array([row]))
        self.storm.forget(row)

    def _grades(self, which: str, rows: slice | np.ndarray) -> np.ndarray:
        return level_thresholds(self.heritage[rows], getattr(self.params.tilt, which),
                                getattr(self.params.heritage_tilt, which))

    def event(self, kind: EventKind, row: int, level: int, value: float, threshold: float,
               unit: Unit, ts_ms: int, detail: str, freq_hz: float | None = None) -> Event:
        site, device = self.index.key(row)
        return Event(kind=kind, site=site, ts_ms=int(ts_ms),
                     severity=SEVERITY[level],  # type: ignore[arg-type]
                     value=float(value), threshold=float(threshold), unit=unit, device=device,
                     tree=self.tree[row], heritage=bool(self.heritage[row]), freq_hz=freq_hz,
                     detail=detail)

    # -- per tick ---------------------------------------------------------------------------
    def _blocks(self, scale: int = 1) -> list[slice]:
        n = len(self.index)
        step = self.chunk_rows * scale
        return [slice(c, min(n, c + step)) for c in range(0, n, step)]

    def classify(self, now_ms: int, wind: WindReference) -> None:
        """Fill the windy flag of samples old enough for their site's wind to be known."""
        cutoff = now_ms - int(self.params.storm.classify_lag_minutes * MS_PER_MIN)
        gap_ms = int(self.params.storm.max_gap_minutes * MS_PER_MIN)
        # Every sample up to the previous cutoff is classified and loads wait at most two
        # gaps: only the newest samples of each row (and any that arrived since, late ones
        # included) can need a flag, so only those are read.
        since = max(1, min(self.unclassified_ms, cutoff - 2 * gap_ms + 1))
        if not self.incremental:
            since = 1
        raw = self.raw
        # only rows holding a sample that recent can need a flag
        rows = np.flatnonzero(raw.newest_ts_ms >= since)
        step = 4 * self.chunk_rows  # blocks bound memory when a whole window is new
        for c0 in range(0, rows.size, step):
            blk = rows[c0:c0 + step]
            k = int(raw.count_since(since, blk).max(initial=0))
            if k == 0:
                continue
            idx = raw.tail_index(k, blk)
            flat = idx + (blk * raw.window)[:, None]  # slots in the (rows × window) buffer
            ts = raw.tail("ts_ms", k, blk, idx)
            windy = raw.tail("windy", k, blk, idx)
            r, c = np.nonzero(np.isnan(windy) & (ts > 0) & (ts <= cutoff))
            if r.size:
                w, _known = wind.windy_for(self.site[blk[r]], ts[r, c])
                # unknown wind counts as calm (documented in StormParams)
                raw.values("windy").reshape(-1)[flat[r, c]] = w
                self._dirty[blk[r]] = True
            # the wind load, interpolated between references: a sample waits for the next
            # reference up to the maximum gap, then takes the newest one
            load = raw.tail("load", k, blk, idx)
            r, c = np.nonzero(np.isnan(load) & (ts > 0) & (ts <= cutoff)
                              & (ts > cutoff - 2 * gap_ms))
            if r.size:
                raw.values("load").reshape(-1)[flat[r, c]] = wind.load_for(
                    self.site[blk[r]], ts[r, c], final=ts[r, c] <= cutoff - gap_ms)
        self.unclassified_ms = cutoff + 1

    def close_hours(self, now_ms: int, lag_ms: int) -> bool:
        """Append hourly calm medians of every hour that closed (and was classified).

        An hour is closed once ``lag_ms`` past its end; a reading that arrives later than that
        misses the hourly tier (baselines, trends, the "before" of steps) but still counts in
        every raw-window detector.
        """
        end = ((now_ms - lag_ms) // MS_PER_HOUR) * MS_PER_HOUR
        if self.next_hour_ms is None:
            ts = self.raw.ts_ms
            held = ts[ts > 0]
            if held.size == 0:
                return False
            self.next_hour_ms = int(held.min() // MS_PER_HOUR) * MS_PER_HOUR
        start = max(self.next_hour_ms, end - self.hourly.window * MS_PER_HOUR)
        if end <= start:
            return False
        raw = self.raw
        for sl in self._blocks(4):
            # only the newest samples can fall in the hours to close: gather just those, in
            # time order, so the (row, hour) groups come sorted
            k = int(raw.count_since(max(start, 1), sl).max(initial=0))
            if k == 0:
                continue
            idx = raw.tail_index(k, sl)
            hm = hourly_calm_medians(
                raw.tail("ts_ms", k, sl, idx),
                {f: raw.tail(f, k, sl, idx) for f in self.HOURLY},
                raw.tail("windy", k, sl, idx) == 0, start, end)
            self.hourly.append(hm.rows + sl.start, hm.ts_ms, hm.values)
            self._dirty[hm.rows + sl.start] = True
            self._before_until[hm.rows + sl.start] = 0
        self.next_hour_ms = end
        return True

    def warm_hours(self, rows: np.ndarray, ts_ms: np.ndarray, values: dict[str, np.ndarray],
                   calm: np.ndarray) -> None:
        """Hourly medians straight from historical columns (longer than the raw window).

        The newest hour may be incomplete: it is left to :meth:`close_hours`, which finds its
        readings in the raw window.
        """
        sel = calm & np.isfinite(values["pitch_deg"]) & np.isfinite(values["roll_deg"])
        last_hour = int(ts_ms.max() // MS_PER_HOUR) if ts_ms.size else 0
        sel &= ts_ms // MS_PER_HOUR < last_hour
        r, t = rows[sel], ts_ms[sel]
        if r.size == 0:
            return
        hour = t // MS_PER_HOUR
        key = r * (1 << 32) + (hour - hour.min())
        # one stable sort by (row, hour) for all fields (history comes time-major: runs that
        # the sort merges), so the medians need no sort of their own
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.r_[True, key[1:] != key[:-1]]
        uniq = key[first]
        dense = np.cumsum(first) - 1
        meds = {f: group_median(values[f][sel][order], dense, uniq.size)[0]
                for f in self.HOURLY}
        u_rows = uniq >> 32
        u_ts = ((uniq & 0xFFFFFFFF) + hour.min()) * MS_PER_HOUR + MS_PER_HOUR // 2
        self.hourly.append(u_rows, u_ts, meds)
        self._dirty[u_rows] = True
        self._before_until[u_rows] = 0
        self.next_hour_ms = max(self.next_hour_ms or 0, last_hour * MS_PER_HOUR)

    def refit(self, now_ms: int, emit: list[Event]) -> None:
        """Hourly work: baselines for trees without one, then lean trends."""
        n = len(self.index)
        p = self.params.tilt
        missing = np.flatnonzero(~self.base.ok[:n])
        h = self.hourly
        for c0 in range(0, missing.size, self.chunk_rows):
            need = missing[c0:c0 + self.chunk_rows]
            idx = h.tail_index(h.window, need)
            ts = h.tail("ts_ms", h.window, need, idx)
            fitted = fit_baseline(
                ts, h.tail("pitch_deg", h.window, need, idx),
                h.tail("roll_deg", h.window, need, idx), h.tail("temp_c", h.window, need, idx),
                ts > 0, now_ms, self.since[need], baseline_hours=p.baseline_hours,
                temp_fit_min_span_c=p.temp_fit_min_span_c, min_samples=p.min_samples)
            for f in TiltBaseline.__slots__:
                getattr(self.base, f)[need] = getattr(fitted, f)
            self._dirty[need] = True
            self._before_until[need] = 0
        k = min(self.hourly.window, int(np.ceil(p.trend_days * 24)) + 2)
        for c0 in range(0, n, self.chunk_rows):
            sl = slice(c0, min(n, c0 + self.chunk_rows))
            h = self.hourly
            ts = h.tail("ts_ms", k, sl)
            rate = lean_rate(ts, h.tail("pitch_deg", k, sl), h.tail("roll_deg", k, sl),
                             h.tail("temp_c", k, sl), ts > 0, self.base.take(sl), now_ms,
                             trend_days=p.trend_days, trend_min_days=p.trend_min_days,
                             trend_min_t=p.trend_min_t)
            th = self._grades("trend_deg_per_day", sl)
            value = np.where(rate.significant, rate.rate_deg_per_day, np.nan)
            on = grade(value, th)
            weak = (rate.span_days >= p.trend_min_days) & (rate.t_stat >= p.trend_min_t / 2)
            hold = grade(np.where(weak, rate.rate_deg_per_day, np.nan), th, p.hysteresis)
            known = np.isfinite(rate.rate_deg_per_day) | ~self.base.ok[sl]
            fire = self.latches.update("trend", on, hold, known, sl)
            failed = ((self.latches.level("failure", n)[sl] > 0)
                      | (self.latches.level("mount", n)[sl] > 0))
            newest = ts.max(axis=1)
            for i in np.flatnonzero(fire & ~failed).tolist():
                lv = int(on[i])
                self._fire_trend(c0 + i, lv, rate.rate_deg_per_day[i], th[i, lv - 1],
                                 int(newest[i]), rate.span_days[i], rate.t_stat[i], emit)

    def _fire_trend(self, row: int, lv: int, rate: float, threshold: float, ts: int,
                    span: float, t_stat: float, emit: list[Event]) -> None:
        emit.append(self.event(
            "lean_trend", row, lv, rate, threshold, "deg/day", ts,
            f"calm lean increasing {rate:.3f} deg/day over {span:.1f} days "
            f"(t={t_stat:.1f}); {SEVERITY[lv]} at {threshold} deg/day"))

    def detect(self, now_ms: int, storms: SiteStorms, settle_ms: int,
               emit: list[Event]) -> None:
        """Judge failure, then mount, lean and steps, of the rows whose verdict may have
        changed (every row unless ``incremental``).

        A row judged again without a change of its inputs gives the verdict it gave, and the
        latches are idempotent, so skipping it changes no event and no state. The inputs are
        the row's readings (the failure check: :attr:`_fresh`), windy flags, hourly medians,
        baseline and bindings (:attr:`_dirty`), its site's storm state, and time: a sample
        entering or leaving a detector's window (:attr:`_due_ms`, :attr:`_fail_due_ms`). A
        new reading is not yet classified, so the calm detectors see it only once it is
        (then the row is dirty) — unless it pushes out of the tail a sample that one of
        their windows still holds, or the site's storm ended recently ("after" reaches back
        to the storm's end)."""
        n = len(self.index)
        if not self.incremental:
            rows = f_rows = np.arange(n)
        else:
            calm = self._dirty[:n] | (self._due_ms[:n] <= now_ms)
            changed = self._storm_change(storms)
            if changed is not None:
                moved = changed[self.site[:n]]
                calm |= moved
                self._before_until[:n][moved] = 0
            fresh = np.flatnonzero(self._fresh[:n] & ~calm)
            if fresh.size:
                calm[fresh[self._tail_matters(fresh, now_ms, storms, settle_ms)]] = True
            rows = np.flatnonzero(calm)
            f_rows = np.flatnonzero(calm | self._fresh[:n] | (self._fail_due_ms[:n] <= now_ms))
        for c0 in range(0, f_rows.size, self.chunk_rows):
            self._failure(f_rows[c0:c0 + self.chunk_rows], now_ms, emit)
        for c0 in range(0, rows.size, self.chunk_rows):
            self._detect_block(rows[c0:c0 + self.chunk_rows], now_ms, storms, settle_ms, emit)
        self._dirty[rows] = False
        self._fresh[f_rows] = False

    def _tail_matters(self, rows: np.ndarray, now_ms: int, storms: SiteStorms,
                      settle_ms: int) -> np.ndarray:
        """Rows with new readings only, whose calm detectors must look again all the same:
        the oldest sample left in their tail is young enough for a window to have held the
        ones pushed out, or their site's storm ended within ``step_storm_hours``."""
        p = self.params.tilt
        raw = self.raw
        k = min(p.current_max_samples, raw.window)
        oldest = raw.ts_ms.reshape(-1)[rows * raw.window + (raw.head[rows] - k) % raw.window]
        reach = max(int(p.current_minutes * MS_PER_MIN),
                    int(p.step_post_minutes * MS_PER_MIN) + settle_ms) + 1
        site = self.site[rows]
        end = storms.end_ts_ms[site]
        recent = (~storms.active[site] & (end > 0)
                  & (now_ms - end <= p.step_storm_hours * MS_PER_HOUR))
        return np.asarray((oldest >= now_ms - reach) | recent, bool)

    def _storm_change(self, storms: SiteStorms) -> np.ndarray | None:
        """Per site code, whether its storm state (on, onset, end) changed since the last
        tick (None: no site did)."""
        now = (storms.active, storms.onset_ts_ms, storms.end_ts_ms)
        seen, self._storms_seen = self._storms_seen, now
        n_sites = storms.active.size
        if seen is None or seen[0].size != n_sites:
            return np.ones(n_sites, bool)
        changed = (seen[0] != now[0]) | (seen[1] != now[1]) | (seen[2] != now[2])
        return changed if changed.any() else None

    def _detect_block(self, rows: np.ndarray, now_ms: int, storms: SiteStorms,
                      settle_ms: int, emit: list[Event]) -> None:
        p = self.params.tilt
        raw = self.raw
        k = p.current_max_samples
        idx = raw.tail_index(k, rows)
        ts = raw.tail("ts_ms", k, rows, idx)
        windy = raw.tail("windy", k, rows, idx)
        last_windy = np.where(windy == 1, ts, 0).max(axis=1)
        # Only the newest samples can fall in a window of the calm detectors: the lean's,
        # the post window (and the windy spell before it), after a recent storm everything
        # since its end, and for the mount check the readings after the last one checked
        # (and the one before). Reading just those gives the same answers for less.
        site = self.site[rows]
        end = storms.end_ts_ms[site]
        recent = (~storms.active[site] & (end > 0)
                  & (now_ms - end <= p.step_storm_hours * MS_PER_HOUR))
        reach = max(int(p.current_minutes * MS_PER_MIN),
                    int(p.step_post_minutes * MS_PER_MIN) + settle_ms) + 1
        oldest = np.minimum(self.mount_ts[rows] + 1, now_ms - reach)
        oldest = np.where(recent, np.minimum(oldest, np.maximum(end + settle_ms,
                                                                 last_windy + 1)), oldest)
        need = int((ts >= oldest[:, None]).sum(axis=1).max(initial=0)) + 1
        if need < k:
            idx, ts, windy = idx[:, -need:], ts[:, -need:], windy[:, -need:]
            k = need
        pitch = raw.tail("pitch_deg", k, rows, idx)
        roll = raw.tail("roll_deg", k, rows, idx)
        base = self.base.take(rows)
        temp = raw.tail("temp_c", k, rows, idx)
        pc, rc = compensate_tilt(pitch, roll, temp, base)
        b = _Block(rows, ts, pitch, roll, pc, rc, windy, windy == 0, base, last_windy)
        n = len(self.index)
        failed = self.latches.level("failure", n)[rows] > 0
        failed |= self._mount(b, temp, now_ms, emit)
        self._lean(b, failed, now_ms, emit)
        due = self._step(b, failed, now_ms, storms, settle_ms, emit)
        post = int(p.step_post_minutes * MS_PER_MIN)
        self._due_ms[rows] = np.minimum(due, _window_due(
            b.ts, now_ms, (int(p.current_minutes * MS_PER_MIN), post + 1, post // 2 + 1)))

    def _failure(self, rows: np.ndarray, now_ms: int, emit: list[Event]) -> None:
        """Failure: any wind; supersedes every other tilt event of the tree.

        Judged at each reading new since the last pass, as of its own time
        (:func:`failure_at_readings`): the event carries the reading that confirmed the
        failure, however the readings were batched into passes — which is what lets
        :meth:`urgent_failure` raise the same event before the pass. Readings that came late
        (older than the last pass) count through the state at ``now_ms``."""
        p = self.params.tilt
        raw = self.raw
        k = min(raw.window, max(8, 2 * p.failure_min_samples))  # enough for "newest N"
        idx = raw.tail_index(k, rows)
        ts = raw.tail("ts_ms", k, rows, idx)
        pitch = raw.tail("pitch_deg", k, rows, idx)
        roll = raw.tail("roll_deg", k, rows, idx)
        base = self.base.take(rows)
        fail = failure_tilt(ts, pitch, roll, base, now_ms,
                            failure_minutes=p.failure_minutes,
                            failure_min_samples=p.failure_min_samples)
        per = failure_at_readings(ts, pitch, roll, base, failure_minutes=p.failure_minutes,
                                  failure_min_samples=p.failure_min_samples)
        since = max(self.failure_judged_ms, now_ms - int(p.failure_minutes * MS_PER_MIN))
        with np.errstate(invalid="ignore"):
            hit = (ts > since) & (ts <= now_ms) & (per.lean_deg >= p.failure_deg)
        first = hit.argmax(axis=1)
        took = hit.any(axis=1)
        r = np.arange(ts.shape[0])
        lean = np.where(took, per.lean_deg[r, first], fail.lean_deg)
        when = np.where(took, per.ts_ms[r, first], fail.ts_ms)
        on = np.where(lean >= p.failure_deg, 3, 0)
        hold = np.where(fail.lean_deg >= p.hysteresis * p.failure_deg, 3, 0)
        known = np.isfinite(fail.lean_deg) | took
        fire = self.latches.update_rows("failure", len(self.index), rows, on, hold, known)
        for i in np.flatnonzero(fire).tolist():
            row = int(rows[i])
            ev = self.event_failure(row, float(lean[i]), int(when[i]))
            if self.urgent.pop(row, None) != ev:  # not raised already by the urgent lane
                emit.append(ev)
        self._fail_due_ms[rows] = _window_due(ts, now_ms,
                                              (0, int(p.failure_minutes * MS_PER_MIN)))

    def urgent_failure(self, row: int, ts_ms: np.ndarray, pitch_deg: np.ndarray,
                       roll_deg: np.ndarray) -> Event | None:
        """The failure event the next pass will raise for one tree, raised now: ``ts_ms``,
        ``pitch_deg``, ``roll_deg`` are the tree's readings newer than the last pass (in time
        order, not yet in the windows). Only for a tree with a fitted baseline (it changes
        only when a tree has none, so every pass up to the readings' time uses the same) and
        no failure latched or already raised; the pass then recognises its own event and
        does not raise it again (:meth:`_failure`). None: nothing to raise now."""
        p = self.params.tilt
        if (row >= len(self.index) or not self.base.ok[row] or row in self.urgent
                or self.latches.level("failure", len(self.index))[row] > 0):
            return None
        # the newest reading must itself be past the threshold: else the pass will judge
        # whatever an earlier one confirmed (nothing is lost by waiting for it)
        if np.hypot(float(pitch_deg[-1]) - np.nan_to_num(self.base.pitch_deg[row]),
                    float(roll_deg[-1]) - np.nan_to_num(self.base.roll_deg[row])
                    ) < p.failure_deg:
            return None
        k = max(8, 2 * p.failure_min_samples)
        idx = self.raw.tail_index(k, np.array([row]))
        dtype = self.raw.values("pitch_deg").dtype  # as the windows will hold them
        ts = np.concatenate([self.raw.tail("ts_ms", k, np.array([row]), idx)[0],
                             np.asarray(ts_ms, np.int64)])
        pitch = np.concatenate([self.raw.tail("pitch_deg", k, np.array([row]), idx)[0],
                                np.asarray(pitch_deg, dtype)])
        roll = np.concatenate([self.raw.tail("roll_deg", k, np.array([row]), idx)[0],
                               np.asarray(roll_deg, dtype)])
        per = failure_at_readings(ts[None, :], pitch[None, :], roll[None, :],
                                  self.base.take(np.array([row])),
                                  failure_minutes=p.failure_minutes,
                                  failure_min_samples=p.failure_min_samples)
        with np.errstate(invalid="ignore"):
            hit = np.flatnonzero((ts > self.failure_judged_ms)
                                 & (per.lean_deg[0] >= p.failure_deg))
        if hit.size == 0:
            return None
        j = int(hit[0])
        ev = self.event_failure(row, float(per.lean_deg[0, j]), int(ts[j]))
        self.urgent[row] = ev
        return ev

    def _lean(self, b: _Block, failed: np.ndarray, now_ms: int, emit: list[Event]) -> None:
        """Residual lean of the calm readings."""
        p = self.params.tilt
        lean = residual_lean(b.ts, b.pc, b.rc, None, b.calm, b.base, now_ms,
                             current_minutes=p.current_minutes, min_samples=p.min_samples)
        th = self._grades("lean_deg", b.rows)
        on, hold, known = graded(lean.lean_deg, th, p.hysteresis)
        self.lean_deg[b.rows] = lean.lean_deg
        fire = self.latches.update_rows("lean", len(self.index), b.rows, on, hold, known)
        for i in np.flatnonzero(fire & ~failed).tolist():
            lv = int(on[i])
            emit.append(self.event(
                "lean", int(b.rows[i]), lv, lean.lean_deg[i], th[i, lv - 1], "deg",
                int(lean.ts_ms[i]),
                f"calm residual lean {lean.lean_deg[i]:.2f} deg from the tree's baseline; "
                f"{SEVERITY[lv]} at {th[i, lv - 1]} deg"))

    def _step(self, b: _Block, failed: np.ndarray, now_ms: int, storms: SiteStorms,
              settle_ms: int, emit: list[Event]) -> np.ndarray:
        """Persisting step: calm level before the storm (or before the last hour) against
        the calm level after it. Returns per row the first event time after ``now_ms`` at
        which the step's time windows change other than by a raw sample (see
        :meth:`_window_due`): an hourly median entering or leaving "before", the storm
        falling out of ``step_storm_hours``, the windy spell or the post window ageing."""
        p = self.params.tilt
        sl, base = b.rows, b.base
        site = self.site[sl]
        active = storms.active[site]
        onset = storms.onset_ts_ms[site]
        end = storms.end_ts_ms[site]
        post_ms = int(p.step_post_minutes * MS_PER_MIN)
        pre_ms = int(p.step_pre_hours * MS_PER_HOUR)
        recent = ~active & (end > 0) & (now_ms - end <= p.step_storm_hours * MS_PER_HOUR)
        split = now_ms - post_ms
        pre_end = np.where(recent, onset, split)
        # after a storm, "after" starts once the readings are calm again (the windy flag
        # already covers the settling time); without one, it is the last post window
        last_windy = b.last_windy
        post_start = np.where(recent, np.maximum(end + settle_ms, last_windy + 1), split)
        before = self._before_level(sl, pre_end, pre_ms, post_ms, end, base, now_ms)
        after = segment_level(b.ts, b.pc, b.rc, None, b.calm, post_start, now_ms + 1, base,
                              now_ms)
        step = step_magnitude(before, after, p.min_samples)
        th = self._grades("step_deg", sl)
        # Judge only a settled calm after the change: not before the tree has a baseline
        # (without its temperature coefficient a daily swing looks like one); not while the
        # wind blows or picks up (calm readings at the edge of a windy spell are already
        # pushed); not while "after" still straddles the change (its two halves disagree);
        # and "after" must span half the post window.
        settling = self._settling(b.ts, b.pc, b.rc, b.calm, post_start, step, base, now_ms,
                                  post_ms, th[:, 0] * p.hysteresis)
        windy_now = ~recent & (last_windy >= post_start - settle_ms)
        thin = after.last_ts_ms - after.first_ts_ms < post_ms // 2
        unjudged = (active | windy_now | thin | settling | (now_ms - post_start < post_ms)
                    | ~base.ok)
        step[unjudged] = np.nan
        # the alarm is a sudden *increase* [Hui2022]: a tree set back towards its baseline
        # (straightened, re-staked) is not one
        lean_before = np.hypot(before.pitch_deg - base.pitch_deg, before.roll_deg - base.roll_deg)
        lean_after = np.hypot(after.pitch_deg - base.pitch_deg, after.roll_deg - base.roll_deg)
        step[~unjudged & (lean_after < lean_before)] = 0.0
        on, hold, known = graded(step, th, p.hysteresis)
        fire = self.latches.update_rows("step", len(self.index), sl, on, hold, known)
        for i in np.flatnonzero(fire & ~failed).tolist():
            lv = int(on[i])
            when = (f"before the storm (onset {int(onset[i])}) and after the wind dropped"
                    if recent[i] else "over the last hour")
            emit.append(self.event(
                "lean_step", int(sl[i]), lv, step[i], th[i, lv - 1], "deg",
                int(after.last_ts_ms[i]),
                f"calm lean changed {step[i]:.2f} deg between {when}; "
                f"{SEVERITY[lv]} at {th[i, lv - 1]} deg"))
        # when the verdict may change with time alone (beyond the raw samples' windows)
        due: np.ndarray = self._before_until[sl].copy()
        storm_ms = int(np.floor(p.step_storm_hours * MS_PER_HOUR))
        cands = (np.where(end > 0, end + storm_ms + 1, _NEVER),  # no longer "recent"
                 np.where(last_windy > 0, last_windy + post_ms + settle_ms + 1, _NEVER),
                 np.where(recent, post_start + post_ms, _NEVER))  # "after" long enough
        for c_ms in cands:
            due = np.where(c_ms > now_ms, np.minimum(due, c_ms), due)
        return due

    def _before_level(self, rows: np.ndarray, pre_end: np.ndarray, pre_ms: int, post_ms: int,
                      end: np.ndarray, base: TiltBaseline, now_ms: int) -> Level:
        """The calm level "before" of the steps, ``[pre_end − pre, pre_end − ½ h)`` of the
        hourly tier: recomputed only for rows whose cached one may no longer hold (every row
        unless ``incremental``)."""
        p = self.params.tilt
        hourly = self.hourly
        todo = (np.ones(rows.size, bool) if not self.incremental
                else self._before_until[rows] <= now_ms)
        t = np.flatnonzero(todo)
        if t.size:
            sub = rows[t]
            back_h = int(np.ceil((now_ms - (pre_end[t] - pre_ms).min()) / MS_PER_HOUR)) + 2
            kh = min(hourly.window, max(back_h, 3))
            h_idx = hourly.tail_index(kh, sub)
            h_ts = hourly.tail("ts_ms", kh, sub, h_idx)
            lvl = segment_level(
                h_ts, hourly.tail("pitch_deg", kh, sub, h_idx),
                hourly.tail("roll_deg", kh, sub, h_idx), hourly.tail("temp_c", kh, sub, h_idx),
                h_ts > 0, pre_end[t] - pre_ms, pre_end[t] - MS_PER_HOUR // 2 + 1,
                base.take(t), now_ms)
            bp, br, bn = self._before
            bp[sub], br[sub], bn[sub] = lvl.pitch_deg, lvl.roll_deg, lvl.n
            # until an hourly median enters (at ts + post + ½ h) or leaves (ts + post + pre)
            # the window that slides with now, or the storm's end leaves "recent"
            until = np.full(t.size, _NEVER, np.int64)
            if kh:
                ar = np.arange(t.size)
                for c in (post_ms + MS_PER_HOUR // 2, post_ms + pre_ms + 1):
                    j = (h_ts <= now_ms - c).sum(axis=1)
                    has = j < kh
                    until[has] = np.minimum(until[has], h_ts[ar[has], j[has]] + c)
            storm_ms = int(np.floor(p.step_storm_hours * MS_PER_HOUR))
            flip = np.where(end[t] > 0, end[t] + storm_ms + 1, _NEVER)
            until = np.where(flip > now_ms, np.minimum(until, flip), until)
            self._before_until[sub] = until
        bp, br, bn = self._before
        z = np.zeros(rows.size, np.int64)
        return Level(bp[rows], br[rows], bn[rows], z, z)

    @staticmethod
    def _settling(ts: np.ndarray, pc: np.ndarray, rc: np.ndarray, calm: np.ndarray,
                  post_start: np.ndarray, step: np.ndarray, base: TiltBaseline, now_ms: int,
                  post_ms: int, floor: np.ndarray) -> np.ndarray:
        """Rows whose "after" window still straddles a change (its halves disagree by more
        than half the step). Only rows whose step could hold a level are checked."""
        out = np.zeros(step.size, bool)
        cand = np.flatnonzero(step >= floor)
        if cand.size == 0:
            return out
        mid = np.maximum(post_start[cand], now_ms - post_ms // 2)
        args = (ts[cand], pc[cand], rc[cand], None, calm[cand])
        sub = base.take(cand)
        a1 = segment_level(*args, post_start[cand], mid, sub, now_ms)
        a2 = segment_level(*args, mid, now_ms + 1, sub, now_ms)
        out[cand] = (np.hypot(a2.pitch_deg - a1.pitch_deg, a2.roll_deg - a1.roll_deg)
                     > 0.5 * step[cand])
        return out

    def _mount(self, b: _Block, temp: np.ndarray, now_ms: int, emit: list[Event]) -> np.ndarray:
        """Mount faults: the sensor moved, not the tree (a device check, never a lean alarm).
        Returns the block's rows whose mount is in doubt (their lean events are held back
        until a crew confirms the re-mount and the baseline is re-learned)."""
        p = self.params.tilt
        checked = self.mount_ts[b.rows]
        # wind or calm: the temperature jump is what tells a handled sensor from the tree
        jump = mount_jump(b.ts, b.pitch, b.roll, temp, np.isfinite(b.windy), after_ms=checked,
                          step_deg=p.mount_step_deg, temp_jump_c=p.mount_temp_c)
        newest = np.where(np.isfinite(b.windy), b.ts, 0).max(axis=1, initial=0)
        self.mount_ts[b.rows] = np.maximum(checked, newest)
        on = np.where(jump.found, 2, 0).astype(np.int8)
        n = len(self.index)
        fire = self.latches.update_rows("mount", n, b.rows, on, on, jump.found)
        for i in np.flatnonzero(fire).tolist():
            emit.append(self.event(
                "mount_moved", int(b.rows[i]), 2, jump.step_deg[i], p.mount_step_deg, "deg",
                int(jump.ts_ms[i]),
                f"tilt jumped {jump.step_deg[i]:.2f} deg on both axes between two calm "
                f"readings with a sensor temperature jump of {jump.temp_jump_c[i]:.1f} C: "
                f"the sensor was moved or re-mounted; confirm the mount, then re-learn the "
                f"baseline"))
        return np.asarray(self.latches.level("mount", n)[b.rows] > 0, bool)

    def storm_tick(self, now_ms: int, board: Board, emit: list[Event]) -> None:
        """Storm-time assessment of every tree at a site with a storm on."""
        StormTilt(self).tick(now_ms, board, emit)

    def event_failure(self, row: int, tilt_deg: float, ts_ms: int) -> Event:
        p = self.params.tilt
        return self.event(
            "failure", row, 3, tilt_deg, p.failure_deg, "deg", ts_ms,
            f"tilt {tilt_deg:.1f} deg from baseline, past {p.failure_deg} deg: "
            f"tree down or root plate failed")

    def level(self, name: str) -> np.ndarray:
        """Latched levels of one condition (diagnostics and tests)."""
        return self.latches.level(name, len(self.index)).copy()


__all__ = ["TiltStage"]
