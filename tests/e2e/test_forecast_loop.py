"""A forecast posted through the API, end to end on the real services.

The API process (``serve_api``: uvicorn, its own broker session) takes
``POST /api/v1/sites/{site}/forecast`` from a service account's API key and publishes it on the
site's retained ``forecast`` topic; ingest stores it in InfluxDB; the maintenance process feeds
it to its watering planner and the pre-storm sweep. The planner then decides on a zone whose
root zone is past its readily available water (a balance state as the water stage publishes
it): without the forecast it opens the valve, with the forecast it is locked out with the
reason code. A frost forecast locks out; a freeze forecast for tomorrow in winter waters a zone
that would otherwise wait (winter watering). A gale forecast opens one inspection task per tree
of the site, ranked, once per storm. A restarted maintenance process gets the forecast back
from InfluxDB when the broker no longer holds it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from greeniot.actions.plan import Alert as AlertAction
from greeniot.actions.plan import ValveOpen
from greeniot.actions.watering import WateringPlanner
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.contract import ZoneBalanceState
from greeniot.config import AuthSettings, Settings
from greeniot.estate import EstateContext
from greeniot.ingest.service import IngestService
from greeniot.protocol import forecast_topic
from greeniot.registry import accounts
from greeniot.registry.context import load_context, seed
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.registry.models import Alert, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import MqttSession
from tests.api_server import with_api
from tests.helpers import apoll

HK = 8.0
SECRET = "forecast-test-secret-" + "y" * 32


def local_ms(y: int, m: int, d: int, h: float) -> int:
    return int(dt.datetime(y, m, d, tzinfo=dt.UTC).timestamp() * 1000 + (h - HK) * 3.6e6)


def day_index(ms: int) -> int:
    return int((ms / 1000 + HK * 3600) // 86_400)


def estate(site: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "sites": [{"id": site, "tz": "Asia/Hong_Kong", "lat_deg": 22.3, "elevation_m": 40.0}],
        "zones": [{"site": site, "id": "z-rotor", "application_rate_mm_h": 12.0,
                   "irrigation_kind": "rotor", "area_m2": 50.0, "efficiency": 0.75,
                   "max_run_s": 7200, "daily_max_s": 43200, "theta_fc": 0.25,
                   "theta_wp": 0.12, "root_depth_m": 0.3, "mad_p": 0.5, "kc": 0.9}],
        "trees": [{"site": site, "id": "t-heritage", "species": "Ficus microcarpa",
                   "heritage": True, "height_m": 18.0},
                  {"site": site, "id": "t-tall", "species": "Delonix regia", "height_m": 14.0},
                  {"site": site, "id": "t-small", "species": "Bauhinia blakeana",
                   "height_m": 6.0}],
        "devices": [{"site": site, "id": "v-rotor", "kind": "valve", "zone_id": "z-rotor"}],
    }


def balance(site: str, now_ms: int, dr_mm: float) -> ZoneBalanceState:
    """The water stage's state for the zone at the end of yesterday (TAW 39 mm, RAW 19.5)."""
    def f(x: float) -> np.ndarray:
        return np.array([x])
    return ZoneBalanceState(
        ts_ms=now_ms, site=np.array([site], dtype=object), zone=np.array(["z-rotor"],
                                                                          dtype=object),
        day=np.array([day_index(now_ms) - 1]), dr_mm=f(dr_mm), dr_model_mm=f(dr_mm),
        alpha=f(0.0), taw_mm=f(39.0), raw_mm=f(19.5), et0_mm=f(3.0), etc_mm=f(2.7),
        eta_mm=f(2.7), rain_mm=f(0.0), irrigation_mm=f(0.0), et0_pm=np.array([True]),
        probes=((),))


def decide(planner: WateringPlanner, ctx: EstateContext, zones: ZoneTracker, site: str,
           now_ms: int, dr_mm: float) -> tuple[list[ValveOpen | AlertAction], Any]:
    planner.request(site, "z-rotor")  # on demand: decide now whatever the hour
    n = len(planner.decisions)
    out = planner.plan(balance(site, now_ms, dr_mm), ctx, zones.states(ctx, now_ms), now_ms)
    assert len(planner.decisions) == n + 1, "the planner decided the zone"
    return out, planner.decisions[-1]


