"""Bounded broker memory: past ``max_queued_bytes`` the broker drops what it queues for a
lagging ingest; at half the bound ingest raises an alert; the senders keep and resend what
was never confirmed, so nothing is lost."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from greeniot.config import IngestSettings, Settings
from greeniot.ingest.lag import BACKEND_ALERTS_TOPIC, BrokerLagMonitor
from greeniot.ingest.service import IngestService
from greeniot.ingest.stats import IngestStats
from greeniot.protocol import SoilReading, encode
from greeniot.services import MosquittoProcess
from greeniot.simulators.confirmed import ConfirmedSender, stored_filter
from greeniot.simulators.publisher import Publisher
from tests.helpers import Observer, poll
from tests.ingest.test_faults import seqs_count

pytestmark = pytest.mark.services

BOUND = 64 * 1024  # bytes the test broker queues per client
N = 2000  # ~85 bytes each: ~170 KB, well past the bound


def test_at_the_bound_the_broker_drops_ingest_alerts_and_senders_resend(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    broker = MosquittoProcess(tmp_path / "broker", max_queued_bytes=BOUND, sys_interval_s=1)
    broker.start()
    s = settings.model_copy(update={
        "mqtt": settings.mqtt.model_copy(update={"port": broker.port}),
        "ingest": IngestSettings(broker_queue_bytes=BOUND)})
    alerts = Observer(broker.port, [BACKEND_ALERTS_TOPIC])
    base = int(time.time() * 1000) - 600_000

    stats = IngestStats()

    async def scenario() -> int:
        async with IngestService(s):
            pass  # ingest's persistent session exists; now its consumer is away and lags
        async with (BrokerLagMonitor(s, stats, f"lag-{site_id}"),
                    Publisher(host="127.0.0.1", port=broker.port, client_id=f"q-{site_id}",
                              subscriptions=[stored_filter(site_id)]) as pub,
                    ConfirmedSender(pub, resend_s=2.0) as sender):
            for i in range(N):
                msg = SoilReading(seq=i, ts_ms=base + 10 * i, vwc_pct=30.0)
                await sender.send(f"greeniot/v1/{site_id}/q{i % 10}/soil", encode(msg), i)
            await pub.drain(30)  # every one PUBACKed by the broker, some of them dropped
            deadline = time.monotonic() + 10
            while not stats.lag_alerts:  # $SYS comes every sys_interval (1 s here)
                assert time.monotonic() < deadline, "no lag alert"
                await asyncio.sleep(0.05)
            async with IngestService(s) as svc:
                await sender.wait_confirmed(60)
                await svc.writer.flush(20)
            deadline = time.monotonic() + 10
            while stats.broker_store_bytes >= BOUND / 2:  # drained: the alert re-arms
                assert time.monotonic() < deadline, stats
                await asyncio.sleep(0.05)
            return sender.stats.resent

    try:
        resent = asyncio.run(scenario())
        poll(lambda: alerts.on("alerts"), timeout_s=10, what="the lag alert")
        alert = json.loads(alerts.on("alerts")[0].payload)
    finally:
        alerts.close()
        broker.stop()
    assert resent > 0, "the broker should have dropped past its bound"
    assert seqs_count(s) == N  # none lost: what the broker dropped was resent
    assert alert["kind"] == "ingest_lag" and alert["value"] >= BOUND / 2
    assert stats.lag_alerts >= 1  # again if resends refill the queue while ingest drains
