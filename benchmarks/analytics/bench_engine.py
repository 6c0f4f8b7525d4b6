"""Analytics speed at 10k and 100k tilt devices, against per-device loops in the same run.

One command prints, per size (issue 9 targets for 100k in brackets):

* cold start [≤ 5 s] — a new engine takes its history with ``warm_start`` (the path
  :mod:`greeniot.runtime.warmstart` feeds from InfluxDB) from an **in-memory** history of
  ``--history-hours`` of 5-min readings per tree plus the stations' wind, then its priming
  tick (every hourly median, baseline and trend). The InfluxDB query and its row-by-row
  decoding are not included;
* steady tick [≤ 300 ms] — the readings due since the last tick, then the tick (median of
  the ticks). Ticks are ``--tick-s`` apart (60 s, the service default) and every device reads
  every 5 min on its own phase, so a tick sees a fifth of the devices; ``--tick-s 300`` makes
  every device read before every tick;
* hourly tick [≤ 1 s] — a tick that closes an hour (hourly medians, baselines, trends);
* peak RSS [≤ 2 GB] — the process's peak resident memory after the size ran;
* post-storm sweep [≤ 5 s] — :func:`greeniot.actions.sweeps.rank_trees` over as many trees;
* per-site engines — the service runs one engine per site (:mod:`greeniot.runtime.feed`): a
  few sites of 100 trees are built the same way and ticked, and their tick time is scaled to
  all sites. The difference to the one-engine tick is the per-engine fixed cost.

Each is printed with a naive per-device Python loop doing the same work (measured on a subset,
scaled linearly), as a ratio. Absolute times depend on the machine's load; the ratios compare
both sides under the same load. Nothing here asserts a time: it reports.

Run::

    .venv/bin/python benchmarks/analytics/bench_engine.py                 # 10k and 100k
    .venv/bin/python benchmarks/analytics/bench_engine.py --devices 10000 # a quick run
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import resource
import time
from collections.abc import Callable

import numpy as np

from greeniot.actions.sweeps import rank_trees
from greeniot.analytics.contract import TreeRiskState
from greeniot.analytics.core.columns import ColumnBatch
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.estate import EstateContext, TreeInfo

T0 = 1_790_000_000_000 - (1_790_000_000_000 % 3_600_000)
MIN = 60_000
HOUR = 3_600_000
DAY = 24 * HOUR
TREES_PER_SITE = 100
STEP_MS = 5 * MIN  # one tilt reading per device per 5 min; one tick per 5 min
TARGETS = {"cold": 5.0, "steady": 0.300, "hourly": 1.0, "rss": 2.0e9, "sweep": 5.0}
TARGET_N = 100_000  # the targets are for 100k devices


@dataclasses.dataclass(frozen=True, slots=True)
class Estate:
    """``n`` trees in sites of 100, each with its rest position and sensor drift [deg/°C]."""

    n: int
    sites: np.ndarray  # site per device
    devices: np.ndarray
    site_names: np.ndarray
    rest_p: np.ndarray
    rest_r: np.ndarray
    k: np.ndarray

    @classmethod
    def draw(cls, n: int, seed: int = 0) -> Estate:
        rng = np.random.default_rng(seed)
        n_sites = max(1, n // TREES_PER_SITE)
        names = np.array([f"site-{s}" for s in range(n_sites)], dtype=object)
        return cls(n, names[np.arange(n) % n_sites],
                   np.array([f"tilt-{i}" for i in range(n)], dtype=object), names,
                   rng.normal(0, 0.5, n), rng.normal(0, 0.5, n), rng.normal(0, 0.02, n))

    def temp(self, ts: np.ndarray) -> np.ndarray:
        return np.asarray(20 + 8 * np.sin(2 * np.pi * (ts - T0) / DAY))

    def tilt(self, ts: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Readings of every device at each of ``ts`` (device-major per time)."""
        tc = np.repeat(self.temp(ts), self.n)
        m = tc.size
        return {"pitch_deg": np.tile(self.rest_p, ts.size) + np.tile(self.k, ts.size) * (tc - 20)
                + rng.normal(0, 0.015, m),
                "roll_deg": np.tile(self.rest_r, ts.size) + rng.normal(0, 0.015, m),
                "temp_c": tc, "bat_v": np.full(m, 3.9)}

    def history(self, until_ms: int, hours: float, seed: int = 0,
                offset_ms: np.ndarray | None = None) -> list[ColumnBatch]:
        """What a warm start's InfluxDB queries return: ``hours`` of 5-min tilt readings of
        every device and 10-min station wind, oldest first, as columns. ``offset_ms`` (per
        device, ≤ 0) shifts each device's readings to its own phase, as nodes report."""
        rng = np.random.default_rng(seed)
        ts = until_ms - np.arange(int(hours * HOUR) // STEP_MS)[::-1] * STEP_MS
        vals = self.tilt(ts, rng)
        off = np.zeros(self.n, np.int64) if offset_ms is None else offset_ms
        tilt = ColumnBatch("tilt", np.tile(self.sites, ts.size), np.tile(self.devices, ts.size),
                           (ts[:, None] + off[None, :]).ravel(), vals)
        wts = ts[::2]
        ns = self.site_names.size
        wx = ColumnBatch("weather", np.tile(self.site_names, wts.size),
                         np.full(wts.size * ns, "wx", dtype=object), np.repeat(wts, ns),
                         {"wind_ms": rng.uniform(1, 6, wts.size * ns)})
        return [wx, tilt]


def hist_offset(phase: np.ndarray, every: int, tick_ms: int) -> np.ndarray:
    """Per device, the shift [ms] (≤ 0) of its history against the history's end so that
    its readings continue 5 min apart into the live ones: a device of phase ``p`` reads at
    the ticks ``i`` with ``i % every == p``, 1 min before the tick."""
    first = np.where(phase == 0, every, phase)  # its first timed tick
    return (first * tick_ms - MIN - STEP_MS).astype(np.int64)


def rss_now() -> float:
    """Resident memory now [bytes] (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def rss_peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # KiB on Linux


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- the naive baseline: the same per-tick work, one device at a time --------------------------
def naive_tick(engine: AnalyticsEngine, rows: np.ndarray, now: int,
               levels: dict[int, list[int]]) -> int:
    """Per-device Python loop over the steady tick's tilt and health detectors."""
    raw, hourly, base = engine.tilt.raw, engine.tilt.hourly, engine.tilt.base
    health = engine.health.windows
    p = engine.params.tilt
    events = 0
    for r in rows:
        ts = raw.ts_ms[r]
        order = np.argsort(ts)
        ts = ts[order]
        pitch = raw.values("pitch_deg")[r][order].astype(float)
        roll = raw.values("roll_deg")[r][order].astype(float)
        temp = raw.values("temp_c")[r][order].astype(float)
        calm = raw.values("windy")[r][order] == 0
        kp, kr, tref = base.k_pitch_deg_per_c[r], base.k_roll_deg_per_c[r], base.temp_ref_c[r]
        pc = pitch - kp * np.nan_to_num(temp - tref)
        rc = roll - kr * np.nan_to_num(temp - tref)
        lvl = levels.setdefault(int(r), [0, 0, 0, 0])
        # current lean
        m = calm & (ts > now - 2 * HOUR) & (ts <= now)
        lean = np.nan
        if m.sum() >= 3 and base.ok[r]:
            lean = np.hypot(np.median(pc[m]) - base.pitch_deg[r],
                            np.median(rc[m]) - base.roll_deg[r])
        new = sum(lean >= t for t in p.lean_deg.as_tuple()) if np.isfinite(lean) else lvl[0]
        events += new > lvl[0]
        lvl[0] = new
        # failure: newest two readings of the last 30 min
        m = (ts > now - 30 * MIN) & (ts <= now)
        last2 = np.flatnonzero(m)[-2:]
        if last2.size == 2:
            tilt = np.hypot(pitch[last2] - base.pitch_deg[r], roll[last2] - base.roll_deg[r]).min()
            lvl[1] = 3 if tilt >= p.failure_deg else 0
        # sliding step: hourly medians before the last hour against the last hour
        h_ts = hourly.ts_ms[r]
        hm = (h_ts > now - 13 * HOUR) & (h_ts <= now - HOUR - HOUR // 2)
        pm = calm & (ts > now - HOUR) & (ts <= now)
        if hm.sum() >= 3 and pm.sum() >= 3:
            hp = hourly.values("pitch_deg")[r][hm] - kp * (hourly.values("temp_c")[r][hm] - tref)
            hr = hourly.values("roll_deg")[r][hm] - kr * (hourly.values("temp_c")[r][hm] - tref)
            step = np.hypot(np.median(pc[pm]) - np.median(hp), np.median(rc[pm]) - np.median(hr))
            lvl[2] = sum(step >= t for t in p.step_deg.as_tuple())
        # health: interval, offline, battery, stuck
        h_ts = health.ts_ms[r]
        ho = np.argsort(h_ts)
        h_ts = h_ts[ho]
        gaps = np.diff(h_ts[h_ts > 0]) / 1000
        interval = np.median(gaps) if gaps.size >= 3 else 300.0
        offline = (now - h_ts[-1]) / 1000 >= 3 * interval
        bat = health.values("bat_v")[r][ho]
        bat = bat[np.isfinite(bat)][-3:]
        low = bat.size and np.median(bat) < 3.4
        v1 = health.values("v1")[r][ho][-24:]
        stuck = np.isfinite(v1).all() and np.ptp(v1) == 0
        lvl[3] = int(offline) + int(low) + int(stuck)
    return events


def naive_hourly(engine: AnalyticsEngine, rows: np.ndarray, now: int) -> None:
    """Per-device trend fit (np.polyfit per axis over 7 days of hourly medians)."""
    hourly = engine.tilt.hourly
    for r in rows:
        ts = hourly.ts_ms[r]
        m = (ts > now - 7 * 24 * HOUR) & (ts <= now)
        if m.sum() < 3:
            continue
        t = (ts[m] - now) / (24 * HOUR)
        for f in ("pitch_deg", "roll_deg"):
            y = hourly.values(f)[r][m].astype(float)
            slope, icpt = np.polyfit(t, y, 1)
            resid = np.abs(y - (slope * t + icpt))
            keep = resid <= 3 * 1.4826 * max(np.median(resid), 1e-9)
            np.polyfit(t[keep], y[keep], 1)


def naive_cold(engine: AnalyticsEngine, rows: np.ndarray, history: list[ColumnBatch]) -> None:
    """Per-device warm start: group each device's history by hour (calm medians), then fit
    its temperature coefficient and baseline."""
    tilt = next(b for b in history if b.kind == "tilt")
    n = engine.tilt.raw.n_rows
    ts_all = np.asarray(tilt.ts_ms).reshape(-1, n)
    cols = {f: tilt.column(f).reshape(-1, n) for f in ("pitch_deg", "roll_deg", "temp_c")}
    for r in rows:
        ts = ts_all[:, r]
        hour = ts // HOUR
        med: dict[str, list[float]] = {f: [] for f in cols}
        for h in np.unique(hour):
            m = hour == h
            for f, v in cols.items():
                med[f].append(float(np.median(v[m, r])))
        p, t = np.array(med["pitch_deg"]), np.array(med["temp_c"])
        if t.size >= 3 and np.ptp(t) > 0:
            k = np.polyfit(t, p, 1)[0]
            np.median(p - k * (t - t.mean()))


def naive_sweep(ctx: EstateContext, trees: TreeRiskState) -> list[tuple[float, str, str]]:
    """Per-tree scoring in a Python loop, then a sort (the same points as rank_trees)."""
    from greeniot.actions import sweeps as sw
    lvl = trees.risk_level()
    sensed = {}
    for i in range(len(trees)):
        if trees.tree[i] is None:
            continue
        moved = trees.mount_level[i] > 0
        sensed[(str(trees.site[i]), str(trees.tree[i]))] = (
            0 if moved else int(lvl[i]), 0.0 if moved else float(np.nan_to_num(trees.lean_deg[i])),
            0.0 if moved else float(np.nan_to_num(trees.storm_offset_deg[i])))
    out = []
    for t in ctx.trees:
        level, lean, storm = sensed.get((t.site, t.tree), (0, 0.0, 0.0))
        score = sw.LEVEL_POINTS * level + sw.LEAN_POINTS_PER_DEG * min(max(lean, storm, 0.0), 5.0)
        score += sw.HEIGHT_POINTS_PER_M * (t.height_m or 0.0)
        score += sw.HERITAGE_POINTS * t.heritage
        out.append((-score, t.site, t.tree))
    out.sort()
    return out


def bench(n: int, window: int, naive_n: int, ticks: int, history_h: float, tick_s: float
          ) -> None:
    gc.collect()
    est = Estate.draw(n)
    tick_ms = int(tick_s * 1000)
    every = max(1, STEP_MS // tick_ms)  # ticks between two readings of a device
    # the history ends so that the middle timed tick closes an hour (5 min classify lag)
    boundary = T0 + 40 * DAY
    newest = boundary + 5 * MIN - (ticks // 2) * tick_ms
    if newest >= boundary:  # too few ticks to reach back: the history must end before it
        newest = boundary - MIN
    # each device's history keeps the phase of its live readings (5 min apart, the last one
    # before the first timed tick), as a real estate's would
    phase = np.arange(n) % every  # devices report on their own phase, as nodes do
    history = est.history(newest, history_h, offset_ms=hist_offset(phase, every, tick_ms))
    rows_hist = sum(len(b) for b in history)

    def cold_start() -> AnalyticsEngine:
        engine = AnalyticsEngine(EstateContext(), window=window)
        engine.warm_start(history, prime_at_ms=newest)
        return engine

    t0, c0 = time.perf_counter(), time.process_time()
    engine = cold_start()
    cold = time.perf_counter() - t0
    cold_cpu = time.process_time() - c0
    rows = engine.rows_for("tilt", est.sites, est.devices)
    sub = rows[: min(naive_n, n)]
    sub_cold = sub[: max(1, sub.size // 5)]
    naive_c = timed(lambda: naive_cold(engine, sub_cold, history)) * n / sub_cold.size
    history.clear()  # free the in-memory history before the ticks
    gc.collect()

    rng = np.random.default_rng(1)
    steady, hourly_t = [], []
    cpu: dict[str, list[float]] = {"steady": [], "hourly": []}  # process CPU time [s]
    now = newest
    wx = engine.rows_for("weather", est.site_names,
                         np.full(est.site_names.size, "wx", dtype=object))
    for i in range(1, ticks + 1):
        now = newest + i * tick_ms
        due = rows[phase == i % every]
        vals = est.tilt(np.array([now - MIN]), rng)
        engine.ingest_rows("tilt", due, np.full(due.size, now - MIN),
                           {f: v[due] for f, v in vals.items()})
        if i % (2 * every) == 0:
            engine.ingest_rows("weather", wx, np.full(wx.size, now - MIN),
                               {"wind_ms": rng.uniform(1, 6, wx.size)})
        before = engine.tilt.next_hour_ms
        c0 = time.process_time()
        dt = timed(lambda t=now: engine.tick(t).events)
        closed = engine.tilt.next_hour_ms != before
        (hourly_t if closed else steady).append(dt)
        cpu["hourly" if closed else "steady"].append(time.process_time() - c0)
    levels: dict[int, list[int]] = {}
    naive = timed(lambda: naive_tick(engine, sub, now, levels)) * n / sub.size
    naive_h = timed(lambda: naive_hourly(engine, sub, now)) * n / sub.size
    rss_live, rss_max = rss_now(), rss_peak()

    # the post-storm sweep over as many trees, sensored by this engine's devices
    state = engine.tick(now + tick_ms).trees
    trees = np.array([f"tree-{i}" for i in range(len(state))], dtype=object)
    state = dataclasses.replace(state, tree=trees)
    hgt = np.random.default_rng(2).uniform(5, 25, len(state))
    ctx = EstateContext(trees=tuple(
        TreeInfo(str(state.site[i]), str(trees[i]), heritage=i % 50 == 0, height_m=float(hgt[i]))
        for i in range(len(state))))
    sweep = timed(lambda: rank_trees(ctx, state))
    naive_s = timed(lambda: naive_sweep(ctx, state))

    # the service's shape: one engine per site of 100 trees
    site_n = min(TREES_PER_SITE, n)
    n_eng = min(8, max(1, n // site_n))
    per_site, idle = [], []
    for e_i in range(n_eng):
        sub_est = Estate.draw(site_n, seed=100 + e_i)
        s_phase = np.arange(site_n) % every
        sub_hist = sub_est.history(newest, history_h,
                                   offset_ms=hist_offset(s_phase, every, tick_ms))
        eng = AnalyticsEngine(EstateContext(), window=window)
        eng.warm_start(sub_hist, prime_at_ms=newest)
        s_rows = eng.rows_for("tilt", sub_est.sites, sub_est.devices)
        times = []
        for i in range(1, ticks + 1):
            t_i = newest + i * tick_ms
            due = s_rows[s_phase == i % every]
            v = sub_est.tilt(np.array([t_i - MIN]), rng)
            eng.ingest_rows("tilt", due, np.full(due.size, t_i - MIN),
                            {f: x[due] for f, x in v.items()})
            times.append(timed(lambda t=t_i, e=eng: e.tick(t).events))
        per_site.append(float(np.median(times)))
        # idle ticks: a second later, nothing new arrived
        t_end = newest + ticks * tick_ms
        idle.append(float(np.median([timed(lambda t=t_end + 1000 * j, e=eng: e.tick(t).events)
                                     for j in range(1, 6)])))
    sites_total = max(1, n // site_n)
    per_site_tick = float(np.mean(per_site)) * sites_total

    mem = sum(w.ts_ms.nbytes + sum(w.values(f).nbytes for f in w.fields)
              for w in (engine.tilt.raw, engine.tilt.hourly, engine.sway.windows,
                        engine.health.windows, engine.storm.weather))
    at_target = n >= TARGET_N  # the targets are for 100k devices; smaller runs only report

    def line(name: str, t: float, base: float, target: float, note: str = "") -> None:
        verdict = ("ok" if t <= target else "OVER") if at_target else "(100k target)"
        print(f"  {name:<34}{t * 1e3:10.1f} ms   naive {base * 1e3:10.1f} ms  "
              f"{base / t:6.1f}x   target {target * 1e3:6.0f} ms {verdict}{note}")

    med = float(np.median(steady)) if steady else float("nan")
    print(f"\n{n:,} tilt devices × {window} samples ({est.site_names.size:,} sites, windows "
          f"{mem / 1e9:.2f} GB); history {history_h:g} h = {rows_hist / 1e6:.1f} M readings "
          f"(in memory); a tick every {tick_s:g} s, a reading per device every "
          f"{STEP_MS // 1000} s; naive loops on {sub.size} devices, scaled")
    line("cold start (warm_start + 1st tick)", cold, naive_c, TARGETS["cold"],
         f"   naive: hourly medians + baseline fit only, on {sub_cold.size} devices; "
         f"CPU {cold_cpu * 1e3:.0f} ms")
    line(f"steady tick (median of {len(steady)})", med, naive, TARGETS["steady"],
         f"   {med / n * 1e6:.2f} µs/device; max {max(steady, default=np.nan) * 1e3:.0f} ms; "
         f"CPU median {np.median(cpu['steady']) * 1e3:.0f} ms")
    if hourly_t:
        line(f"hourly tick (max of {len(hourly_t)})", max(hourly_t), naive_h + naive,
             TARGETS["hourly"], f"   naive: steady work + trend fit; CPU max "
             f"{max(cpu['hourly']) * 1e3:.0f} ms")
    line("post-storm sweep (rank_trees)", sweep, naive_s, TARGETS["sweep"],
         f"   {len(ctx.trees):,} trees")
    line(f"per-site engines ({sites_total:,} × {site_n})", per_site_tick, naive,
         TARGETS["steady"], f"   {per_site_tick / sites_total * 1e3:.1f} ms per site engine "
         f"(median tick of {n_eng} engines, scaled); idle tick "
         f"{np.mean(idle) * 1e3:.2f} ms")
    verdict = ("ok" if rss_max <= TARGETS["rss"] else "OVER") if at_target else "(100k target)"
    print(f"  {'RSS now / peak':<34}{rss_live / 1e9:7.2f} GB / {rss_max / 1e9:.2f} GB"
          f"   target {TARGETS['rss'] / 1e9:.1f} GB {verdict} "
          f"(peak includes the in-memory history and the sizes run before)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--naive", type=int, default=1000, help="devices in the naive subset")
    ap.add_argument("--ticks", type=int, default=14, help="timed ticks after the cold start")
    ap.add_argument("--history-hours", type=float, default=26.0,
                    help="history per device for the cold start [h] (a day: baselines fit)")
    ap.add_argument("--tick-s", type=float, default=60.0,
                    help="event time between ticks [s] (GREENIOT_ANALYTICS__TICK_S default 60; "
                         "300 = every device reads before every tick)")
    args = ap.parse_args()
    for n in args.devices:
        bench(n, args.window, args.naive, args.ticks, args.history_hours, args.tick_s)


if __name__ == "__main__":
    main()
