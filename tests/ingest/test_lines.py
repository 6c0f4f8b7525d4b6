"""Line counting, partial writes, same-millisecond readings and bounded dead letters, on the
real Mosquitto and InfluxDB."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from greeniot.config import Settings
from greeniot.ingest.spool import Spool
from greeniot.ingest.stats import IngestStats
from greeniot.ingest.writer import SpoolWriter
from greeniot.protocol import SoilReading, encode
from greeniot.store.influx import InfluxClient
from tests.helpers import Observer, Publisher
from tests.ingest.test_service import influx_rows, run_ingest, seqs

pytestmark = pytest.mark.services


def test_partial_write_isolates_the_bad_line_and_counts_the_rest(settings: Settings,
                                                                 tmp_path: Path) -> None:
    now_us = (int(time.time() * 1000) - 60_000) * 1000
    db = settings.influx.database
    httpx.post(f"{settings.influx.url}/query", data={"q": f'CREATE DATABASE "{db}"'})
    # The field exists as a string: a float line for it is refused (field-type conflict).
    r = httpx.post(f"{settings.influx.url}/write", params={"db": db, "precision": "u"},
                   content=f'conflict,device=x value="text" {now_us}')
    assert r.status_code == 204
    lines = [f"soil,device=d{i},site=s vwc_pct=1.0,seq={i}i {now_us + i}" for i in range(9)]
    lines.insert(4, f"conflict,device=x value=1.5 {now_us + 1}")
    spool = Spool(tmp_path / "spool")
    spool.append(lines)
    stats = IngestStats()

    async def scenario() -> None:
        async with InfluxClient(settings.influx) as influx:
            writer = SpoolWriter(spool, influx, stats, batch_lines=100, flush_interval_s=0.05)
            task = asyncio.create_task(writer.run())
            assert await writer.flush(20)
            task.cancel()

    asyncio.run(scenario())
    spool.close()
    assert (stats.lines_written, stats.lines_refused) == (9, 1)
    assert len(influx_rows(settings, "SELECT vwc_pct FROM soil")) == 9


def test_same_millisecond_readings_stay_distinct_redelivery_overwrites(settings: Settings,
                                                                       site_id: str) -> None:
    ts = int(time.time() * 1000) - 5000
    topic = f"greeniot/v1/{site_id}/s1/soil"
    items = [(topic, encode(SoilReading(seq=i, ts_ms=ts, vwc_pct=20.0 + i))) for i in range(5)]
    items += items[:3]  # redelivered
    items.append((topic, encode(SoilReading(seq=1000, ts_ms=ts + 1, vwc_pct=9.0))))
    asyncio.run(run_ingest(settings, lambda: True))
    pub = Publisher(settings.mqtt.port)
    pub.publish_many(items)
    pub.close()
    asyncio.run(run_ingest(settings, lambda: len(seqs(settings, "soil", "s1")) >= 6))
    rows = influx_rows(settings, "SELECT seq, vwc_pct FROM soil")
    assert sorted((r["seq"], r["vwc_pct"]) for r in rows) == [
        (0, 20.0), (1, 21.0), (2, 22.0), (3, 23.0), (4, 24.0), (1000, 9.0)]
    assert {r["time"] for r in rows} == {ts, ts + 1}  # epoch=ms gives the device's ts_ms


def test_dead_letter_of_a_large_payload_carries_a_bounded_prefix(settings: Settings,
                                                                 site_id: str) -> None:
    obs = Observer(settings.mqtt.port, ["greeniot/v1/_dead/#"])
    asyncio.run(run_ingest(settings, lambda: True))
    big = b'{"v":1,"junk":"' + b"x" * 200_000 + b'"}'
    deep = b"[" * 60_000 + b"]" * 60_000
    pub = Publisher(settings.mqtt.port)
    pub.publish_many([(f"greeniot/v1/{site_id}/s2/soil", big),
                      (f"greeniot/v1/{site_id}/s2/soil", deep)])
    pub.close()
    def letters() -> list[dict]:
        return [x for m in obs.messages for x in json.loads(m.payload)["letters"]]

    svc = asyncio.run(run_ingest(settings, lambda: len(letters()) >= 2))
    obs.close()
    dead = sorted(letters(), key=lambda d: d["reason"])
    assert [d["reason"] for d in dead] == ["invalid", "not_json"]
    for d, size in zip(dead, (len(big), len(deep)), strict=True):
        assert d["truncated"] is True and d["payload_bytes"] == size
        assert len(d["payload"]) <= 1024
    assert "internal" not in svc.stats.rejected
