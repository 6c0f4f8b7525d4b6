"""From readings through the real stages: a simulated typhoon over Mosquitto and InfluxDB
makes analytics open a removal task; the ledger export shows that tree at high risk with the
task, and a resident's complaint about the fallen tree joins the sensor's task."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.registry.complaints import ComplaintCreate, file_complaint
from greeniot.registry.context import seed
from greeniot.registry.ledger_export import export_geojson
from greeniot.registry.models import Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import bindings_of, open_registry, read_context
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import run

pytestmark = pytest.mark.services


def test_typhoon_removal_task_shows_in_export_and_the_complaint_joins_it(
        settings: Settings, site_id: str) -> None:
    fleet = Fleet.generate(sites=1, trees_per_site=12, zones_per_site=1, seed=11,
                           site_ids=[site_id])
    s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 600.0})})
    engine, sessions = open_registry(s)
    with sessions() as session:
        seed(session, **fleet.registry())
    ctx = read_context(sessions)

    async def scenario() -> set[str]:
        async with (IngestService(s, bindings=bindings_of(ctx)),
                    MaintenanceService(s, ctx, sessions)):
            result = await run("typhoon", fleet, port=s.mqtt.port, span_s=120 * 3600,
                               speed=None, step_s=300, seed=11,
                               client_id_prefix=f"sim-{site_id}")
            failed = set(result.truth.failures)
            deadline = time.monotonic() + 30
            while True:
                with sessions() as session:
                    if session.scalars(select(Task).where(Task.tree.in_(failed),
                                                          Task.kind == "remove")).first():
                        return failed
                assert time.monotonic() < deadline, "no removal task for the failed tree"
                await asyncio.sleep(0.2)

    failed = asyncio.run(scenario())
    assert failed, "the typhoon scenario must fell a tree"
    tree = sorted(failed)[0]
    try:
        with sessions() as session:
            doc = export_geojson(session, site=site_id, layers=("trees",))
            props = {f["properties"]["id"]: f["properties"] for f in doc["features"]}
            assert props[tree]["risk"] == "high"
            removal = [t for t in props[tree]["open_tasks"] if t["kind"] == "remove"]
            assert len(removal) == 1
            # the trees that only swayed have at most the post-storm sweep's inspection (every
            # tree of the site is swept), never a high risk
            calm = [p for p in props.values()
                    if all(t["kind"] == "inspect" for t in p["open_tasks"])]
            assert calm and all(p["risk"] in ("none", "low", "medium") for p in calm)
            complaint, _ = file_complaint(session, ComplaintCreate(
                site=site_id, channel="hotline_12345", category="leaning_or_fallen",
                tree=tree, text="a tree fell across the path"))
            assert complaint.task_id == removal[0]["id"] and complaint.joined
    finally:
        engine.dispose()
