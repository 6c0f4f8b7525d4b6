"""End to end on the real Mosquitto, InfluxDB and MicroPython: simulated trees and firmware
nodes publish; ingest stores; analytics and actions raise tasks and valve commands; a real
MicroPython valve node acknowledges.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.registry.context import seed
from greeniot.registry.models import Command, Device, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import bindings_of, open_registry, read_context
from greeniot.services.firmware import FirmwareNode
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import run
from greeniot.simulators.tilt import STEP_RAMP_S
from tests.helpers import apoll
from tests.ingest.test_service import influx_rows

pytestmark = [pytest.mark.services, pytest.mark.firmware]


def seqs(settings: Settings, measurement: str, device: str) -> list[int]:
    rows = influx_rows(settings, f"SELECT seq FROM {measurement} WHERE device='{device}'")
    return sorted(int(r["seq"]) for r in rows)


def seeded_estate(settings: Settings, fleet: Fleet):
    """Settings ticking every 10 min of event time, and a registry seeded with ``fleet``."""
    s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 600.0})})
    engine, sessions = open_registry(s)
    with sessions() as session:
        seed(session, **fleet.registry())
    return s, engine, sessions, read_context(sessions)


async def wait_for(check, timeout_s: float, what: str) -> None:
    await apoll(check, timeout_s=timeout_s, interval_s=0.1, what=what, thread=True)


def test_firmware_and_simulator_readings_are_queryable(settings: Settings, site_id: str,
                                                       tmp_path: Path) -> None:
    fleet = Fleet.generate(sites=1, trees_per_site=4, zones_per_site=2, seed=3,
                           site_ids=[site_id])
    soil = FirmwareNode(tmp_path / "fw-soil", site=site_id, device="fw-soil-1", kind="soil",
                        mqtt_port=settings.mqtt.port, sleep=False, interval_s=1)
    tilt = FirmwareNode(tmp_path / "fw-tilt", site=site_id, device="fw-tilt-1", kind="tilt",
                        mqtt_port=settings.mqtt.port, sleep=False, interval_s=1,
                        sim={"pitch_deg": 0.4, "roll_deg": -0.2})

    async def scenario() -> dict[tuple[str, str], int]:
        async with IngestService(settings):
            soil.start()
            tilt.start()
            try:
                result = await run("calm", fleet, port=settings.mqtt.port, span_s=6 * 3600,
                                   speed=None, step_s=300, seed=3,
                                   client_id_prefix=f"sim-{site_id}")
                want = {k: n for k, n in result.seq_counts.items()}
                await wait_for(lambda: all(len(seqs(settings, "soil", d)) == n
                                           for (_s, d), n in want.items()
                                           if d.startswith("soil")), 30, "simulator soil")
                await wait_for(lambda: len(seqs(settings, "soil", "fw-soil-1")) >= 3
                               and len(seqs(settings, "tilt", "fw-tilt-1")) >= 3, 30,
                               "firmware readings")
            finally:
                soil.stop()
                tilt.stop()
            return want

    want = asyncio.run(scenario())
    # Exact counts by sequence number for every simulated device, by channel.
    for (_site, device), n in want.items():
        measurement = ("soil" if device.startswith("soil") else
                       "tilt" if device.startswith("tilt") else
                       "weather" if device.startswith("wx") else "valve")
        got = seqs(settings, measurement, device)
        if measurement in ("soil", "tilt", "weather"):
            assert got == list(range(n)), device
    fw = seqs(settings, "soil", "fw-soil-1")
    assert fw == list(range(fw[0], fw[0] + len(fw)))  # consecutive, no gaps or duplicates
    rows = influx_rows(settings, "SELECT last(pitch_deg) AS p, last(roll_deg) AS r FROM tilt "
                                 "WHERE device='fw-tilt-1'")
    assert rows[0]["p"] == pytest.approx(0.4, abs=0.1)
    assert rows[0]["r"] == pytest.approx(-0.2, abs=0.1)


def test_typhoon_raises_removal_task_for_failed_tree_and_none_for_healthy(
        settings: Settings, site_id: str) -> None:
    fleet = Fleet.generate(sites=1, trees_per_site=20, zones_per_site=2, seed=11,
                           site_ids=[site_id])
    s, engine, sessions, ctx = seeded_estate(settings, fleet)

    async def scenario():
        async with (IngestService(s, bindings=bindings_of(ctx)),
                    MaintenanceService(s, ctx, sessions) as svc):
            # Five days: a day of calm gives each tree its baseline before the storm (as weeks
            # of data would in the field), and the calm after it shows the persisting lean.
            result = await run("typhoon", fleet, port=s.mqtt.port, span_s=120 * 3600,
                               speed=None, step_s=300, seed=11,
                               client_id_prefix=f"sim-{site_id}")
            failed = set(result.truth.failures)
            assert failed, "the typhoon scenario must fell a tree"

            def removal_task() -> bool:
                with sessions() as session:
                    return bool(session.scalars(select(Task).where(
                        Task.tree.in_(failed), Task.kind == "remove")).all())

            await wait_for(removal_task, 30, "removal task for the failed tree")
            # The post-storm sweep comes when the site's event clock passes the storm's end;
            # judge what was received now, as the end of a replay does, and wait for it.
            await svc.catch_up()
            healthy = result.truth.healthy_trees([t.tree for t in fleet.trees])

            def swept() -> bool:
                with sessions() as session:
                    inspected = set(session.scalars(select(Task.tree).where(
                        Task.site == site_id, Task.kind == "inspect")).all())
                return set(healthy) <= inspected

            await wait_for(swept, 60, "the post-storm sweep's inspections")
            return result

    result = asyncio.run(scenario())
    with sessions() as session:
        tasks = session.scalars(select(Task).where(Task.site == site_id)).all()
        devices = session.scalars(select(Device).where(Device.site == site_id)).all()
    engine.dispose()
    # The registry knows when each sensor was last heard and what it last said (the API's
    # device list reads it); before, every device read "unknown" with no last-seen time.
    sensors = [d for d in devices if d.kind in ("tilt", "soil", "weather")]
    assert sensors and all(d.status != "unknown" and d.last_seen_ms for d in sensors), [
        (d.id, d.status, d.last_seen_ms) for d in sensors if d.status == "unknown"]
    by_tree: dict[str, list[Task]] = {}
    for t in tasks:
        if t.tree:
            by_tree.setdefault(t.tree, []).append(t)
    # the run ends with every device's planned shutdown: no device is taken for faulty
    assert not [t.device for t in tasks if t.kind == "device_check"]
    (failed_tree,) = result.truth.failures
    removal = [t for t in by_tree[failed_tree] if t.kind == "remove"]
    assert len(removal) == 1 and removal[0].priority == 1
    healthy = result.truth.healthy_trees([t.tree for t in fleet.trees])
    # A healthy tree that only swayed in the wind gets no task but its post-storm sweep
    # inspection, one per tree, ranked below every tree that leans.
    sweep_rank: dict[str, int] = {}
    for tree in healthy:
        got = by_tree.get(tree, [])
        assert [t.kind for t in got] == ["inspect"], (tree, [(t.kind, t.title) for t in got])
        assert "post-storm sweep" in got[0].title
        sweep_rank[tree] = int(got[0].title.rsplit("#", 1)[1].rstrip(")"))
    leaning = [t for t in result.truth.lean_steps]
    for tree in leaning:
        for t in by_tree.get(tree, []):
            if "sweep" in t.title:  # a leaning tree's sweep entry (if any) ranks first
                assert int(t.title.rsplit("#", 1)[1].rstrip(")")) < min(sweep_rank.values())
    # Every tree that kept a lean (1-2 deg, past the 0.9 deg critical level) after the storm
    # got an urgent stabilisation task (straighten and stake).
    assert result.truth.lean_steps
    for tree in result.truth.lean_steps:
        stabilize = [t for t in by_tree.get(tree, []) if t.kind == "stabilize"]
        assert len(stabilize) == 1 and stabilize[0].priority == 1, (tree, by_tree.get(tree))
    # ... and it was opened while the wind still blew, within 30 min (event time) of the lean
    # passing the 0.5 deg storm warning: the nodes report every few minutes while they sway
    # (the firmware's windy interval, which the simulator follows)
    for step in result.truth.lean_steps.values():
        cross_ms = step.ts_ms + int(0.5 / step.step_deg * STEP_RAMP_S * 1000)
        (stabilize,) = [t for t in by_tree[step.tree] if t.kind == "stabilize"]
        assert stabilize.created_ms - cross_ms <= 30 * 60_000, (
            step.tree, (stabilize.created_ms - cross_ms) / 60_000)
    # One task per tree for one storm, whichever rule raised it: the post-storm sweep's
    # inspection of a heritage tree already being stabilised joins that task.
    for tree, items in by_tree.items():
        assert len(items) == 1, (tree, [(t.kind, t.priority) for t in items])


def test_drought_sends_valve_command_that_micropython_node_acks(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    fleet = Fleet.generate(sites=1, trees_per_site=2, zones_per_site=4, seed=5,
                           site_ids=[site_id])
    s, engine, sessions, ctx = seeded_estate(settings, fleet)
    valves = {z.valve_device: z for z in fleet.zones}
    nodes = {dev: FirmwareNode(tmp_path / dev, site=site_id, device=dev, kind="valve",
                               mqtt_port=s.mqtt.port, max_run_s=2, stored_timeout_s=2.0)
             for dev in valves}

    async def scenario():
        for node in nodes.values():
            await asyncio.to_thread(node.start)
            await asyncio.to_thread(node.wait_connected)
        async with (IngestService(s, bindings=bindings_of(ctx)),
                    MaintenanceService(s, ctx, sessions)):
            result = await run("drought", fleet, port=s.mqtt.port, span_s=72 * 3600,
                               speed=None, step_s=300, seed=5, external_valves=list(nodes),
                               client_id_prefix=f"sim-{site_id}")
            assert result.truth.dry_zones, "the drought scenario must dry a zone"

            def acked() -> bool:
                with sessions() as session:
                    return bool(session.scalars(select(Command).where(
                        Command.site == site_id, Command.state == "acked")).all())

            await wait_for(acked, 90, "an acknowledged valve command")
            # The MicroPython node itself opened its valve for that command: its valve event,
            # stored by ingest, names the command id. It travels through the node's outbox,
            # behind any earlier event not yet confirmed stored (the boot event, published
            # before ingest subscribed, is resent after stored_timeout_s): wait for it.
            with sessions() as session:
                want = {(c.device, c.id) for c in session.scalars(select(Command).where(
                    Command.site == site_id, Command.state == "acked")).all()}
            await wait_for(lambda: want <= opened(), 30, "the nodes' own valve events")
            return result

    def opened() -> set[tuple[str, str]]:
        rows = influx_rows(settings, "SELECT \"open\", cause, cmd_id, device FROM valve "
                                     f"WHERE site='{site_id}' AND cause='cmd'")
        return {(r["device"], r["cmd_id"]) for r in rows if r["open"] == 1}

    try:
        result = asyncio.run(scenario())
        with sessions() as session:
            commands = session.scalars(select(Command).where(Command.site == site_id)).all()
    finally:
        for node in nodes.values():
            node.stop()
        engine.dispose()
    dry = set(result.truth.dry_zones)
    limits = {(z.site, z.zone): z.max_run_s for z in ctx.zones}
    assert commands
    for c in commands:
        assert c.op == "open" and c.zone in dry, (c.zone, dry)  # never for a wet zone
        assert c.max_run_s is not None and 0 < c.max_run_s <= limits[(c.site, c.zone)]
    acked = [c for c in commands if c.state == "acked"]
    assert acked
    assert {(c.device, c.id) for c in acked} <= opened()
