"""Device-fault quality: randomized fleets with injected faults and healthy controls.

    .venv/bin/python benchmarks/device_faults.py --seeds 20

Per seed, :func:`simulators.faults.generate` draws one site (8 faulty nodes, one per fault
kind; 8 healthy controls; 2 healthy nodes taking a planned shutdown) over 24 h, and its
messages are fed in receive order, with their receive times, to

- **greeniot**: the maintenance process's own feed (:class:`greeniot.runtime.feed.AnalyticsFeed`:
  time validation, device clocks, plausibility, a detector pass per 5 min of site event time);
- **baseline**, in the same run: the same engine fed every message as it stands, ticked at
  the newest timestamp seen (the event clock before issue 14: one wrong clock moves it).

A fault counts as on time when an alarm of its kind for its device starts at a detector pass no
later than its due time (``simulators.faults.DUE_INTERVALS``); a false alarm is any alarm on a
healthy control or sleeper. No MQTT here: the detection path is the maintenance process's,
without the broker (the tests drive that one through the real broker).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field

from greeniot.analytics.contract import HEALTH_KINDS, Event
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import AnalyticsParams
from greeniot.estate import EstateContext
from greeniot.runtime.feed import AnalyticsFeed
from greeniot.simulators.faults import FAULTS, FaultScenario, generate

TICK_MS = 300_000
START_MS = 1_790_000_000_000


@dataclass
class Score:
    on_time: Counter[str] = field(default_factory=Counter)
    late: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    false_alarms: Counter[str] = field(default_factory=Counter)  # kind → count
    faults: int = 0
    healthy: int = 0

    def add(self, sc: FaultScenario, fired: list[tuple[int, Event]]) -> None:
        first: dict[tuple[str, str], int] = {}
        for at, ev in fired:
            if ev.phase != "clear" and ev.device and ev.kind in HEALTH_KINDS:
                first.setdefault((ev.device, ev.kind), at)
        for f in sc.faults:
            self.faults += 1
            at = first.get((f.device, f.expect))
            if at is not None and f.start_ms - TICK_MS <= at <= f.due_ms:
                self.on_time[f.fault] += 1
            elif at is not None:
                self.late[f.fault] += 1
            else:
                self.missed[f.fault] += 1
        controls = set(sc.healthy) | set(sc.sleepers)
        self.healthy += len(controls)
        for (device, kind), _at in first.items():
            if device in controls:
                self.false_alarms[kind] += 1


def run_feed(sc: FaultScenario) -> list[tuple[int, Event]]:
    params = AnalyticsParams()
    feed = AnalyticsFeed(lambda site: AnalyticsEngine(EstateContext(), params=params),
                         tick_ms=TICK_MS, max_future_ms=300_000, max_age_ms=400 * 86_400_000,
                         health=params.health)
    fired: list[tuple[int, Event]] = []
    for it in sc.items:
        feed.offer(it.site, it.device, it.msg, it.received_ms)
        for _site, now, result in feed.due(it.received_ms):
            fired += [(now, e) for e in result.events]
    return fired


def run_baseline(sc: FaultScenario) -> list[tuple[int, Event]]:
    engine = AnalyticsEngine(EstateContext())
    fired: list[tuple[int, Event]] = []
    newest = 0
    next_tick = 0
    for it in sc.items:
        engine.ingest(it.site, it.device, it.msg)
        newest = max(newest, getattr(it.msg, "ts_ms", None) or 0)
        if newest >= next_tick:
            now = newest - newest % TICK_MS
            if now >= next_tick:
                fired += [(it.received_ms, e) for e in engine.tick(now).events]
                next_tick = now + TICK_MS
    return fired


def table(name: str, s: Score) -> list[str]:
    on = sum(s.on_time.values())
    pct = 100 * on / max(s.faults, 1)
    rows = [f"{name}: {on}/{s.faults} faults alerted on time ({pct:.1f} %), "
            f"{sum(s.false_alarms.values())} false alarms on {s.healthy} healthy devices"]
    rows.append(f"  {'fault':<14}{'on time':>8}{'late':>6}{'missed':>8}")
    for f in FAULTS:
        rows.append(f"  {f:<14}{s.on_time[f]:>8}{s.late[f]:>6}{s.missed[f]:>8}")
    if s.false_alarms:
        rows.append("  false alarms by kind: " + ", ".join(
            f"{k} {n}" for k, n in sorted(s.false_alarms.items())))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--hours", type=float, default=24.0)
    args = ap.parse_args()
    ours, base = Score(), Score()
    t0 = time.perf_counter()
    n_msgs = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        sc = generate(seed, start_ms=START_MS, span_s=args.hours * 3600)
        n_msgs += len(sc.items)
        ours.add(sc, run_feed(sc))
        base.add(sc, run_baseline(sc))
    print(f"{args.seeds} seeds x 1 site x {args.hours:g} h, {n_msgs} messages, "
          f"{time.perf_counter() - t0:.1f} s")
    print("\n".join(table("greeniot", ours)))
    print("\n".join(table("baseline (newest-timestamp clock, no clock or plausibility checks)",
                          base)))


if __name__ == "__main__":
    main()
