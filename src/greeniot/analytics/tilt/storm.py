"""Storm-time assessment in the tilt stage: offset and stiffness while the wind still blows.

Runs every tick over the trees of sites with a storm on (and only those): each tree's samples
since the storm's onset, with the wind load of their time, go through
:func:`greeniot.analytics.tilt.response.storm_response`; the non-elastic offset is graded
(``lean_storm``) and the recent compliance is compared with the tree's own earlier storms
(``stiffness``). Calm-judged lean, steps and trends stay with the stage's calm detectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from greeniot.analytics.contract import Event
from greeniot.analytics.core.latch import SEVERITY, graded
from greeniot.analytics.stage import Board
from greeniot.analytics.storm.stage import WindReference
from greeniot.analytics.tilt.baseline import compensate_tilt
from greeniot.analytics.tilt.detect import segment_level
from greeniot.analytics.tilt.response import storm_lean_level, storm_response
from greeniot.clock import MS_PER_HOUR

if TYPE_CHECKING:
    from greeniot.analytics.tilt.stage import TiltStage

HISTORY = 4  # earlier storms remembered per tree


@dataclass(slots=True)
class StormMemory:
    """Per row: the storm being assessed (onset [ms UTC]), its newest offset [deg] and elastic
    compliance, and the compliances of the tree's earlier storms (NaN = none)."""

    onset_ms: np.ndarray
    offset_deg: np.ndarray
    compliance: np.ndarray
    history: np.ndarray  # (rows, HISTORY), newest last
    station: np.ndarray  # the load of the current storm is U² (else sway RMS)
    stormy: np.ndarray  # the current spell reached storm strength (only those join history)

    @classmethod
    def empty(cls, rows: int) -> StormMemory:
        return cls(np.zeros(rows, np.int64), np.full(rows, np.nan), np.full(rows, np.nan),
                   np.full((rows, HISTORY), np.nan), np.zeros(rows, bool), np.zeros(rows, bool))

    def grown(self, rows: int) -> StormMemory:
        add = StormMemory.empty(rows - self.onset_ms.size)
        return StormMemory(*(np.concatenate([getattr(self, f), getattr(add, f)])
                             for f in StormMemory.__slots__))

    def archive(self, rows: np.ndarray) -> None:
        """Close the rows' current spells: a storm's compliance joins the history (a breeze's
        is too uncertain to compare with)."""
        done = rows[np.isfinite(self.compliance[rows]) & self.stormy[rows]]
        if done.size:
            self.history[done] = np.concatenate(
                [self.history[done, 1:], self.compliance[done, None]], axis=1)
        self.compliance[rows] = np.nan
        self.offset_deg[rows] = np.nan
        self.stormy[rows] = False

    def forget(self, row: int) -> None:
        """A re-mounted sensor or re-baselined tree: earlier storms no longer compare."""
        self.history[row] = np.nan
        self.compliance[row] = np.nan
        self.offset_deg[row] = np.nan


