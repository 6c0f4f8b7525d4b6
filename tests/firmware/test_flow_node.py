"""The real MicroPython valve node's flow meter through the real services.

The node (unix port, its pulse counter fed by the simulated meter) reports flow on the broker;
the maintenance process judges each reading as it comes. A burst (three times the zone's
flow) closes the valve at once, raises a critical alert and opens a repair task; the valve is
closed again when something opens it while the task is open; water past the closed valve (a
leak) is folded into the same repair task with its own alert. Ingest stores the flow readings
and each run's litres, and the API shows them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from greeniot.actions.flow import FlowParams
from greeniot.config import AuthSettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.registry import accounts
from greeniot.registry.context import load_context, seed
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.registry.models import Alert, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.services.firmware import FirmwareNode
from tests.api_server import with_api
from tests.helpers import apoll

pytestmark = pytest.mark.firmware
SECRET = "flow-test-secret-" + "z" * 32


def test_burst_closes_the_real_valve_node_and_a_leak_joins_its_repair_task(
        settings: Settings, site_id: str, tmp_path: Path,
        make_node: Callable[..., FirmwareNode]) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    s = settings.model_copy(update={"auth": AuthSettings(secret=SECRET), "db_url": url,
                                    "api": settings.api.model_copy(update={"port": 0})})
    node = make_node("valve", "valve", settings.mqtt.port, flow_k_per_l=450.0,
                     flow_report_s=0.5, sim={"flow_l_min": 20.0, "leak_l_min": 0.0})
    migrate(url)
    db = engine_from_url(url)
    sessions = session_factory(db)
    with sessions() as session:
        # 12 mm/h on 100 m2: 20 L/min expected before the valve has taught its own flow
        seed(session, zones=[{"site": site_id, "id": "z1", "application_rate_mm_h": 12.0,
                              "area_m2": 100.0, "irrigation_kind": "rotor", "max_run_s": 900}],
             devices=[{"site": site_id, "id": node.device, "kind": "valve", "zone_id": "z1"}])
        user = accounts.create_user(session, username="viewer", role="viewer", kind="service")
        session.commit()
        key, _ = accounts.issue_token(session, user=user, kind="api_key", name="t")
        ctx = load_context(session)

    def rows(model: type[Any], **where: Any) -> list[Any]:
        with sessions() as session:
            q = select(model).where(model.site == site_id)
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return list(session.scalars(q))

    async def scenario(client: httpx.AsyncClient) -> dict[str, Any]:
        got: dict[str, Any] = {}
        async with IngestService(s), MaintenanceService(s, ctx, sessions) as svc:
            # graces short enough for a test (a real line takes tens of seconds to fill)
            svc.flow.judge.params = FlowParams(fill_s=1.0, drain_s=1.5)
            await asyncio.to_thread(node.start)
            await asyncio.to_thread(node.wait_connected)
            await asyncio.sleep(0.5)  # its cmd subscription, sent right after connecting
            await svc.commander.send(site=site_id, device=node.device, op="open",
                                     max_run_s=600, reason="test run", zone="z1")
            await apoll(lambda: node.valve_open, timeout_s=30, what="the valve open")
            await asyncio.sleep(2.5)  # a few normal readings
            got["healthy"] = await asyncio.to_thread(rows, Alert)
            node.set_sim(flow_l_min=60.0)  # a lateral bursts
            await apoll(lambda: not node.valve_open, timeout_s=30, what="the burst close")
            got["burst_alerts"] = await apoll(lambda: rows(Alert, kind="flow_burst"),
                                              timeout_s=30, thread=True, what="burst alert")
            # something opens it again while the repair task is open: closed again
            await svc.commander.send(site=site_id, device=node.device, op="open",
                                     max_run_s=600, reason="manual", zone="z1")
            await apoll(lambda: svc.flow.closed_for_burst >= 2, timeout_s=30,
                        what="the second close")
            await apoll(lambda: not node.valve_open, timeout_s=30, what="closed again")
            node.set_sim(flow_l_min=20.0, leak_l_min=4.0)  # and the valve seat leaks
            got["leak_alerts"] = await apoll(lambda: rows(Alert, kind="flow_leak"),
                                             timeout_s=30, thread=True, what="leak alert")
            got["tasks"] = await asyncio.to_thread(rows, Task, kind="repair")

            async def latest(m: str) -> list[dict[str, Any]]:
                r = await client.get(f"/sites/{site_id}/latest", params={"measurement": m},
                                     headers={"X-API-Key": key})
                assert r.status_code == 200, r.text
                return list(r.json()["readings"])

            got["valve"] = await apoll(lambda: latest("valve"), timeout_s=30,
                                       what="valve readings in the API")
            got["flow"] = await apoll(lambda: latest("flow"), timeout_s=30,
                                      what="flow readings in the API")
        return got

    try:
        got = asyncio.run(with_api(s, db, scenario))
    finally:
        node.stop(timeout_s=3)
        db.dispose()
    assert got["healthy"] == []  # 20 L/min on a 20 L/min zone: nothing to say
    (burst,) = got["burst_alerts"]
    # the first window over 1.5 × 20 L/min (it may straddle the burst: 20..60)
    assert burst.severity == "critical" and 30.0 < burst.value <= 66.0
    (leak,) = got["leak_alerts"]
    assert leak.severity == "warning"
    (task,) = got["tasks"]  # one repair task for the valve: the leak joined it
    assert task.priority == 1 and task.device == node.device and task.zone == "z1"
    assert burst.task_id == task.id and leak.task_id == task.id
    (valve,) = got["valve"]
    assert valve["values"]["open"] == 0 and valve["values"]["flow_l"] >= 0  # the last run's L
    (flow,) = got["flow"]
    assert flow["values"]["open"] == 0 and flow["values"]["flow_l_min"] == pytest.approx(
        4.0, rel=0.3)  # the leak, stored
