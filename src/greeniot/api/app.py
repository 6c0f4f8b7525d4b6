"""``create_app(settings)``: the FastAPI service over the registry, InfluxDB and valve commands.

At start-up (the lifespan) the registry schema is migrated and an engine is built, unless the
caller passes one; the InfluxDB client and the valve commander are injected by the caller
(the CLI), so the API opens no MQTT or InfluxDB connection of its own. Without them, the
routes that need them answer 503.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from greeniot.api import crew, errors
from greeniot.api import metrics as api_metrics
from greeniot.api.deps import Commander, InfluxQuery, Publisher, package_version
from greeniot.api.isotime import IsoJSONResponse
from greeniot.api.routes import api_router, health
from greeniot.config import Settings
from greeniot.metrics import Metrics
from greeniot.registry import audit
from greeniot.registry.db import make_engine, migrate, session_factory

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: Shortest accepted ``GREENIOT_AUTH__SECRET`` (256 bits as URL-safe base64 is 43 characters).
MIN_SECRET_LEN = 32


def app_secret(settings: Settings) -> str:
    """The configured secret, or a throwaway one in development; refuses to run without."""
    if settings.auth.secret is not None:
        secret = settings.auth.secret.get_secret_value()
        if len(secret) < MIN_SECRET_LEN:
            raise ValueError(f"GREENIOT_AUTH__SECRET must have at least {MIN_SECRET_LEN} "
                             "characters (e.g. python -c 'import secrets; "
                             "print(secrets.token_urlsafe(32))')")
        return secret
    if not settings.auth.development:
        raise ValueError("GREENIOT_AUTH__SECRET is required (or set "
                         "GREENIOT_AUTH__DEVELOPMENT=true for a throwaway one)")
    log.warning("no GREENIOT_AUTH__SECRET: development mode, using a throwaway secret")
    return secrets.token_urlsafe(32)


def create_app(settings: Settings, *, influx: InfluxQuery | None = None,
               commander: Commander | None = None, engine: Engine | None = None,
               metrics: Metrics | None = None, publisher: Publisher | None = None) -> FastAPI:
    """Build the app. ``engine``: share the caller's registry engine (the caller disposes it);
    ``publisher``: publishes site forecasts on the broker (else that route answers 503)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = engine is None
        eng = make_engine(settings) if engine is None else engine
        try:
            await run_in_threadpool(migrate, eng)
            app.state.engine = eng
            app.state.session_factory = session_factory(eng)
            audit.install(app.state.session_factory)  # every API write is audited
            log.info("api ready, registry at %s", eng.url.render_as_string(hide_password=True))
            yield
        finally:
            if own:
                eng.dispose()

    secret = app_secret(settings)
    # Swagger UI and ReDoc from the assets fastapi-offline ships: /docs works without a CDN.
    app: FastAPI = FastAPIOffline(
        title="greeniot",
        version=package_version(),
        summary="Smart maintenance of urban greenery: tree ledger, sensors, valves, crew tasks.",
        lifespan=lifespan,
        static_url="/static/docs",
        swagger_ui_parameters={"persistAuthorization": True},
        default_response_class=IsoJSONResponse,  # ISO 8601 beside every *_ms time
    )
    app.state.settings = settings
    app.state.influx = influx
    app.state.commander = commander
    app.state.publisher = publisher
    app.state.secret = secret
    errors.install(app)
    app.include_router(api_router, prefix=API_PREFIX)
    crew.install(app)
    # Probes and scrapers look at the root: /health (as /api/v1/health), /metrics, / → docs.
    app.include_router(health.router, include_in_schema=False)
    api_metrics.install(app, metrics or Metrics())

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
