"""Fault injection on the real services, counted by (device, seq) in InfluxDB.

One rig: its own Mosquitto, an InfluxDB, N ``greeniot ingest`` processes (real processes, so
kill -9 is real), and a sender that keeps every reading until ingest confirms it
(``greeniot.simulators.confirmed``). A fault is injected while the sender is part-way through; then
the run waits until everything is confirmed and stored, and counts: lost = readings sent whose
(device, seq) is not in InfluxDB; duplicated = points beyond one per (device, seq).

Used by tests/ingest/test_fault_suite.py (20k readings) and benchmarks/faults.py (1M).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from greeniot.ingest.spool import Spool, SpoolBusyError
from greeniot.protocol import SoilReading, encode
from greeniot.services import InfluxProcess, MosquittoProcess
from greeniot.services.process import ChildService, free_port
from greeniot.simulators.confirmed import ConfirmedSender, stored_filter
from greeniot.simulators.publisher import Publisher

FAULTS = ("ingest_kill3", "broker_kill", "broker_restart", "influx_down", "worker_kill")


class IngestProcess(ChildService):
    """``greeniot ingest`` as a child process with its own ``GREENIOT_*`` environment."""

    name = "ingest"

    def __init__(self, workdir: Path, env: dict[str, str], worker: int = 0) -> None:
        self.name = f"ingest-{worker}"
        super().__init__(workdir)
        self.env = env
        self.worker = worker
        self._log_from = 0

    def argv(self) -> list[str]:
        env = [f"{k}={v}" for k, v in sorted(self.env.items())]
        return ["env", *env, sys.executable, "-m", "greeniot", "ingest", "--worker",
                str(self.worker)]

    def start(self, timeout_s: float = 60.0) -> ChildService:
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        return super().start(timeout_s)

    def ready(self) -> bool:
        with open(self.log_path, "rb") as fh:
            fh.seek(self._log_from)
            return b"ingest started" in fh.read()


@dataclass(frozen=True, slots=True)
class FaultResult:
    fault: str
    readings: int
    stored: int  # distinct (device, seq) in InfluxDB
    points: int
    resent: int
    max_wait_s: float  # longest first-send → confirmation
    elapsed_s: float
    #: lines left unwritten in the spools of workers that are not running (confirmed to the
    #: sender, so lost unless a live worker drains them: ingest/orphans.py)
    stranded: int = 0
    #: lines a live worker wrote from a stopped worker's spool (lost before ingest/orphans.py
    #: if the stopped worker had confirmed them)
    adopted: int = 0
    #: longest confirmation wait before the first injection [s]: the latency of this machine
    #: at this moment, the baseline for the wait the fault adds
    max_wait_before_s: float = 0.0

    @property
    def lost(self) -> int:
        return self.readings - self.stored

    @property
    def duplicated(self) -> int:
        return self.points - self.stored

    def line(self) -> str:
        return (f"{self.fault}: readings={self.readings} lost={self.lost} "
                f"duplicated points={self.duplicated} stranded={self.stranded} "
                f"adopted from the dead worker's spool={self.adopted} "
                f"resent={self.resent} "
                f"max confirm wait={self.max_wait_s:.1f} s "
                f"(before the fault {self.max_wait_before_s:.1f} s) elapsed={self.elapsed_s:.1f} s "
                f"({self.readings / self.elapsed_s:,.0f} readings/s)")


def counts(influx_url: str, db: str) -> tuple[int, int]:
    """(distinct (device, seq), points) of measurement soil."""
    q = ("SELECT count(seq) AS n FROM soil GROUP BY device; "
         "SELECT count(distinct(seq)) AS n FROM soil GROUP BY device")
    resp = httpx.get(f"{influx_url}/query", params={"db": db, "q": q}, timeout=60)
    resp.raise_for_status()
    res = resp.json()["results"]
    total = [sum(s["values"][0][1] for s in r.get("series", []) or []) for r in res]
    return int(total[1]), int(total[0])


class Rig:
    def __init__(self, root: Path, *, fault: str, influx: InfluxProcess | None = None,
                 database: str = "faults", workers: int | None = None,
                 outage_s: float = 5.0, resend_s: float | None = 3.0,
                 victim_writes: bool = True) -> None:
        """``victim_writes=False`` (worker_kill): the worker to be killed cannot reach InfluxDB,
        so everything it confirms stays in its spool until it is killed — the loss window of
        a dead worker's spool, made as wide as it gets."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")
        self.root = root
        self.fault = fault
        self.outage_s = outage_s
        #: None: the control run — the sender trusts the broker's PUBACK and never resends.
        self.resend_s = resend_s
        self.broker = MosquittoProcess(root / "broker")
        if fault == "broker_kill":
            # The shipped 10 s autosave may or may not fall before the kill; an hour makes sure
            # the broker saved nothing since it started — the whole backlog is at risk.
            conf = self.broker.conf_path.read_text()
            self.broker.conf_path.write_text(
                conf.replace("autosave_interval 10", "autosave_interval 3600"))
        self.wait_before_s = 0.0
        self.own_influx = influx is None or fault == "influx_down"
        self.influx = InfluxProcess(root / "influx") if self.own_influx else influx
        assert self.influx is not None
        self.database = database
        n = workers if workers is not None else (2 if fault == "worker_kill" else 1)
        env = {
            "GREENIOT_DATA_DIR": str(root / "data"),
            "GREENIOT_MQTT__PORT": str(self.broker.port),
            "GREENIOT_MQTT__CLIENT_ID": "faults",
            "GREENIOT_INFLUX__URL": self.influx.url,
            "GREENIOT_INFLUX__DATABASE": database,
            "GREENIOT_INFLUX__FLUSH_INTERVAL_S": "0.1",
            "GREENIOT_LOG_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        if n > 1:
            env["GREENIOT_MQTT__SHARE_GROUP"] = "ingest"
        self.workers = [IngestProcess(root / f"ingest-{w}", env, worker=w + 1 if n > 1 else 0)
                        for w in range(n)]
        if not victim_writes:
            self.workers[-1].env = {**env, "GREENIOT_INFLUX__URL": f"http://127.0.0.1:{free_port()}"}

    def __enter__(self) -> Rig:
        self.broker.start()
        if self.own_influx:
            self.influx.start()
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.stop()
        self.broker.stop()
        if self.own_influx:
            self.influx.stop()

    # -- faults (blocking; run in a thread) ------------------------------------------------
    def inject(self, step: int) -> None:
        """The fault's ``step``-th action (ingest_kill3 has three, the others one)."""
        if self.fault == "ingest_kill3":
            w = self.workers[0]
            w.kill()
            w.start()
        elif self.fault == "broker_kill":
            # Mid-backlog by construction: ingest pauses (gracefully, its session stays) while
            # the sender goes on, so the broker holds PUBACKed readings only in memory...
            for w in self.workers:
                w.stop()
            time.sleep(1.5)
            self.broker.kill()  # ...then SIGKILL, no SIGUSR1 checkpoint before it
            self.broker.start()
            for w in self.workers:
                w.start()
        elif self.fault == "broker_restart":
            self.broker.stop()
            self.broker.start()
        elif self.fault == "influx_down":
            self.influx.stop()
            time.sleep(self.outage_s)
            self.influx.start()
        elif self.fault == "worker_kill":
            self.workers[-1].kill()  # not restarted: the survivor carries on alone

    @property
    def steps(self) -> tuple[float, ...]:
        """When to inject, as fractions of the readings sent."""
        return (0.25, 0.5, 0.75) if self.fault == "ingest_kill3" else (0.4,)

    # -- the run ----------------------------------------------------------------------------
    def run(self, readings: int, *, devices: int = 100, timeout_s: float = 300.0,
            progress: Callable[[str], None] | None = None) -> FaultResult:
        t0 = time.monotonic()
        sender_stats = asyncio.run(self._send(readings, devices, timeout_s, progress))
        resent, max_wait = sender_stats
        deadline = time.monotonic() + timeout_s
        stored, points = counts(self.influx.url, self.database)
        last_change = time.monotonic()
        while stored < readings and time.monotonic() < deadline:
            time.sleep(0.25)
            now = counts(self.influx.url, self.database)
            if now != (stored, points):
                last_change = time.monotonic()
            stored, points = now
            if self.resend_s is None and time.monotonic() - last_change > 5:
                break  # control run: nothing more will come
        while True:  # the two counts of one query may straddle a write: count until steady
            time.sleep(0.3)
            again = counts(self.influx.url, self.database)
            if again == (stored, points):
                break
            stored, points = again
        return FaultResult(self.fault, readings, stored, points, resent, max_wait,
                           time.monotonic() - t0, self.stranded(), self.adopted(),
                           self.wait_before_s)

    def adopted(self) -> int:
        """Lines the workers wrote from stopped siblings' spools (from their logs)."""
        n = 0
        for w in self.workers:
            text = w.log_path.read_text(errors="replace") if w.log_path.exists() else ""
            n += sum(int(x) for x in re.findall(r"wrote (\d+) lines from the spool of a stopped",
                                                text))
        return n

    def stranded(self) -> int:
        """Unwritten lines in the spools of workers that are not running now."""
        n = 0
        for w in self.workers:
            if w.running:
                continue
            for d in (self.root / "data" / "spool").glob("ingest*"):
                if d.name != f"ingest-{w.worker}":
                    continue
                try:
                    spool = Spool(d, lock_wait_s=5.0)  # a sibling may be draining it
                except SpoolBusyError:
                    continue
                try:
                    chunk = spool.read(10_000_000, max_bytes=1 << 30)
                    n += chunk.lines if chunk else 0
                finally:
                    spool.close()
        return n

    async def _send(self, readings: int, devices: int, timeout_s: float,
                    progress: Callable[[str], None] | None) -> tuple[int, float]:
        site = "faults"
        base_ms = int(time.time() * 1000) - readings // devices * 10 - 60_000
        steps = list(self.steps)
        injections: list[asyncio.Task[None]] = []
        async with (Publisher(host="127.0.0.1", port=self.broker.port, client_id="faults-pub",
                              subscriptions=[stored_filter(site)], max_inflight=1000) as pub,
                    ConfirmedSender(pub, resend_s=self.resend_s or 1e9,
                                    max_pending=100_000) as sender):
            for i in range(readings):
                d, seq = i % devices, i // devices
                msg = SoilReading(seq=seq, ts_ms=base_ms + 10 * seq, vwc_pct=20.0 + i % 13)
                await sender.send(f"greeniot/v1/{site}/d{d:04d}/soil", encode(msg), seq)
                if steps and i >= steps[0] * readings:
                    step = len(self.steps) - len(steps)
                    if step == 0:
                        self.wait_before_s = sender.stats.max_wait_s
                    steps.pop(0)
                    if progress:
                        progress(f"{self.fault} step {step} at {i} sent, "
                                 f"{sender.pending} unconfirmed")
                    # Wait for the previous one, so ingest kills never overlap.
                    if injections:
                        await injections[-1]
                    injections.append(asyncio.create_task(asyncio.to_thread(self.inject, step)))
            for t in injections:
                await t
            if self.resend_s is None:
                await pub.drain(timeout_s)
                return 0, 0.0
            await sender.wait_confirmed(timeout_s)
            return sender.stats.resent, sender.stats.max_wait_s
