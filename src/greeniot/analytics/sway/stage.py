"""Engine stage: tilt bursts → per-burst sway features → sway-frequency-drop events.

Bursts are analysed when they arrive (grouped by rate and length, each group vectorized), so
only their features — in-band RMS and dominant frequency — are kept, per tree, in a small
window: a 2-min burst at 10 Hz is 2400 numbers, its features two. Bursts ride on tilt
readings; the stage keeps its own rows of tilt devices. It publishes the estate's median burst
sway per site on the board, the storm stage's wind stand-in for sites without a station.
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
from greeniot.analytics.sway.detect import frequency_drop, sway_features

BURST_CHUNK = 256  # bursts analysed per vectorized call: bounds the FFT workspace


class SwayStage:
    name = "sway"
    kinds: tuple[str, ...] = ("tilt",)

    def __init__(self, params: AnalyticsParams, window: int) -> None:
        self.params = params
        self.index = DeviceIndex()
        self.site = np.zeros(0, np.int64)
        self.tree: list[str | None] = []
        self.heritage = np.zeros(0, bool)
        self.windows = Windows(("rms_deg", "freq_hz", "damping"), window)
        self.dirty = np.zeros(0, bool)  # rows with bursts not yet judged
        self.latches = Latches()

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
        return rows

    def remeta(self, board: Board) -> None:
        metas = [board.lookup.meta(*self.index.key(r)) for r in range(len(self.index))]
        self.tree = [m.tree for m in metas]
        self.heritage = np.asarray([m.heritage for m in metas], bool)

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
        """Analyse bursts and store their features.

        Returns ``(rows, ts_ms, rms_deg)`` of the analysed bursts, for the site stand-in.
        Bursts too short or sampled too slowly for the sway band are skipped.
        """
        n = len(self.index)
        self.windows.ensure_rows(n)
        if self.dirty.size < n:
            self.dirty = np.concatenate([self.dirty, np.zeros(n - self.dirty.size, bool)])
        groups: dict[tuple[float, int], list[int]] = {}
        for i, b in enumerate(bursts):
            groups.setdefault((float(b.hz), len(b.pitch_deg)), []).append(i)
        out_r, out_t, out_rms = [], [], []
        sp = self.params.sway
        for (hz, length), members in groups.items():
            if length < sp.min_samples or not 0.45 * hz > sp.band_low_hz:
                continue
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
                self.windows.append(rr, tt, {"rms_deg": feats.rms_deg, "freq_hz": feats.freq_hz,
                                             "damping": (feats.damping if feats.damping is not None
                                                         else np.full(len(idx), np.nan))})
                out_r.append(rr)
                out_t.append(tt)
                out_rms.append(feats.rms_deg)
        if not out_r:
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0)
        rr, tt, rms = np.concatenate(out_r), np.concatenate(out_t), np.concatenate(out_rms)
        self.dirty[rr] = True
        return rr, tt, rms

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
        """Judge the trees that sent bursts: frequency drop against their own past."""
        emit: list[Event] = []
        rows = np.flatnonzero(self.dirty)
        if rows.size == 0:
            return emit
        sp = self.params.sway
        w = self.windows
        ts = w.chronological("ts_ms", rows)
        freq = w.chronological("freq_hz", rows).astype(np.float64)
        rms = w.chronological("rms_deg", rows).astype(np.float64)
        drop = frequency_drop(ts, freq, now_ms, recent_bursts=sp.recent_bursts,
                              baseline_days=sp.baseline_days,
                              baseline_min_bursts=sp.baseline_min_bursts)
        th = np.asarray(sp.drop_frac.as_tuple())
        on, hold, known = graded(drop.drop_frac, th, self.params.tilt.hysteresis)
        fire = self.latches.update_rows("sway", len(self.index), rows, on, hold, known)
        for i in np.flatnonzero(fire):
            lv = int(on[i])
            # value/unit per the Event contract: the sway RMS [deg]; the frequency in freq_hz
            emit.append(self.event(
                int(rows[i]), lv, rms[i, -1], sp.min_rms_deg, int(ts[i, -1]),
                f"sway frequency {drop.recent_hz[i]:.3f} Hz is {100 * drop.drop_frac[i]:.0f}% "
                f"below this tree's own baseline {drop.baseline_hz[i]:.3f} Hz "
                f"({drop.n_baseline[i]} bursts; {SEVERITY[lv]} at {100 * th[lv - 1]:.0f}%)",
                freq_hz=float(drop.recent_hz[i])))
        self.dirty[rows[w.newest_ts_ms[rows] <= now_ms]] = False  # future bursts: judge later
        return emit
