"""Broker backlog watch: alert when the broker holds half the bytes it may queue per client.

Mosquitto bounds what it queues for one client (``max_queued_bytes``, shipped in
deploy/mosquitto/mosquitto.conf); past the bound it PUBACKs and *drops* (MQTT 3.1.1 has no
way to refuse), and only the end-to-end confirmation makes the senders resend those readings
(docs/architecture.md). So ingest watches ``$SYS/broker/store/messages/bytes`` — all messages
the broker holds, which is at least what it queues for any one client, so the alert comes
early, never late — and at ``lag_alert_fraction`` of the bound (default half) it logs, counts
(``IngestStats.lag_alerts``) and publishes an ``Alert`` on ``greeniot/v1/_backend/alerts``.
It re-arms when the store falls below 80 % of the alert level.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.ingest.stats import IngestStats
from greeniot.protocol.codec import encode
from greeniot.protocol.messages import Alert
from greeniot.protocol.topics import ROOT
from greeniot.transport.mqtt import MqttSession

log = logging.getLogger(__name__)

STORE_BYTES_TOPIC = "$SYS/broker/store/messages/bytes"
#: Backend alerts that belong to no site (four levels, like site alerts).
BACKEND_ALERTS_TOPIC = f"{ROOT}/_backend/alerts"
REARM = 0.8


class BrokerLagMonitor:
    """``async with BrokerLagMonitor(settings, stats, client_id) as m: ...`` (a clean session
    of its own, so ``$SYS`` messages never reach the ingest decoder)."""

    def __init__(self, settings: Settings, stats: IngestStats, client_id: str, *,
                 clock: Callable[[], int] = wall_ms) -> None:
        ing = settings.ingest
        self.bound_bytes = ing.broker_queue_bytes
        self.alert_bytes = int(ing.broker_queue_bytes * ing.lag_alert_fraction)
        self.stats = stats
        self.clock = clock
        self.mqtt = MqttSession(settings.mqtt, client_id, filters=[STORE_BYTES_TOPIC], qos=0,
                                clean_session=True)
        self._armed = True
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BrokerLagMonitor:
        await self.mqtt.connect()
        self._task = asyncio.create_task(self._run(), name="ingest-lag")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.mqtt.close()

    async def _run(self) -> None:
        while True:
            await self.mqtt.wait_inbox(1.0)
            for m in self.mqtt.drain(100):
                try:
                    value = int(m.payload)
                except ValueError:
                    continue
                await self.observe(value)

    async def observe(self, store_bytes: int) -> None:
        self.stats.broker_store_bytes = store_bytes
        if self._armed and store_bytes >= self.alert_bytes:
            self._armed = False
            self.stats.lag_alerts += 1
            pct = 100 * store_bytes / self.bound_bytes
            log.warning("broker holds %d bytes, %.0f%% of the %d-byte per-client queue bound: "
                        "ingest lags; past the bound the broker drops and devices must resend",
                        store_bytes, pct, self.bound_bytes)
            now = self.clock()
            alert = Alert(id=f"ingest-lag-{now}", ts_ms=now, site="_backend", kind="ingest_lag",
                          severity="warning", value=float(store_bytes),
                          message=f"broker holds {store_bytes} bytes ({pct:.0f}% of the "
                                  f"{self.bound_bytes}-byte queue bound): ingest lags")
            self.mqtt.publish_nowait(BACKEND_ALERTS_TOPIC, encode(alert), qos=1)
        elif not self._armed and store_bytes < self.alert_bytes * REARM:
            self._armed = True
            log.info("broker backlog back to %d bytes", store_bytes)
