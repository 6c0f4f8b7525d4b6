"""Engine stage: tilt bursts → per-burst sway features → sway-frequency-drop events.

Bursts are analysed when they arrive (grouped by rate and length, each group vectorized), so
only their features — in-band RMS and dominant frequency — are kept, per tree, in a small
window: a 2-min burst at 10 Hz is 2400 numbers, its features two. Rows are the tilt stage's
rows (a burst comes from a tilt device).
"""

from __future__ import annotations

import numpy as np

from greeniot.analytics.contract import Event
from greeniot.analytics.core.columns import Burst
from greeniot.analytics.core.latch import SEVERITY, Latches, graded
from greeniot.analytics.core.rowstats import group_median
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.params import AnalyticsParams
from greeniot.analytics.sway.detect import frequency_drop, sway_features
from greeniot.analytics.tilt.stage import TiltStage

BURST_CHUNK = 256  # bursts analysed per vectorized call: bounds the FFT workspace


class SwayStage:
    def __init__(self, params: AnalyticsParams, tilt: TiltStage, window: int) -> None:
        self.params = params
        self.tilt = tilt
        self.windows = Windows(("rms_deg", "freq_hz"), window)
        self.dirty = np.zeros(0, bool)  # rows with bursts not yet judged
        self.latches = Latches()

    def add(self, rows: np.ndarray, bursts: list[Burst]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Analyse bursts and store their features.

        Returns ``(rows, ts_ms, rms_deg)`` of the analysed bursts, for the site stand-in.
        Bursts too short or sampled too slowly for the sway band are skipped.
        """
        n = len(self.tilt.index)
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
                feats = sway_features(p, r, hz, sp)
                rr = rows[idx]
                tt = np.asarray([bursts[i].ts_ms for i in idx], np.int64)
                self.windows.append(rr, tt, {"rms_deg": feats.rms_deg, "freq_hz": feats.freq_hz})
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
        sites = self.tilt.site[rows]
        med, count = group_median(rms_deg, sites, n_sites)
        newest = np.zeros(n_sites, np.int64)
        np.maximum.at(newest, sites, ts_ms)
        has = np.flatnonzero(count > 0)
        return has, newest[has], med[has]

    def tick(self, now_ms: int, emit: list[Event]) -> None:
        """Judge the trees that sent bursts: frequency drop against their own past."""
        rows = np.flatnonzero(self.dirty)
        if rows.size == 0:
            return
        sp = self.params.sway
        w = self.windows
        ts = w.chronological("ts_ms", rows)
        freq = w.chronological("freq_hz", rows).astype(np.float64)
        rms = w.chronological("rms_deg", rows).astype(np.float64)
        drop = frequency_drop(ts, freq, sp, now_ms)
        th = np.asarray(sp.drop_frac.as_tuple())
        on, hold, known = graded(drop.drop_frac, th, self.params.tilt.hysteresis)
        fire = self.latches.update_rows("sway", len(self.tilt.index), rows, on, hold, known)
        for i in np.flatnonzero(fire):
            lv = int(on[i])
            # value/unit per the Event contract: the sway RMS [deg]; the frequency in freq_hz
            emit.append(self.tilt.event(
                "sway", int(rows[i]), lv, rms[i, -1], sp.min_rms_deg, "deg", int(ts[i, -1]),
                f"sway frequency {drop.recent_hz[i]:.3f} Hz is {100 * drop.drop_frac[i]:.0f}% "
                f"below this tree's own baseline {drop.baseline_hz[i]:.3f} Hz "
                f"({drop.n_baseline[i]} bursts; {SEVERITY[lv]} at {100 * th[lv - 1]:.0f}%)",
                freq_hz=float(drop.recent_hz[i])))
        self.dirty[rows[w.newest_ts_ms[rows] <= now_ms]] = False  # future bursts: judge later
