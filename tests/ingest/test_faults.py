"""Faults: InfluxDB down then back, ingest restarted mid-stream, a 20k QoS 1 burst.

Counted by sequence number, never timed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from greeniot.config import InfluxSettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.protocol import SoilReading, encode
from greeniot.services import InfluxProcess
from tests.helpers import Publisher
from tests.ingest.test_service import run_ingest, seqs

#: Readings are 10 ms apart from here on: a device's reading is identified by its timestamp,
#: so two readings of one device must never share one (the later would overwrite the earlier).
BASE_MS = int(time.time() * 1000) - 3_600_000


def soil_items(site: str, device: str, n: int, start: int = 0) -> list[tuple[str, bytes]]:
    topic = f"greeniot/v1/{site}/{device}/soil"
    return [(topic, encode(SoilReading(seq=i, ts_ms=BASE_MS + 10 * i, vwc_pct=25.0)))
            for i in range(start, start + n)]


def test_influx_down_then_back_stores_every_seq_once(settings: Settings, site_id: str,
                                                     tmp_path: Path) -> None:
    influx = InfluxProcess(tmp_path / "influx-own")
    s = settings.model_copy(update={"influx": InfluxSettings(
        url=influx.url, database="faults", flush_interval_s=0.05)})
    pub = Publisher(s.mqtt.port)

    async def scenario() -> IngestService:
        async with IngestService(s) as svc:
            # InfluxDB is not running: readings are acked once spooled, writes retried.
            await asyncio.to_thread(pub.publish_many, soil_items(site_id, "d1", 300))
            deadline = time.monotonic() + 20
            while svc.stats.acked < 300 or svc.stats.write_retries < 2:
                assert time.monotonic() < deadline, svc.stats.summary()
                await asyncio.sleep(0.05)
            assert svc.stats.lines_written == 0
            await asyncio.to_thread(influx.start)
            await asyncio.to_thread(pub.publish_many, soil_items(site_id, "d1", 200, start=300))
            while svc.stats.lines_written < 500:
                assert time.monotonic() < deadline + 40, svc.stats.summary()
                await asyncio.sleep(0.05)
        return svc

    try:
        svc = asyncio.run(scenario())
        assert seqs(s, "soil", "d1") == list(range(500))
        assert svc.stats.lines_refused == 0
    finally:
        pub.close()
        influx.stop()


def test_restart_replays_spool_without_loss_or_duplicates(settings: Settings,
                                                          site_id: str) -> None:
    pub = Publisher(settings.mqtt.port)
    asyncio.run(run_ingest(settings, lambda: True))
    pub.publish_many(soil_items(site_id, "d2", 1000))

    async def crash_after_some() -> None:
        svc = IngestService(settings)
        await svc.__aenter__()
        deadline = time.monotonic() + 20
        while svc.stats.acked < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        # Simulate a crash: drop everything without flushing the writer.
        for t in svc._tasks:
            t.cancel()
        await asyncio.gather(*svc._tasks, return_exceptions=True)
        await svc.mqtt.close()
        svc.spool.close()
        await svc.influx.aclose()

    asyncio.run(crash_after_some())
    pub.publish_many(soil_items(site_id, "d2", 500, start=1000))
    asyncio.run(run_ingest(settings, lambda: len(seqs(settings, "soil", "d2")) >= 1500))
    pub.close()
    assert seqs(settings, "soil", "d2") == list(range(1500))


def test_burst_of_20k_qos1_loses_nothing(settings: Settings, site_id: str) -> None:
    pub = Publisher(settings.mqtt.port)
    asyncio.run(run_ingest(settings, lambda: True))
    items = []
    for d in range(20):
        items += soil_items(site_id, f"b{d}", 1000)
    pub.publish_many(items, timeout_s=120)
    pub.close()

    def all_there() -> bool:
        rows = seqs_count(settings)
        return rows >= 20_000

    svc = asyncio.run(run_ingest(settings, all_there, timeout_s=120))
    assert svc.stats.rejected == {}
    for d in (0, 7, 19):
        assert seqs(settings, "soil", f"b{d}") == list(range(1000))
    assert seqs_count(settings) == 20_000


def seqs_count(settings: Settings) -> int:
    from tests.ingest.test_service import influx_rows

    rows = influx_rows(settings, "SELECT count(seq) FROM soil")
    return int(rows[0]["count"]) if rows else 0
