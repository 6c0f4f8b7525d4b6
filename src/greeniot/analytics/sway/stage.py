"""Engine stage: tilt bursts → per-burst sway features → sway-frequency-drop events.

Bursts are analysed when they arrive (grouped by rate and length, each group vectorized), so
only their features — in-band RMS, dominant frequency, damping ratio and the tree's foliage
state at that time — are kept, per tree, in a small window: a 2-min burst at 10 Hz is 2400
numbers, its features four. Trusted bursts also feed the tree's seasonal baselines
(:mod:`greeniot.analytics.sway.seasons`): the frequency drop is judged against the baseline of
the same foliage state. Bursts ride on tilt readings; the stage keeps its own rows of tilt
devices. It publishes the estate's median burst sway per site on the board, the storm stage's
wind stand-in for sites without a station.
"""

from __future__ import annotations

import numpy as np

from greeniot.analytics.contract import Event
from greeniot.analytics.core.columns import Burst
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches, graded
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.params import AnalyticsParams
from greeniot.analytics.stage import Board, SiteSway, StageBatch
from greeniot.analytics.storm.detect import site_sway_rms
from greeniot.analytics.sway.detect import sway_features, sway_rms
from greeniot.analytics.sway.phenology import (
    LEAF_OFF,
    STATE_NAMES,
    foliage_state,
    near_transition,
    tree_windows,
)
from greeniot.analytics.sway.seasons import (
    SeasonRings,
    population_ratio,
    recent_sway,
    reference_state,
)
from greeniot.estate import SeasonBaseline
from greeniot.leaf_habits import leaf_habit

BURST_CHUNK = 256  # bursts analysed per vectorized call: bounds the FFT workspace
MAX_STITCHED = 12_000  # samples: the protocol's longest burst (10 min at 20 Hz)


class _Open:
    """A burst being stitched from consecutive chunks (the firmware sends a long burst as
    readings of ``burst_chunk`` samples, each starting where the last ended)."""

    __slots__ = ("hz", "pitch", "roll", "ts_ms")

    def __init__(self, b: Burst) -> None:
        self.ts_ms = int(b.ts_ms)
        self.hz = float(b.hz)
        self.pitch = list(b.pitch_deg)
        self.roll = list(b.roll_deg)

    @property
    def end_ms(self) -> float:
        """When the next chunk would start [ms]."""
        return self.ts_ms + len(self.pitch) * 1000.0 / self.hz

    def continues(self, b: Burst) -> bool:
        return (float(b.hz) == self.hz and abs(b.ts_ms - self.end_ms) <= 500.0 / self.hz
                and len(self.pitch) + len(b.pitch_deg) <= MAX_STITCHED)

    def burst(self, site: str, device: str) -> Burst:
        return Burst(site, device, self.ts_ms, self.hz, self.pitch, self.roll)


