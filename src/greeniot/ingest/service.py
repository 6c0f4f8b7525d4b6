"""The ingestion service: MQTT (QoS 1, persistent session, manual ack) → validate → spool →
InfluxDB. A message is acked only after its lines are fsynced in the spool, or, if refused,
after its dead letter has been accepted by the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.ingest.deadletter import dead_letter
from greeniot.ingest.spool import Spool
from greeniot.ingest.stats import IngestStats
from greeniot.ingest.validate import check_time
from greeniot.ingest.writer import SpoolWriter
from greeniot.protocol.codec import Rejection, decode
from greeniot.protocol.topics import ingest_filters
from greeniot.reachable import mqtt_dependency, retry_until_reachable
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import tag_suffix, to_lines
from greeniot.transport.mqtt import Message, MqttSession

log = logging.getLogger(__name__)

#: (site, device) → extra tags, e.g. {"tree": "t007"} or {"zone": "z02"}.
Bindings = Mapping[tuple[str, str], Mapping[str, str]]


class IngestService:
    """``async with IngestService(settings) as svc: await svc.run()`` (or ``run_forever``)."""

    def __init__(self, settings: Settings, *, bindings: Bindings | None = None,
                 clock: Callable[[], int] = wall_ms, worker: int = 0,
                 max_batch: int = 5000) -> None:
        self.settings = settings
        self.clock = clock
        self.stats = IngestStats()
        self.max_batch = max_batch
        self._bindings: Bindings = bindings or {}
        self._tags: dict[tuple[str, str], str] = {}
        ing = settings.ingest
        self._max_future_ms = int(ing.max_future_s * 1000)
        self._max_age_ms = int(ing.max_age_days * 86_400_000)
        suffix = f"-{worker}" if worker else ""
        self.mqtt = MqttSession(
            settings.mqtt, f"{settings.mqtt.client_id}-ingest{suffix}",
            filters=ingest_filters(share=settings.mqtt.share_group), manual_ack=True,
        )
        self.spool = Spool(settings.spool_dir / f"ingest{suffix or '-0'}")
        self.influx = InfluxClient(settings.influx)
        self.writer = SpoolWriter(self.spool, self.influx, self.stats,
                                  batch_lines=settings.influx.batch_size,
                                  flush_interval_s=settings.influx.flush_interval_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def set_bindings(self, bindings: Bindings) -> None:
        """Tags for devices bound to trees/zones (from the registry); takes effect at once."""
        self._bindings = bindings
        self._tags.clear()

    def _tag_suffix(self, site: str, device: str) -> str:
        key = (site, device)
        tags = self._tags.get(key)
        if tags is None:
            tags = self._tags[key] = tag_suffix(site, device, self._bindings.get(key))
        return tags

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> IngestService:
        # The spool takes readings even while InfluxDB is down, so do not wait for it here.
        with contextlib.suppress(Exception):
            await self.influx.ensure_database()
        # The writer drains what the spool holds even while the broker is away.
        writer = asyncio.create_task(self.writer.run(), name="ingest-writer")
        try:
            await retry_until_reachable(mqtt_dependency(self.settings.mqtt), self.mqtt.connect)
        except BaseException:
            writer.cancel()
            raise
        self._tasks = [asyncio.create_task(self._pump(), name="ingest-pump"), writer]
        log.info("ingest started client=%s influx=%s db=%s", self.mqtt.client_id,
                 self.settings.influx.url, self.settings.influx.database)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self, flush_timeout_s: float = 5.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        # Stop taking messages first; unacked ones stay with the broker's persistent session.
        await self.mqtt.close()
        pump = self._tasks[0] if self._tasks else None
        if pump:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        await self.writer.flush(flush_timeout_s)
        for t in self._tasks[1:]:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.spool.close()
        await self.influx.aclose()
        log.info("ingest stopped %s", self.stats.summary())

    async def run_forever(self) -> None:
        await asyncio.gather(*self._tasks)

    # -- the pump -----------------------------------------------------------------------------
    async def _pump(self) -> None:
        while True:
            await self.mqtt.wait_inbox(0.5)
            batch = self.mqtt.drain(self.max_batch)
            if batch:
                await self.process(batch)

    def _convert(self, batch: list[Message]) -> tuple[list[str], list[tuple[str, bytes]]]:
        now = self.clock()
        lines: list[str] = []
        dead: list[tuple[str, bytes]] = []
        st = self.stats
        for m in batch:
            try:
                d = decode(m.topic, m.payload)
                rejections = list(d.rejections)
                if d.topic is not None and d.messages:
                    tags = self._tag_suffix(d.topic.site, d.topic.device)
                    for msg, pos in zip(d.messages, d.positions, strict=True):
                        bad = check_time(msg, now, max_future_ms=self._max_future_ms,
                                         max_age_ms=self._max_age_ms, index=pos)
                        if bad is not None:
                            rejections.append(bad)
                            continue
                        lines.extend(to_lines(msg, tags, m.received_ms))
                        st.accepted += 1
            except Exception as err:  # a bug must not lose the message: dead-letter it
                log.exception("ingest failed on topic=%r", m.topic)
                rejections = [Rejection("internal", f"{type(err).__name__}: {err}")]
            for rej in rejections:
                st.rejected[rej.reason] += 1
                dead.append(dead_letter(m.topic, m.payload, rej, m.received_ms))
        return lines, dead

    async def process(self, batch: list[Message]) -> None:
        """Decode, spool (fsync), dead-letter, then ack — in that order."""
        self.stats.received += len(batch)
        lines, dead = self._convert(batch)
        if lines:
            if self.stats.spooled_since_ms is None:
                self.stats.spooled_since_ms = wall_ms()
            await asyncio.to_thread(self.spool.append, lines)
            self.stats.lines_spooled += len(lines)
            self.writer.wakeup.set()
        if dead:
            futures = [self.mqtt.publish(t, p, qos=1) for t, p in dead]
            await asyncio.gather(*futures)
            for t, _ in dead[:3]:
                log.warning("dead letter %s", t)
        for m in batch:
            self.mqtt.ack(m)
        self.stats.acked += len(batch)
