"""Tree-risk scenarios of calm weather on the real services (Mosquitto, ingest, InfluxDB,
the maintenance process with its per-site feed, the SQL registry).

- A site without a weather station, 100 trees over 10 calm days with afternoon breezes (the
  simulator's estate physics: temperature drift, noise, each tree's own lean): the trees' sway
  is the only wind reference and nothing leans, so no lean task and no lean alarm may come.
- A tilt sensor moved on its mount (both axes and its temperature jump at once, the wind
  calm) is a device check, never a lean task or alarm.

Readings travel as the firmware's offline-buffer batches (``{"v":1,"batch":[...]}``), as a
gateway flushing its backlog would send them; analytics judges them on their own event time.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import select

from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.protocol import TiltReading, WeatherReading, device_topic
from greeniot.protocol.codec import encode_batch
from greeniot.registry.context import seed
from greeniot.registry.models import Alert, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import bindings_of, open_registry, read_context
from greeniot.simulators.estates import draw_estate, tilt_readings
from tests.helpers import Publisher, apoll
from tests.ingest.test_service import influx_rows

pytestmark = pytest.mark.timeout(900)

DAY_MS = 86_400_000
STEP_S = 300.0  # the firmware's calm reporting interval
BATCH = 48  # readings per flushed batch (4 h)
LEAN_KINDS = {"lean", "lean_step", "lean_trend", "lean_storm", "failure"}
TREE_WORK = {"stabilize", "remove", "inspect"}


def _start_ms(days: float) -> int:
    """A whole hour ``days`` + 1 ago: the readings end an hour before now."""
    now = wall_ms()
    return (now - int((days * 24 + 1) * 3_600_000)) // 3_600_000 * 3_600_000


def _estate_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 1800.0})})


async def _judge(s: Settings, sessions: object, ctx: object, items: list[tuple[str, bytes]],
                 readings: int, measurement: str, stored_n: int) -> None:
    """Publish ``items``, wait until InfluxDB holds every reading, then judge all of it."""
    async with (IngestService(s, bindings=bindings_of(ctx)),  # type: ignore[arg-type]
                MaintenanceService(s, ctx, sessions) as svc):  # type: ignore[arg-type]
        pub = Publisher(s.mqtt.port)
        try:
            await asyncio.to_thread(pub.publish_many, items, 1, 300.0)
        finally:
            pub.close()

        def stored() -> bool:
            rows = influx_rows(s, f"SELECT count(seq) AS n FROM {measurement}")
            return bool(rows) and rows[0]["n"] >= stored_n

        await apoll(stored, timeout_s=300, interval_s=0.5, thread=True,
                    what=f"all {stored_n} {measurement} readings in InfluxDB")
        await apoll(lambda: svc.feed.stats.readings >= readings, timeout_s=300,
                    interval_s=0.2, what="analytics took every reading in")
        await svc.catch_up()


def test_a_site_without_a_station_raises_no_lean_alarm_in_ten_calm_days(
        settings: Settings) -> None:
    days = 10.0
    t0 = _start_ms(days)
    est = draw_estate(42, start_ms=t0, days=days, n_sites=1, trees_per_site=(100, 100),
                      station_share=0.0, p_yield=0.0, p_fail=0.0, p_remount=0.0,
                      storm_peak_ms=(0.0, 0.1))
    assert not est.has_station.any()
    site, tr = est.sites[0], est.trees
    s = _estate_settings(settings)
    engine, sessions = open_registry(s)
    with sessions() as session:
        seed(session, sites=[{"id": site, "name": site}], zones=[],
             trees=[{"site": site, "id": t, "heritage": bool(h)}
                    for t, h in zip(tr.tree, tr.heritage, strict=True)],
             devices=[{"site": site, "id": d, "kind": "tilt", "tree_id": t}
                      for d, t in zip(tr.device, tr.tree, strict=True)])
    ctx = read_context(sessions)
    t_read = np.arange(0.0, est.span_s, STEP_S)
    pitch, roll, temp = tilt_readings(est, t_read, np.random.default_rng(1))
    items = []
    for i, device in enumerate(tr.device):
        msgs = [TiltReading(seq=k, ts_ms=t0 + int(t_read[k] * 1000),
                            pitch_deg=round(float(pitch[i, k]), 4),
                            roll_deg=round(float(roll[i, k]), 4),
                            temp_c=round(float(temp[i, k]), 2), bat_v=3.9)
                for k in range(t_read.size)]
        items += [(device_topic(site, device, "tilt"), encode_batch(msgs[j:j + BATCH]))
                  for j in range(0, len(msgs), BATCH)]
    try:
        n = len(tr.device) * t_read.size
        asyncio.run(_judge(s, sessions, ctx, items, n, "tilt", n))
        with sessions() as session:
            tasks = session.scalars(select(Task).where(Task.site == site)).all()
            alerts = session.scalars(select(Alert).where(Alert.site == site)).all()
    finally:
        engine.dispose()
    assert len(tr.device) == 100 and est.span_s == days * DAY_MS / 1000
    assert [(t.kind, t.tree, t.title) for t in tasks if t.kind in TREE_WORK] == []
    assert [(a.kind, a.tree, a.message) for a in alerts if a.kind in LEAN_KINDS] == []


def test_a_moved_sensor_is_a_device_check_and_never_a_lean_alarm(settings: Settings,
                                                                 site_id: str) -> None:
    days = 3.0
    t0 = _start_ms(days)
    site, tree, device = site_id, "t-oak", "tilt-oak"
    s = _estate_settings(settings)
    engine, sessions = open_registry(s)
    with sessions() as session:
        seed(session, sites=[{"id": site, "name": site}], zones=[],
             trees=[{"site": site, "id": tree, "species": "Quercus robur", "height_m": 14.0}],
             devices=[{"site": site, "id": device, "kind": "tilt", "tree_id": tree},
                      {"site": site, "id": "wx", "kind": "weather"}])
    ctx = read_context(sessions)
    rng = np.random.default_rng(7)
    ts = t0 + np.arange(0, int(days * DAY_MS), int(STEP_S * 1000), dtype=np.int64)
    hours = (ts - t0) / 3_600_000
    temp = 20 + 6 * np.sin(2 * np.pi * (hours - 9) / 24)  # a daily cycle [°C]
    remount = t0 + 2 * DAY_MS + 7 * 3_600_000 + 2 * 60_000
    moved = ts >= remount
    temp_sensor = temp + np.where(moved, 5.0, 0.0)  # a new spot on the trunk, in the sun
    pitch = 0.3 + 0.01 * (temp - 20) + np.where(moved, 0.9, 0.0) + rng.normal(0, 0.02, ts.size)
    roll = 0.1 + np.where(moved, -0.7, 0.0) + rng.normal(0, 0.02, ts.size)
    tilt = [TiltReading(seq=k, ts_ms=int(t), pitch_deg=round(float(pitch[k]), 4),
                        roll_deg=round(float(roll[k]), 4),
                        temp_c=round(float(temp_sensor[k]), 2), bat_v=3.9)
            for k, t in enumerate(ts)]
    wx = [WeatherReading(seq=k, ts_ms=int(t), wind_ms=round(float(1.5 + rng.uniform(0, 1)), 2),
                         gust_ms=3.0, air_temp_c=round(float(temp[k]), 2))
          for k, t in enumerate(ts)]
    items = [(device_topic(site, device, "tilt"), encode_batch(tilt[j:j + BATCH]))
             for j in range(0, len(tilt), BATCH)]
    items += [(device_topic(site, "wx", "weather"), encode_batch(wx[j:j + BATCH]))
              for j in range(0, len(wx), BATCH)]
    try:
        asyncio.run(_judge(s, sessions, ctx, items, len(tilt) + len(wx), "tilt", len(tilt)))
        with sessions() as session:
            tasks = session.scalars(select(Task).where(Task.site == site)).all()
            alerts = session.scalars(select(Alert).where(Alert.site == site)).all()
    finally:
        engine.dispose()
    checks = [t for t in tasks if t.kind == "device_check"]
    assert [t.device for t in checks] == [device], [(t.kind, t.title) for t in tasks]
    assert "mount" in (checks[0].title + checks[0].reason).lower(), checks[0].reason
    assert [(t.kind, t.title) for t in tasks if t.kind in TREE_WORK] == []
    assert [(a.kind, a.tree, a.message) for a in alerts if a.kind in LEAN_KINDS] == []
