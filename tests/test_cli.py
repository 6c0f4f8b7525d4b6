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
           "GREENIOT_MQTT__CLIENT_ID": settings.mqtt.client_id,
           "GREENIOT_AUTH__SECRET": "cli-test-secret-" + "k" * 32}
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


def test_api_command_serves_health_and_stops_cleanly(own_broker_settings: Settings,
                                                     tmp_path: Path) -> None:
    settings = own_broker_settings  # no other test's retained analytics liveness
    port = free_port()
    proc = greeniot(["api", "--influx-url", settings.influx.url, "--port", str(port)],
                    settings, tmp_path)
    try:
        def healthy() -> dict | None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            except httpx.HTTPError:
                return None
            body = r.json()
            # no `greeniot analytics` runs here: degraded for that alone, naming it
            return body if body.get("mqtt") == "ok" else None

        health = poll(healthy, timeout_s=30, interval_s=0.2, what="the API")
    finally:
        code, out = stop(proc)
    assert health["db"] == "ok" and health["influx"] == "ok"
    assert health["status"] == "degraded" and "no analytics process" in health["analytics"]
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


def test_users_add_list_disable_and_key(tmp_path: Path) -> None:
    """``greeniot users`` against a registry file; what it writes the API accepts."""
    from typer.testing import CliRunner

    from greeniot.cli import app
    from greeniot.registry import accounts
    from greeniot.registry.db import engine_from_url, session_factory

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "d")]
    r = runner.invoke(app, ["users", "add", "li", "--role", "crew", "--locale", "en",
                            "--site", "estate-a", *data], input="camphor-laurel\ncamphor-laurel\n")
    assert r.exit_code == 0 and "added person li (crew)" in r.output, r.output
    r = runner.invoke(app, ["users", "add", "gis", "--role", "operator", "--service", *data])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "li", "--role", "crew", "--password", "x" * 9,
                            *data])
    assert r.exit_code != 0 and "user 'li' already exists" in r.output
    r = runner.invoke(app, ["users", "add", "boss", "--role", "king", "--password", "x" * 9,
                            *data])
    assert r.exit_code != 0 and "role 'king' is not one of" in r.output
    key = runner.invoke(app, ["users", "key", "gis", "--name", "sync", *data]).output.strip()
    assert key.startswith("gk_")
    assert runner.invoke(app, ["users", "disable", "li", *data]).exit_code == 0
    lines = runner.invoke(app, ["users", "list", *data]).output.splitlines()
    assert lines == ["gis\toperator\tservice\tzh_Hans\t*\tactive",
                     "li\tcrew\tperson\ten\testate-a\tdisabled"]
    engine = engine_from_url(f"sqlite:///{tmp_path / 'd' / 'registry.sqlite3'}")
    with session_factory(engine)() as s:
        assert accounts.resolve_token(s, key) is not None
        assert accounts.authenticate(s, username="li", password="camphor-laurel") is None
    engine.dispose()


def test_api_refuses_to_start_without_its_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENIOT_AUTH")}
    out = subprocess.run([sys.executable, "-m", "greeniot", "api", "--data-dir",
                          str(tmp_path / "d")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "GREENIOT_AUTH__SECRET is required" in out.stdout + out.stderr
