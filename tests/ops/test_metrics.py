"""Prometheus metrics of ingest and analytics, scraped over HTTP from the real processes'
parts, driven by readings through the real broker, stages and executor; and the events,
tasks, alerts and tree risk that analytics writes to InfluxDB as points."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.metrics import Metrics, serve
from greeniot.protocol import SoilReading, encode
from greeniot.registry.context import seed
from greeniot.registry.models import Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import bindings_of, open_registry, read_context
from greeniot.runtime.telemetry import MaintenanceTelemetry, inbox_families, ingest_families
from greeniot.services.process import free_port
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import run
from tests.deploy.test_dashboards import substitute
from tests.helpers import Publisher, apoll
from tests.ingest.test_service import influx_rows

STAGES = ("sway", "storm", "tilt", "health", "soil")
ROOT = Path(__file__).resolve().parents[2]


def result_trees_with_lean(s: Settings) -> set[str]:
    rows = influx_rows(s, "SELECT lean_deg, tree FROM tree_risk WHERE lean_deg > 0")
    return {r["tree"] for r in rows}


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_ingest_counts_received_accepted_rejected_by_reason_and_spool(
        own_broker_settings: Settings, site_id: str) -> None:
    settings = own_broker_settings  # exact counts: no other test's retained messages
    now = int(time.time() * 1000)
    topic = f"greeniot/v1/{site_id}/soil-1/soil"
    good = [(topic, encode(SoilReading(seq=i, ts_ms=now - 1000 * (20 - i), vwc_pct=25.0)))
            for i in range(20)]
    bad = [(topic, b"not json")] * 3 + [(topic, b'{"v":2,"seq":1,"ts_ms":1,"vwc_pct":1}')]
    port = free_port()

    async def scenario() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with IngestService(settings) as svc:
            metrics = Metrics()
            metrics.add("ingest", ingest_families(svc))
            metrics.add("inbox", inbox_families("ingest", svc.mqtt))
            server = serve(metrics, host="127.0.0.1", port=port)
            try:
                pub = Publisher(settings.mqtt.port)
                await asyncio.to_thread(pub.publish_many, good + bad)
                pub.close()
                await apoll(lambda: svc.stats.lines_written >= 20 and svc.stats.acked >= 24,
                            timeout_s=30, what="ingest of 24 messages")
                return await asyncio.to_thread(scrape, port)
            finally:
                server.shutdown()

    got = asyncio.run(scenario())
    assert got[("greeniot_ingest_messages_received_total", ())] == 24
    assert got[("greeniot_ingest_messages_accepted_total", ())] == 20
    assert got[("greeniot_ingest_messages_rejected_total", (("reason", "not_json"),))] == 3
    assert got[("greeniot_ingest_messages_rejected_total", (("reason", "bad_version"),))] == 1
    assert got[("greeniot_ingest_lines_written_total", ())] == 20
    assert got[("greeniot_ingest_write_seconds_count", ())] >= 1
    assert got[("greeniot_ingest_write_seconds_sum", ())] > 0
    assert got[("greeniot_ingest_spool_bytes", ())] == 0
    assert got[("greeniot_ingest_spool_age_seconds", ())] == 0
    assert got[("greeniot_mqtt_connected", (("role", "ingest"),))] == 1
    assert ("greeniot_mqtt_broker_lag_seconds", (("role", "ingest"),)) in got


def test_analytics_metrics_and_event_points_from_a_typhoon(settings: Settings,
                                                           site_id: str) -> None:
    fleet = Fleet.generate(sites=1, trees_per_site=10, zones_per_site=1, seed=11,
                           site_ids=[site_id])
    s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 600.0})})
    engine, sessions = open_registry(s)
    with sessions() as session:
        seed(session, **fleet.registry())
    ctx = read_context(sessions)
    port = free_port()

    async def scenario() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        metrics = Metrics()
        server = serve(metrics, host="127.0.0.1", port=port)
        from greeniot.store.influx import InfluxClient

        try:
            async with (InfluxClient(s.influx) as influx,
                        IngestService(s, bindings=bindings_of(ctx)),
                        MaintenanceService(s, ctx, sessions, influx=influx,
                                           telemetry=MaintenanceTelemetry(
                                               metrics, influx=influx, risk_every_ms=3_600_000))):
                result = await run("typhoon", fleet, port=s.mqtt.port, span_s=120 * 3600,
                                   speed=None, step_s=300, seed=11,
                                   client_id_prefix=f"sim-{site_id}")
                assert result.truth.failures

                def removal() -> bool:
                    with sessions() as session:
                        return bool(session.scalars(select(Task).where(
                            Task.site == site_id, Task.kind == "remove")).all())

                await apoll(removal, timeout_s=60, interval_s=0.2, thread=True,
                            what="a removal task")
            # the service has flushed its event points on exit
            return await asyncio.to_thread(scrape, port)
        finally:
            server.shutdown()
            engine.dispose()

    got = asyncio.run(scenario())
    for stage in STAGES:  # every stage's tick was timed
        assert got[("greeniot_analytics_stage_seconds_count", (("stage", stage),))] > 0, stage
    assert got[("greeniot_analytics_tick_seconds_count", ())] > 0
    storm = sum(v for (n, lb), v in got.items()
                if n == "greeniot_analytics_events_total" and ("kind", "storm") in lb)
    assert storm >= 1
    # The fallen tree's task may open as ``stabilize`` and turn into ``remove`` when the
    # failure joins it (one task per tree and work, registry/crud/tasks.py): count any kind.
    assert sum(v for (n, _), v in got.items() if n == "greeniot_tasks_opened_total") >= 1
    alerts = sum(v for (n, _), v in got.items() if n == "greeniot_alerts_raised_total")
    assert alerts >= 1
    # every alert raised was handed to the delivery dispatcher (its queues deliver per sink)
    assert got[("greeniot_alert_deliveries_total",
                (("result", "ok"), ("sink", "dispatcher")))] == alerts
    # The same story in InfluxDB, for Grafana: storm periods, tasks, alerts, tree risk.
    storms = influx_rows(s, "SELECT phase, text FROM events WHERE kind='storm'")
    assert {r["phase"] for r in storms} >= {"start"}
    with sessions() as session:
        removal_ids = set(session.scalars(select(Task.id).where(
            Task.site == site_id, Task.kind == "remove")).all())
    points = influx_rows(s, "SELECT id, title FROM tasks")
    assert points and all(isinstance(r["id"], int) for r in points)
    assert removal_ids & {r["id"] for r in points}, (removal_ids, points)
    assert len(influx_rows(s, "SELECT text FROM alerts")) == alerts
    risk = influx_rows(s, "SELECT last(risk_level) AS risk, last(lat) AS lat, last(lon) AS lon "
                          "FROM tree_risk GROUP BY tree")
    assert {r["tree"] for r in risk} == {t.tree for t in fleet.trees}
    assert all(r["lat"] is not None and r["lon"] is not None for r in risk)
    assert max(r["risk"] for r in risk) == 3  # the fallen tree is critical on the map
    lean = influx_rows(s, "SELECT lean_deg, lean_critical_deg FROM tree_risk "
                          "WHERE lean_deg > 0 LIMIT 5")
    assert lean and all(r["lean_critical_deg"] in (0.9, 1.6) for r in lean)
    # The Tree dashboard's lean panel, as Grafana would send it, charts the lean and its bands.
    board = json.loads((ROOT / "deploy/grafana/dashboards/tree.json").read_text())
    (panel,) = [p for p in board["panels"] if p["title"] == "Lean against the tree's baseline"]
    leaning = next(iter(result_trees_with_lean(s)))
    q = substitute(panel["targets"][0]["query"], {"site": site_id, "tree": leaning})
    rows = influx_rows(s, q)
    assert any(r["lean"] is not None for r in rows), q
    assert all(r["warning"] in (0.25, 0.9) for r in rows if r["warning"] is not None)
