"""What ``greeniot ingest`` runs: the service, its tags from the registry, its metrics.

Imports only what ingest needs, so the process stays small (docs/architecture.md, "The ingest
hot path": peak RSS under 100 MB): no analytics, numpy or scipy, and of the registry only
SQLAlchemy Core, for one query. Ingest neither migrates the registry nor loads its ORM models
or alembic: it reads which tree or zone each device is bound to, and the processes that own
the schema (api, analytics) migrate it. ``tests/ingest/test_run.py`` keeps it so.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine, column, inspect, select, table

from greeniot.config import Settings
from greeniot.ingest.metrics import inbox_families, ingest_families
from greeniot.ingest.service import Bindings, IngestService
from greeniot.metrics import Metrics, serve
from greeniot.registry.db import engine_when_reachable

log = logging.getLogger(__name__)

#: How often the device bindings are re-read from the registry [s].
REGISTRY_REFRESH_S = 30.0

#: The registry's ``devices`` table as far as ingest reads it (``registry.models.Device``;
#: tests/ingest/test_run.py checks that they agree).
DEVICES = table("devices", column("site"), column("id"), column("tree_id"), column("zone_id"))


def read_bindings(engine: Engine) -> Bindings:
    """Extra InfluxDB tags per device: the tree or zone it is bound to. A registry not
    migrated yet (no ``devices`` table) binds nothing."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    with engine.connect() as conn:
        if not inspect(conn).has_table(DEVICES.name):
            log.info("registry has no %s table yet: no tree/zone tags until it is migrated",
                     DEVICES.name)
            return out
        c = DEVICES.c
        for site, device, tree, zone in conn.execute(select(c.site, c.id, c.tree_id,
                                                            c.zone_id)):
            tags = {k: v for k, v in (("tree", tree), ("zone", zone)) if v}
            if tags:
                out[(site, device)] = tags
    return out


async def _refresh(svc: IngestService, engine: Engine) -> None:
    while True:
        await asyncio.sleep(REGISTRY_REFRESH_S)
        try:
            svc.set_bindings(await asyncio.to_thread(read_bindings, engine))
        except Exception:  # a registry hiccup must not stop ingest
            log.exception("registry refresh failed")


async def run_ingest(settings: Settings, *, worker: int = 0) -> None:
    engine = await engine_when_reachable(settings)
    metrics = Metrics()
    server = None
    try:
        bindings = await asyncio.to_thread(read_bindings, engine)
        async with IngestService(settings, worker=worker, bindings=bindings) as svc:
            metrics.add("ingest", ingest_families(svc))
            metrics.add("ingest-inbox", inbox_families("ingest", svc.mqtt))
            server = serve(metrics, host=settings.metrics.host, port=settings.metrics.port)
            refresh = asyncio.create_task(_refresh(svc, engine))
            try:
                await svc.run_forever()
            finally:
                refresh.cancel()
    finally:
        if server is not None:
            server.shutdown()
        engine.dispose()
