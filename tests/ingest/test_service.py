"""Ingest against the real Mosquitto and InfluxDB: exact counts by sequence number."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.protocol import SoilReading, TiltReading, encode
from greeniot.protocol.codec import MAX_PAYLOAD_BYTES, encode_batch
from tests.helpers import Observer, Publisher


def influx_rows(settings: Settings, q: str) -> list[dict]:
    resp = httpx.get(f"{settings.influx.url}/query",
                     params={"db": settings.influx.database, "q": q, "epoch": "ms"})
    resp.raise_for_status()
    out = []
    for res in resp.json()["results"]:
        for s in res.get("series", []):
            out += [dict(zip(s["columns"], v, strict=True)) | (s.get("tags") or {})
                    for v in s["values"]]
    return out


def seqs(settings: Settings, measurement: str, device: str) -> list[int]:
    rows = influx_rows(settings, f"SELECT seq FROM {measurement} WHERE device='{device}'")
    return sorted(r["seq"] for r in rows)


async def run_ingest(settings: Settings, until, timeout_s: float = 30.0, **kw) -> IngestService:
    async with IngestService(settings, **kw) as svc:
        deadline = time.monotonic() + timeout_s
        while not await asyncio.to_thread(until):
            assert time.monotonic() < deadline, f"ingest timed out: {svc.stats.summary()}"
            await asyncio.sleep(0.05)
    return svc


def test_readings_land_in_influx_once_each(settings: Settings, site_id: str) -> None:
    now = int(time.time() * 1000)
    topic = f"greeniot/v1/{site_id}/soil-1/soil"
    items = [(topic, encode(SoilReading(seq=i, ts_ms=now - 1000 * (50 - i), vwc_pct=20 + i % 7,
                                        temp_c=15.0)))
             for i in range(50)]
    # A redelivery of the first ten (same seq and ts) must overwrite, not duplicate.
    items += items[:10]
    pub = Publisher(settings.mqtt.port)
    # Subscribe the persistent session first so nothing published is missed.
    asyncio.run(run_ingest(settings, lambda: True))
    pub.publish_many(items)
    svc = asyncio.run(run_ingest(settings, lambda: len(seqs(settings, "soil", "soil-1")) >= 50))
    pub.close()
    assert seqs(settings, "soil", "soil-1") == list(range(50))
    rows = influx_rows(settings, "SELECT vwc_pct, temp_c, site FROM soil WHERE seq = 3")
    assert rows[0]["vwc_pct"] == 23.0 and rows[0]["temp_c"] == 15.0
    assert rows[0]["site"] == site_id
    assert svc.stats.rejected == {}


def test_bad_payloads_dead_lettered_good_ones_stored(settings: Settings, site_id: str) -> None:
    now = int(time.time() * 1000)
    base = f"greeniot/v1/{site_id}"
    obs = Observer(settings.mqtt.port, ["greeniot/v1/_dead/#"])
    asyncio.run(run_ingest(settings, lambda: True))  # create the persistent session
    good = [SoilReading(seq=i, ts_ms=now - 5000 + i, vwc_pct=30.0) for i in range(3)]
    batch = json.loads(encode_batch(good))
    batch["batch"].insert(1, {"v": 1, "seq": 99, "ts_ms": now, "vwc_pct": 150.0})  # out of range
    pub = Publisher(settings.mqtt.port)
    pub.publish_many([
        (f"{base}/soil-2/soil", json.dumps(batch).encode()),
        (f"{base}/soil-2/soil", b"not json"),
        (f"{base}/soil-2/soil", b'{"v":2,"seq":1,"ts_ms":1795510737944,"vwc_pct":1}'),
        (f"{base}/soil-2/soil", encode(SoilReading(seq=7, ts_ms=now + 3_600_000, vwc_pct=1))),
        (f"{base}/Bad Device/soil", b"{}"),
        (f"{base}/tilt-1/tilt", encode(TiltReading(seq=1, ts_ms=now, pitch_deg=0.5,
                                                   roll_deg=-0.2))),
        # a good reading padded past the size limit: refused on its size, whatever it starts
        # with (ingest keeps only its first KiB)
        (f"{base}/soil-3/soil", encode(SoilReading(seq=8, ts_ms=now, vwc_pct=1)) +
         b" " * MAX_PAYLOAD_BYTES),
    ])
    def letters() -> list[dict]:
        return [x for m in obs.messages for x in json.loads(m.payload)["letters"]]

    svc = asyncio.run(run_ingest(
        settings, lambda: len(letters()) >= 6 and len(seqs(settings, "tilt", "tilt-1")) == 1))
    pub.close()
    reasons = sorted(x["reason"] for x in letters())
    obs.close()
    assert reasons == ["bad_topic", "bad_version", "invalid", "not_json", "too_large",
                       "ts_future"]
    big = next(x for x in letters() if x["reason"] == "too_large")
    assert big["truncated"] and big["payload_bytes"] > MAX_PAYLOAD_BYTES
    assert big["payload"].startswith('{"v":1,"seq":8') and len(big["payload"]) <= 1024
    assert seqs(settings, "soil", "soil-3") == []
    assert seqs(settings, "soil", "soil-2") == [0, 1, 2]
    assert svc.stats.rejected["invalid"] == 1
    dead = next(x for x in letters() if x["reason"] == "invalid")
    assert dead["index"] == 1 and "vwc_pct" in dead["detail"]
    assert dead["topic"] == f"{base}/soil-2/soil"


def test_two_acks_in_one_millisecond_are_both_kept(settings: Settings, site_id: str) -> None:
    from greeniot.protocol import Ack

    now = int(time.time() * 1000)
    topic = f"greeniot/v1/{site_id}/valve-1/ack"
    asyncio.run(run_ingest(settings, lambda: True))
    pub = Publisher(settings.mqtt.port)
    pub.publish_many([(topic, encode(Ack(id=f"c-{i}", seq=i, ts_ms=now, ok=i == 0,
                                         reason=None if i == 0 else "expired")))
                      for i in range(2)])
    pub.close()
    asyncio.run(run_ingest(settings, lambda: len(seqs(settings, "ack", "valve-1")) >= 2))
    rows = influx_rows(settings, "SELECT cmd_id, ok, reason FROM ack")
    assert sorted((r["cmd_id"], r["ok"], r["reason"]) for r in rows) == [
        ("c-0", True, None), ("c-1", False, "expired")]
