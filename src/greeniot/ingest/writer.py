"""Spool → InfluxDB, committing the spool cursor only after the server took the batch.

Up to ``concurrency`` chunks are written at once (InfluxDB parses requests on several cores,
and one writer waits on each answer); the cursor follows the writes in order, so it never
passes a chunk that is not stored.

Counts are in lines. When InfluxDB refuses part of a batch (400 ``partial write`` / ``unable
to parse``: it stored the valid points and dropped the others, without saying which), the batch
is bisected and the halves written again until each refused line stands alone: the others are
counted as written (rewriting them is harmless: a point overwrites itself), the refused ones as
refused and logged. Strict input (greeniot.protocol) makes such a line a bug, not a routine.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time

from greeniot.ingest.spool import Chunk, Spool
from greeniot.ingest.stats import IngestStats
from greeniot.reachable import influx_dependency
from greeniot.store.errors import RejectedWriteError, RetryableWriteError
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import PRECISION

log = logging.getLogger(__name__)

#: Chunks written at once by default (benchmarks/ingest_throughput.py gives InfluxDB alone the
#: same, so that its baseline is what this writer could reach).
WRITES_IN_FLIGHT = 3


class SpoolWriter:
    def __init__(self, spool: Spool, influx: InfluxClient, stats: IngestStats, *,
                 batch_lines: int, flush_interval_s: float, max_backoff_s: float = 10.0,
                 concurrency: int = WRITES_IN_FLIGHT) -> None:
        self.spool = spool
        self.influx = influx
        self.stats = stats
        self.batch_lines = batch_lines
        self.flush_interval_s = flush_interval_s
        self.max_backoff_s = max_backoff_s
        self.concurrency = concurrency
        self.wakeup = asyncio.Event()
        self._failing = False

    async def run(self) -> None:
        """Write until cancelled: up to ``concurrency`` chunks in flight, each retried with
        capped, jittered backoff until stored; the cursor follows them in order."""
        inflight: collections.deque[tuple[Chunk, asyncio.Task[None]]] = collections.deque()
        try:
            while True:
                while len(inflight) < self.concurrency:
                    chunk = self.spool.read(self.batch_lines,
                                            after=inflight[-1][0] if inflight else None)
                    if chunk is None:
                        break
                    inflight.append((chunk, asyncio.create_task(self._store(chunk))))
                if not inflight:
                    self.wakeup.clear()
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                    # that races its timeout, and this loop would then never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.flush_interval_s):
                            await self.wakeup.wait()
                    continue
                chunk, task = inflight[0]
                if len(inflight) < self.concurrency and not task.done():
                    # room for more: wake on the oldest write or on new lines, whichever first
                    self.wakeup.clear()
                    waker = asyncio.ensure_future(self.wakeup.wait())
                    await asyncio.wait((task, waker), return_when=asyncio.FIRST_COMPLETED)
                    waker.cancel()
                    if not task.done():
                        continue
                await task
                inflight.popleft()
                self.spool.commit(chunk)  # every chunk before it is committed already
                if not inflight and self.spool.pending_bytes() == 0:
                    self.stats.spooled_since_ms = None
        finally:
            for _, task in inflight:
                task.cancel()

    async def _store(self, chunk: Chunk) -> None:
        """Write one chunk until InfluxDB answered for every line (stored or refused)."""
        backoff = 0.1
        while True:
            t0 = time.perf_counter()
            try:
                written, refused = await self._write(chunk.data, chunk.lines)
            except RetryableWriteError as err:
                self.stats.write_retries += 1
                if not self._failing:
                    log.warning("%s; the spool keeps the readings meanwhile",
                                influx_dependency(self.influx.settings).unreachable(err))
                    self._failing = True
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            self.stats.lines_written += written
            self.stats.lines_refused += refused
            self.stats.writes += 1
            self.stats.write_s += time.perf_counter() - t0
            if self._failing:
                log.info("influx writes recovered; pending %d bytes", self.spool.pending_bytes())
                self._failing = False
            return

    async def _write(self, data: bytes, lines: int) -> tuple[int, int]:
        """Write ``data`` (``lines`` whole lines): (lines written, lines refused for good).

        RetryableWriteError passes up: the caller retries the whole chunk.
        """
        try:
            await self.influx.write(data, precision=PRECISION)
            return lines, 0
        except RejectedWriteError as err:
            if lines <= 1:
                log.error("influx refused line %r: %s", data[:200], err)
                return 0, lines
        parts = data.splitlines(keepends=True)
        half = len(parts) // 2
        a = await self._write(b"".join(parts[:half]), half)
        b = await self._write(b"".join(parts[half:]), len(parts) - half)
        return a[0] + b[0], a[1] + b[1]

    async def flush(self, timeout_s: float) -> bool:
        """Wait until the spool is empty (True) or the deadline passes (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.spool.pending_bytes() > 0:
            if loop.time() > deadline:
                return False
            self.wakeup.set()
            await asyncio.sleep(0.02)
        return True
