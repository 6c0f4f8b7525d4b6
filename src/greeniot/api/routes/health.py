"""``GET /health``: is the registry reachable, InfluxDB and the broker if the app was given
them, and is analytics alive (its retained liveness, runtime/liveness.py, read by the serving
process's broker session: ``app.state.liveness``)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from greeniot.api.deps import package_version
from greeniot.api.schemas import AnalyticsProcess, Health
from greeniot.clock import wall_ms
from greeniot.runtime.liveness import LivenessBoard

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

#: How long a health probe waits for each backend [s].
PROBE_TIMEOUT_S = 5.0


def _db_ok(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _influx_state(influx: object | None) -> str:
    if influx is None:
        return "not configured"
    try:
        ping = getattr(influx, "ping", None)
        if ping is not None:
            ok = await asyncio.wait_for(ping(), PROBE_TIMEOUT_S)
            return "ok" if ok else "error: no answer to /ping"
        await asyncio.wait_for(influx.query("SHOW DATABASES"),  # type: ignore[attr-defined]
                               PROBE_TIMEOUT_S)
    except Exception as err:  # any failure is the answer, not a crash of the probe
        return f"error: {err!r}"
    return "ok"


def _mqtt_state(mqtt: object | None) -> str:
    """The API's MQTT session (valve commands), set by the process that serves it."""
    if mqtt is None:
        return "not configured"
    if getattr(mqtt, "connected", False):
        return "ok"
    s = getattr(mqtt, "settings", None)
    where = f" to mqtt://{s.host}:{s.port}" if s is not None else ""
    return f"error: not connected{where} (GREENIOT_MQTT__HOST / GREENIOT_MQTT__PORT)"


def _analytics_state(board: LivenessBoard | None
                     ) -> tuple[str, dict[str, AnalyticsProcess]]:
    if board is None:
        return "not configured", {}
    v = board.verdict(wall_ms())
    procs = {p.name: AnalyticsProcess(state=p.state, reason=p.reason,
                                      heartbeat_age_s=p.heartbeat_age_s, restarts=p.restarts,
                                      failed=p.failed, ticks=p.ticks) for p in v.processes}
    return ("ok" if v.ok else f"error: {v.summary}"), procs


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request, response: Response) -> Health:
    try:
        await asyncio.wait_for(run_in_threadpool(_db_ok, request.app.state.engine),
                               PROBE_TIMEOUT_S)
        db = "ok"
    except Exception as err:  # reported in the body with a 503
        db = f"error: {err!r}"
    influx = await _influx_state(request.app.state.influx)
    mqtt = _mqtt_state(getattr(request.app.state, "mqtt", None))
    analytics, procs = _analytics_state(getattr(request.app.state, "liveness", None))
    healthy = db == "ok" and all(x in ("ok", "not configured") for x in (influx, mqtt, analytics))
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        log.warning("health: db=%s influx=%s mqtt=%s analytics=%s", db, influx, mqtt, analytics)
    return Health(status="ok" if healthy else "degraded", db=db, influx=influx, mqtt=mqtt,
                  analytics=analytics, analytics_processes=procs, version=package_version())
