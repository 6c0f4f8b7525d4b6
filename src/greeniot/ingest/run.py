"""What ``greeniot ingest`` runs: the service, its tags from the registry, its metrics.

Imports only what ingest needs — no analytics, numpy or scipy, which would double the
process's memory (docs/architecture.md, "The ingest hot path": peak RSS under 100 MB).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.config import Settings
from greeniot.ingest.metrics import inbox_families, ingest_families
from greeniot.ingest.service import Bindings, IngestService
from greeniot.metrics import Metrics, serve
from greeniot.registry.db import open_registry_when_reachable
from greeniot.registry.models import Device

log = logging.getLogger(__name__)

#: How often the device bindings are re-read from the registry [s].
REGISTRY_REFRESH_S = 30.0


def read_bindings(sessions: Callable[[], Session]) -> Bindings:
    """Extra InfluxDB tags per device: the tree or zone it is bound to."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    with sessions() as session:
        rows = session.execute(select(Device.site, Device.id, Device.tree_id, Device.zone_id))
        for site, device, tree, zone in rows:
            tags = {k: v for k, v in (("tree", tree), ("zone", zone)) if v}
            if tags:
                out[(site, device)] = tags
    return out


async def _refresh(svc: IngestService, sessions: Callable[[], Session]) -> None:
    while True:
        await asyncio.sleep(REGISTRY_REFRESH_S)
        try:
            svc.set_bindings(await asyncio.to_thread(read_bindings, sessions))
        except Exception:  # a registry hiccup must not stop ingest
            log.exception("registry refresh failed")


async def run_ingest(settings: Settings, *, worker: int = 0) -> None:
    engine, sessions = await open_registry_when_reachable(settings)
    metrics = Metrics()
    server = None
    try:
        bindings = await asyncio.to_thread(read_bindings, sessions)
        async with IngestService(settings, worker=worker, bindings=bindings) as svc:
            metrics.add("ingest", ingest_families(svc))
            metrics.add("ingest-inbox", inbox_families("ingest", svc.mqtt))
            server = serve(metrics, host=settings.metrics.host, port=settings.metrics.port)
            refresh = asyncio.create_task(_refresh(svc, sessions))
            try:
                await svc.run_forever()
            finally:
                refresh.cancel()
    finally:
        if server is not None:
            server.shutdown()
        engine.dispose()
