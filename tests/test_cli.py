"""The CLI's long-running commands as real processes: they start, work, and stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from greeniot.config import Settings
from greeniot.protocol import SoilReading, encode
from greeniot.services import free_port
from tests.helpers import Publisher, poll
from tests.ingest.test_service import seqs


def greeniot(args: list[str], settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GREENIOT_INFLUX__DATABASE": settings.influx.database,
           "GREENIOT_MQTT__CLIENT_ID": settings.mqtt.client_id}
    return subprocess.Popen(
        [sys.executable, "-m", "greeniot", *args, "--mqtt-port", str(settings.mqtt.port),
         "--data-dir", str(tmp_path / "cli-data")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"did not stop on SIGTERM:\n{out.decode()[-2000:]}") from None
    return proc.returncode, out.decode()


def test_ingest_command_stores_readings_and_stops_cleanly(settings: Settings, site_id: str,
                                                          tmp_path: Path) -> None:
    proc = greeniot(["ingest", "--influx-url", settings.influx.url], settings, tmp_path)
    try:
        now = int(time.time() * 1000)
        pub = Publisher(settings.mqtt.port)
        # Until ingest has subscribed, a QoS 1 message to nobody is dropped: keep publishing
        # the same readings (idempotent) until they are stored.
        def stored() -> bool:
            pub.publish_many([(f"greeniot/v1/{site_id}/cli-soil/soil",
                               encode(SoilReading(seq=i, ts_ms=now + i, vwc_pct=22.0)))
                              for i in range(5)])
            return seqs(settings, "soil", "cli-soil") == list(range(5))

        poll(stored, timeout_s=30, interval_s=0.3, what="readings via `greeniot ingest`")
        pub.close()
    finally:
        code, out = stop(proc)
    assert code == 0, out
    assert "ingest stopped" in out


def test_api_command_serves_health_and_stops_cleanly(settings: Settings,
                                                     tmp_path: Path) -> None:
    port = free_port()
    proc = greeniot(["api", "--influx-url", settings.influx.url, "--port", str(port)],
                    settings, tmp_path)
    try:
        def healthy() -> dict | None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            except httpx.HTTPError:
                return None
            return r.json() if r.status_code == 200 else None

        health = poll(healthy, timeout_s=30, interval_s=0.2, what="the API")
    finally:
        code, out = stop(proc)
    assert health["db"] == "ok" and health["influx"] == "ok"
    assert code == 0, out


def test_analytics_command_starts_and_stops_cleanly(settings: Settings, tmp_path: Path) -> None:
    proc = greeniot(["analytics"], settings, tmp_path)
    poll(lambda: (tmp_path / "cli-data" / "registry.sqlite3").exists(), timeout_s=30,
         what="the registry to be created")
    code, out = stop(proc)
    assert code == 0, out
    assert "Traceback" not in out


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "greeniot", "ingest"],
                         env={**os.environ, "GREENIOT_INFLUX__API": "v2"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "GREENIOT_INFLUX__ORG" in out.stdout + out.stderr


def test_unknown_greeniot_variable_is_refused_by_name() -> None:
    from greeniot.config import unknown_env

    env = {"GREENIOT_MQTT__HOSTX": "x", "GREENIOT_MQTT__HOST": "broker",
           "GREENIOT_DATA_DIR": "/d", "GREENIOT_NOPE": "1", "GREENIOT_LOG_JSON__X": "1",
           "PATH": "/bin"}
    assert unknown_env(env) == ["GREENIOT_LOG_JSON__X", "GREENIOT_MQTT__HOSTX",
                                "GREENIOT_NOPE"]
    out = subprocess.run([sys.executable, "-m", "greeniot", "ingest"],
                         env={**os.environ, "GREENIOT_MQTT__HOSTX": "x"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "GREENIOT_MQTT__HOSTX" in out.stdout + out.stderr
