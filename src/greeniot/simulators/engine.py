"""The simulation proper: time-stepped state of a fleet, turned into protocol v1 messages.

No I/O: :class:`Simulation` advances simulated time and returns :class:`Outgoing` messages; it
accepts incoming ``cmd``/``config``/``valve`` payloads the same way. The runner moves bytes.

Simulated time ``t_s`` runs from 0 to ``span_s``; a device stamps ``ts_ms = start_ms + t_s·1000``.
Each device reports on its own interval with a random phase, at exact due times inside a step,
so step size changes nothing but the resolution of soil and valve integration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from greeniot.protocol import (
    SoilReading,
    Status,
    TiltBurst,
    TiltReading,
    WeatherReading,
    device_topic,
    parse_topic,
)
from greeniot.protocol.topics import TopicError
from greeniot.simulators import soil, tilt
from greeniot.simulators.fate import draw_fate, initial_vwc, storm_window
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.outgoing import Outgoing
from greeniot.simulators.scenarios import Scenario
from greeniot.simulators.truth import GroundTruth
from greeniot.simulators.valve import ExternalValve, SimValveNode
from greeniot.simulators.weather import WeatherModel

log = logging.getLogger(__name__)

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Reporting behaviour of the simulated devices (device time, seconds)."""

    tilt_interval_s: float = 600.0
    soil_interval_s: float = 900.0
    weather_interval_s: float = 300.0
    #: Static tilt is the mean of ``tilt_samples`` accelerometer samples when no burst is sent.
    tilt_samples: int = 200
    #: Sway bursts, as the firmware does (``burst_trigger_deg``, ``windy_interval_s`` in
    #: firmware/micropython/config.py): a reading whose sway RMS reaches ``burst_trigger_deg``
    #: is windy — the node reports again after ``windy_interval_s`` (never below a third of the
    #: interval) and sends a burst; here only with every ``burst_every``-th windy reading, which
    #: bounds a test's data (storm-time lean reads the static readings, sway the bursts).
    burst: bool = True
    burst_s: float = 60.0
    burst_hz: float = 10.0
    burst_trigger_deg: float = 0.05
    windy_interval_s: float = 120.0
    burst_every: int = 3
    valve_hard_cap_s: float = 3600.0
    #: Group up to this many readings of one device per step into one batch payload.
    batch_max: int = 1
    fw: str = "sim-0.1.0"

    def __post_init__(self) -> None:
        for name in ("tilt_interval_s", "soil_interval_s", "weather_interval_s", "burst_hz"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SimOptions.{name} must be > 0")
        if self.batch_max < 1 or self.burst_every < 1:
            raise ValueError("SimOptions.batch_max and burst_every must be >= 1")


class Simulation:
    """A fleet living through a scenario.

    Parameters
    ----------
    fleet, scenario : what to simulate.
    start_ms : int
        Device time at ``t_s = 0`` [ms UTC]; the runner puts it in the past so that the run
        ends at about now.
    span_s : float
        Simulated span [s].
    seed : int, optional
        Physics seed (defaults to the fleet's).
    external_valves : valve device ids served by real nodes: the simulator only listens to
        their ``valve`` events.
    cap_external_runs : count at most the zone's ``max_run_s`` of simulated watering per
        opening of an external node (see :class:`simulators.valve.ExternalValve`).
    """

    def __init__(self, fleet: Fleet, scenario: Scenario, *, start_ms: int, span_s: float,
                 options: SimOptions | None = None, seed: int | None = None,
                 external_valves: frozenset[str] | set[str] | tuple[str, ...] = (),
                 cap_external_runs: bool = True) -> None:
        if span_s <= 0:
            raise ValueError(f"span_s must be > 0, got {span_s}")
        known = {z.valve_device for z in fleet.zones}
        unknown = set(external_valves) - known
        if unknown:
            raise ValueError(f"external_valves {sorted(unknown)} are not valves of this fleet")
        self.fleet, self.scenario, self.opt = fleet, scenario, options or SimOptions()
        self.start_ms, self.span_s, self.t_s = int(start_ms), float(span_s), 0.0
        rng = np.random.default_rng([fleet.seed if seed is None else seed, 0xF1EE7])
        self._rng = rng
        site_index = {s.site: i for i, s in enumerate(fleet.sites)}
        self.weather = WeatherModel(scenario, span_s, self.start_ms,
                                    [s.utc_offset_h for s in fleet.sites], rng,
                                    lat_deg=[s.lat for s in fleet.sites],
                                    lon_deg=[s.lon for s in fleet.sites])
        tree_site = np.array([site_index[t.site] for t in fleet.trees], dtype=np.int64)
        self.phys = tilt.TreePhysics.draw(fleet.trees, tree_site, rng)
        self.fate, steps, failures = draw_fate(fleet, scenario, self.phys, self.weather,
                                               span_s, rng)
        # zones
        z = fleet.zones
        self._zone_site = np.array([site_index[x.site] for x in z], dtype=np.int64)
        self._kc = np.array([x.kc for x in z])
        self._depth = np.array([x.root_depth_mm for x in z])
        self._fc = np.array([x.field_capacity_vwc_pct for x in z])
        self._wp = np.array([x.wilting_point_vwc_pct for x in z])
        self._refill = np.array([x.refill_vwc_pct for x in z])
        self._irr_mm_h = np.array([x.irrigation_mm_h for x in z])
        self.vwc_pct = initial_vwc(fleet, scenario, self.weather, span_s)
        self._seq: dict[tuple[str, str], int] = {}
        self.valves: dict[str, SimValveNode | ExternalValve] = {}
        for x in z:
            if x.valve_device in external_valves:
                self.valves[x.zone] = ExternalValve(x.max_run_s if cap_external_runs else None)
            else:
                self.valves[x.zone] = SimValveNode(
                    next_seq=self._seq_fn(x.site, x.valve_device),
                    hard_cap_s=self.opt.valve_hard_cap_s, flow_lpm=x.flow_lpm)
        self._valve_zone = {(x.site, x.valve_device): x.zone for x in z}
        # probes: flattened (zone index, device)
        self._probes = [(zi, d) for zi, x in enumerate(z) for d in x.soil_devices]
        self._probe_zone = np.array([p[0] for p in self._probes], dtype=np.int64)
        self._probe_offset = np.clip(rng.normal(0.0, 0.4, len(self._probes)), -0.8, 0.8)
        # schedules: next due time per device [s]
        o = self.opt
        self._wx_next = rng.uniform(0.0, o.weather_interval_s, len(fleet.sites))
        self._wx_prev = self._wx_next - o.weather_interval_s
        self._soil_next = rng.uniform(0.0, o.soil_interval_s, len(self._probes))
        self._tilt_next = rng.uniform(0.0, o.tilt_interval_s, len(fleet.trees))
        self._tilt_count = np.zeros(len(fleet.trees), dtype=np.int64)
        self._bat_v = {d.device: float(rng.uniform(3.75, 4.15)) for d in fleet.devices()}
        self.truth = GroundTruth(scenario.name, self.start_ms,
                                 self.start_ms + round(span_s * 1000),
                                 storm_window(scenario, span_s, self.start_ms), steps, failures)
        for x in z:
            self.truth.valve_open_s[x.zone] = 0.0
        self._track_soil()

    # -- clock and sequence numbers -----------------------------------------------------------
    def ms(self, t_s: float) -> int:
        return self.start_ms + round(t_s * 1000)

    @property
    def now_ms(self) -> int:
        return self.ms(self.t_s)

    @property
    def done(self) -> bool:
        return self.t_s >= self.span_s

    def _seq_fn(self, site: str, device: str) -> Callable[[], int]:
        return lambda: self.next_seq(site, device)

    def next_seq(self, site: str, device: str) -> int:
        key = (site, device)
        n = self._seq.get(key, 0)
        self._seq[key] = n + 1
        return n & 0xFFFF_FFFF

    def seq_counts(self) -> dict[tuple[str, str], int]:
        """(site, device) → how many sequence numbers it has used (0 … n−1)."""
        return dict(self._seq)

    # -- lifecycle messages -------------------------------------------------------------------
    def boot(self) -> list[Outgoing]:
        """Each built-in valve node announces its (closed) state at power-up."""
        out: list[Outgoing] = []
        for zone in self.fleet.zones:
            node = self.valves[zone.zone]
            if isinstance(node, SimValveNode):
                out.extend(Outgoing.of(zone.site, zone.valve_device, m)
                           for m in node.boot(self.now_ms))
        return out

    def statuses(self, state: str) -> list[Outgoing]:
        """Retained status of every simulated device (external valves excluded)."""
        out = []
        for d in self.fleet.devices():
            if isinstance(self.valves.get(d.zone or ""), ExternalValve) and d.kind == "valve":
                continue
            msg = Status(state=state, ts_ms=self.now_ms, kind=d.kind, fw=self.opt.fw,  # type: ignore[arg-type]
                         bat_v=round(self._battery(d.device), 2), rssi_dbm=-55 - len(d.device),
                         uptime_s=int(self.t_s), outbox=0)
            out.append(Outgoing.of(d.site, d.device, msg, retain=True))
        return out

    def subscriptions(self, site: str | None = None) -> list[str]:
        """Topics the simulated fleet (or one site of it) listens to: its valves' ``cmd`` and
        ``config``, and the ``valve`` events of external nodes."""
        subs = []
        for zone in self.fleet.zones:
            if site is not None and zone.site != site:
                continue
            if isinstance(self.valves[zone.zone], ExternalValve):
                subs.append(device_topic(zone.site, zone.valve_device, "valve"))
            else:
                subs.append(device_topic(zone.site, zone.valve_device, "cmd"))
                subs.append(device_topic(zone.site, zone.valve_device, "config"))
        return subs

    def handle(self, topic: str, payload: bytes) -> list[Outgoing]:
        """An incoming message, taken at the current simulated time."""
        try:
            t = parse_topic(topic)
        except TopicError:
            return []
        zone = self._valve_zone.get((t.site, t.device))
        if zone is None:
            return []
        node = self.valves[zone]
        if isinstance(node, SimValveNode):
            if t.channel == "cmd":
                return [Outgoing.of(t.site, t.device, m)
                        for m in node.on_command(payload, self.now_ms)]
            if t.channel == "config":
                node.on_config(payload)
        elif t.channel == "valve":
            node.on_event(payload, self.now_ms)
        return []

    # -- stepping -----------------------------------------------------------------------------
    def step(self, dt_s: float) -> list[Outgoing]:
        """Advance by ``dt_s`` (clipped at the span); returns messages due in ``[t, t+dt)``,
        sorted by device time."""
        if dt_s <= 0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        t0, t1 = self.t_s, min(self.t_s + dt_s, self.span_s)
        if t1 <= t0:
            return []
        readings: list[tuple[str, str, BaseModel]] = []
        events: list[Outgoing] = []
        self._soil_step(t0, t1)
        for zone in self.fleet.zones:
            node = self.valves[zone.zone]
            if isinstance(node, SimValveNode):
                events.extend(Outgoing.of(zone.site, zone.valve_device, m)
                              for m in node.tick(self.ms(t1)))
        readings += self._weather_readings(t1)
        readings += self._soil_readings(t1)
        readings += self._tilt_readings(t1)
        self.t_s = t1
        out = events + self._encode(readings)
        out.sort(key=lambda o: o.ts_ms)
        return out

    def _encode(self, readings: list[tuple[str, str, BaseModel]]) -> list[Outgoing]:
        if self.opt.batch_max == 1:
            return [Outgoing.of(s, d, m) for s, d, m in readings]
        by_dev: dict[tuple[str, str], list[BaseModel]] = {}
        for s, d, m in readings:
            by_dev.setdefault((s, d), []).append(m)
        out = []
        for (s, d), msgs in by_dev.items():
            msgs.sort(key=lambda m: m.ts_ms)  # type: ignore[attr-defined]
            for i in range(0, len(msgs), self.opt.batch_max):
                out.append(Outgoing.batch(s, d, msgs[i:i + self.opt.batch_max]))
        return out

    def _soil_step(self, t0: float, t1: float) -> None:
        dt = t1 - t0
        site = self._zone_site
        mid = np.full(site.shape, 0.5 * (t0 + t1))
        open_s = np.array([self.valves[z.zone].open_seconds(self.ms(t0), self.ms(t1))
                           for z in self.fleet.zones])
        for z, s in zip(self.fleet.zones, open_s, strict=True):
            self.truth.valve_open_s[z.zone] += float(s)
            if s > 0:
                self.truth.last_watered_ms[z.zone] = self.ms(t1)
        rain = self.weather.rain_mm(np.full(site.shape, t0), np.full(site.shape, t1), site)
        temp = self.weather.air_temp_c(mid, site)
        et0 = soil.et0_mm_h(temp, self.weather.sun_frac(mid, site)) * dt / 3600.0
        self.vwc_pct = soil.bucket_step(
            self.vwc_pct, dt_s=dt, rain_mm=rain, irrigation_mm=self._irr_mm_h * open_s / 3600.0,
            et0_mm=et0, kc=self._kc, root_depth_mm=self._depth, fc_pct=self._fc, wp_pct=self._wp)
        self._track_soil(t1)

    def _track_soil(self, t_s: float = 0.0) -> None:
        tr = self.truth
        for i, z in enumerate(self.fleet.zones):
            v = float(self.vwc_pct[i])
            tr.min_vwc_pct[z.zone] = min(v, tr.min_vwc_pct.get(z.zone, v))
            tr.max_vwc_pct[z.zone] = max(v, tr.max_vwc_pct.get(z.zone, v))
            if v < self._refill[i] and z.zone not in tr.dry_zones:
                tr.dry_zones[z.zone] = self.ms(t_s)

    def _battery(self, device: str) -> float:
        return max(self._bat_v.get(device, 3.9) - 0.01 * self.t_s / DAY_S, 3.0)

    def _weather_readings(self, t1: float) -> list[tuple[str, str, BaseModel]]:
        out: list[tuple[str, str, BaseModel]] = []
        iv = self.opt.weather_interval_s
        while (idx := np.flatnonzero(self._wx_next < t1)).size:
            t = self._wx_next[idx]
            wind, gust, rain = self.weather.station(np.maximum(self._wx_prev[idx], t - iv), t, idx)
            temp = self.weather.air_temp_c(t, idx)
            rh = self.weather.rh_pct(t, idx)
            solar = self.weather.solar_w_m2(t, idx)
            for k, s in enumerate(idx):
                site = self.fleet.sites[s]
                msg = WeatherReading(
                    seq=self.next_seq(site.site, site.weather_device), ts_ms=self.ms(t[k]),
                    wind_ms=round(float(wind[k]), 1), gust_ms=round(float(gust[k]), 1),
                    rain_mm=round(float(rain[k]), 2), air_temp_c=round(float(temp[k]), 1),
                    rh_pct=round(float(rh[k]), 0), solar_w_m2=round(float(solar[k]), 1),
                    bat_v=round(12.6 + 0.2 * float(np.sin(t[k])), 2))
                out.append((site.site, site.weather_device, msg))
            self._wx_prev[idx] = t
            self._wx_next[idx] = t + iv
        return out

    def _soil_readings(self, t1: float) -> list[tuple[str, str, BaseModel]]:
        out: list[tuple[str, str, BaseModel]] = []
        while (idx := np.flatnonzero(self._soil_next < t1)).size:
            t = self._soil_next[idx]
            zi = self._probe_zone[idx]
            site = self._zone_site[zi]
            vwc = np.clip(self.vwc_pct[zi] + self._probe_offset[idx]
                          + self._rng.normal(0.0, 0.2, idx.size), 0.0, 100.0)
            mean_c = self.scenario.air_temp_mean_c.at(t / self.span_s)
            t_soil = mean_c + 0.3 * (self.weather.air_temp_c(t - 3 * 3600.0, site) - mean_c)
            raw = np.clip(3200 - 30.0 * vwc, 0, 65535).astype(int).tolist()
            vwc_l, t_soil_l = vwc.round(1).tolist(), t_soil.round(1).tolist()
            for k, p in enumerate(idx.tolist()):
                zone = self.fleet.zones[zi[k]]
                dev = self._probes[p][1]
                msg = SoilReading(
                    seq=self.next_seq(zone.site, dev), ts_ms=self.ms(t[k]),
                    vwc_pct=vwc_l[k], temp_c=t_soil_l[k], bat_v=round(self._battery(dev), 2),
                    raw=raw[k])
                out.append((zone.site, dev, msg))
            self._soil_next[idx] = t + self.opt.soil_interval_s
        return out

    def _tilt_readings(self, t1: float) -> list[tuple[str, str, BaseModel]]:
        out: list[tuple[str, str, BaseModel]] = []
        o, w, ph = self.opt, self.weather, self.phys
        while (idx := np.flatnonzero(self._tilt_next < t1)).size:
            t = self._tilt_next[idx]
            site = ph.site_idx[idx]
            mean = w.wind_mean_ms(t, site)
            toward = w.wind_to_rad(t, site)
            temp = w.air_temp_c(t, site)
            pitch, roll, sway_k = tilt.static_tilt(ph, self.fate, idx, t, wind_mean_ms=mean,
                                                   wind_to_rad=toward, air_temp_c=temp)
            gust = w.wind_ms(t, site)
            # RMS of the along- and cross-wind sway (:func:`tilt.sway`) at this gust
            sway_rms = sway_k * gust**2 * np.sqrt((1.0 + 0.35**2) / 2.0)
            windy = o.burst & (sway_rms >= o.burst_trigger_deg)
            jitter = tilt.STATIC_NOISE_DEG + 0.1 * sway_k * gust**2
            noise = self._rng.normal(0.0, 1.0, (2, idx.size)) * jitter
            p_all = np.clip(pitch + noise[0], -90.0, 90.0).round(3).tolist()
            r_all = np.clip(roll + noise[1], -90.0, 90.0).round(3).tolist()
            temp_c = (temp + ph.temp_offset_c[idx]).round(1).tolist()
            for k, i in enumerate(idx.tolist()):
                tree = self.fleet.trees[i]
                burst = None
                p_deg, r_deg, n = p_all[k], r_all[k], o.tilt_samples
                if windy[k] and self._tilt_count[i] % o.burst_every == 0:
                    burst = self._burst(i, float(t[k]), float(pitch[k]), float(roll[k]),
                                        float(toward[k]), float(sway_k[k]))
                    p_deg = round(float(np.mean(burst.pitch_deg)), 3)
                    r_deg = round(float(np.mean(burst.roll_deg)), 3)
                    n = len(burst.pitch_deg)
                self._tilt_count[i] += 1
                msg = TiltReading(
                    seq=self.next_seq(tree.site, tree.tilt_device), ts_ms=self.ms(t[k]),
                    pitch_deg=p_deg, roll_deg=r_deg, temp_c=temp_c[k],
                    bat_v=round(self._battery(tree.tilt_device), 2), n=n, burst=burst)
                out.append((tree.site, tree.tilt_device, msg))
            windy_iv = min(o.tilt_interval_s, max(o.windy_interval_s, o.tilt_interval_s / 3))
            self._tilt_next[idx] = t + np.where(windy, windy_iv, o.tilt_interval_s)
        return out

    def _burst(self, i: int, t_s: float, pitch_deg: float, roll_deg: float, toward_rad: float,
               sway_deg_ms2: float) -> TiltBurst:
        """``burst_s`` of ``burst_hz`` samples of tree ``i`` from ``t_s``: static + sway + noise."""
        o = self.opt
        n = max(1, min(int(o.burst_s * o.burst_hz), 12_000))
        tau = t_s + np.arange(n) / o.burst_hz
        site = np.full(n, self.phys.site_idx[i])
        sp, sr = tilt.sway(self.phys, i, tau, wind_ms=self.weather.wind_ms(tau, site),
                           wind_to_rad=toward_rad, scale_deg_ms2=sway_deg_ms2)
        noise = self._rng.normal(0.0, tilt.SAMPLE_NOISE_DEG, (2, n))
        bp = np.clip(pitch_deg + sp + noise[0], -90.0, 90.0).round(3)
        br = np.clip(roll_deg + sr + noise[1], -90.0, 90.0).round(3)
        return TiltBurst(hz=o.burst_hz, pitch_deg=bp.tolist(), roll_deg=br.tolist())
