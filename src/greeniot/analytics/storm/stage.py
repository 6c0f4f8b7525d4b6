"""Engine stage: weather windows → per-site storm state, storm events, windy lookups.

Publishes on the board each tick: :class:`SiteStorms` (storm on, onset, end per site code) and
a :class:`WindReference` (was a site windy at a time?) for the tilt stage, which judges lean on
calm readings only. Without a weather station, the estate's own sway (from the sway stage)
stands in for the wind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from greeniot.analytics.contract import Event
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.latch import SEVERITY, Latches
from greeniot.analytics.core.rowstats import pack_groups
from greeniot.analytics.core.windows import Windows
from greeniot.analytics.params import StormParams
from greeniot.analytics.stage import Board, StageBatch
from greeniot.analytics.storm.detect import load_at, storm_episodes, windy_at, windy_readings
from greeniot.clock import MS_PER_MIN


@dataclass(frozen=True, slots=True)
class SiteStorms:
    """Per site code: storm on now, onset and end of the current/last storm [ms UTC]."""

    active: np.ndarray
    onset_ts_ms: np.ndarray
    end_ts_ms: np.ndarray
    #: windy spell on now and its onset [ms UTC] (a storm is always within one)
    spell_active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    spell_onset_ts_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True, slots=True)
class WindReference:
    """Wind references of the last tick (stations, else estate sway): windy or calm when."""

    site_codes: np.ndarray
    ts_ms: np.ndarray
    windy: np.ndarray
    settle_ms: int
    max_gap_ms: int
    #: wind load of each reference: station ``U²`` [(m/s)²], else estate sway RMS [deg]
    load: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per site code: the site has a weather station (its load is ``U²``)
    has_station: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def windy_for(self, site_codes: np.ndarray, ts_ms: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(windy, known) for samples at these sites and times [ms UTC]."""
        return windy_at(site_codes, ts_ms, self.site_codes, self.ts_ms, self.windy,
                        settle_ms=self.settle_ms, max_gap_ms=self.max_gap_ms)

    def load_for(self, site_codes: np.ndarray, ts_ms: np.ndarray,
                 final: bool | np.ndarray = True) -> np.ndarray:
        """Wind load at samples of these sites and times (NaN where unknown); with ``final``
        false a sample after the newest reference waits (NaN) for the next one."""
        if self.load.size != self.ts_ms.size:
            return np.full(np.asarray(ts_ms).size, np.nan)
        return load_at(site_codes, ts_ms, self.site_codes, self.ts_ms, self.load,
                       max_gap_ms=self.max_gap_ms, final=final)