class StormTilt:
    """One tick of the storm-time assessment over a tilt stage's rows."""

    def __init__(self, stage: TiltStage) -> None:
        self.s = stage

    def tick(self, now_ms: int, board: Board, emit: list[Event]) -> None:
        s = self.s
        storms = board.storms
        wind = board.wind
        n = len(s.index)
        if storms is None or wind is None or n == 0:
            return
        site = s.site[:n]
        if storms.spell_active.size == storms.active.size:
            active = storms.spell_active[site]
            onset = storms.spell_onset_ts_ms[site]
        else:
            active = storms.active[site]
            onset = storms.onset_ts_ms[site]
        mem = s.storm
        new = active & (onset != mem.onset_ms[:n])
        if new.any():
            rows_new = np.flatnonzero(new)
            mem.archive(rows_new)
            for name in ("storm", "stiffness"):
                s.latches.reset(name, rows_new)
            mem.onset_ms[rows_new] = onset[rows_new]
            has = wind.has_station
            codes = site[rows_new]
            station = np.zeros(rows_new.size, bool)
            known = codes < has.size
            station[known] = has[codes[known]]
            # compliances per U² and per sway RMS do not compare: a changed load forgets
            mem.history[rows_new[station != mem.station[rows_new]]] = np.nan
            mem.station[rows_new] = station
        rows = np.flatnonzero(active)
        mem.stormy[rows] |= storms.active[site[rows]]
        wet = _wet_sites(board, len(board.sites))
        for c0 in range(0, rows.size, s.chunk_rows):
            self._chunk(rows[c0:c0 + s.chunk_rows], now_ms, onset, wet, emit, wind)

    def _chunk(self, rows: np.ndarray, now_ms: int, onset: np.ndarray, wet: np.ndarray,
               emit: list[Event], wind: WindReference | None = None) -> None:
        s = self.s
        p = s.params.tilt
        raw, hourly = s.raw, s.hourly
        n = len(s.index)
        k = min(raw.window, p.storm_max_samples)
        idx = raw.tail_index(k, rows)
        ts = raw.tail("ts_ms", k, rows, idx)
        base = s.base.take(rows)
        pc, rc = compensate_tilt(raw.tail("pitch_deg", k, rows, idx),
                                 raw.tail("roll_deg", k, rows, idx),
                                 raw.tail("temp_c", k, rows, idx), base)
        load = raw.tail("load", k, rows, idx).astype(np.float64)
        if wind is not None:
            load = provisional_load(load, ts, s.site[rows], now_ms, wind)
        on_ms = onset[rows]
        # the calm level before the storm, from the hourly tier (as the step detector does)
        pre_ms = int(p.step_pre_hours * MS_PER_HOUR)
        back_h = int(np.ceil((now_ms - (on_ms - pre_ms).min()) / MS_PER_HOUR)) + 2
        kh = min(hourly.window, max(back_h, 3))
        h_idx = hourly.tail_index(kh, rows)
        h_ts = hourly.tail("ts_ms", kh, rows, h_idx)
        pre = segment_level(h_ts, hourly.tail("pitch_deg", kh, rows, h_idx),
                            hourly.tail("roll_deg", kh, rows, h_idx),
                            hourly.tail("temp_c", kh, rows, h_idx), h_ts > 0, on_ms - pre_ms,
                            on_ms - MS_PER_HOUR // 2 + 1, base, now_ms)
        have_pre = pre.n >= p.min_samples
        pre_p = np.where(have_pre, pre.pitch_deg, base.pitch_deg)
        pre_r = np.where(have_pre, pre.roll_deg, base.roll_deg)
        resp = storm_response(
            ts, pc, rc, load, ts >= on_ms[:, None], pre_pitch_deg=pre_p, pre_roll_deg=pre_r,
            now_ms=now_ms, current_minutes=p.storm_current_minutes,
            growth_minutes=p.storm_growth_minutes, block_samples=p.storm_block_samples,
            ref_quantile=p.storm_ref_quantile, min_load_frac=p.storm_min_load_frac,
            equal_load_frac=p.storm_equal_load_frac, min_samples=p.min_samples)
        s.storm.offset_deg[rows] = resp.offset_deg
        s.storm.compliance[rows] = np.where(np.isfinite(resp.compliance_ref),
                                            resp.compliance_ref, s.storm.compliance[rows])
        th = s._grades("storm_offset_deg", rows).copy()
        her = s.heritage[rows]
        wet_crit = np.where(her, s.params.heritage_tilt.wet_critical_deg, p.wet_critical_deg)
        th[:, 2] = np.where(wet[s.site[rows]], np.minimum(th[:, 2], wet_crit), th[:, 2])
        th[:, 1] = np.minimum(th[:, 1], np.nextafter(th[:, 2], 0))
        th[:, 0] = np.minimum(th[:, 0], np.nextafter(th[:, 1], 0))
        on, hold, known = storm_lean_level(resp.offset_deg, resp.growth_deg, th,
                                           growth_deg_min=p.storm_growth_deg,
                                           hysteresis=p.hysteresis, se_deg=resp.se_deg, z=p.storm_z)
        fire = s.latches.update_rows("storm", n, rows, on, hold, known)
        held = ((s.latches.level("failure", n)[rows] > 0)
                | (s.latches.level("mount", n)[rows] > 0))
        for i in np.flatnonzero(fire & ~held).tolist():
            lv = int(on[i])
            r = int(rows[i])
            emit.append(s.event(
                "lean_storm", r, lv, resp.offset_deg[i], th[i, lv - 1], "deg",
                int(ts[i][ts[i] > 0].max()),
                f"tilt does not spring back in the storm: non-elastic offset "
                f"{resp.offset_deg[i]:.2f} deg from the pre-storm position (grew "
                f"{resp.growth_deg[i]:+.2f} deg in {p.storm_growth_minutes:.0f} min); "
                f"{SEVERITY[lv]} at {th[i, lv - 1]:g} deg"
                + (" (saturated ground)" if wet[s.site[r]] and lv == 3 else "")))
        # stiffness compares storms: a breeze's compliance is too uncertain
        stormy = self.s.storm.stormy[rows]
        self._stiffness(rows, np.where(stormy, resp.compliance_recent, np.nan), ts, held, emit)

    def _stiffness(self, rows: np.ndarray, c_recent: np.ndarray, ts: np.ndarray,
                   held: np.ndarray, emit: list[Event]) -> None:
        """Compliance now against the tree's earlier storms: a stiffness drop."""
        s = self.s
        p = s.params.tilt
        hist = s.storm.history[rows]
        n_hist = np.isfinite(hist).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore", all="ignore"):
            c_hist = np.where(n_hist > 0, np.nanmedian(np.where(n_hist[:, None] > 0, hist, 0.0),
                                                       axis=1), np.nan)
            drop = 1.0 - c_hist / c_recent
        drop = np.where(np.isfinite(drop), drop, np.nan)
        th = np.asarray(p.stiffness_drop_frac.as_tuple())
        on, hold, known = graded(drop, th, p.hysteresis)
        fire = s.latches.update_rows("stiffness", len(s.index), rows, on, hold, known)
        for i in np.flatnonzero(fire & ~held).tolist():
            lv = int(on[i])
            emit.append(s.event(
                "stiffness", int(rows[i]), lv, drop[i], th[lv - 1], "fraction",
                int(ts[i][ts[i] > 0].max()),
                f"tilt per wind load {c_recent[i]:.3g} against {c_hist[i]:.3g} in the tree's "
                f"earlier storms: stiffness down {100 * drop[i]:.0f}%; {SEVERITY[lv]} at "
                f"{100 * th[lv - 1]:.0f}%"))


def provisional_load(load: np.ndarray, ts_ms: np.ndarray, site_codes: np.ndarray, now_ms: int,
                     wind: WindReference) -> np.ndarray:
    """The storm samples' wind load without waiting for the next reference.

    The tilt stage stores a sample's load once the reference after it is in (to interpolate)
    and the classification lag has passed: 10–15 min behind the newest reading, which is half
    of the 30 min a yielding tree's warning may take. While the wind blows the assessment takes
    the newest samples with the load of the newest reference up to ``max_gap`` old (persistence
    of the 10-min mean, whose own averaging window is that long); the stored, interpolated load
    replaces it on a later tick. Rows (rows, samples); NaN stays where no reference is fresh.
    """
    need = np.isnan(load) & (ts_ms > 0) & (ts_ms <= now_ms)
    if not need.any():
        return load
    r, c = np.nonzero(need)
    out = load.copy()
    out[r, c] = wind.load_for(site_codes[r], ts_ms[r, c], final=True)
    return out


def _wet_sites(board: Board, n_sites: int) -> np.ndarray:
    """Sites with a waterlogged zone (the soil stage's state of the previous tick)."""
    wet = np.zeros(max(n_sites, 1), bool)
    z = board.zones
    if z is None or not len(z):
        return wet
    lvl = np.asarray(z.waterlog_level)
    sat = lvl >= 2
    if sat.any():
        codes = board.site_codes(np.asarray(z.site, dtype=object)[sat])
        wet[codes[codes < wet.size]] = True
    return wet
