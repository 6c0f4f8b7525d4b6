"""The simulated valve's flow faults over the real broker, judged by the maintenance process:
no flow while open and low flow become repair tasks (no close: only a burst shuts a valve)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from sqlalchemy import select

from greeniot.actions.flow import FlowParams
from greeniot.config import Settings
from greeniot.protocol import device_topic, encode
from greeniot.protocol.channels import channel_of
from greeniot.registry.context import load_context, seed
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.registry.models import Alert, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.simulators.valve import FlowFault, SimValveNode
from greeniot.transport.mqtt import MqttSession
from tests.helpers import apoll


async def valve_node(node: SimValveNode, s: Settings, site: str, device: str) -> None:
    """Run ``node`` on the broker as the firmware does: obey ``cmd``, tick every 0.1 s, publish
    what it reports on its channels. Its clock is the wall clock (commands carry it)."""
    import time

    async with MqttSession(s.mqtt, f"sim-{device}", clean_session=True,
                           filters=[device_topic(site, device, "cmd")]) as mqtt:
        async def send(msgs: list[object]) -> None:
            for m in msgs:
                await mqtt.send(device_topic(site, device, channel_of(m).name), encode(m))  # type: ignore[arg-type]

        await send(node.boot(int(time.time() * 1000)))
        while True:
            await mqtt.wait_inbox(0.1)
            for m in mqtt.drain(100):
                await send(node.on_command(m.payload, int(time.time() * 1000)))
            await send(node.tick(int(time.time() * 1000)))


@pytest.mark.parametrize(("fault", "kind"), [("no_flow", "flow_none"), ("low_flow", "flow_low")])
def test_flow_faults_of_the_simulated_valve_become_repair_tasks(
        settings: Settings, site_id: str, tmp_path: Path, fault: FlowFault, kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    migrate(url)
    db = engine_from_url(url)
    sessions = session_factory(db)
    device = "v-1"
    with sessions() as session:
        seed(session, zones=[{"site": site_id, "id": "z1", "application_rate_mm_h": 12.0,
                              "area_m2": 100.0, "max_run_s": 900}],
             devices=[{"site": site_id, "id": device, "kind": "valve", "zone_id": "z1"}])
        ctx = load_context(session)
    seq = iter(range(1_000_000))
    node = SimValveNode(next_seq=lambda: next(seq), flow_lpm=20.0, flow_report_s=0.4)
    node.inject(fault)

    def rows(model: type[Alert] | type[Task]) -> list[Alert] | list[Task]:
        with sessions() as session:
            return list(session.scalars(select(model).where(model.site == site_id)))  # type: ignore[arg-type]

    async def scenario() -> tuple[list[Alert] | list[Task], list[Alert] | list[Task], bool]:
        async with MaintenanceService(settings, ctx, sessions) as svc:
            svc.flow.judge.params = FlowParams(fill_s=1.0)
            sim = asyncio.create_task(valve_node(node, settings, site_id, device))
            try:
                # The node subscribes to its commands before it publishes its boot event:
                # once maintenance has judged that event, a command reaches the node.
                await apoll(lambda: svc.flow.judge.knows(site_id, device), timeout_s=30,
                            what="the valve's boot event")
                await svc.commander.send(site=site_id, device=device, op="open",
                                         max_run_s=600, reason="test", zone="z1")
                # The task commits before the alert that names it: wait for both.
                tasks = await apoll(lambda: rows(Task), timeout_s=30, thread=True,
                                    what=f"the {fault} task")
                alerts = await apoll(lambda: rows(Alert), timeout_s=30, thread=True,
                                     what=f"the {fault} alert")
                return tasks, alerts, node.is_open
            finally:
                sim.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sim

    try:
        tasks, alerts, still_open = asyncio.run(scenario())
    finally:
        db.dispose()
    (task,) = tasks
    assert task.kind == "repair" and task.device == device and task.zone == "z1"
    assert [a.kind for a in alerts] == [kind]
    assert still_open  # low or no flow is a task, not a reason to cut the watering
