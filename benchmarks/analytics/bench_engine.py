"""Analytics tick time over 10k and 100k tilt devices × window samples.

Fills an engine's windows (one weather station per 100 trees), then times ``tick()``:

* cold tick — first tick: hourly medians of the whole window, every baseline, every trend;
* steady tick — one new reading per device, then the tick (the common case);
* hourly tick — a tick that closes an hour (hourly medians, baselines, trends refitted).

The same run measures a naive per-device Python loop doing the steady tick's tilt and health
work (and, separately, the hourly trend fit) on a subset of devices, scaled linearly to all
devices, and prints the ratio. Nothing here asserts a time: it reports.

Run::

    .venv/bin/python benchmarks/analytics/bench_engine.py            # 10k and 100k devices
    .venv/bin/python benchmarks/analytics/bench_engine.py --devices 10000 --window 256
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import numpy as np

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.estate import EstateContext

T0 = 1_790_000_000_000 - (1_790_000_000_000 % 3_600_000)
MIN = 60_000
HOUR = 3_600_000
TREES_PER_SITE = 100
STEP_MS = 5 * MIN  # one tilt reading per device per 5 min; one tick per 5 min


def build(n: int, window: int, seed: int = 0) -> tuple[AnalyticsEngine, np.ndarray, int]:
    """An engine with ``n`` tilt devices whose raw windows are full; returns (engine, rows,
    time of the newest reading)."""
    rng = np.random.default_rng(seed)
    engine = AnalyticsEngine(EstateContext(), window=window)
    n_sites = max(1, n // TREES_PER_SITE)
    site_names = np.array([f"site-{s}" for s in range(n_sites)], dtype=object)
    sites = site_names[np.arange(n) % n_sites]
    rows = engine.rows_for("tilt", sites, np.array([f"tilt-{i}" for i in range(n)], dtype=object))
    wx = engine.rows_for("weather", site_names, np.full(n_sites, "wx", dtype=object))
    rest_p = rng.normal(0, 0.5, n)
    rest_r = rng.normal(0, 0.5, n)
    k = rng.normal(0, 0.02, n)
    steps = np.arange(window, dtype=np.int64)
    ts_all = T0 + steps * STEP_MS
    block = 32
    for b0 in range(0, window, block):
        ts = ts_all[b0:b0 + block]
        temp = 20 + 8 * np.sin(2 * np.pi * (ts - T0) / (24 * HOUR))
        rr = np.tile(rows, ts.size)
        tt = np.repeat(ts, n)
        tc = np.repeat(temp, n)
        kk = np.tile(k, ts.size)
        engine.ingest_rows("tilt", rr, tt, {
            "pitch_deg": np.tile(rest_p, ts.size) + kk * (tc - 20) + rng.normal(0, 0.015, rr.size),
            "roll_deg": np.tile(rest_r, ts.size) + rng.normal(0, 0.015, rr.size),
            "temp_c": tc,
            "bat_v": np.full(rr.size, 3.9),
        })
        engine.ingest_rows("weather", np.tile(wx, ts.size), np.repeat(ts, n_sites),
                           {"wind_ms": rng.uniform(1, 6, ts.size * n_sites)})
    return engine, rows, int(ts_all[-1])


def reading(engine: AnalyticsEngine, rows: np.ndarray, ts: int, rng: np.random.Generator) -> None:
    n = rows.size
    engine.ingest_rows("tilt", rows, np.full(n, ts), {
        "pitch_deg": rng.normal(0, 0.5, n), "roll_deg": rng.normal(0, 0.5, n),
        "temp_c": np.full(n, 20.0), "bat_v": np.full(n, 3.9)})


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


def bench(n: int, window: int, naive_n: int, ticks: int) -> None:
    gc.collect()
    t_build = time.perf_counter()
    engine, rows, newest = build(n, window)
    t_build = time.perf_counter() - t_build
    mem = sum(w.ts_ms.nbytes + sum(w.values(f).nbytes for f in w.fields)
              for w in (engine.tilt.raw, engine.tilt.hourly, engine.sway.windows,
                        engine.health.windows, engine.storm.weather))
    rng = np.random.default_rng(1)
    now = newest + MIN
    cold = timed(lambda: engine.tick(now).events)
    steady, hourly_t = [], []
    for i in range(1, ticks + 1):
        t = now + i * STEP_MS
        reading(engine, rows, t - MIN, rng)
        before = engine.tilt.next_hour_ms
        dt = timed(lambda t=t: engine.tick(t).events)
        (hourly_t if engine.tilt.next_hour_ms != before else steady).append(dt)
    sub = rows[: min(naive_n, n)]
    levels: dict[int, list[int]] = {}
    naive = timed(lambda: naive_tick(engine, sub, now + ticks * STEP_MS, levels)) * n / sub.size
    naive_h = timed(lambda: naive_hourly(engine, sub, now + ticks * STEP_MS)) * n / sub.size
    med = float(np.median(steady)) if steady else float("nan")
    print(f"\n{n:,} tilt devices × {window} samples  ({n // TREES_PER_SITE:,} sites, "
          f"windows {mem / 1e9:.2f} GB, filled in {t_build:.1f} s)")
    print(f"  cold tick (all hours, baselines, trends)   {cold * 1e3:9.1f} ms")
    print(f"  steady tick, median of {len(steady):2d}                {med * 1e3:9.1f} ms"
          f"   {med / n * 1e6:6.2f} µs/device")
    if hourly_t:
        print(f"  hourly tick (refit)                         {max(hourly_t) * 1e3:9.1f} ms")
    print(f"  naive per-device loop, steady work         {naive * 1e3:9.1f} ms   "
          f"(measured on {sub.size} devices, scaled)   vectorized is {naive / med:5.1f}x faster")
    if hourly_t:
        print(f"  naive per-device trend fit alone           {naive_h * 1e3:9.1f} ms   "
              f"vs whole hourly tick: {naive_h / max(hourly_t):5.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--naive", type=int, default=1000, help="devices in the naive subset")
    ap.add_argument("--ticks", type=int, default=14, help="timed ticks after the cold one")
    args = ap.parse_args()
    for n in args.devices:
        bench(n, args.window, args.naive, args.ticks)


if __name__ == "__main__":
    main()
