"""Ingest throughput: greeniot ingest (decode → validate → fsynced spool → InfluxDB) draining a
QoS 1 backlog, against a paho subscriber that only counts and acks, measured in the same run on
the same broker and backlog.

    .venv/bin/python benchmarks/ingest_throughput.py --messages 100000

Prints msgs/s for both and the ratio. Starts its own Mosquitto and InfluxDB in a temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from greeniot.config import InfluxSettings, MqttSettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.protocol import SoilReading, encode
from greeniot.services import InfluxProcess, MosquittoProcess


def publish_backlog(port: int, n: int, devices: int = 100) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=paho.MQTTv311)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    now = int(time.time() * 1000) - n
    infos = []
    for i in range(n):
        d = i % devices
        msg = SoilReading(seq=i // devices, ts_ms=now + i, vwc_pct=20.0 + (i % 13), temp_c=18.5)
        infos.append(c.publish(f"greeniot/v1/bench/soil-{d}/soil", encode(msg), qos=1))
        if len(infos) == 20_000:  # stay well below the 65535 packet ids MQTT has
            for info in infos:
                info.wait_for_publish(120)
            infos.clear()
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def subscribe_session(port: int, client_id: str) -> None:
    """Create the persistent session so the backlog queues for it."""
    done = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=paho.MQTTv311)
    c.on_connect = lambda cl, *a: cl.subscribe("greeniot/v1/+/+/soil", qos=1)
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def baseline_drain(port: int, n: int) -> float:
    """paho, manual ack in batches, counting only: the ceiling for any Python consumer."""
    got = 0
    finished = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline", clean_session=False,
                    protocol=paho.MQTTv311, manual_ack=True)
    pending: list[int] = []

    def on_message(cl: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        nonlocal got
        got += 1
        pending.append(msg.mid)
        if len(pending) >= 5000 or got >= n:
            for mid in pending:
                cl.ack(mid, 1)
            pending.clear()
        if got >= n:
            finished.set()

    c.on_message = on_message
    t0 = time.perf_counter()
    c.connect("127.0.0.1", port)
    c.loop_start()
    finished.wait(600)
    dt = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return n / dt


def count_stored(url: str, db: str) -> int:
    r = httpx.get(f"{url}/query", params={"db": db, "q": "SELECT count(vwc_pct) FROM soil"})
    series = r.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def greeniot_drain(settings: Settings, n: int) -> float:
    t0 = time.perf_counter()
    async with IngestService(settings) as svc:
        # Poll our own counter, not InfluxDB: a count() query every few ms would compete for
        # the same two cores; the stored count is checked once at the end.
        acked_at = None
        while svc.stats.lines_written < n:
            if acked_at is None and svc.stats.acked >= n:
                acked_at = time.perf_counter() - t0
            await asyncio.sleep(0.02)
        dt = time.perf_counter() - t0
        if acked_at is not None:
            print(f"  (all {n} spooled and acked after {acked_at:.2f} s, "
                  f"all written after {dt:.2f} s)")
        assert svc.stats.rejected == {}, svc.stats.summary()
    stored = count_stored(settings.influx.url, settings.influx.database)
    assert stored == n, f"stored {stored} of {n}"
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    args = ap.parse_args()
    n = args.messages
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoProcess(Path(tmp) / "mq").start()
        influx = InfluxProcess(Path(tmp) / "influx").start()
        try:
            settings = Settings(
                data_dir=Path(tmp) / "data",
                mqtt=MqttSettings(port=broker.port, client_id="bench"),
                influx=InfluxSettings(url=influx.url, database="bench"),
            )
            subscribe_session(broker.port, "bench-baseline")
            subscribe_session(broker.port, "bench-ingest")
            t0 = time.perf_counter()
            publish_backlog(broker.port, n)
            print(f"published {n} QoS 1 messages in {time.perf_counter() - t0:.1f} s")
            base = baseline_drain(broker.port, n)
            print(f"baseline  paho count+ack          {base:10.0f} msgs/s")
            ours = asyncio.run(greeniot_drain(settings, n))
            print(f"greeniot  ingest → spool → influx {ours:10.0f} msgs/s")
            print(f"ratio greeniot/baseline: {ours / base:.2f}")
        finally:
            broker.stop()
            influx.stop()


if __name__ == "__main__":
    main()
