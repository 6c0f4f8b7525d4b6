"""Restart-safe watering: rebuild what the planner, the water stage and the zone tracker knew.

After a restart of the maintenance process nothing of the daily water balance may be lost,
and a restart must cause no extra and no missed watering. What each part needs, and where it
comes from:

* the planner's last decision per zone (so today is not decided twice) and the cycles of
  today's watering still to run — the newest stored decision of each zone
  (:func:`greeniot.registry.decisions.latest_per_zone`) and the valve commands recorded for the
  zone since then;
* the water stage's balance (Dr, the probes' offset, the ET scale and their covariance, and
  the local day they close) — the same decision's record (``state.estimator``, ``day``); the
  days after it are balanced again from the readings the warm start loads from InfluxDB;
* the zone tracker's last watering, today's valve-open time and the rain of the last 24 h —
  the valve events and weather readings in InfluxDB.

:func:`restore_planner` runs at start-up, :func:`restore_stage` when a site's engine is made
(before its warm start: the stage continues from the stored day instead of starting afresh on
the probes), :func:`restore_tracker` after the warm start.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.actions.executor import ActionExecutor
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.irrigation.stage import WaterStage
from greeniot.clock import MS_PER_DAY, MS_PER_S
from greeniot.protocol import ValveEvent, WeatherReading
from greeniot.registry.decisions import latest_per_zone
from greeniot.registry.models import Command
from greeniot.store.influx import InfluxClient
from greeniot.store.queries import history

log = logging.getLogger(__name__)


def restore_planner(executor: ActionExecutor, sessions: Callable[[], Session], *,
                    now_ms: int) -> int:
    """The planner from each zone's newest stored decision before ``now_ms`` (its time and
    the cycles of its watering still to run); returns how many zones were restored."""
    with sessions() as s:
        latest = latest_per_zone(s, until_ms=now_ms + 1)
        sent = {}
        for (site, zone), row in latest.items():
            cmds = s.scalars(select(Command).where(
                Command.site == site, Command.zone == zone, Command.op == "open",
                Command.created_ms >= row.ts_ms).order_by(Command.created_ms)).all()
            sent[(site, zone)] = [c.created_ms for c in cmds]
    for (site, zone), row in latest.items():
        rec = row.record
        cycles = tuple(int(c) for c in rec.get("cycles_s") or ())
        done = sent.get((site, zone), [])
        left = cycles[len(done):] if row.water else ()
        soak = int(rec.get("soak_s") or 0)
        next_ms = (done[-1] + (cycles[len(done) - 1] + soak) * MS_PER_S) if done and left else 0
        executor.planner.restore(site, zone, last_decision_ms=row.ts_ms, cycles_left_s=left,
                                 next_cycle_ms=next_ms, soak_s=soak, day=row.day)
    if latest:
        log.info("watering planner restored for %d zones from their newest decisions",
                 len(latest))
    return len(latest)


def restore_stage(engine: AnalyticsEngine, site: str, sessions: Callable[[], Session], *,
                  now_ms: int) -> int:
    """A new engine's water stage for ``site`` from each zone's newest stored decision (the
    balance as of the end of its ``day``); returns how many zones continue from there."""
    with sessions() as s:
        latest = {k: v for k, v in latest_per_zone(s, until_ms=now_ms + 1).items()
                  if k[0] == site}
    stage = engine.stages.get("water")
    if not isinstance(stage, WaterStage):
        return 0
    n = 0
    for (_, zone), row in latest.items():
        state = row.record.get("state") or {}
        packed = state.get("estimator") or ()
        offsets = {p["device"]: float(p["offset_mm"]) for p in state.get("probes") or ()
                   if isinstance(p, dict) and isinstance(p.get("device"), str)
                   and isinstance(p.get("offset_mm"), int | float)
                   and math.isfinite(p["offset_mm"])}
        if row.day >= 0 and all(isinstance(x, int | float) and math.isfinite(x)
                                for x in packed):
            n += stage.restore(site, zone, day=row.day, packed=list(packed), board=engine.board,
                               probe_offsets=offsets)
    return n


def restore_from_registry(executor: ActionExecutor, engines: Mapping[str, AnalyticsEngine],
                          sessions: Callable[[], Session], *, now_ms: int) -> int:
    """:func:`restore_planner`, and :func:`restore_stage` for each of ``engines``."""
    n = restore_planner(executor, sessions, now_ms=now_ms)
    for site, engine in engines.items():
        restore_stage(engine, site, sessions, now_ms=now_ms)
    return n


async def restore_tracker(executor: ActionExecutor, influx: InfluxClient, *, now_ms: int,
                          sites: list[str] | None = None) -> int:
    """The zone tracker from the last day's valve events and weather readings in InfluxDB
    (last watering, today's valve-open time, rain of the last 24 h, air temperature);
    returns how many points were replayed."""
    since = now_ms - MS_PER_DAY - 6 * 3600 * MS_PER_S  # a run that started before the day
    valves = await history(influx, "valve", ("open", "open_s", "seq"), since_ms=since,
                           until_ms=now_ms, sites=sites)
    weather = await history(influx, "weather", ("rain_mm", "air_temp_c", "wind_ms", "seq"),
                            since_ms=since, until_ms=now_ms, sites=sites)
    events: list[tuple[int, int, str, str, object]] = []
    for i, ts in enumerate(valves.ts_ms):
        open_s = valves.values["open_s"][i]
        seq = valves.values["seq"][i]
        # the tracker reads state, time and open_s only (the cause is a string column the
        # numeric history does not carry)
        msg = ValveEvent(seq=int(seq) if math.isfinite(seq) else 0, ts_ms=ts,
                         state="open" if valves.values["open"][i] == 1 else "closed",
                         cause="cmd", open_s=open_s if math.isfinite(open_s) else None)
        events.append((ts, 0, valves.site[i], valves.device[i], msg))
    for i, ts in enumerate(weather.ts_ms):
        rain, air, wind = (weather.values[k][i] for k in ("rain_mm", "air_temp_c", "wind_ms"))
        seq = weather.values["seq"][i]
        wx = WeatherReading(seq=int(seq) if math.isfinite(seq) else 0, ts_ms=ts,
                            rain_mm=rain if math.isfinite(rain) else 0.0,
                            air_temp_c=air if math.isfinite(air) else None,
                            wind_ms=wind if math.isfinite(wind) else 0.0)
        events.append((ts, 1, weather.site[i], weather.device[i], wx))
    for _, kind, site, device, m in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0 and isinstance(m, ValveEvent):
            executor.observe_valve(site, device, m)
        elif isinstance(m, WeatherReading):
            executor.observe_weather(site, m)
    return len(events)
