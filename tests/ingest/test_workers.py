"""Several ingest workers in one shared subscription split the load; each reading stored once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.services import MosquittoProcess
from tests.helpers import Publisher
from tests.ingest.test_faults import seqs_count, soil_items
from tests.ingest.test_service import seqs


def test_two_workers_share_the_load_and_store_each_reading_once(settings: Settings,
                                                                 site_id: str,
                                                                 tmp_path: Path) -> None:
    # A broker of its own: Mosquitto 2.0 hands retained messages (other tests' statuses) to
    # every member of a shared subscription, which would blur the exact counts below.
    broker = MosquittoProcess(tmp_path / "broker").start()
    s = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(
        update={"share_group": "ingest", "port": broker.port})})
    items = []
    for d in range(10):
        items += soil_items(site_id, f"w{d}", 500)

    async def scenario() -> tuple[IngestService, IngestService]:
        async with IngestService(s, worker=1) as a, IngestService(s, worker=2) as b:
            pub = Publisher(s.mqtt.port)
            await asyncio.to_thread(pub.publish_many, items)
            pub.close()
            deadline = time.monotonic() + 60
            while a.stats.lines_written + b.stats.lines_written < len(items):
                assert time.monotonic() < deadline, (a.stats.summary(), b.stats.summary())
                await asyncio.sleep(0.05)
        return a, b

    try:
        a, b = asyncio.run(scenario())
    finally:
        broker.stop()
    assert a.stats.received + b.stats.received == len(items)  # no message went to both
    assert a.stats.received > 0 and b.stats.received > 0  # and both did work
    assert seqs_count(s) == len(items)
    assert seqs(s, "soil", "w3") == list(range(500))
