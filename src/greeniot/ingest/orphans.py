"""Drain the spool of an ingest worker that died, from a live sibling.

A worker confirms a reading to its device (``.../stored``) once the reading is fsynced in its
own spool, before InfluxDB has it. If that worker is killed and not restarted, the readings
between its spool cursor and its spool's end are confirmed — the device has dropped them — but
no one writes them: with two workers in a shared subscription and one ``kill -9`` mid-stream
this lost a handful of readings under load (issue 8). So every worker looks at its siblings'
spools (``{spool_dir}/ingest*``) now and then; a spool whose lock is free has no live owner
(:mod:`greeniot.ingest.spool`), and the worker drains it into InfluxDB, holding the lock for at
most ``hold_s`` at a time so a restarting owner is not kept waiting for long.

This covers workers that share a data directory (one host, or a shared volume). Workers on
separate disks drain their own spool when they restart (the deployment restarts them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from greeniot.ingest.spool import Spool, SpoolBusyError
from greeniot.ingest.stats import IngestStats
from greeniot.ingest.writer import SpoolWriter
from greeniot.store.influx import InfluxClient

log = logging.getLogger(__name__)


class OrphanDrainer:
    """``asyncio.create_task(OrphanDrainer(spool_dir, own_dir, influx, stats).run())``"""

    def __init__(self, root: Path, own: Path, influx: InfluxClient, stats: IngestStats, *,
                 batch_lines: int, every_s: float = 2.0, hold_s: float = 10.0) -> None:
        self.root = Path(root)
        self.own = Path(own).resolve()
        self.influx = influx
        self.stats = stats
        self.batch_lines = batch_lines
        self.every_s = every_s
        self.hold_s = hold_s
        #: lines written from other workers' spools
        self.drained = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            for d in sorted(self.root.glob("ingest*")):
                if d.is_dir() and d.resolve() != self.own:
                    await self.drain(d)

    async def drain(self, directory: Path) -> int:
        """Write what ``directory``'s spool holds if no live process owns it; lines written."""
        try:
            spool = await asyncio.to_thread(Spool, directory, lock_wait_s=0)
        except SpoolBusyError:
            return 0  # its worker is alive (or another sibling is draining it)
        except OSError as err:
            log.warning("spool %s not checked: %s", directory, err)
            return 0
        try:
            if not spool.pending_bytes():
                return 0
            before = self.stats.lines_written
            writer = SpoolWriter(spool, self.influx, self.stats, batch_lines=self.batch_lines,
                                 flush_interval_s=0.05)
            task = asyncio.create_task(writer.run(), name="ingest-orphan-writer")
            try:
                done = await writer.flush(self.hold_s)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            n = self.stats.lines_written - before
            self.drained += n
            log.info("wrote %d lines from the spool of a stopped worker (%s)%s", n,
                     directory.name, "" if done else "; more left for the next round")
            return n
        finally:
            spool.close()
