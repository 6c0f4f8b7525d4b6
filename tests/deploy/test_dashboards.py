"""Every Grafana panel and variable query runs against a real InfluxDB filled through real ingest.

Grafana does not install here, so its part is played by substituting the macros Grafana would
(``$timeFilter``, ``$__interval``, ``$site``/``$tree``/``$zone`` as anchored regexes) and running
each query through :class:`greeniot.store.influx.InfluxClient`. The estate is a typhoon site
(wind, rain, sway bursts, tilt) and a drought site whose simulated valve node gets two real
``cmd`` messages over MQTT — one it obeys and one already expired — so the irrigation
dashboard has valve events, water delivered and acks with and without a reason.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from greeniot.config import InfluxSettings, MqttSettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.metrics import Metrics
from greeniot.protocol import Command, device_topic, encode
from greeniot.registry.context import seed
from greeniot.registry.models import Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.runtime.telemetry import MaintenanceTelemetry
from greeniot.services import InfluxProcess, MosquittoProcess
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import RunResult, run
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import MqttSession
from tests.helpers import apoll

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SPAN_S = 24 * 3600.0
#: Wall seconds the drought run lasts: long enough to take two commands while it plays.
DROUGHT_WALL_S = 5.0
MEASUREMENTS_WITH_SEQ = ("soil", "tilt", "weather", "valve", "ack")
#: Panel → columns that stay empty in this one-day estate (see test_every_panel_shows_data).
LATE_COLUMNS = {"Lean against the tree's baseline": {"lean"}}
#: Written by analytics (greeniot.store.eventlines), not by ingest. The drought site has no
#: water-balance zone in this estate: the decision panels' queries run in
#: tests/actions/test_decisions_record.py on decisions the real planner made.
ANALYTICS_MEASUREMENTS = ("events", "tasks", "alerts", "tree_risk", "irrigation_decisions")


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("greeniot_grafana_generate",
                                                  GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Dashboards on greeniot's Prometheus metrics (checked in test_compose_as_processes.py against
#: the services' real /metrics); the rest read InfluxDB and are run here.
PROMETHEUS_BOARDS = ("operations.json",)
INFLUX_DASHBOARDS = [p for p in DASHBOARDS if p.name not in PROMETHEUS_BOARDS]


def boards() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, json.loads(p.read_text(encoding="utf-8"))) for p in INFLUX_DASHBOARDS]


def provisioned_uid() -> str:
    doc = yaml.safe_load((GRAFANA / "provisioning/datasources/influxdb.yaml").read_text())
    (ds,) = doc["datasources"]
    assert ds["type"] == "influxdb" and ds["jsonData"]["version"] == "InfluxQL"
    assert ds["url"] == "http://influxdb:8086" and ds["jsonData"]["dbName"] == "greeniot"
    return str(ds["uid"])


def substitute(query: str, variables: dict[str, str]) -> str:
    """What Grafana does to a raw InfluxQL query before sending it."""
    q = query.replace("$timeFilter", "time > now() - 30d").replace("$__interval", "1h")
    for name, value in variables.items():
        q = re.sub(rf"\$\{{{name}\}}|\${name}\b", value, q)
    left = re.search(r"\$\{?\w+", q)
    assert left is None, f"unsubstituted variable {left.group()} in {q}"
    return q


# -- the estate ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Estate:
    settings: Settings
    typhoon: Fleet
    drought: Fleet
    typhoon_run: RunResult
    drought_run: RunResult
    commanded_zone: str

    @property
    def typhoon_site(self) -> str:
        return self.typhoon.sites[0].site

    @property
    def drought_site(self) -> str:
        return self.drought.sites[0].site


def bindings(*fleets: Fleet) -> dict[tuple[str, str], dict[str, str]]:
    out: dict[tuple[str, str], dict[str, str]] = {}
    for fleet in fleets:
        for d in fleet.devices():
            tags = {k: v for k, v in (("tree", d.tree), ("zone", d.zone)) if v}
            if tags:
                out[(d.site, d.device)] = tags
    return out


async def query(settings: Settings, q: str) -> list[dict[str, Any]]:
    async with InfluxClient(settings.influx) as influx:
        return await influx.query(q)


async def stored_seq_counts(settings: Settings) -> dict[tuple[str, str], int]:
    """(site, device) → readings stored with a ``seq``, over every channel that has one."""
    rows = await query(settings, f'SELECT count("seq") FROM '
                                 f'{", ".join(MEASUREMENTS_WITH_SEQ)} GROUP BY "site", "device"')
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["site"], r["device"])
        out[key] = out.get(key, 0) + int(r["count"])
    return out


async def poll(check: Any, timeout_s: float, what: str) -> None:
    await apoll(check, timeout_s=timeout_s, interval_s=0.1, what=what)


async def command_valve(settings: Settings, site: str, zone: str, valve: str) -> None:
    """Once the valve node's boot event is stored (so the simulator listens), send it an
    ``open`` it obeys, then an already expired one it refuses. Each is resent (same id: the
    node acks a repeat without acting twice) until its ack is stored. One after the other:
    two acks of one device stamped in the same millisecond are one InfluxDB point."""
    async def stored(cmd_id: str) -> bool:
        return bool(await query(settings, f"SELECT ok FROM ack WHERE site='{site}' "
                                          f"AND device='{valve}' AND cmd_id='{cmd_id}'"))

    async def booted() -> bool:
        return bool(await query(settings, f"SELECT \"open\" FROM valve WHERE site='{site}' "
                                          f"AND device='{valve}'"))

    await poll(booted, 15, "the drought valve's boot event")
    now_ms = time.time_ns() // 1_000_000
    commands = [
        Command(id="dash-open", ts_ms=now_ms, deadline_ms=now_ms + 600_000, op="open",
                max_run_s=600),
        # Past the deadline even by the simulated clock, which lags a day behind the wall.
        Command(id="dash-expired", ts_ms=now_ms, deadline_ms=now_ms - 2 * 86_400_000,
                op="open", max_run_s=600),
    ]
    topic = device_topic(site, valve, "cmd")
    async with MqttSession(settings.mqtt, f"{settings.mqtt.client_id}-cmd",
                           clean_session=True) as mqtt:
        for cmd in commands:
            deadline = time.monotonic() + DROUGHT_WALL_S
            while not await stored(cmd.id):
                assert time.monotonic() < deadline, f"no ack stored for {cmd.id} to {valve}"
                await mqtt.send(topic, encode(cmd))
                await asyncio.sleep(0.2)


_counter = itertools.count()


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoProcess,
           influxdb: InfluxProcess) -> Iterator[Estate]:
    tag = f"dash{next(_counter)}-{uuid.uuid4().hex[:6]}"
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dash") / "data",
        mqtt=MqttSettings(port=mosquitto.port, client_id=f"greeniot-{tag}"),
        influx=InfluxSettings(url=influxdb.url, database=f"db_{tag.replace('-', '_')}",
                              flush_interval_s=0.1),
    )
    typhoon = Fleet.generate(sites=1, trees_per_site=4, zones_per_site=2, seed=21,
                             site_ids=[f"{tag}-typhoon"])
    drought = Fleet.generate(sites=1, trees_per_site=2, zones_per_site=2, seed=22,
                             site_ids=[f"{tag}-drought"])
    zone = drought.zones[0]

    # Analytics runs too: the events, tasks, alerts and tree risk it writes feed the map, the
    # lean-against-baseline panel and the annotations.
    # Only the typhoon site is in the registry: analytics must not water the drought site,
    # whose valve answers the test's own commands below.
    engine, sessions = open_registry(settings)
    with sessions() as session:
        seed(session, **typhoon.registry())
    ctx = read_context(sessions)
    fast = settings.model_copy(update={"analytics": settings.analytics.model_copy(
        update={"tick_s": 600.0})})

    async def fill() -> tuple[RunResult, RunResult]:
        async with (InfluxClient(settings.influx) as influx,
                    IngestService(settings, bindings=bindings(typhoon, drought)),
                    MaintenanceService(fast, ctx, sessions, influx=influx,
                                       telemetry=MaintenanceTelemetry(
                                           Metrics(), influx=influx, risk_every_ms=1_800_000))
                    as svc):
            storm, dry, _ = await asyncio.gather(
                run("typhoon", typhoon, port=settings.mqtt.port, span_s=SPAN_S, speed=None,
                    step_s=300, seed=21, client_id_prefix=f"sim-{tag}-t"),
                run("drought", drought, port=settings.mqtt.port, span_s=SPAN_S,
                    speed=SPAN_S / DROUGHT_WALL_S, step_s=300, seed=22,
                    client_id_prefix=f"sim-{tag}-d"),
                command_valve(settings, zone.site, zone.zone, zone.valve_device))
            want = storm.seq_counts | dry.seq_counts
            devices = {(d.site, d.device) for f in (typhoon, drought) for d in f.devices()}

            async def all_stored() -> bool:
                return await stored_seq_counts(settings) == want

            async def all_offline() -> bool:  # the final retained status of every device
                rows = await query(settings, 'SELECT last("online") AS online, count("online") '
                                             'AS n FROM status GROUP BY "site", "device"')
                return ({(r["site"], r["device"]) for r in rows
                         if r["online"] == 0 and r["n"] >= 2} == devices)

            await poll(all_stored, 20, "every simulated sequence number in InfluxDB")
            await poll(all_offline, 20, "every device's online and offline status")
            # Each site is judged on its own event time: judge the last steps now, as a replay's
            # end does, so the storm's tasks exist before the service (and its points) stop.
            await svc.catch_up()

            async def storm_tasks() -> bool:
                def read() -> bool:
                    with sessions() as session:
                        return session.scalars(select(Task.id).where(
                            Task.site == typhoon.sites[0].site)).first() is not None
                return await asyncio.to_thread(read)

            await poll(storm_tasks, 30, "a task of the typhoon site")
            return storm, dry

    try:
        storm, dry = asyncio.run(fill())
    finally:
        engine.dispose()
    yield Estate(settings, typhoon, drought, storm, dry, zone.zone)


# -- static checks --------------------------------------------------------------------------------
def test_committed_dashboards_are_the_generators_output() -> None:
    gen = load_generator()
    expected = {name: gen.render(board) for name, board in gen.dashboards().items()}
    assert sorted(expected) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text(encoding="utf-8") == expected[path.name], (
            f"{path.name} is stale: run python deploy/grafana/generate.py")


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning/dashboards/greeniot.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize(("name", "board"), boards(), ids=[p.name for p in INFLUX_DASHBOARDS])
def test_dashboard_is_well_formed(name: str, board: dict[str, Any]) -> None:
    uid = provisioned_uid()
    assert board["schemaVersion"] >= 36 and board["uid"].startswith("greeniot-")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for p in board["panels"]:
        pos = p["gridPos"]
        assert {"h", "w", "x", "y"} <= pos.keys() and pos["x"] + pos["w"] <= 24, p["title"]
        assert p["datasource"]["uid"] == uid, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == uid and t["rawQuery"] is True, p["title"]
            assert "$timeFilter" in t["query"], (p["title"], "unbounded query")
    for var in board["templating"]["list"]:
        assert var["datasource"]["uid"] == uid and var["type"] == "query", var["name"]
    # Panels must not overlap: every grid cell belongs to at most one panel.
    cells = [(x, y) for p in board["panels"]
             for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
             for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])]
    assert len(cells) == len(set(cells)), f"overlapping panels in {name}"


def test_operations_dashboard_reads_the_provisioned_prometheus() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    (ds,) = doc["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    for name in PROMETHEUS_BOARDS:
        board = json.loads((GRAFANA / "dashboards" / name).read_text())
        assert board["panels"]
        for p in board["panels"]:
            assert p["datasource"]["uid"] == ds["uid"], p["title"]
            assert p["targets"] and all(t["datasource"]["uid"] == ds["uid"] and t["expr"]
                                        for t in p["targets"]), p["title"]


# -- every query against the real InfluxDB -------------------------------------------------------
def contexts(est: Estate, uid: str) -> list[dict[str, str]]:
    """Variable values each dashboard is checked with (several sites = Grafana's "All")."""
    t_site, d_site = est.typhoon_site, est.drought_site
    if uid == "greeniot-estate":
        return [{"site": t_site}, {"site": d_site}, {"site": f"({t_site}|{d_site})"}]
    if uid == "greeniot-tree":
        return [{"site": t_site, "tree": t.tree} for t in est.typhoon.trees]
    if uid == "greeniot-irrigation":
        zones = "|".join(z.zone for z in est.drought.zones)
        return [{"site": d_site, "zone": est.commanded_zone},
                {"site": d_site, "zone": f"({zones})"}]
    raise AssertionError(f"no test context for dashboard {uid}")


def run_query(est: Estate, q: str) -> list[dict[str, Any]]:
    return asyncio.run(query(est.settings, q))


@pytest.mark.parametrize(("name", "board"), boards(), ids=[p.name for p in INFLUX_DASHBOARDS])
def test_every_panel_shows_data(estate: Estate, name: str, board: dict[str, Any]) -> None:
    tag_keys = {"site", "device", "tree", "zone", "time", "_measurement"}
    for variables in contexts(estate, board["uid"]):
        for p in board["panels"]:
            for t in p["targets"]:
                q = substitute(t["query"], variables)
                if variables["site"] == estate.drought_site and any(
                        f'FROM "{m}"' in q for m in ANALYTICS_MEASUREMENTS):
                    continue  # analytics judges only the typhoon site (see the fixture)
                rows = run_query(estate, q)
                assert rows, f"{name} / {p['title']} / {t['refId']}: no rows for {q}"
                # A misspelt field still yields rows (of nulls): every column must hold data.
                # Lean against the baseline needs a day of calm first (params.baseline_hours),
                # longer than this estate's storm day: tests/ops/test_metrics.py runs that
                # panel's query on a five-day typhoon instead.
                for col in rows[0].keys() - tag_keys - LATE_COLUMNS.get(p["title"], set()):
                    assert any(r.get(col) is not None for r in rows), (
                        f"{name} / {p['title']}: column {col!r} is empty for {q}")


@pytest.mark.parametrize(("name", "board"), boards(), ids=[p.name for p in INFLUX_DASHBOARDS])
def test_every_annotation_query_finds_events(estate: Estate, name: str,
                                             board: dict[str, Any]) -> None:
    for ann in board["annotations"]["list"]:
        q = substitute(ann["query"], {"site": estate.typhoon_site})
        rows = run_query(estate, q)
        assert rows and all(r[ann["textColumn"]] for r in rows), (name, ann["name"], q)


def test_variable_queries_list_the_estate(estate: Estate) -> None:
    sites = {estate.typhoon_site, estate.drought_site}
    trees = {t.tree for t in estate.typhoon.trees}
    zones = {z.zone for z in estate.drought.zones}
    expected = {
        ("greeniot-estate", "site"): sites, ("greeniot-tree", "site"): sites,
        ("greeniot-tree", "tree"): trees, ("greeniot-irrigation", "site"): sites,
        ("greeniot-irrigation", "zone"): zones,
    }
    seen = set()
    for _name, board in boards():
        for var in board["templating"]["list"]:
            site = (estate.drought_site if board["uid"] == "greeniot-irrigation"
                    else estate.typhoon_site)
            rows = run_query(estate, substitute(var["query"], {"site": site}))
            key = (board["uid"], var["name"])
            assert {r["value"] for r in rows} == expected[key], key
            seen.add(key)
    assert seen == set(expected)


def test_estate_holds_what_the_panels_claim(estate: Estate) -> None:
    """The data behind the irrigation panels is the commands' real outcome, not any row."""
    site, zone = estate.drought_site, estate.commanded_zone
    acks = run_query(estate, f"SELECT cmd_id, ok, reason FROM ack WHERE site='{site}' "
                             f"AND zone='{zone}'")
    by_id = {r["cmd_id"]: r for r in acks}
    assert by_id["dash-open"]["ok"] is True and by_id["dash-open"]["reason"] is None
    assert by_id["dash-expired"]["ok"] is False
    assert by_id["dash-expired"]["reason"] == "expired"
    events = run_query(estate, f"SELECT \"open\", cause, cmd_id, open_s FROM valve "
                               f"WHERE site='{site}' AND zone='{zone}'")
    assert [(e["open"], e["cause"]) for e in events] == [(0, "boot"), (1, "cmd"),
                                                          (0, "max_run")]
    assert events[1]["cmd_id"] == events[2]["cmd_id"] == "dash-open"
    assert events[2]["open_s"] == pytest.approx(600.0)
    sway = run_query(estate, f"SELECT count(pitch_deg) FROM sway "
                             f"WHERE site='{estate.typhoon_site}' GROUP BY tree")
    assert {r["tree"] for r in sway} == {t.tree for t in estate.typhoon.trees}
