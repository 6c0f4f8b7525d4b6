"""Keep every reading until ingest confirms it durable, and resend what stays unconfirmed.

The end-to-end half of the delivery guarantee (docs/architecture.md): a broker's PUBACK means
only that the broker has the message in memory, and a broker crash loses what it had not yet
saved or delivered. Ingest publishes ``greeniot/v1/{site}/{device}/stored`` with the seqs it
holds durably; this sender drops an entry only when such a confirmation covers its
``(device, seq)``, and republishes entries older than ``resend_s`` (the firmware outbox does
the same). A resent reading that was stored after all overwrites its own point in InfluxDB.

While no confirmation at all comes back, ingest is away (restarting, or its broker session
backlogged): resending everything every ``resend_s`` then only piles duplicates onto the queue
it must work through when it returns (20k readings with ingest killed three times were resent
100,000-170,000 times on a loaded machine, and the restarts slowed until one missed its start
deadline). So in such a round only the ``probe`` oldest due entries are resent; once
confirmations flow again, all that is due goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from greeniot.simulators.publisher import Publisher

log = logging.getLogger(__name__)

STORED_SUFFIX = "/stored"


@dataclass(slots=True, eq=False)
class _Entry:
    topic: str
    payload: bytes
    sent_at: float
    first_sent: float
    left: set[int]  # seqs it carries that are not yet confirmed


@dataclass(slots=True)
class SenderStats:
    sent: int = 0
    resent: int = 0
    confirmed: int = 0
    confirmations: int = 0
    bad_confirmations: int = 0
    #: Longest time from first send to confirmation [s].
    max_wait_s: float = 0.0


def stored_filter(site: str) -> str:
    """The filter a sender of ``site`` subscribes to."""
    return f"greeniot/v1/{site}/+/stored"


class ConfirmedSender:
    """Wraps a :class:`Publisher` subscribed to :func:`stored_filter` of its sites.

    ``async with ConfirmedSender(pub, resend_s=30) as s: await s.send(topic, payload, seq)``;
    ``await s.wait_confirmed(timeout_s)`` returns once nothing is pending.
    """

    def __init__(self, pub: Publisher, *, resend_s: float = 30.0,
                 max_pending: int = 1_000_000, receive: bool = True, probe: int = 100) -> None:
        if resend_s <= 0:
            raise ValueError(f"resend_s must be > 0, got {resend_s}")
        self.pub = pub
        self.resend_s = resend_s
        self.max_pending = max_pending
        #: entries resent per round while no confirmation comes back
        self.probe = probe
        self.stats = SenderStats()
        #: device topic prefix ``greeniot/v1/{site}/{device}`` → seq → entry (a batch payload is
        #: one entry under each of its seqs)
        self._pending: dict[str, dict[int, _Entry]] = {}
        self._count = 0  # entries (payloads) not yet fully confirmed
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: False: the caller reads ``pub.incoming`` itself and hands confirmations to
        #: :meth:`handle` (when the same session also receives commands).
        self._receive = receive

    @property
    def pending(self) -> int:
        return self._count

    async def __aenter__(self) -> ConfirmedSender:
        self._tasks = [asyncio.create_task(self._resend(), name="confirm-resend")]
        if self._receive:
            self._tasks.append(asyncio.create_task(self._receive_loop(), name="confirm-receive"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def send(self, topic: str, payload: bytes, seq: int | Sequence[int]) -> None:
        """Publish a reading (or a batch carrying several seqs), QoS 1, and keep it until every
        seq it carries is confirmed."""
        while self._count >= self.max_pending:
            self._changed.clear()
            await self._changed.wait()
        seqs = {seq} if isinstance(seq, int) else set(seq)
        if not seqs:
            raise ValueError("send: a confirmed payload needs at least one seq")
        prefix = topic.rsplit("/", 1)[0]
        now = time.monotonic()
        entry = _Entry(topic, payload, now, now, seqs)
        entries = self._pending.setdefault(prefix, {})
        for s in seqs:
            old = entries.get(s)
            if old is not None:  # the same seq sent again: the new payload replaces it
                old.left.discard(s)
                if not old.left:
                    self._count -= 1
            entries[s] = entry
        self._count += 1
        self.stats.sent += 1
        await self.pub.publish(topic, payload)

    async def wait_confirmed(self, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while self._count:
                self._changed.clear()
                await self._changed.wait()

    def _confirm(self, prefix: str, ranges: list[list[int]]) -> None:
        entries = self._pending.get(prefix)
        if not entries:
            return
        now = time.monotonic()
        for lo, hi in ranges:
            if hi - lo < len(entries):
                keys = [s for s in range(lo, hi + 1) if s in entries]
            else:
                keys = [s for s in entries if lo <= s <= hi]
            for s in keys:
                entry = entries.pop(s)
                entry.left.discard(s)
                self.stats.confirmed += 1
                if not entry.left:
                    self._count -= 1
                    self.stats.max_wait_s = max(self.stats.max_wait_s, now - entry.first_sent)
        self._changed.set()

    def handle(self, topic: str, payload: bytes) -> bool:
        """Take one incoming message; True if it was a confirmation (consumed)."""
        if not topic.endswith(STORED_SUFFIX):
            return False
        try:
            body = json.loads(payload)
            ranges = [[int(lo), int(hi)] for lo, hi in body["seqs"]]
        except (ValueError, KeyError, TypeError):
            self.stats.bad_confirmations += 1
            return True
        self.stats.confirmations += 1
        self._confirm(topic[: -len(STORED_SUFFIX)], ranges)
        return True

    async def _receive_loop(self) -> None:
        while True:
            topic, payload = await self.pub.incoming.get()
            self.handle(topic, payload)

    async def _resend(self) -> None:
        tick = min(self.resend_s / 4, 1.0)
        seen = self.stats.confirmations
        while True:
            await asyncio.sleep(tick)
            cutoff = time.monotonic() - self.resend_s
            due = list({id(e): e for entries in self._pending.values()
                        for e in entries.values() if e.sent_at < cutoff}.values())
            flowing, seen = self.stats.confirmations != seen, self.stats.confirmations
            if len(due) > self.probe and not flowing:  # ingest is away: probe, do not flood
                due = sorted(due, key=lambda e: e.sent_at)[:self.probe]
            if due:
                log.info("resending %d unconfirmed readings", len(due))
            now = time.monotonic()
            for e in due:
                e.sent_at = now
                self.stats.resent += 1
                await self.pub.publish(e.topic, e.payload)
