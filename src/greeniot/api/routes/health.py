"""``GET /health``: is the registry reachable, and InfluxDB if the app was given a client."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from greeniot.api.deps import package_version
from greeniot.api.schemas import Health

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
    healthy = db == "ok" and influx in ("ok", "not configured") and mqtt in (
        "ok", "not configured")
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        log.warning("health: db=%s influx=%s mqtt=%s", db, influx, mqtt)
    return Health(status="ok" if healthy else "degraded", db=db, influx=influx, mqtt=mqtt,
                  version=package_version())