def registry(tmp_path: Path, site: str) -> tuple[Any, sessionmaker[Session], str]:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    migrate(url)
    db = engine_from_url(url)
    sessions = session_factory(db)
    with sessions() as s:
        seed(s, **estate(site))
        user = accounts.create_user(s, username="weather-feed", role="operator",
                                    kind="service", sites=[site])
        s.commit()
        key, _ = accounts.issue_token(s, user=user, kind="api_key", name="forecasts")
    return db, sessions, key


def test_a_forecast_posted_through_the_api_locks_out_freezes_and_sweeps(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    s = settings.model_copy(update={
        "auth": AuthSettings(secret=SECRET),
        "api": settings.api.model_copy(update={"port": 0}),
        "db_url": f"sqlite:///{tmp_path / 'registry.sqlite3'}"})
    db, sessions, key = registry(tmp_path, site_id)
    with sessions() as session:
        ctx = load_context(session)
    zone = next(z for z in ctx.zones if z.zone == "z-rotor")
    assert zone.utc_offset_h == HK and zone.valve_device == "v-rotor"
    headers = {"X-API-Key": key}
    morning = local_ms(2026, 12, 2, 5.0)  # a December morning, site time

    def sweep_tasks() -> list[Task]:
        with sessions() as session:
            return list(session.scalars(select(Task).where(
                Task.site == site_id, Task.title.contains("pre-storm sweep"))))

    def storm_alerts() -> list[Alert]:
        with sessions() as session:
            return list(session.scalars(select(Alert).where(
                Alert.site == site_id, Alert.dedup_key == f"storm_forecast:{site_id}")))

    async def scenario(client: httpx.AsyncClient) -> dict[str, Any]:
        got: dict[str, Any] = {}
        async with IngestService(s), MaintenanceService(s, ctx, sessions) as svc:
            planner, zones = svc.executor.planner, svc.zones

            async def post(**body: Any) -> dict[str, Any]:
                r = await client.post(f"/sites/{site_id}/forecast", json=body, headers=headers)
                assert r.status_code == 202, r.text
                ts = r.json()["forecast"]["ts_ms"]
                await apoll(lambda: (f := svc.forecasts.latest.get(site_id)) is not None
                            and f.ts_ms == ts, timeout_s=30, what="the forecast in analytics")
                return dict(r.json())

            # the control: no forecast yet, the depleted zone (Dr 24 > RAW 19.5) opens
            got["control"] = decide(planner, ctx, zones, site_id, morning, 24.0)
            got["posted"] = await post(rain_today_mm=8.0, rain_tomorrow_mm=2.0, temp_min_c=9.0,
                                       temp_max_c=15.0, wind_ms=2.0)
            got["rain"] = decide(planner, ctx, zones, site_id, morning + 60_000, 24.0)
            await post(rain_today_mm=0.0, temp_min_c=1.0, temp_max_c=9.0)
            got["frost"] = decide(planner, ctx, zones, site_id, morning + 120_000, 24.0)
            # winter watering: a zone well above RAW, freeze tomorrow
            got["before_freeze_control"] = decide(planner, ctx, zones, site_id,
                                                  morning + 180_000, 8.0)
            await post(temp_min_c=5.0, temp_max_c=12.0, temp_min_tomorrow_c=-3.0)
            got["winter"] = decide(planner, ctx, zones, site_id, morning + 240_000, 8.0)
            # a gale: the sweep once, whatever the forecasts that follow during the storm
            await post(wind_ms=12.0, wind_max_ms=24.0, gust_max_ms=38.0, rain_today_mm=30.0)
            got["tasks"] = await apoll(lambda: len(sweep_tasks()) >= 3, timeout_s=30,
                                       what="the pre-storm sweep", thread=True) and sweep_tasks()
            await post(wind_ms=20.0, wind_max_ms=33.0, signal=8, rain_today_mm=80.0)
            await post(wind_ms=9.0, wind_max_ms=18.0, rain_today_mm=20.0)
            got["tasks_after"] = await asyncio.to_thread(sweep_tasks)
            got["alerts"] = await asyncio.to_thread(storm_alerts)
            got["sweeps"] = svc.forecasts.sweeps
            # refusals name what is wrong; nothing is published
            bad = await client.post(f"/sites/{site_id}/forecast", headers=headers,
                                    json={"rain_today_mm": -1, "temp_min_c": 3})
            got["bad"] = (bad.status_code, bad.text)
            got["unknown"] = (await client.post("/sites/nowhere/forecast", headers=headers,
                                                json={})).status_code
            got["future"] = (await client.post(
                f"/sites/{site_id}/forecast", headers=headers,
                json={"ts_ms": got["posted"]["forecast"]["ts_ms"] + 86_400_000})).status_code
            got["last"] = svc.forecasts.latest[site_id]
            # stored by ingest as a measurement
            async with InfluxClient(s.influx) as influx:
                async def stored() -> list[dict[str, Any]] | None:
                    rows = await influx.query(
                        f"SELECT count(rain_today_mm) FROM forecast WHERE site = '{site_id}'")
                    # the writes land one by one: wait for all six, not the first of them
                    return rows if rows and rows[0]["count"] >= 6 else None

                got["stored"] = await apoll(stored, timeout_s=30, what="all 6 forecasts stored")
        # warm start from InfluxDB: the broker's retained copy is removed first
        async with MqttSession(s.mqtt, f"clear-{site_id}", clean_session=True) as pub:
            await pub.send(forecast_topic(site_id), b"", 1, retain=True)
        async with (InfluxClient(s.influx) as influx,
                    MaintenanceService(s, ctx, sessions, influx=influx) as again):
            got["warm"] = again.executor.planner
        return got

    try:
        got = asyncio.run(with_api(s, db, scenario))
    finally:
        db.dispose()

    out, d = got["control"]
    assert d.outcome == "water" and any(isinstance(a, ValveOpen) for a in out), d.line()
    assert got["posted"]["topic"] == f"greeniot/v1/{site_id}/forecast/forecast"
    assert got["posted"]["forecast"]["source"] == "api"

    out, d = got["rain"]
    assert d.outcome == "locked_out" and "rain_forecast" in d.lockouts, d.line()
    assert not any(isinstance(a, ValveOpen) for a in out)
    assert [a.kind for a in out if isinstance(a, AlertAction)] == ["irrigation_skipped"]

    out, d = got["frost"]
    assert d.outcome == "locked_out" and d.lockouts == ("frost",), d.line()
    assert not any(isinstance(a, ValveOpen) for a in out)

    out, d = got["before_freeze_control"]
    assert not d.water and not any(isinstance(a, ValveOpen) for a in out), d.line()
    out, d = got["winter"]
    assert d.water and d.rule == "winter_watering", d.line()
    (opened,) = [a for a in out if isinstance(a, ValveOpen)]
    assert opened.device == "v-rotor" and "winter watering" in opened.reason

    tasks = got["tasks"]
    assert sorted(t.tree for t in tasks) == ["t-heritage", "t-small", "t-tall"]
    ranks = {t.tree: int(t.title.split("#")[1].rstrip(")")) for t in tasks}
    assert ranks == {"t-heritage": 1, "t-tall": 2, "t-small": 3}  # heritage, then height
    assert sorted(t.id for t in got["tasks_after"]) == sorted(t.id for t in tasks)
    assert got["sweeps"] == 1 and len(got["alerts"]) == 1 and got["alerts"][0].count == 1

    assert got["bad"][0] == 422 and "rain_today_mm" in got["bad"][1]
    assert got["unknown"] == 403 and got["future"] == 422  # not one of the key's sites
    assert got["stored"][0]["count"] == 6  # every forecast posted, stored

    fc = got["warm"]._forecasts[site_id]  # read back from InfluxDB at start-up
    assert fc == got["last"].model_copy(update={"v": 1})
