"""The fault suite (CI size, 20k readings per fault): ingest kill -9 x3, broker kill -9 (no
checkpoint before it), broker restart, InfluxDB down, one of two workers kill -9. Each run
counts lost = 0 and duplicated points = 0 by (device, seq) in InfluxDB.

The 1M-reading twin is benchmarks/faults.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.ingest.spool import Spool
from greeniot.services import InfluxProcess
from tests.helpers import apoll
from tests.ingest.faultkit import FAULTS, Rig
from tests.ingest.test_service import influx_rows

pytestmark = pytest.mark.services

READINGS = 20_000


# worker_kill once lost 6 of 20,000 readings under load: the killed worker had confirmed them
# (fsynced in its spool) but not yet written them to InfluxDB, and no one drained its spool.
# A live sibling now does (ingest/orphans.py); ``stranded`` counts what is left there.
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_loses_nothing_and_duplicates_nothing(fault: str, tmp_path: Path,
                                                    influxdb: InfluxProcess) -> None:
    db = f"faults_{fault}"
    with Rig(tmp_path, fault=fault, influx=influxdb, database=db, outage_s=5.0,
             resend_s=3.0) as rig:
        result = rig.run(READINGS, timeout_s=120, progress=print)
    print(result.line())
    assert result.lost == 0, result.line()
    assert result.duplicated == 0, result.line()
    assert result.stranded == 0, result.line()
    if fault == "worker_kill":
        # No reading waits for the dead worker (it is never restarted): the survivor takes
        # over at once and what the dead one held unconfirmed comes back after the sender's
        # resend timeout (3 s here). How long that takes is latency, the benchmark's to
        # measure (benchmarks/faults.py prints it; on 2 cores at a load of 19 it reached
        # 22.5 s here, 3.2 s before the kill): this bound only tells "taken over" from
        # "held hostage until the worker returns", which would never end.
        assert result.max_wait_s < 60, result.line()


def test_worker_kill_whose_spool_was_never_written_loses_nothing(
        tmp_path: Path, influxdb: InfluxProcess) -> None:
    """The killed worker cannot reach InfluxDB: all it confirmed is in its spool alone when it
    dies. The survivor writes that spool (before ingest/orphans.py this was all lost)."""
    with Rig(tmp_path, fault="worker_kill", influx=influxdb, database="faults_victim_spool",
             resend_s=3.0, victim_writes=False) as rig:
        result = rig.run(READINGS, timeout_s=120)
    print(result.line())
    assert result.adopted > 0, result.line()  # the window was open...
    assert result.lost == 0 and result.stranded == 0, result.line()  # ...and closed
    assert result.duplicated == 0, result.line()


def test_control_trusting_the_broker_puback_loses_readings_at_a_broker_kill(
        tmp_path: Path, influxdb: InfluxProcess) -> None:
    """Without the end-to-end confirmation the same broker kill -9 loses readings the broker
    had acknowledged — the window the suite above closes (and proof that it can fail)."""
    with Rig(tmp_path, fault="broker_kill", influx=influxdb, database="faults_control",
             resend_s=None) as rig:
        result = rig.run(READINGS, timeout_s=60)
    print(result.line())
    assert result.lost > 0, result.line()


def test_a_live_worker_drains_the_spool_of_a_dead_sibling(settings: Settings,
                                                          site_id: str) -> None:
    """Lines a dead worker confirmed but never wrote (its spool's tail) are written by a live
    sibling; the spool of a live worker (its lock held) is left alone."""
    s = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(
        update={"share_group": f"g-{site_id}"})})
    now = int(time.time() * 1000)

    def lines(device: str, n: int) -> list[str]:
        return [f"soil,device={device},site={site_id} vwc_pct=21.5,seq={i}i {now + i}"
                for i in range(n)]

    dead = Spool(s.spool_dir / "ingest-2")
    dead.append(lines("dead-1", 50))
    dead.close()  # as a kill -9 leaves it: lines past the cursor, the lock released
    live = Spool(s.spool_dir / "ingest-3")  # a running sibling holds its lock
    live.append(lines("live-1", 5))

    async def scenario() -> int:
        async with IngestService(s, worker=1) as svc:
            svc.orphans.every_s = 0.2
            await apoll(lambda: influx_rows(s, "SELECT count(vwc_pct) FROM soil WHERE "
                                               "device = 'dead-1'"), timeout_s=30, thread=True,
                        what="the dead worker's spool in InfluxDB")
            await asyncio.sleep(1.0)  # a few more rounds: the live spool must stay untouched
            return svc.orphans.drained

    try:
        drained = asyncio.run(scenario())
        assert influx_rows(s, "SELECT count(vwc_pct) FROM soil WHERE device = 'dead-1'"
                           )[0]["count"] == 50
        assert influx_rows(s, "SELECT count(vwc_pct) FROM soil WHERE device = 'live-1'") == []
        assert drained == 50
        assert live.pending_bytes() > 0
    finally:
        live.close()
    again = Spool(s.spool_dir / "ingest-2", lock_wait_s=0)
    assert again.pending_bytes() == 0  # its cursor was committed: a restart writes nothing twice
    again.close()
