"""Engine stage: weather, soil probes and valve runs → each zone's daily FAO-56 water balance.

For every zone with an application rate (a water-balance zone) the stage keeps the root-zone
depletion Dr. Readings are bucketed by the local day of their own timestamp (the zone's site
offset), so their order does not matter; at the first tick after a local midnight the closed
day is balanced:

1. the site's station day: Tmin/Tmax of ``air_temp_c``, RHmin/RHmax of ``rh_pct``, mean wind,
   mean ``solar_w_m2`` (→ Rs, only when the readings span most of the day), rain sum;
2. ET0 by Penman–Monteith, or Hargreaves–Samani without radiation (:mod:`.et0`); ETc = Kc of
   the month × ET0;
3. net irrigation from the zone's valve runs that day (``open_s`` × rate × efficiency);
4. the day's FAO-56 balance (eqs. 84–88, with water above field capacity draining at the
   texture's AquaCrop rate, :func:`greeniot.soils.drain_fraction_per_day`) as the prediction
   of the zone's Kalman filter
   (:mod:`.estimator`: Dr, the probes' offset, an ET scale), then its update from each
   probe's calibrated median of the last 3 h before the day's end (:mod:`.evening`;
   :func:`.balance.sensor_depletion_mm`); uncalibrated, faulty (registry or device health),
   out-of-range and drifting probes (:mod:`.probe_drift`) do not count, and the zone's value
   stays on one reference whichever of its probes reported (:mod:`.probe_offsets`).

The result is published every tick as :class:`~greeniot.analytics.contract.ZoneBalanceState`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from greeniot.analytics.contract import Event, ZoneBalanceState
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.irrigation import balance, estimator, probe_drift, probe_offsets
from greeniot.analytics.irrigation.et0 import W_M2_TO_MJ_M2_DAY, daily_et0_mm
from greeniot.analytics.irrigation.evening import ProbeReadings
from greeniot.analytics.stage import Board, StageBatch
from greeniot.calibration import MAX_DEGREE, CalibrationTable, ProbeQuality, calibrate
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.estate import ZoneInfo
from greeniot.soils import drain_fraction_per_day

#: Solar readings must span this much of a day to give its Rs (else Hargreaves–Samani) [ms].
SOLAR_SPAN_MS = 20 * MS_PER_HOUR


def local_day(ts_ms: np.ndarray | int, utc_offset_h: float) -> np.ndarray:
    """Days since 1970-01-01 in local time."""
    return np.asarray(np.floor((np.asarray(ts_ms) / MS_PER_HOUR + utc_offset_h) / 24.0),
                      np.int64)


@dataclass(slots=True)
class _StationDay:
    tmin: float = np.inf
    tmax: float = -np.inf
    rh_min: float = np.inf
    rh_max: float = -np.inf
    wind_sum: float = 0.0
    wind_n: int = 0
    solar_sum: float = 0.0
    solar_n: int = 0
    solar_first_ms: int = 0
    solar_last_ms: int = 0
    rain_mm: float = 0.0
    readings: int = 0


@dataclass(slots=True)
class _Zones:
    """The water-balance zones as arrays (rebuilt when the estate changes; Dr kept by key)."""

    info: list[ZoneInfo] = field(default_factory=list)
    est: estimator.EstimatorState = field(default_factory=lambda: estimator.initial(
        np.zeros(0), dr_sd_mm=0.0, root_depth_m=0.0))
    dr_model: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alpha: np.ndarray = field(default_factory=lambda: np.zeros(0))
    last: dict[str, np.ndarray] = field(default_factory=dict)  # the last closed day's columns
    day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    started: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    probes: list[tuple[tuple[str, float, float, int, float], ...]] = field(default_factory=list)

    def taw(self) -> np.ndarray:
        return np.array([1000.0 * (z.theta_fc - z.theta_wp) * z.root_depth_m for z in self.info])


class WaterStage:
    name = "water"
    kinds: tuple[str, ...] = ("soil", "weather", "valve")

    def __init__(self) -> None:
        self.probes = DeviceIndex()
        #: each probe's newest readings; a day is corrected by their evening median
        self.readings = ProbeReadings.empty()
        #: Each probe's calibrated θ at the end of the last days, for the drift test.
        self.probe_days = probe_drift.ProbeDays.empty()
        #: each probe's offset against its zone's reference (the mean of the zone's probes)
        self.offsets = probe_offsets.ProbeOffsets.empty()
        #: each probe row's zone and calibration when its offset and history were kept
        self._bound: dict[int, tuple[str | None, object]] = {}
        self.stations = DeviceIndex()
        self.valves = DeviceIndex()
        self._days: dict[tuple[str, int], _StationDay] = {}
        self._open_s: dict[tuple[str, str, int], float] = {}
        self._zones = _Zones()
        self._offsets: dict[str, float] = {}
        self._state = ZoneBalanceState()
        self._lookup: object = None

    # -- rows and readings --------------------------------------------------------------------
    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board) -> np.ndarray:
        index = {"soil": self.probes, "weather": self.stations, "valve": self.valves}[kind]
        rows = index.rows(list(sites), list(devices))
        if kind == "soil":
            self.readings.grow(len(self.probes))
        return rows

    def remeta(self, board: Board) -> None:
        self._sync_zones(board)

    def _offset(self, site: str) -> float:
        return self._offsets.get(site, 0.0)

    def _ensure_zones(self, board: Board) -> None:
        if self._lookup is not board.lookup:
            self._sync_zones(board)

    def append(self, batch: StageBatch, board: Board) -> None:
        self._ensure_zones(board)
        if batch.kind == "soil":
            self.readings.add(batch.rows, batch.ts_ms, batch.column("vwc_pct"))
        elif batch.kind == "weather":
            self._weather(batch)
        elif batch.kind == "valve":
            open_s = batch.column("open_s")
            for r, ts, s in zip(batch.rows.tolist(), batch.ts_ms.tolist(), open_s.tolist(),
                                strict=True):
                if np.isfinite(s) and s > 0:
                    site, device = self.valves.key(r)
                    day = int(local_day(ts - int(s * 500), self._offset(site)))  # mid-run
                    key = (site, device, day)
                    self._open_s[key] = self._open_s.get(key, 0.0) + float(s)

    def _weather(self, batch: StageBatch) -> None:
        cols = {c: batch.column(c) for c in ("air_temp_c", "rh_pct", "wind_ms", "solar_w_m2",
                                             "rain_mm")}
        for i, (r, ts) in enumerate(zip(batch.rows.tolist(), batch.ts_ms.tolist(), strict=True)):
            site, _ = self.stations.key(r)
            day = int(local_day(ts, self._offset(site)))
            d = self._days.setdefault((site, day), _StationDay())
            d.readings += 1
            t, rh, w, sol, rain = (float(cols[c][i]) for c in cols)
            if np.isfinite(t):
                d.tmin, d.tmax = min(d.tmin, t), max(d.tmax, t)
            if np.isfinite(rh):
                d.rh_min, d.rh_max = min(d.rh_min, rh), max(d.rh_max, rh)
            if np.isfinite(w):
                d.wind_sum, d.wind_n = d.wind_sum + w, d.wind_n + 1
            if np.isfinite(sol):
                if not d.solar_n:
                    d.solar_first_ms = ts
                d.solar_sum, d.solar_n = d.solar_sum + sol, d.solar_n + 1
                d.solar_first_ms = min(d.solar_first_ms, ts)
                d.solar_last_ms = max(d.solar_last_ms, ts)
            if np.isfinite(rain):
                d.rain_mm += rain

    # -- zones -------------------------------------------------------------------------------
    def _sync_zones(self, board: Board) -> None:
        old = {(z.site, z.zone): i for i, z in enumerate(self._zones.info)}
        info = [z for z in board.lookup.zones() if z.application_rate_mm_h is not None]
        n = len(info)
        keep = [old.get((z.site, z.zone)) for z in info]
        z = _Zones(info=info)

        def carry(a: np.ndarray, fill: float | bool | int, dtype: type = np.float64
                  ) -> np.ndarray:
            out: np.ndarray = np.full(n, fill, dtype)
            for i, k in enumerate(keep):
                if k is not None:
                    out[i] = a[k]
            return out

        fresh = estimator.initial(np.zeros(n), dr_sd_mm=0.0,
                                  root_depth_m=np.array([zi.root_depth_m for zi in info]))
        rows = [i for i, k in enumerate(keep) if k is not None]
        z.est = fresh.put(rows, self._zones.est.take([k for k in keep if k is not None])) \
            if rows else fresh
        z.dr_model = carry(self._zones.dr_model, 0.0)
        z.alpha = carry(self._zones.alpha, 0.0)
        z.day = carry(self._zones.day, -1, np.int64)
        z.started = carry(self._zones.started, False, bool)
        z.last = {k: carry(v, np.nan, v.dtype.type) for k, v in self._zones.last.items()}
        z.probes = [self._zones.probes[k] if k is not None else () for k in keep]
        self._zones = z
        self._offsets = {zi.site: zi.utc_offset_h for zi in info}
        self._lookup = board.lookup

    def restore(self, site: str, zone: str, *, day: int, packed: tuple[float, ...] | list[float],
                board: Board, probe_offsets: Mapping[str, float] | None = None) -> bool:
        """Continue a zone from a stored state (the newest decision's): its balance as of the
        end of local ``day``, and its probes' offsets against their reference (device →
        mm). Days after it are balanced again from the readings the engine is given (the warm
        start from InfluxDB). False for a zone the stage does not know or a state that does
        not unpack."""
        self._ensure_zones(board)
        zs = self._zones
        rows = [i for i, z in enumerate(zs.info) if (z.site, z.zone) == (site, zone)]
        if not rows or not packed:
            return False
        try:
            est = estimator.unpack([list(packed)])
        except ValueError:
            return False
        zs.est = zs.est.put(rows, est)
        zs.dr_model[rows] = np.maximum(est.dr_mm, 0.0)
        zs.day[rows] = day
        zs.started[rows] = True
        if probe_offsets:
            devices = sorted(probe_offsets)
            r = self.probes.rows(site, devices)
            self.readings.grow(len(self.probes))
            self.offsets.grow(len(self.probes))
            self.offsets.rel_mm[r] = [probe_offsets[d] for d in devices]
            self.offsets.member[r] = True
        return True

    # -- the daily balance ---------------------------------------------------------------------
    def tick(self, now_ms: int, board: Board) -> list[Event]:
        self._ensure_zones(board)
        zs = self._zones
        if zs.info:
            today = np.array([int(local_day(now_ms, z.utc_offset_h)) for z in zs.info])
            fresh = ~zs.started
            if fresh.any():  # start from the probes, or half of RAW when there are none
                self._start(np.flatnonzero(fresh), today, now_ms, board)
            while True:
                due = np.flatnonzero(zs.day < today - 1)
                if not due.size:
                    break
                day = int(zs.day[due].min()) + 1
                self._close_day(due[zs.day[due] + 1 == day], day, board)
        self._publish(now_ms)
        board.balance = self._state
        return []

    def _start(self, rows: np.ndarray, today: np.ndarray, now_ms: int, board: Board) -> None:
        zs = self._zones
        taw = zs.taw()[rows]
        raw = np.array([zs.info[i].mad_p for i in rows]) * taw
        sensor, w, rebased, probes = self._sensor(rows, now_ms, board)
        zr = np.array([zs.info[i].root_depth_m for i in rows])
        est = estimator.update(estimator.initial(0.5 * raw, dr_sd_mm=0.5 * raw, root_depth_m=zr),
                               dr_probe_mm=sensor, weight_sum=w, taw_mm=taw, root_depth_m=zr,
                               relearn=rebased[0], fresh=rebased[1])
        zs.est = zs.est.put(rows, est)
        zs.dr_model[rows] = 0.5 * raw
        zs.alpha[rows] = est.gain
        zs.day[rows] = today[rows] - 1
        zs.started[rows] = True
        for k, i in enumerate(rows.tolist()):
            zs.probes[i] = probes[k]

    def _sensor(self, rows: np.ndarray, at_ms: int, board: Board, day: int | None = None
                ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray],
                           list[tuple[tuple[str, float, float, int, float], ...]]]:
        """Probe depletion of ``rows`` from each probe's evening readings before ``at_ms``
        (:meth:`.evening.ProbeReadings.at`: their median, else the nearest within 12 h).

        With ``day`` (a closed local day), each probe's θ is kept as that day's, and probes
        that drift against their zone's others (:func:`.probe_drift.drifting` over the kept
        days) are set aside (quality ``DRIFTING``). Returns the zones' probe depletion on their
        reference (:func:`.probe_offsets.zone_reference`), the weight of today's probes,
        whether that reference was rebased for a fault or started afresh, and each zone's
        probes as (device, index, θ, quality, offset against the reference)."""
        zs = self._zones
        zone_of = {(zs.info[i].site, zs.info[i].zone): k for k, i in enumerate(rows.tolist())}
        pr, pz, specs, weight, faulty = [], [], [], [], []
        for r in range(len(self.probes)):
            site, device = self.probes.key(r)
            b = board.lookup.binding(site, device)
            if b is None or b.zone is None or (site, b.zone) not in zone_of:
                continue
            pr.append(r)
            pz.append(zone_of[(site, b.zone)])
            specs.append(b.calibration)
            weight.append(b.probe_weight)
            faulty.append(b.probe_faulty or board.faulty.get((site, device), False))
            # A probe moved to another zone or calibrated anew is another probe: its offset
            # against the old reference and its θ history no longer hold.
            bound = (b.zone, b.calibration)
            if self._bound.get(r, bound) != bound:
                self.offsets.grow(len(self.probes))
                self.probe_days.grow(len(self.probes))
                self.offsets.member[r] = False
                self.probe_days.theta[r] = np.nan
            self._bound[r] = bound
        n = rows.size
        per_zone: list[list[tuple[str, float, float, int, float]]] = [[] for _ in range(n)]
        if not pr:
            none = np.zeros(n, bool)
            return np.full(n, np.nan), np.zeros(n), (none, none), [() for _ in range(n)]
        coef = np.full((len(pr), MAX_DEGREE + 1), np.nan)
        top = np.full(len(pr), np.nan)
        for j, spec in enumerate(specs):
            if spec is not None:
                coef[j] = 0.0
                coef[j, : len(spec[0])] = spec[0]
                top[j] = spec[1]
        idx, _n = self.readings.at(pr, at_ms)
        theta, quality = calibrate(idx, CalibrationTable(coef, top, np.ones(len(pr))),
                                   faulty=np.asarray(faulty))
        if day is not None:
            self.probe_days.grow(len(self.probes))
            self.probe_days.record(day, pr, theta)
            aside = probe_drift.drifting(self.probe_days.window(day)[pr],
                                         self.probe_days.days(), np.asarray(pz))
            theta = np.where(aside, np.nan, theta)
            quality = np.where(aside, np.int8(ProbeQuality.DRIFTING), quality)
        zi = [zs.info[i] for i in rows.tolist()]
        dr_probe = balance.probe_depletion_mm(
            theta=theta, probe_zone=np.asarray(pz), theta_fc=np.array([z.theta_fc for z in zi]),
            root_depth_m=np.array([z.root_depth_m for z in zi]), taw_mm=zs.taw()[rows])
        self.offsets.grow(len(self.probes))
        rejected = np.isin(quality, (ProbeQuality.FAULTY, ProbeQuality.DRIFTING))
        sensor, w, rebased, fresh = probe_offsets.zone_reference(
            dr_probe, np.asarray(weight), np.asarray(pz), n, self.offsets, probes=pr,
            rejected=rejected)
        for j, r in enumerate(pr):
            rel = float(self.offsets.rel_mm[r]) if self.offsets.member[r] else float("nan")
            per_zone[pz[j]].append((self.probes.key(r)[1], float(idx[j]),
                                    float(theta[j]), int(quality[j]), rel))
        return sensor, w, (rebased, fresh), [tuple(p) for p in per_zone]

    def _close_day(self, rows: np.ndarray, day: int, board: Board) -> None:
        zs = self._zones
        zi = [zs.info[i] for i in rows.tolist()]
        wx = [self._days.get((z.site, day)) for z in zi]
        tmin = np.array([d.tmin if d and np.isfinite(d.tmin) else np.nan for d in wx])
        tmax = np.array([d.tmax if d and np.isfinite(d.tmax) else np.nan for d in wx])
        rh_lo = np.array([d.rh_min if d and np.isfinite(d.rh_min) else np.nan for d in wx])
        rh_hi = np.array([d.rh_max if d and np.isfinite(d.rh_max) else np.nan for d in wx])
        wind = np.array([d.wind_sum / d.wind_n if d and d.wind_n else np.nan for d in wx])
        rs = np.array([d.solar_sum / d.solar_n * W_M2_TO_MJ_M2_DAY
                       if d and d.solar_n and d.solar_last_ms - d.solar_first_ms >= SOLAR_SPAN_MS
                       else np.nan for d in wx])
        rain = np.array([d.rain_mm if d else 0.0 for d in wx])
        mid_ms = (day + 0.5) * MS_PER_DAY
        doy = np.array([_doy(int(mid_ms - z.utc_offset_h * MS_PER_HOUR)) for z in zi])
        month = np.array([_month(int(mid_ms - z.utc_offset_h * MS_PER_HOUR)) for z in zi])
        lat = np.array([z.lat_deg if z.lat_deg is not None else 0.0 for z in zi])
        et0, pm = daily_et0_mm(tmin_c=tmin, tmax_c=tmax, lat_deg=lat, doy=doy,
                               elevation_m=np.array([z.elevation_m for z in zi]), rs_mj_m2=rs,
                               wind_ms=wind, rh_min_pct=rh_lo, rh_max_pct=rh_hi)
        et0 = np.nan_to_num(et0)  # a day without a station: no ET counted (and said so: NaN pm)
        kc = np.array([z.kc_by_month[m - 1] for z, m in zip(zi, month, strict=True)])
        gross = np.array([self._open_s.get((z.site, z.valve_device or "", day), 0.0)
                          * (z.application_rate_mm_h or 0.0) / 3600.0 for z in zi])
        net = gross * np.array([z.efficiency for z in zi])
        taw = zs.taw()[rows]
        p = np.array([z.mad_p for z in zi])
        est, step = estimator.predict(zs.est.take(rows), et0_mm=et0, kc=kc, taw_mm=taw, p=p,
                                      rain_mm=rain, irrigation_mm=net,
                                      drain_frac=[drain_fraction_per_day(z.soil_texture)
                                                  for z in zi])
        end_ms = int((day + 1) * MS_PER_DAY - np.mean([z.utc_offset_h for z in zi])
                     * MS_PER_HOUR)
        sensor, w, rebased, probes = self._sensor(rows, end_ms, board, day=day)
        est = estimator.update(est, dr_probe_mm=sensor, weight_sum=w, taw_mm=taw,
                               root_depth_m=np.array([z.root_depth_m for z in zi]), signed=True,
                               relearn=rebased[0], fresh=rebased[1])  # probe_offsets
        zs.est = zs.est.put(rows, est)
        zs.dr_model[rows] = step.dr_mm
        zs.alpha[rows] = est.gain
        zs.day[rows] = day
        for k, i in enumerate(rows.tolist()):
            zs.probes[i] = probes[k]
        cols = {"et0_mm": et0, "etc_mm": step.etc_mm, "eta_mm": step.eta_mm, "rain_mm": rain,
                "irrigation_mm": net, "raw_mm": step.raw_mm,
                "et0_pm": np.where(np.isfinite(tmin), pm, False).astype(np.float64)}
        for name, v in cols.items():
            arr = zs.last.setdefault(name, np.full(len(zs.info), np.nan))
            arr[rows] = v
        for key in [k for k in self._days if k[1] <= day - 2]:
            del self._days[key]

    def _publish(self, now_ms: int) -> None:
        zs = self._zones
        n = len(zs.info)

        def col(name: str) -> np.ndarray:
            return zs.last.get(name, np.full(n, np.nan)).copy()

        taw = zs.taw() if n else np.zeros(0)
        raw = np.array([z.mad_p for z in zs.info]) * taw if n else np.zeros(0)
        self._state = ZoneBalanceState(
            ts_ms=now_ms, site=np.asarray([z.site for z in zs.info], dtype=object),
            zone=np.asarray([z.zone for z in zs.info], dtype=object), day=zs.day.copy(),
            dr_mm=np.maximum(zs.est.dr_mm, 0.0), dr_sd_mm=zs.est.dr_sd_mm,
            et_scale=zs.est.et_scale.copy(),
            probe_offset_mm=zs.est.offset_mm.copy(), estimator=estimator.pack(zs.est),
            dr_model_mm=zs.dr_model.copy(), alpha=zs.alpha.copy(),
            taw_mm=taw, raw_mm=np.where(np.isfinite(col("raw_mm")), col("raw_mm"), raw),
            et0_mm=col("et0_mm"), etc_mm=col("etc_mm"), eta_mm=col("eta_mm"),
            rain_mm=col("rain_mm"), irrigation_mm=col("irrigation_mm"),
            et0_pm=np.nan_to_num(col("et0_pm")).astype(bool), probes=tuple(zs.probes))


def _doy(ts_ms: int) -> int:
    import datetime as dt
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).timetuple().tm_yday


def _month(ts_ms: int) -> int:
    import datetime as dt
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).month
