"""The ingestion service: MQTT (QoS 1, manual ack) → validate → spool → InfluxDB.

A message is acked only after its lines are fsynced in the spool, or, if refused, after its
dead letter has been accepted by the broker. Then ingest tells each device which of its seqs
are now durable (``.../stored``), so a device can keep a reading until it is safe here — not
merely in the broker's memory, which a broker crash loses (docs/architecture.md).

One worker keeps a persistent session (the broker queues for it while it restarts). Workers
of a shared subscription use clean sessions: Mosquitto 2.0 keeps queuing a dead member's share
into its persistent session, so a killed worker would hold its share hostage until it came
back; with clean sessions the survivors take the whole stream at once, and what the dead one
held unacknowledged the devices resend, since it was never confirmed. What the dead one had
confirmed but not yet written to InfluxDB (its spool's tail) a live sibling writes
(:mod:`greeniot.ingest.orphans`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from greeniot.clock import wall_ms
from greeniot.config import Settings
from greeniot.ingest.deadletter import MAX_DEAD_PAYLOAD_BYTES, bundle, dead_letter
from greeniot.ingest.fastpath import FastDecoder
from greeniot.ingest.lag import BrokerLagMonitor
from greeniot.ingest.orphans import OrphanDrainer
from greeniot.ingest.spool import Spool
from greeniot.ingest.stats import IngestStats
from greeniot.ingest.validate import check_time
from greeniot.ingest.writer import SpoolWriter
from greeniot.protocol.codec import MAX_PAYLOAD_BYTES, Rejection, decode
from greeniot.protocol.messages import seq_ranges
from greeniot.protocol.plausible import implausible, quality_flag
from greeniot.protocol.topics import device_topic, ingest_filters
from greeniot.reachable import mqtt_dependency, retry_until_reachable
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import tag_suffix, to_lines
from greeniot.transport.mqtt import Message, MqttError, MqttSession

log = logging.getLogger(__name__)

#: Batches whose dead letters may await their PUBACKs while the next batch is processed.
MAX_SETTLING = 4

#: Payload bytes per processed batch: bounds the lines a batch makes (memory: ~3.5 bytes of
#: lines and text per payload byte at the peak of a batch), while 5000 single readings (~110
#: bytes each) still fit one batch (one fsync, one ack write). Oversized payloads (refused on
#: their length, no lines) do not count: a flood of them must not cut batches small.
MAX_BATCH_BYTES = 1024 * 1024

#: Payload bytes the inbox holds while a batch is processed (paho's thread stops reading
#: the socket beyond it): a few batches' worth keeps the pump fed, more only costs memory.
INBOX_BYTES = 4 * MAX_BATCH_BYTES

#: Ranges per confirmation message (a device's RAM bounds what it can parse at once).
MAX_CONFIRM_RANGES = 64

#: A batch taken less than this long [s] after the previous one means a stream: the next
#: waits ``batch_linger_s`` to fill (IngestSettings).
STREAMING_S = 1.0

#: Confirmations go out at most this often [s], gathering the batches in between: one
#: ``stored`` per device per batch (a QoS 1 publish and its PUBACK) cost more CPU than
#: decoding the device's readings while a backlog drains. Sparse traffic is confirmed at once.
CONFIRM_EVERY_S = 0.25

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
        self._fast = FastDecoder()
        suffix = f"-{worker}" if worker else ""
        shared = settings.mqtt.share_group is not None
        self.mqtt = MqttSession(
            settings.mqtt, f"{settings.mqtt.client_id}-ingest{suffix}",
            filters=ingest_filters(share=settings.mqtt.share_group), manual_ack=True,
            clean_session=shared, inbox_max_bytes=INBOX_BYTES, max_payload=MAX_PAYLOAD_BYTES,
            keep_bytes=MAX_DEAD_PAYLOAD_BYTES,
        )
        self._confirm = ing.confirm
        self._unconfirmed: dict[tuple[str, str], list[int]] = {}  # durable, not yet told
        self._confirmed_at = 0.0  # time.monotonic() of the last confirmations
        self._batch_at = -STREAMING_S  # time.monotonic() when the pump last took a batch
        self._dead_mqtt: MqttSession | None = None  # see _dead_session
        self._settling: set[asyncio.Task[None]] = set()
        self.spool = Spool(settings.spool_dir / f"ingest{suffix or '-0'}")
        self.influx = InfluxClient(settings.influx)
        self.writer = SpoolWriter(self.spool, self.influx, self.stats,
                                  batch_lines=settings.influx.batch_size,
                                  flush_interval_s=settings.influx.flush_interval_s)
        self.orphans = OrphanDrainer(settings.spool_dir, self.spool.dir, self.influx, self.stats,
                                     batch_lines=settings.influx.batch_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.lag: BrokerLagMonitor | None = None
        if ing.lag_monitor:
            self.lag = BrokerLagMonitor(settings, self.stats,
                                        f"{settings.mqtt.client_id}-ingest{suffix}-lag")

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
        if self.lag is not None:
            try:
                await self.lag.__aenter__()
            except MqttError as err:  # e.g. the ACL gives no $SYS: ingest runs without it
                log.warning("broker lag monitor off: %s", err)
                self.lag = None
        self._tasks = [asyncio.create_task(self._pump(), name="ingest-pump"), writer,
                       asyncio.create_task(self.orphans.run(), name="ingest-orphans")]
        log.info("ingest started client=%s influx=%s db=%s", self.mqtt.client_id,
                 self.settings.influx.url, self.settings.influx.database)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self, flush_timeout_s: float = 5.0) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self._settling:  # let batches waiting for their dead letters' PUBACKs be acked
            await asyncio.wait(self._settling, timeout=flush_timeout_s)
        if self._unconfirmed:  # durable already: tell the devices before going
            self._flush_confirmations()
        if self._dead_mqtt is not None and self._dead_mqtt is not self.mqtt:
            await self._dead_mqtt.close()
        if self.lag is not None:
            await self.lag.__aexit__()
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
        linger = self.settings.ingest.batch_linger_s
        while True:
            due = CONFIRM_EVERY_S - (time.monotonic() - self._confirmed_at)
            await self.mqtt.wait_inbox(max(due, 0.0) if self._unconfirmed else 0.5)
            if (linger and self.streaming()
                    and not self.mqtt.holds(self.max_batch, MAX_BATCH_BYTES)):
                # a stream: let the network thread read on (it runs while we wait) rather
                # than pay a batch's fixed costs for the few messages it has read so far
                await asyncio.sleep(linger)
            batch = self.mqtt.drain(self.max_batch, MAX_BATCH_BYTES, MAX_PAYLOAD_BYTES)
            if batch:
                self._batch_at = time.monotonic()
                await self.process(batch)
            if self._unconfirmed and time.monotonic() - self._confirmed_at >= CONFIRM_EVERY_S:
                self._flush_confirmations()

    def streaming(self) -> bool:
        """A batch was taken less than ``STREAMING_S`` ago: messages are streaming in."""
        return time.monotonic() - self._batch_at < STREAMING_S

    def _convert(self, batch: list[Message]
                 ) -> tuple[list[str], list[dict[str, object]], dict[tuple[str, str], list[int]]]:
        now = self.clock()
        lo, hi = now - self._max_age_ms, now + self._max_future_ms  # check_time's window
        lines: list[str] = []
        dead: list[dict[str, object]] = []
        handled: dict[tuple[str, str], list[int]] = {}  # (site, device) → seqs now durable
        st = self.stats
        fast = self._fast.decode
        ok = flagged = 0
        for m in batch:
            got = None if m.truncated_from else fast(m.topic, m.payload, lo, hi)
            if got is None:
                self._convert_refused(m, now, lines, dead, handled)
                continue
            route, items = got
            c = route.code
            key = (route.site, route.device)
            tags = self._tags.get(key) or self._tag_suffix(*key)
            # implausible values are stored, flagged (analytics leaves them out)
            flagged += c.lines(items, tags, m.received_ms, lines)
            if c.has_seq:
                seqs = handled.get(key)
                if seqs is None:
                    seqs = handled[key] = []
                seqs.extend([it.seq for it in items])
            ok += len(items)
        st.accepted += ok
        st.flagged += flagged
        return lines, dead, handled

    def _convert_refused(self, m: Message, now: int, lines: list[str],
                         dead: list[dict[str, object]],
                         handled: dict[tuple[str, str], list[int]]) -> None:
        """A payload the fast path did not take: refused here when that is certain (cheap),
        else the codec's path."""
        ref = self._fast.refusal(m.topic, m.payload, now - self._max_age_ms,
                                 now + self._max_future_ms, m.truncated_from)
        if ref is None:
            self._convert_slow(m, now, lines, dead, handled)
            return
        if ref.seqs:
            handled.setdefault(ref.route.key, []).extend(ref.seqs)
        if ref.items:  # good items of a batch beside bad ones: stored as the fast path does
            c = ref.route.code
            tags = self._tag_suffix(*ref.route.key)
            for it in ref.items:
                fields = c.flags(it)
                self.stats.flagged += bool(fields)
                lines.append(c.line(it, tags, m.received_ms, quality_flag(fields)))
                if c.extra is not None:
                    lines.extend(c.extra(it, tags))
            if c.has_seq:
                handled.setdefault(ref.route.key, []).extend(it.seq for it in ref.items)
            self.stats.accepted += len(ref.items)
        rejected = self.stats.rejected
        for rej in ref.rejections:
            rejected[rej.reason] += 1
            dead.append(dead_letter(m.topic, m.payload, rej, m.received_ms, m.truncated_from))

    def _convert_slow(self, m: Message, now: int, lines: list[str],
                      dead: list[dict[str, object]],
                      handled: dict[tuple[str, str], list[int]]) -> None:
        """The codec's ``decode``: exact reasons for what the fast path did not take."""
        st = self.stats
        try:
            d = decode(m.topic, m.payload, m.truncated_from)
            rejections = list(d.rejections)
            if d.topic is not None and (d.messages or d.refused_seqs):
                key = (d.topic.site, d.topic.device)
                seqs = handled.setdefault(key, [])
                seqs.extend(d.refused_seqs)
                tags = self._tag_suffix(*key)
                for msg, pos in zip(d.messages, d.positions, strict=True):
                    seq = getattr(msg, "seq", None)
                    if seq is not None:
                        seqs.append(seq)
                    bad = check_time(msg, now, max_future_ms=self._max_future_ms,
                                     max_age_ms=self._max_age_ms, index=pos)
                    if bad is not None:
                        rejections.append(bad)
                        continue
                    flag = quality_flag(implausible(msg))
                    st.flagged += flag is not None
                    lines.extend(to_lines(msg, tags, m.received_ms, flag))
                    st.accepted += 1
        except Exception as err:  # a bug must not lose the message: dead-letter it
            log.exception("ingest failed on topic=%r", m.topic)
            rejections = [Rejection("internal", f"{type(err).__name__}: {err}")]
        for rej in rejections:
            st.rejected[rej.reason] += 1
            dead.append(dead_letter(m.topic, m.payload, rej, m.received_ms, m.truncated_from))

    async def process(self, batch: list[Message]) -> None:
        """Decode, spool (fsync), dead-letter, then ack — in that order.

        The wait for the dead letters' PUBACKs runs in the background (at most
        ``MAX_SETTLING`` batches), so the next batch is decoded meanwhile; the batch is acked
        (and its seqs confirmed) only once they all came back.
        """
        self.stats.received += len(batch)
        lines, dead, handled = self._convert(batch)
        if lines:
            if self.stats.spooled_since_ms is None:
                self.stats.spooled_since_ms = wall_ms()
            await asyncio.to_thread(self.spool.append, lines)
            self.stats.lines_spooled += len(lines)
            self.writer.wakeup.set()
        if not dead:
            self._settle(batch, handled)
            return
        messages = bundle(dead)
        log.warning("%d dead letters (%s)", len(dead), ", ".join(t for t, _ in messages[:5]))
        published = (await self._dead_session()).publish_many(messages, qos=1)
        while len(self._settling) >= MAX_SETTLING:
            await asyncio.wait(self._settling, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(self._settle_after(published, batch, handled),
                                   name="ingest-settle")
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _dead_session(self) -> MqttSession:
        """Dead letters go out on a connection of their own, made at the first one. On
        ingest's, their PUBACKs queue behind the backlog the broker streams to it (up to its
        in-flight window, 20,000 messages), every batch's ack waits for them, and meanwhile
        the inbox reads on past its bound (a fuzz mix held ~90 MB there)."""
        if self._dead_mqtt is None:
            dead = MqttSession(self.settings.mqtt, f"{self.mqtt.client_id}-dead",
                               clean_session=True)
            try:
                await dead.connect()
            except MqttError as err:
                log.warning("dead letters go out on ingest's own connection: %s", err)
                await dead.close()
                dead = self.mqtt
            self._dead_mqtt = dead
        return self._dead_mqtt

    async def _settle_after(self, published: asyncio.Future[None], batch: list[Message],
                            handled: dict[tuple[str, str], list[int]]) -> None:
        await published
        self._settle(batch, handled)

    def _settle(self, batch: list[Message], handled: dict[tuple[str, str], list[int]]) -> None:
        self.mqtt.ack_many(batch)
        self.stats.acked += len(batch)
        if not self._confirm:
            return
        pending = self._unconfirmed
        for key, seqs in handled.items():
            if seqs:
                have = pending.get(key)
                if have is None:
                    pending[key] = seqs
                else:
                    have.extend(seqs)

    def _flush_confirmations(self) -> None:
        self._confirmed_at = time.monotonic()
        pending, self._unconfirmed = self._unconfirmed, {}
        self._publish_confirmations(pending)

    def _publish_confirmations(self, handled: dict[tuple[str, str], list[int]]) -> None:
        """Tell each device which seqs are durable. Not awaited: a lost confirmation only
        makes the device resend, and the resent reading overwrites its own point. So while
        the broker is away none are queued (paho's queue is bounded by 65535 packet ids)."""
        if not self.mqtt.connected:
            self.stats.confirmations_skipped += len(handled)
            return
        for (site, device), seqs in handled.items():
            if not seqs:
                continue
            ranges = seq_ranges(seqs)
            for i in range(0, len(ranges), MAX_CONFIRM_RANGES):
                body = stored_payload(ranges[i:i + MAX_CONFIRM_RANGES])
                try:
                    self.mqtt.publish_nowait(device_topic(site, device, "stored"), body, qos=1)
                except MqttError:  # the session dropped meanwhile, or paho's queue is full
                    self.stats.confirmations_skipped += 1
                    return
            self.stats.confirmations += 1


def stored_payload(ranges: list[list[int]]) -> bytes:
    """``Stored(seqs=ranges)`` as compact JSON, without a model per message (hot path)."""
    return ('{"v":1,"seqs":[' + ",".join(f"[{a},{b}]" for a, b in ranges) + "]}").encode()

