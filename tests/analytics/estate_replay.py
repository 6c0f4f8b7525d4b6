"""A randomized estate through an engine, tick by tick: everything it said, for comparison.

The estate and its storm come from :func:`greeniot.simulators.estates.draw_estate` (sites with
and without a station, drift, sway, yields, failures, moved sensors, sway bursts). Delivery is
made untidy on purpose, as MQTT and offline buffers make it: readings arrive in ragged batches,
some are redelivered (same timestamp), some arrive late (after the tick that followed them),
some never arrive (a node's outage, so health sees silence), one node freezes (a stuck sensor)
and soil probes report on their own schedule. Two engines fed the same seed must say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from greeniot.analytics.contract import Event, TickResult
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo
from greeniot.protocol.messages import SoilReading, Status, TiltBurst, TiltReading, WeatherReading
from greeniot.simulators.estates import Estate, draw_estate, sway_burst, tilt_readings

START_MS = 1_790_000_000_000 - (1_790_000_000_000 % 86_400_000)
READ_S = 300.0
WX_S = 600.0
SOIL_S = 900.0


@dataclass(frozen=True, slots=True)
class Replay:
    """What an engine said: every tick's events, and the tree and zone states of every tick
    (as plain, comparable values)."""

    events: list[tuple[int, Event]]
    states: list[tuple[int, dict[str, list[object]]]]


def context(est: Estate) -> EstateContext:
    tr = est.trees
    devices = [DeviceBinding(est.sites[tr.site[i]], tr.device[i], "tilt", tree=tr.tree[i])
               for i in range(len(tr))]
    devices += [DeviceBinding(s, f"wx-{s}", "weather")
                for k, s in enumerate(est.sites) if est.has_station[k]]
    devices += [DeviceBinding(s, f"soil-{s}-{j}", "soil", zone=f"z-{s}")
                for s in est.sites for j in range(3)]
    trees = [TreeInfo(est.sites[tr.site[i]], tr.tree[i], heritage=bool(tr.heritage[i]),
                      species=tr.species[i], height_m=float(tr.height_m[i]))
             for i in range(len(tr))]
    zones = [ZoneInfo(s, f"z-{s}") for s in est.sites]
    return EstateContext(devices=tuple(devices), trees=tuple(trees), zones=tuple(zones))


def _state(res: TickResult) -> dict[str, list[object]]:
    """The tree and zone states as lists of reprs (NaN compares equal to NaN)."""
    out: dict[str, list[object]] = {}
    for name, st in (("trees", res.trees), ("zones", res.zones)):
        for f in st.__dataclass_fields__:
            out[f"{name}.{f}"] = [repr(x) for x in np.asarray(getattr(st, f)).ravel().tolist()]
    return out


def replay(new_engine: Callable[[EstateContext], AnalyticsEngine], seed: int, *,
           days: float = 4.0, tick_s: float = 300.0, n_sites: int = 2,
           trees_per_site: tuple[int, int] = (12, 20)) -> Replay:
    """Drive a seed's estate through ``new_engine(context)``; return what it said."""
    est = draw_estate(seed, start_ms=START_MS, days=days, n_sites=n_sites,
                      trees_per_site=trees_per_site, storm_day=2.2, p_yield=0.2,
                      p_fail=0.05, p_remount=0.1)
    tr = est.trees
    rng = np.random.default_rng(seed + 1)
    eng = new_engine(context(est))
    n = len(tr)
    t_read = np.arange(0.0, est.span_s, READ_S)
    pitch, roll, temp = tilt_readings(est, t_read, rng)
    sites = np.array([est.sites[s] for s in tr.site], dtype=object)
    rows = eng.rows_for("tilt", sites, np.array(tr.device, dtype=object))
    jitter = rng.uniform(0.0, 60.0, n)
    ts_all = START_MS + np.round((t_read[None, :] + jitter[:, None]) * 1000).astype(np.int64)
    # untidy delivery: late by one or more ticks, lost (an outage), redelivered, a frozen node
    delay = np.where(rng.random(ts_all.shape) < 0.03, rng.uniform(1, 4, ts_all.shape) * tick_s,
                     0.0)
    lost = np.zeros(ts_all.shape, bool)
    for i in rng.choice(n, max(1, n // 8), replace=False):
        c0 = int(rng.integers(0, t_read.size - 30))
        lost[i, c0:c0 + int(rng.integers(6, 30))] = True
    frozen = int(rng.integers(0, n))
    f0 = int(t_read.size * 0.7)
    pitch[frozen, f0:], roll[frozen, f0:] = pitch[frozen, f0], roll[frozen, f0]
    redeliver = rng.random(ts_all.shape) < 0.02
    arrive = t_read[None, :] + jitter[:, None] + delay
    bursty = np.zeros(n, bool)
    for k in range(len(est.sites)):
        if not est.has_station[k]:
            bursty[np.flatnonzero(tr.site == k)[:6]] = True
    soil_t = np.arange(0.0, est.span_s, SOIL_S)
    wx_t = np.arange(0.0, est.span_s, WX_S)
    events: list[tuple[int, Event]] = []
    states: list[tuple[int, dict[str, list[object]]]] = []
    prev = -1.0
    seq = 0
    for t in np.arange(tick_s, est.span_s + 1, tick_s):
        due = (arrive > prev) & (arrive <= t) & ~lost
        again = due & redeliver
        r_i, c_i = np.nonzero(due)
        burst = bursty[r_i] & (c_i % 2 == 0)
        if (~burst).any():
            sel = ~burst
            eng.ingest_rows("tilt", rows[r_i[sel]], ts_all[r_i[sel], c_i[sel]],
                            {"pitch_deg": pitch[r_i[sel], c_i[sel]],
                             "roll_deg": roll[r_i[sel], c_i[sel]],
                             "temp_c": temp[r_i[sel], c_i[sel]],
                             "bat_v": np.full(int(sel.sum()), 3.9)})
        for i, c in zip(r_i[burst].tolist(), c_i[burst].tolist(), strict=True):
            seq += 1
            b = sway_burst(est, i, float(t_read[c] + jitter[i]), float(pitch[i, c]),
                           float(roll[i, c]), rng)
            eng.ingest(str(sites[i]), tr.device[i], TiltReading(
                seq=seq, ts_ms=int(ts_all[i, c]), pitch_deg=float(pitch[i, c]),
                roll_deg=float(roll[i, c]), temp_c=float(temp[i, c]),
                burst=None if b is None else TiltBurst(hz=10.0, pitch_deg=b[0],
                                                       roll_deg=b[1])))
        r2, c2 = np.nonzero(again)
        if r2.size:  # the same readings once more, as an at-least-once redelivery
            eng.ingest_rows("tilt", rows[r2], ts_all[r2, c2],
                            {"pitch_deg": pitch[r2, c2], "roll_deg": roll[r2, c2],
                             "temp_c": temp[r2, c2], "bat_v": np.full(r2.size, 3.9)})
        for k, s in enumerate(est.sites):
            if est.has_station[k]:
                for tw in wx_t[(wx_t > prev) & (wx_t <= t)].tolist():
                    u = float(est.storm.wind_mean_ms(np.array([tw]), np.array([k]))[0])
                    seq += 1
                    eng.ingest(s, f"wx-{s}", WeatherReading(
                        seq=seq, ts_ms=START_MS + int(tw * 1000), wind_ms=round(u, 2),
                        gust_ms=round(1.45 * u, 2)))
            for ts in soil_t[(soil_t > prev) & (soil_t <= t)].tolist():
                for j in range(3):
                    vwc = 30.0 - 6.0 * (ts / est.span_s) + j + float(rng.normal(0, 0.3))
                    seq += 1
                    eng.ingest(s, f"soil-{s}-{j}", SoilReading(
                        seq=seq, ts_ms=START_MS + int(ts * 1000) + 7_000 * j,
                        vwc_pct=round(vwc if j != 2 or ts < est.span_s / 2 else 31.0, 1),
                        temp_c=24.0, bat_v=3.9 - 0.5 * ts / est.span_s))
        if prev < est.span_s * 0.5 <= t:  # a node announces it goes offline
            eng.ingest(str(sites[0]), tr.device[0],
                       Status(state="offline", ts_ms=START_MS + int(t * 1000) - 1))
        prev = float(t)
        now = START_MS + int(t * 1000)
        res = eng.tick(now)
        events.extend((now, e) for e in res.events)
        states.append((now, _state(res)))
    return Replay(events, states)
