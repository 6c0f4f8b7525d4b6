"""The firmware keeps readings until ingest confirms them stored: a broker killed (-9, no
checkpoint) with readings it had PUBACKed but not delivered loses none of them end to end.
Real MicroPython node, real Mosquitto, real ``greeniot ingest`` process and InfluxDB."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from greeniot.services import InfluxProcess, MosquittoProcess
from tests.firmware.test_nodes import MakeNode
from tests.helpers import poll
from tests.ingest.faultkit import IngestProcess

pytestmark = [pytest.mark.firmware, pytest.mark.services]


def stored_seqs(influx: InfluxProcess, db: str, device: str) -> list[int]:
    r = httpx.get(f"{influx.url}/query", params={
        "db": db, "q": f"SELECT seq FROM soil WHERE device='{device}'"})
    r.raise_for_status()
    series = r.json()["results"][0].get("series") or []
    return sorted(v[1] for s in series for v in s["values"])


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "puback-only"])
def test_readings_survive_a_broker_kill_only_when_confirmed(
        confirm: bool, tmp_path: Path, make_node: MakeNode, influxdb: InfluxProcess) -> None:
    broker = MosquittoProcess(tmp_path / "broker").start()
    db = f"fwconfirm_{int(confirm)}"
    env = {"GREENIOT_DATA_DIR": str(tmp_path / "data"),
           "GREENIOT_MQTT__PORT": str(broker.port), "GREENIOT_MQTT__CLIENT_ID": "fw",
           "GREENIOT_INFLUX__URL": influxdb.url, "GREENIOT_INFLUX__DATABASE": db,
           "GREENIOT_INFLUX__FLUSH_INTERVAL_S": "0.1", "GREENIOT_LOG_LEVEL": "INFO",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    ingest = IngestProcess(tmp_path / "ingest", env).start()
    node = make_node("soil", "soil", broker.port, sleep=False, interval_s=0.2,
                     stored_confirm=confirm, stored_timeout_s=1.5)
    try:
        node.start()
        dev = node.device
        poll(lambda: len(stored_seqs(influxdb, db, dev)) >= 3, timeout_s=30, what="live")
        ingest.stop()  # the broker now queues the node's readings in memory for ingest
        first_unstored = max(stored_seqs(influxdb, db, dev)) + 1
        poll(lambda: node.hal_state().get("seq", 0) >= first_unstored + 8, timeout_s=30,
             what="readings the broker holds only in memory")
        broker.kill()  # SIGKILL, no SIGUSR1: its store on disk predates these readings
        broker = MosquittoProcess(tmp_path / "broker", port=broker.port).start()
        ingest.start()
        target = node.hal_state()["seq"] + 5
        poll(lambda: max(stored_seqs(influxdb, db, dev), default=0) >= target, timeout_s=60,
             what="readings after the broker came back")
        got = stored_seqs(influxdb, db, dev)
        missing = sorted(set(range(got[-1] + 1)) - set(got))
        if confirm:
            assert missing == [], f"lost {missing}"
            assert len(got) == len(set(got))
        else:  # the control: what trusting the PUBACK loses
            assert missing, "expected the broker kill to lose readings without confirmation"
    finally:
        node.stop(timeout_s=3)
        ingest.stop()
        broker.stop()
