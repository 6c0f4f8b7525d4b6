"""What each CLI command runs: build the parts from Settings, run until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import uvicorn
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.estate import EstateContext
from greeniot.ingest.run import run_ingest as run_ingest
from greeniot.ingest.service import Bindings
from greeniot.metrics import Metrics, serve
from greeniot.reachable import mqtt_dependency, retry_until_reachable
from greeniot.registry.context import load_context
from greeniot.registry.db import open_registry as open_registry
from greeniot.registry.db import open_registry_when_reachable as open_registry_when_reachable
from greeniot.registry.db import session_factory
from greeniot.runtime.liveness import HEALTH_FILTER, LivenessBoard, watch
from greeniot.runtime.telemetry import MaintenanceTelemetry
from greeniot.store.influx import InfluxClient
from greeniot.transport.mqtt import MqttSession

log = logging.getLogger(__name__)

#: How often long-running processes re-read the registry for new devices and bindings [s].
REGISTRY_REFRESH_S = 30.0


def read_context(sessions: Callable[[], Session]) -> EstateContext:
    with sessions() as session:
        return load_context(session)


def bindings_of(ctx: EstateContext) -> Bindings:
    """Extra InfluxDB tags per device: the tree or zone it is bound to."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for b in ctx.devices:
        tags = {k: v for k, v in (("tree", b.tree), ("zone", b.zone)) if v}
        if tags:
            out[(b.site, b.device)] = tags
    return out


async def _refresh(every_s: float, apply: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(apply)
        except Exception:  # a registry hiccup must not stop ingest or analytics
            log.exception("registry refresh failed")


async def run_maintenance(settings: Settings,
                          on_outcome: Callable[[Any], None] | None = None) -> None:
    from greeniot.runtime.maintenance import MaintenanceService

    engine, sessions = await open_registry_when_reachable(settings)
    metrics = Metrics()
    server = serve(metrics, host=settings.metrics.host, port=settings.metrics.port)
    try:
        async with (InfluxClient(settings.influx) as influx,
                    MaintenanceService(settings, read_context(sessions), sessions,
                                       on_outcome=on_outcome, influx=influx,
                                       telemetry=MaintenanceTelemetry(metrics, influx=influx)
                                       ) as svc):
            await _refresh(REGISTRY_REFRESH_S,
                           lambda: svc.set_context(read_context(sessions)))
    finally:
        if server is not None:
            server.shutdown()
        engine.dispose()


async def serve_api(settings: Settings, *, engine: Engine | None = None,
                    on_ready: Callable[[int], None] | None = None) -> None:
    """The API with InfluxDB for readings and a valve commander publishing over MQTT."""
    from greeniot.actions.valves import ValveCommander
    from greeniot.api.app import create_app

    own_engine = engine is None
    eng = engine or (await open_registry_when_reachable(settings))[0]
    sessions = session_factory(eng)
    # Besides valve commands, the session reads the analytics processes' retained liveness
    # (read-only) for /health: runtime/liveness.py.
    mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}-api", clean_session=True,
                       filters=[HEALTH_FILTER])
    board = LivenessBoard()
    watching = asyncio.create_task(watch(mqtt, board), name="api-liveness")
    # The API serves while the broker is away (health "degraded"; valve commands fail with a
    # clear error): the connection is retried in the background.
    connecting = asyncio.create_task(retry_until_reachable(
        mqtt_dependency(settings.mqtt), mqtt.connect), name="api-mqtt-connect")
    async with InfluxClient(settings.influx) as influx:
        try:
            commander = ValveCommander(sessions, mqtt.send, wall_ms)
            app = create_app(settings, influx=influx, commander=commander, engine=eng,
                             publisher=mqtt.send)
            app.state.mqtt = mqtt
            app.state.liveness = board
            config = uvicorn.Config(app, host=settings.api.host, port=settings.api.port,
                                    log_level="warning", lifespan="on")
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    await task
                    raise RuntimeError("API server exited during start-up")
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            if on_ready:
                on_ready(port)
            try:
                # Shielded: a cancel of this coroutine becomes an orderly server shutdown.
                await asyncio.shield(task)
            finally:
                server.should_exit = True
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, 5)
        finally:
            for t in (connecting, watching):
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t
            await mqtt.close()
            if own_engine:
                eng.dispose()


async def run_api(settings: Settings) -> None:
    await serve_api(settings, on_ready=lambda port: log.info(
        "API on http://%s:%d/docs", settings.api.host, port))


async def run_simulation(settings: Settings, *, scenario: str, sites: int, trees: int,
                         zones: int, span_h: float, duration_s: float, seed: int) -> None:
    from greeniot.simulators.fleet import Fleet
    from greeniot.simulators.runner import run

    fleet = Fleet.generate(sites=sites, trees_per_site=trees, zones_per_site=zones, seed=seed)
    span_s = span_h * 3600
    result = await run(scenario, fleet, host=settings.mqtt.host, port=settings.mqtt.port,
                       span_s=span_s, speed=span_s / duration_s if duration_s > 0 else None,
                       seed=seed, username=settings.mqtt.username,
                       password=settings.mqtt.password)
    log.info("simulated %s: %d messages in %.1f s; truth %s", scenario, result.published,
             result.wall_s, result.truth.as_dict())
