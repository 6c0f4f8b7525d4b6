"""Tree-risk quality over randomized estates and storms: precision, recall, timeliness, calm.

Each seed draws an estate (sites with and without a weather station, a species mix and sizes,
heritage trees, sensor drift and noise) and a storm (track, strength, gusts, turning wind),
and by chance trees that yield in the storm, fail, or have their sensor moved
(:mod:`simulators.estates`, :mod:`simulators.storms`). Readings go through the real
:class:`greeniot.analytics.engine.AnalyticsEngine` and :func:`greeniot.actions.rules.decide`
in process, ticking every 5 minutes; a task counts once per de-duplication key (as the
registry opens it). The scorer prints, over all seeds:

- task precision: tree tasks (remove, stabilize, inspect, device_check on tilt nodes) that are
  right — a lean task on a tree whose true persistent lean reached its step-warning threshold
  (0.25°, heritage 0.15° [SAG]) or that fell; a device check on a moved sensor;
- recall: trees with a persistent lean at or above that threshold (or fallen) that got a task;
- on time: critical trees (final lean ≥ 1.6°, heritage 0.9° [Dundee], or fallen) tasked within
  30 min of becoming detectable (true lean past the storm warning, 0.5°/0.25°);
- false lean alarms per 1,000 calm tree-days: lean tasks on trees without a true lean, opened
  outside the storm (onset to 6 h after its end), per calm tree-day after the first day;
- the post-storm ranking: the share of (leaning, healthy) tree pairs ranked in that order.

Targets (issue 9): precision ≥ 0.95, recall 1.0, ≥ 95 % on time, ≤ 1 false alarm per 1,000
calm tree-days. Run: ``./.venv/bin/python benchmarks/tree_risk.py --seeds 20``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greeniot.actions.plan import Task
from greeniot.actions.rules import decide
from greeniot.actions.sweeps import rank_trees
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import TILT_PARAMS
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo
from greeniot.protocol.messages import TiltBurst, TiltReading, WeatherReading
from greeniot.simulators.estates import Estate, draw_estate, sway_burst, tilt_readings

START_MS = 1_790_000_000_000 - (1_790_000_000_000 % 86_400_000)
TICK_S = 300.0
READ_S = 300.0
WX_S = 600.0
BURST_TREES = 8  # burst-capable nodes per site without a station (the rest send none)
BURST_EVERY = 2  # a triggered node sends a burst with every 2nd reading


@dataclass
class SeedScore:
    tasks: int = 0
    right: int = 0
    positives: int = 0
    found: int = 0
    critical: int = 0
    on_time: int = 0
    calm_tree_days: float = 0.0
    calm_false: int = 0
    pairs: int = 0
    pairs_ok: int = 0
    late: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def context(est: Estate) -> EstateContext:
    tr = est.trees
    devices = [DeviceBinding(est.sites[tr.site[i]], tr.device[i], "tilt", tree=tr.tree[i])
               for i in range(len(tr))]
    devices += [DeviceBinding(s, f"wx-{s}", "weather")
                for k, s in enumerate(est.sites) if est.has_station[k]]
    trees = [TreeInfo(est.sites[tr.site[i]], tr.tree[i], heritage=bool(tr.heritage[i]),
                      species=tr.species[i], height_m=float(tr.height_m[i]))
             for i in range(len(tr))]
    return EstateContext(devices=tuple(devices), trees=tuple(trees))


def run_seed(seed: int, days: float) -> SeedScore:
    est = draw_estate(seed, start_ms=START_MS, days=days)
    tr = est.trees
    rng = np.random.default_rng(seed + 10_000)
    ctx = context(est)
    eng = AnalyticsEngine(ctx)
    n = len(tr)
    t_read = np.arange(0.0, est.span_s, READ_S)
    jitter = rng.uniform(0.0, 60.0, n)
    pitch, roll, temp = tilt_readings(est, t_read, rng)
    sites = np.array([est.sites[s] for s in tr.site], dtype=object)
    rows = eng.rows_for("tilt", sites, np.array(tr.device, dtype=object))
    burst_node = np.zeros(n, bool)
    for k in range(len(est.sites)):
        if not est.has_station[k]:
            burst_node[np.flatnonzero(tr.site == k)[:BURST_TREES]] = True
    seq = np.zeros(n, np.int64)
    wx_t = np.arange(0.0, est.span_s, WX_S)
    wx_sites = [k for k in range(len(est.sites)) if est.has_station[k]]
    opened: dict[str, tuple[float, Task]] = {}
    ranking: list[str] = []
    heritage_of = {tr.tree[i]: bool(tr.heritage[i]) for i in range(n)}
    ticks = np.arange(TICK_S, est.span_s + 1, TICK_S)
    prev = -1.0
    for t in ticks:
        sel = (t_read > prev - 60.0) & (t_read <= t)
        cols = np.flatnonzero(sel)
        for c in cols:
            ts_ms = START_MS + np.round((t_read[c] + jitter) * 1000).astype(np.int64)
            ok = (t_read[c] + jitter > prev) & (t_read[c] + jitter <= t)
            use = ok.copy()
            for i in np.flatnonzero(ok & burst_node):
                seq[i] += 1
                b = (sway_burst(est, int(i), float(t_read[c] + jitter[i]), float(pitch[i, c]),
                                float(roll[i, c]), rng) if seq[i] % BURST_EVERY == 0 else None)
                if b is None:
                    continue
                use[i] = False
                eng.ingest(str(sites[i]), tr.device[i], TiltReading(
                    seq=int(seq[i]), ts_ms=int(ts_ms[i]), pitch_deg=float(np.mean(b[0])),
                    roll_deg=float(np.mean(b[1])), temp_c=float(temp[i, c]),
                    burst=TiltBurst(hz=10.0, pitch_deg=b[0], roll_deg=b[1])))
            if use.any():
                eng.ingest_rows("tilt", rows[use], ts_ms[use],
                                {"pitch_deg": pitch[use, c], "roll_deg": roll[use, c],
                                 "temp_c": temp[use, c], "bat_v": np.full(use.sum(), 3.9)})
        for k in wx_sites:
            for tw in wx_t[(wx_t > prev) & (wx_t <= t)]:
                u = float(est.storm.wind_mean_ms(np.array([tw]), np.array([k]))[0])
                eng.ingest(est.sites[k], f"wx-{est.sites[k]}", WeatherReading(
                    seq=int(tw // WX_S), ts_ms=START_MS + int(tw * 1000), wind_ms=round(u, 2),
                    gust_ms=round(1.45 * u, 2)))
        prev = float(t)
        res = eng.tick(START_MS + int(t * 1000))
        for a in decide(res.events, ctx, trees=res.trees):
            if isinstance(a, Task) and a.dedup_key not in opened:
                opened[a.dedup_key] = (float(t), a)
        if not ranking and t > est.storm.end_s + 6 * 3600:
            ranking = [item.tree for item in rank_trees(ctx, res.trees)]
    return score(est, opened, ranking, heritage_of)


def score(est: Estate, opened: dict[str, tuple[float, Task]], ranking: list[str],
          heritage_of: dict[str, bool]) -> SeedScore:
    tr = est.trees
    n = len(tr)
    std, her = TILT_PARAMS["standard"], TILT_PARAMS["heritage"]
    t_fine = np.arange(0.0, est.span_s, 60.0)
    lean, down = tr.true_lean(t_fine)
    final = lean[:, -1]
    fell = down[:, -1]
    step_warn = np.where(tr.heritage, her.step_deg.warning, std.step_deg.warning)
    crit = np.where(tr.heritage, her.lean_deg.critical, std.lean_deg.critical)
    storm_warn = np.where(tr.heritage, her.storm_offset_deg.warning,
                          std.storm_offset_deg.warning)
    positive = fell | (final >= step_warn - 1e-9)
    critical = fell | (final >= crit)
    moved = np.isfinite(tr.remount_at_s)
    idx = {t: i for i, t in enumerate(tr.tree)}
    dev_idx = {d: i for i, d in enumerate(tr.device)}
    storm_from, storm_to = est.storm.onset_s, est.storm.end_s + 6 * 3600
    s = SeedScore()
    first_task = np.full(n, np.inf)
    tasked = np.zeros(n, bool)
    for key, (t, task) in opened.items():
        i = idx.get(task.tree or "", dev_idx.get(task.device or "", -1))
        if i < 0 or "sweep" in task.title:
            continue
        s.tasks += 1
        if task.kind == "device_check":
            ok = bool(moved[i])
        else:
            ok = bool(positive[i])
            tasked[i] = True
            first_task[i] = min(first_task[i], t)
            if not ok and not storm_from <= t <= storm_to:
                s.calm_false += 1
        s.right += ok
        if not ok:
            s.wrong.append(f"{key}@{t / 3600:.1f}h")
    s.positives = int(positive.sum())
    s.found = int((positive & tasked).sum())
    for i in np.flatnonzero(critical):
        past = np.flatnonzero(lean[i] >= storm_warn[i])
        detect_t = t_fine[past[0]] if past.size else np.inf
        s.critical += 1
        if first_task[i] <= detect_t + 1800.0:
            s.on_time += 1
        else:
            s.late.append(f"{tr.tree[i]} +{(first_task[i] - detect_t) / 60:.0f}min")
    healthy = ~positive
    calm_s = max(0.0, est.span_s - 86_400.0 - (storm_to - storm_from))
    s.calm_tree_days = float(healthy.sum()) * calm_s / 86_400.0
    if ranking:
        pos = {t: k for k, t in enumerate(ranking)}
        leaning = [tr.tree[i] for i in np.flatnonzero(positive & ~fell)]
        fine = [tr.tree[i] for i in np.flatnonzero(healthy & ~moved)]
        for a in leaning:
            for b in fine:
                s.pairs += 1
                s.pairs_ok += pos.get(a, 10**9) < pos.get(b, 10**9)
    del heritage_of
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--days", type=float, default=6.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    total = SeedScore()
    t0 = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        s = run_seed(seed, args.days)
        for f in ("tasks", "right", "positives", "found", "critical", "on_time", "calm_false",
                  "pairs", "pairs_ok"):
            setattr(total, f, getattr(total, f) + getattr(s, f))
        total.calm_tree_days += s.calm_tree_days
        print(f"seed {seed:3d}: tasks {s.tasks:3d} right {s.right:3d}  positives {s.positives:2d} "
              f"found {s.found:2d}  critical {s.critical:2d} on time {s.on_time:2d}  calm false "
              f"{s.calm_false} / {s.calm_tree_days:.0f} tree-days"
              + (f"  late {s.late}" if s.late and args.verbose else "")
              + (f"  wrong {s.wrong}" if s.wrong and args.verbose else ""), flush=True)
    prec = total.right / total.tasks if total.tasks else float("nan")
    rec = total.found / total.positives if total.positives else float("nan")
    on_time = total.on_time / total.critical if total.critical else float("nan")
    fa = 1000.0 * total.calm_false / total.calm_tree_days if total.calm_tree_days else 0.0
    rank = total.pairs_ok / total.pairs if total.pairs else float("nan")
    print(f"\n{args.seeds} seeds in {time.perf_counter() - t0:.0f} s")
    print(f"task precision          {prec:.3f}  (target >= 0.95; {total.right}/{total.tasks})")
    print(f"recall                  {rec:.3f}  (target 1.0; {total.found}/{total.positives})")
    print(f"critical on time        {on_time:.3f}  (target >= 0.95; "
          f"{total.on_time}/{total.critical})")
    print(f"false lean alarms       {fa:.2f} per 1,000 calm tree-days (target <= 1; "
          f"{total.calm_false} in {total.calm_tree_days:.0f})")
    print(f"post-storm ranking      {rank:.3f}  of (leaning, healthy) pairs in order")


if __name__ == "__main__":
    main()