class SwayStage:
    name = "sway"
    kinds: tuple[str, ...] = ("tilt",)

    def __init__(self, params: AnalyticsParams, window: int) -> None:
        self.params = params
        self.index = DeviceIndex()
        self.site = np.zeros(0, np.int64)
        self.tree: list[str | None] = []
        self.heritage = np.zeros(0, bool)
        self.windows = Windows(("rms_deg", "freq_hz", "damping", "foliage"), window)
        self.dirty = np.zeros(0, bool)  # rows with bursts not yet judged
        self.latches = Latches()
        self.open: dict[int, _Open] = {}  # row → burst still being stitched
        sp = params.sway
        self.rings = SeasonRings(sp.season_ring, int(sp.season_spacing_h * 3_600_000))
        # leaf calendar per row (from the registry's tree: species, habit, latitude)
        self.deciduous = np.zeros(0, bool)
        self.southern = np.zeros(0, bool)
        self.season_windows = np.zeros((0, 4), np.int64)

    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board) -> np.ndarray:
        before = len(self.index)
        rows = self.index.rows(list(sites), list(devices))
        n = len(self.index)
        if n > before:
            new = rows >= before
            codes = np.zeros(n - before, np.int64)
            codes[rows[new] - before] = board.site_codes(sites[new])
            self.site = np.concatenate([self.site, codes])
            metas = [board.lookup.meta(*self.index.key(r)) for r in range(before, n)]
            self.tree.extend(m.tree for m in metas)
            self.heritage = np.concatenate([self.heritage, [m.heritage for m in metas]])
            dec, south, win = self._calendar(board, range(before, n))
            self.deciduous = np.concatenate([self.deciduous, dec])
            self.southern = np.concatenate([self.southern, south])
            self.season_windows = np.concatenate([self.season_windows, win])
        return rows

    def remeta(self, board: Board) -> None:
        metas = [board.lookup.meta(*self.index.key(r)) for r in range(len(self.index))]
        self.tree = [m.tree for m in metas]
        self.heritage = np.asarray([m.heritage for m in metas], bool)
        self.deciduous, self.southern, self.season_windows = self._calendar(
            board, range(len(self.index)))

    def _calendar(self, board: Board, rows: range
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Leaf habit, hemisphere and calendar windows of these rows' trees. A device bound to
        no known tree is evergreen (one baseline); an unknown latitude counts as northern."""
        sp = self.params.sway
        infos = [board.lookup.tree_info(*self.index.key(r)) for r in rows]
        dec = np.asarray([leaf_habit(t.species, t.leaf_habit) == "deciduous" if t else False
                          for t in infos], bool)
        south = np.asarray([bool(t and t.lat_deg is not None and t.lat_deg < 0)
                            for t in infos], bool)
        win = tree_windows([t.species if t else None for t in infos], sp.season_windows,
                           sp.windows_by_species)
        return dec, south, win.reshape(-1, 4)

    def append(self, batch: StageBatch, board: Board) -> None:
        """Analyse the batch's bursts (plain tilt readings carry none for this stage)."""
        if not batch.bursts:
            return
        r, t, rms = self.add(batch.rows, list(batch.bursts))
        if r.size:
            s, ts, med = self.site_sway(r, t, rms, len(board.sites))
            board.site_sway.append(SiteSway(s, ts, med))

    def event(self, row: int, level: int, value: float, threshold: float, ts_ms: int,
              detail: str, freq_hz: float) -> Event:
        site, device = self.index.key(row)
        return Event(kind="sway", site=site, ts_ms=int(ts_ms),
                     severity=SEVERITY[level],  # type: ignore[arg-type]
                     value=float(value), threshold=float(threshold), unit="deg", device=device,
                     tree=self.tree[row], heritage=bool(self.heritage[row]), freq_hz=freq_hz,
                     detail=detail)

    def add(self, rows: np.ndarray, bursts: list[Burst]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Take bursts: their in-band RMS now (the site's wind stand-in cannot wait), their
        features once each burst is whole.

        A burst that starts where the row's previous one ended (within half a sample, same
        rate) continues it: the firmware sends a 300-s burst as chunks of ``burst_chunk``
        samples, and a 20-s chunk cannot resolve a 0.1 Hz tree. A stitched burst is analysed
        when a burst that does not continue it arrives, or at the first tick at or after its
        end (:meth:`close_due`). Returns ``(rows, ts_ms, rms_deg)`` of the bursts as they
        came, for the site stand-in. Bursts too short or sampled too slowly for the sway band
        are skipped.
        """
        n = len(self.index)
        self.windows.ensure_rows(n)
        self.rings.ensure_rows(n)
        if self.dirty.size < n:
            self.dirty = np.concatenate([self.dirty, np.zeros(n - self.dirty.size, bool)])
        sp = self.params.sway
        out_r, out_t, out_rms = [], [], []
        for (hz, _length), idx in self._groups(bursts).items():
            p = np.asarray([bursts[i].pitch_deg for i in idx], np.float64)
            r = np.asarray([bursts[i].roll_deg for i in idx], np.float64)
            out_r.append(rows[idx])
            out_t.append(np.asarray([bursts[i].ts_ms for i in idx], np.int64))
            out_rms.append(sway_rms(p, r, hz, band_low_hz=sp.band_low_hz,
                                    band_high_hz=sp.band_high_hz,
                                    filter_order=sp.filter_order))
        whole: list[tuple[int, Burst]] = []
        for i in sorted(range(len(bursts)), key=lambda i: (int(rows[i]), bursts[i].ts_ms)):
            row, b = int(rows[i]), bursts[i]
            cur = self.open.get(row)
            if cur is not None and cur.continues(b):
                cur.pitch.extend(b.pitch_deg)
                cur.roll.extend(b.roll_deg)
                continue
            if cur is not None:
                whole.append((row, cur.burst(*self.index.key(row))))
            self.open[row] = _Open(b)
        self._analyse(whole)
        if not out_r:
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0)
        return np.concatenate(out_r), np.concatenate(out_t), np.concatenate(out_rms)

    def close_due(self, now_ms: int) -> None:
        """Analyse the stitched bursts that ended by ``now_ms``."""
        due = [row for row, o in self.open.items() if o.end_ms <= now_ms]
        self._analyse([(row, self.open.pop(row).burst(*self.index.key(row))) for row in due])

    def _groups(self, bursts: list[Burst]) -> dict[tuple[float, int], list[int]]:
        """Indices of the analysable bursts by (rate, length): each group is one array."""
        sp = self.params.sway
        groups: dict[tuple[float, int], list[int]] = {}
        for i, b in enumerate(bursts):
            if len(b.pitch_deg) >= sp.min_samples and 0.45 * float(b.hz) > sp.band_low_hz:
                groups.setdefault((float(b.hz), len(b.pitch_deg)), []).append(i)
        return groups

    def _analyse(self, whole: list[tuple[int, Burst]]) -> None:
        """Features of whole bursts into the windows and the seasonal rings."""
        if not whole:
            return
        n = len(self.index)
        rows = np.asarray([row for row, _b in whole], np.int64)
        bursts = [b for _row, b in whole]
        sp = self.params.sway
        for (hz, _length), members in self._groups(bursts).items():
            for c in range(0, len(members), BURST_CHUNK):
                idx = members[c:c + BURST_CHUNK]
                p = np.asarray([bursts[i].pitch_deg for i in idx], np.float64)
                r = np.asarray([bursts[i].roll_deg for i in idx], np.float64)
                feats = sway_features(
                    p, r, hz, band_low_hz=sp.band_low_hz, band_high_hz=sp.band_high_hz,
                    filter_order=sp.filter_order, min_samples=sp.min_samples,
                    min_peak_ratio=sp.min_peak_ratio, min_rms_deg=sp.min_rms_deg)
                rr = rows[idx]
                tt = np.asarray([bursts[i].ts_ms for i in idx], np.int64)
                zeta = (feats.damping if feats.damping is not None
                        else np.full(len(idx), np.nan))
                fol = foliage_state(tt, self.deciduous[rr], self.southern[rr],
                                    self.season_windows[rr])
                self.windows.append(rr, tt, {"rms_deg": feats.rms_deg, "freq_hz": feats.freq_hz,
                                             "damping": zeta, "foliage": fol})
                # an alarmed tree does not teach its baseline the suspect frequency
                ok = self.latches.level("sway", n)[rr] == 0
                self.rings.push(rr[ok], tt[ok], fol[ok], feats.freq_hz[ok], zeta[ok])
                self.dirty[rr] = True

    def site_sway(self, rows: np.ndarray, ts_ms: np.ndarray, rms_deg: np.ndarray,
                  n_sites: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Median burst RMS per site of these bursts: ``(site_codes, newest ts_ms, rms)``."""
        sites = self.site[rows]
        med, count = site_sway_rms(rms_deg, sites, n_sites)
        newest = np.zeros(n_sites, np.int64)
        np.maximum.at(newest, sites, ts_ms)
        has = np.flatnonzero(count > 0)
        return has, newest[has], med[has]

    def tick(self, now_ms: int, board: Board) -> list[Event]:
        """Judge the trees that sent bursts: frequency drop against their own baseline of the
        same foliage state (:mod:`greeniot.analytics.sway.seasons`)."""
        emit: list[Event] = []
        self.close_due(now_ms)
        dirty = np.flatnonzero(self.dirty)
        if dirty.size == 0:
            return emit
        sp = self.params.sway
        w = self.windows
        # the whole population of the sites judged: a shared seasonal step cancels out
        n = w.n_rows
        rows = np.flatnonzero(np.isin(self.site[:n], self.site[dirty]) & (w.newest_ts_ms > 0))
        ts = w.chronological("ts_ms", rows)
        freq = w.chronological("freq_hz", rows).astype(np.float64)
        zeta = w.chronological("damping", rows).astype(np.float64)
        fol = np.nan_to_num(w.chronological("foliage", rows)).astype(np.int64)
        rms = w.chronological("rms_deg", rows).astype(np.float64)
        rec = recent_sway(ts, freq, zeta, fol, now_ms, recent_bursts=sp.recent_bursts)
        _f, _z, n_off, _s = self.rings.baseline(rows, np.full(rows.size, LEAF_OFF),
                                                rec.oldest_ms)
        ref = reference_state(rec.state, n_off, sp.baseline_min_bursts)
        base_hz, base_z, n_base, scatter = self.rings.baseline(rows, ref, rec.oldest_ms)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = rec.freq_hz / base_hz
        ratio[(n_base < sp.baseline_min_bursts) | (rec.n < sp.recent_bursts)] = np.nan
        near = self.deciduous[rows] & near_transition(
            np.full(rows.size, now_ms, np.int64), self.southern[rows],
            self.season_windows[rows], sp.season_margin_days)
        adj = population_ratio(ratio, self.site[rows], near, min_trees=sp.season_min_trees)
        drop = 1.0 - adj
        # standard error of the drop from the tree's own burst-to-burst scatter (medians:
        # 1.25 σ/√n each); a drop inside drop_z of them is sampling, not the tree
        with np.errstate(invalid="ignore", divide="ignore"):
            se = 1.25 * np.fmax(scatter, sp.min_scatter) * np.sqrt(
                1.0 / np.maximum(rec.n, 1) + 1.0 / np.maximum(n_base, 1))
        judge = self.dirty[rows]
        rows, drop, ts, rms, se = rows[judge], drop[judge], ts[judge], rms[judge], se[judge]
        sub = np.flatnonzero(judge)
        th = np.asarray(sp.drop_frac.as_tuple())
        graded_drop = np.where(np.isfinite(drop) & (drop < sp.drop_z * se), 0.0, drop)
        on, hold, known = graded(graded_drop, th, self.params.tilt.hysteresis)
        fire = self.latches.update_rows("sway", len(self.index), rows, on, hold, known)
        for i in np.flatnonzero(fire):
            lv = int(on[i])
            j = sub[i]
            shared = ("" if adj[j] == ratio[j] else
                      f"; {100 * (1 - ratio[j] / adj[j]):+.0f}% shared by the site's "
                      f"deciduous trees removed")
            # value/unit per the Event contract: the sway RMS [deg]; the frequency in freq_hz
            emit.append(self.event(
                int(rows[i]), lv, rms[i, -1], sp.min_rms_deg, int(ts[i, -1]),
                f"sway frequency {rec.freq_hz[j]:.3f} Hz is {100 * drop[i]:.0f}% below this "
                f"tree's own {STATE_NAMES[int(ref[j])]} baseline {base_hz[j]:.3f} Hz "
                f"(± {100 * se[i]:.0f}%, {n_base[j]} bursts; now "
                f"{STATE_NAMES[int(rec.state[j])]}; damping "
                f"{rec.damping[j]:.3f} vs {base_z[j]:.3f}{shared}; "
                f"{SEVERITY[lv]} at {100 * th[lv - 1]:.0f}%)",
                freq_hz=float(rec.freq_hz[j])))
        self.dirty[rows[w.newest_ts_ms[rows] <= now_ms]] = False  # future bursts: judge later
        return emit

    # -- seasonal baselines across restarts ---------------------------------------------------
    def baselines(self) -> list[SeasonBaseline]:
        """Every tree's baseline per foliage state, to store (a restart restores them)."""
        r, st, f, z, cnt, newest, sig = self.rings.summary()
        out = []
        for k in range(r.size):
            if int(r[k]) >= len(self.index):
                continue
            site, device = self.index.key(int(r[k]))
            out.append(SeasonBaseline(site, device, int(st[k]), float(f[k]), float(z[k]),
                                      int(cnt[k]), int(newest[k]), float(sig[k])))
        return out

    def restore_baselines(self, stored: list[SeasonBaseline], board: Board) -> None:
        """Seed the seasonal baselines from stored ones (e.g. after a restart)."""
        if not stored:
            return
        rows = self.rows("tilt", np.asarray([b.site for b in stored], dtype=object),
                         np.asarray([b.device for b in stored], dtype=object), board)
        self.rings.ensure_rows(len(self.index))
        for row, b in zip(rows, stored, strict=True):
            self.rings.restore(int(row), b.state, b.freq_hz, b.damping, b.n_bursts,
                               b.newest_ms, b.scatter)