class StormStage:
    """Owns the weather windows and the per-site sway stand-in; judges storms per site."""

    name = "storm"
    kinds: tuple[str, ...] = ("weather",)

    def __init__(self, params: StormParams, window: int) -> None:
        self.params = params
        self.index = DeviceIndex()
        self.site = np.zeros(0, np.int64)  # weather row → site code
        self.weather = Windows(("wind_ms", "gust_ms"), window)
        self.proxy = Windows(("rms_deg",), window)  # rows are site codes
        self.latches = Latches()
        self._was_active = np.zeros(0, bool)
        self._ref: tuple[np.ndarray, np.ndarray, np.ndarray] = (
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        self._load = np.zeros(0)
        self._has_wx = np.zeros(0, bool)
        #: the grouped readings of the last tick and what they were built from
        self._packed: tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray,
                            np.ndarray, np.ndarray, np.ndarray] | None = None

    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board) -> np.ndarray:
        site_codes = board.site_codes(sites)
        rows = self.index.rows(list(sites), list(devices))
        if len(self.index) > self.site.size:
            grown = np.zeros(len(self.index), np.int64)
            grown[: self.site.size] = self.site
            grown[rows] = site_codes
            self.site = grown
        return rows

    def append(self, batch: StageBatch, board: Board) -> None:
        self.weather.append(batch.rows, batch.ts_ms, {"wind_ms": batch.column("wind_ms"),
                                                      "gust_ms": batch.column("gust_ms")})

    def remeta(self, board: Board) -> None:
        """Stations carry no bindings: nothing to re-read."""

    def wind_reference(self) -> WindReference:
        p = self.params
        return WindReference(*self._ref, settle_ms=int(p.settle_minutes * MS_PER_MIN),
                             max_gap_ms=int(p.max_gap_minutes * MS_PER_MIN), load=self._load,
                             has_station=self._has_wx)

    def publish(self, board: Board) -> None:
        """After history is loaded: the wind references to classify historical tilt by."""
        self.refresh(len(board.sites))
        board.wind = self.wind_reference()

    def add_sway(self, site_codes: np.ndarray, ts_ms: np.ndarray, rms_deg: np.ndarray) -> None:
        """Site median burst sway, the wind stand-in for sites without a weather station."""
        ok = np.isfinite(rms_deg)
        if ok.any():
            self.proxy.append(site_codes[ok], ts_ms[ok], {"rms_deg": rms_deg[ok]})

    def _readings(self, n_sites: int) -> tuple[np.ndarray, ...]:
        """Every held station reading as columns, and which sites have a station."""
        ts = self.weather.ts_ms
        r_idx, c_idx = np.nonzero(ts > 0)
        w_site = self.site[r_idx]
        w_ts = ts[r_idx, c_idx]
        wind = self.weather.values("wind_ms")[r_idx, c_idx].astype(np.float64)
        gust = self.weather.values("gust_ms")[r_idx, c_idx].astype(np.float64)
        has_wx = np.zeros(n_sites, bool)
        has_wx[w_site] = True
        return has_wx, w_site, w_ts, wind, gust

    def _references(self, has_wx: np.ndarray, w_site: np.ndarray, w_ts: np.ndarray,
                    wind: np.ndarray, gust: np.ndarray, px_ts: np.ndarray,
                    px_rms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wind references for the windy mask: stations, else the sway stand-in."""
        p = self.params
        pr, pc = np.nonzero((px_ts > 0) & ~has_wx[:, None])
        self._load = np.concatenate([wind * wind, px_rms[pr, pc]])
        self._has_wx = has_wx
        return (
            np.concatenate([w_site, pr.astype(np.int64)]),
            np.concatenate([w_ts, px_ts[pr, pc]]),
            np.concatenate([windy_readings(wind, gust, windy_ms=p.windy_ms,
                                           windy_gust_ms=p.windy_gust_ms),
                            px_rms[pr, pc] >= p.sway_windy_rms_deg]),
        )

    def refresh(self, n_sites: int) -> None:
        """Rebuild the wind references from the windows without judging storms (warm start)."""
        has_wx, w_site, w_ts, wind, gust = self._readings(n_sites)
        self.proxy.ensure_rows(n_sites)
        self._ref = self._references(
            has_wx, w_site, w_ts, wind, gust, self.proxy.held("ts_ms"),
            self.proxy.held("rms_deg").astype(np.float64))

    def tick(self, now_ms: int, board: Board) -> list[Event]:
        """Judge storms per site; publish :class:`SiteStorms` and the wind reference."""
        for sway in board.site_sway:
            self.add_sway(sway.site_codes, sway.ts_ms, sway.rms_deg)
        board.site_sway.clear()
        emit: list[Event] = []
        board.storms = self._tick(now_ms, board.sites.sites(), emit)
        board.wind = self.wind_reference()
        return emit

    def _tick(self, now_ms: int, sites: list[str], emit: list[Event]) -> SiteStorms:
        p = self.params
        n_sites = len(sites)
        hold_ms = int(p.end_hold_minutes * MS_PER_MIN)
        key = (self.weather.writes, self.weather.n_rows, self.proxy.writes, n_sites)
        if self._packed is None or self._packed[0] != key:
            # the readings changed: regroup them (else only the time moved on)
            has_wx, w_site, w_ts, wind, gust = self._readings(n_sites)
            ts_mat, (wind_mat, gust_mat) = pack_groups(w_site, w_ts, n_sites, wind, gust)
            self.proxy.ensure_rows(n_sites)
            px_ts = self.proxy.held("ts_ms")  # only the columns some site holds
            px_rms = self.proxy.held("rms_deg").astype(np.float64)
            self._ref = self._references(has_wx, w_site, w_ts, wind, gust, px_ts, px_rms)
            self._packed = (key, has_wx, ts_mat, wind_mat, gust_mat, px_ts, px_rms)
        _, has_wx, ts_mat, wind_mat, gust_mat, px_ts, px_rms = self._packed
        st = storm_episodes(ts_mat, wind_mat, onset=p.onset_ms, end=p.end_ms,
                            end_hold_ms=hold_ms, now_ms=now_ms)
        sw = storm_episodes(px_ts, px_rms, onset=p.sway_onset_rms_deg, end=p.sway_end_rms_deg,
                            end_hold_ms=hold_ms, now_ms=now_ms)
        st_spell = storm_episodes(ts_mat, wind_mat, onset=p.windy_ms, end=p.spell_end_ms,
                                  end_hold_ms=hold_ms, now_ms=now_ms)
        sw_spell = storm_episodes(px_ts, px_rms, onset=p.sway_windy_rms_deg,
                                  end=p.sway_spell_end_rms_deg, end_hold_ms=hold_ms,
                                  now_ms=now_ms)
        spell_active = np.where(has_wx, st_spell.active, sw_spell.active)
        spell_onset = np.where(has_wx, st_spell.onset_ts_ms, sw_spell.onset_ts_ms)
        active = np.where(has_wx, st.active, sw.active)
        onset = np.where(has_wx, st.onset_ts_ms, sw.onset_ts_ms)
        end = np.where(has_wx, st.end_ts_ms, sw.end_ts_ms)
        peak = np.where(has_wx, st.peak, sw.peak)

        # peak gust within the current/last storm, for the event value
        in_storm = (ts_mat >= onset[:, None]) & (onset[:, None] > 0) & (ts_mat <= now_ms)
        in_storm &= np.where((end > 0)[:, None], ts_mat <= end[:, None], True)
        peak_gust = np.where(in_storm & np.isfinite(gust_mat), gust_mat, -np.inf).max(
            axis=1, initial=-np.inf)

        level = np.where(active, np.where(has_wx & (peak >= p.severe_ms), 3, 2), 0).astype(np.int8)
        fire = self.latches.update("storm", level, level)
        was = np.zeros(n_sites, bool)
        was[: self._was_active.size] = self._was_active
        ended = was & ~active
        self._was_active = active.copy()
        for s in np.flatnonzero(fire):
            gusty = has_wx[s] and np.isfinite(peak_gust[s])
            value = float(peak_gust[s]) if gusty else float(peak[s])
            emit.append(Event(
                kind="storm", site=sites[s], ts_ms=int(onset[s]),
                severity=SEVERITY[level[s]],  # type: ignore[arg-type]
                value=value, threshold=p.onset_ms if has_wx[s] else p.sway_onset_rms_deg,
                unit="m/s" if has_wx[s] else "deg", phase="escalate" if was[s] else "start",
                detail=("escalated" if was[s] else "started")
                + (f"; peak mean wind {peak[s]:.1f} m/s" if has_wx[s] else
                   f"; estate sway RMS {peak[s]:.3f} deg (no weather station)"),
            ))
        for s in np.flatnonzero(ended):
            emit.append(Event(
                kind="storm", site=sites[s], ts_ms=int(end[s]) if end[s] > 0 else now_ms,
                severity="info", value=float(st.latest[s] if has_wx[s] else sw.latest[s]),
                threshold=p.end_ms if has_wx[s] else p.sway_end_rms_deg,
                unit="m/s" if has_wx[s] else "deg", phase="clear",
                duration_s=(float(end[s] - onset[s]) / 1000 if end[s] > onset[s] > 0 else None),
                detail=f"ended; calm since the last reading above the end threshold "
                       f"(held {p.end_hold_minutes:.0f} min)",
            ))
        spell_active |= active
        spell_onset = np.where(active & ((spell_onset == 0) | (spell_onset > onset)), onset,
                               spell_onset)
        return SiteStorms(active, onset, end, spell_active, spell_onset.astype(np.int64))
