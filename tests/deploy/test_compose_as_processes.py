"""docker compose, without Docker: the same configurations brought up as local processes.

No container engine runs here, so this test starts what compose would, from the same files:
Mosquitto with deploy/mosquitto/mosquitto.conf and acl (paths moved into a temp folder, a free
port, a password file made with mosquitto_passwd for the compose users, and the device
listener's files made by the provisioning the compose ``provision`` service runs),
InfluxDB with deploy/influxdb/influxdb.conf plus the init script, then ``greeniot ingest``,
``analytics`` and ``api`` with the compose environment and commands (host names and ports
mapped to loopback). It checks that each service's own healthcheck command passes and that a
device's reading travels broker → ingest → InfluxDB under the ACL.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from greeniot.protocol import SoilReading, encode
from greeniot.provision.acl import DeviceId
from greeniot.provision.bundle import Bundle, provision
from greeniot.services import InfluxProcess, MosquittoProcess
from greeniot.services.process import free_port
from tests.deploy.test_compose import DEPLOY, compose, env_of
from tests.helpers import poll

BIN = Path(sys.executable).parent
SECRETS = {"GREENIOT_INGEST_MQTT_PASSWORD": "test-ingest", "GREENIOT_ACTIONS_MQTT_PASSWORD":
           "test-actions", "GRAFANA_ADMIN_PASSWORD": "test-grafana",
           "POSTGRES_PASSWORD": "test-pg", "GREENIOT_DB_URL": "",
           "GREENIOT_AUTH__SECRET": "test-secret-" + "x" * 32}


DEVICE = DeviceId("estate", "soil-1", "soil")


def broker_from_deploy(tmp: Path) -> tuple[MosquittoProcess, Bundle, int]:
    """The broker with both listeners of the shipped config: (broker, device bundle, TLS port)."""
    broker = MosquittoProcess(tmp / "mosquitto")
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    passwd = broker.workdir / "passwd"
    for user, pw in (("greeniot-ingest", "test-ingest"), ("greeniot-actions", "test-actions")):
        flags = ["-b"] if passwd.exists() else ["-c", "-b"]
        subprocess.run(["mosquitto_passwd", *flags, str(passwd), user, pw], check=True)
    device_port = free_port()
    bundle = provision(broker.workdir / "devices", [DEVICE], mqtt_host="127.0.0.1",
                       mqtt_port=device_port, tls=True, tls_hosts=["127.0.0.1"])
    conf = re.sub(r"^listener\s+1883$", f"listener {broker.port} 127.0.0.1", conf, flags=re.M)
    conf = re.sub(r"^listener\s+8883$", f"listener {device_port} 127.0.0.1", conf, flags=re.M)
    conf = conf.replace("/mosquitto/config/devices/", f"{broker.workdir}/devices/")
    conf = conf.replace("/mosquitto/config/passwd", str(passwd))
    conf = conf.replace("/mosquitto/config/acl", str(DEPLOY / "mosquitto" / "acl"))
    conf = conf.replace("/mosquitto/data/", f"{broker.workdir}/data/")
    (broker.workdir / "data").mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # as root Mosquitto drops to user mosquitto, who can't write here
        conf += "\nuser root\n"
    broker.conf_path.write_text(conf)
    return broker, bundle, device_port


def influx_from_deploy(tmp: Path) -> InfluxProcess:
    server = InfluxProcess(tmp / "influxdb")
    conf = (DEPLOY / "influxdb" / "influxdb.conf").read_text()
    conf = conf.replace("/var/lib/influxdb", str(server.workdir))
    conf = re.sub(r'^bind-address = "127.0.0.1:8088"$',
                  f'bind-address = "127.0.0.1:{server.rpc_port}"', conf, flags=re.M)
    conf = conf.replace('bind-address = ":8086"', f'bind-address = "127.0.0.1:{server.port}"')
    server.conf_path.write_text(conf)
    return server


def run_init(url: str, service: dict[str, Any]) -> None:
    """What the influxdb image does on an empty volume: INFLUXDB_DB, then the *.iql files."""
    db = env_of(service)["INFLUXDB_DB"]
    httpx.post(f"{url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    for iql in sorted((DEPLOY / "influxdb" / "init").glob("*.iql")):
        for stmt in iql.read_text().splitlines():
            if stmt.strip() and not stmt.startswith("--"):
                r = httpx.post(f"{url}/query", data={"q": stmt})
                r.raise_for_status()
                assert "error" not in r.text, (stmt, r.text)


def local_env(service: dict[str, Any], *, broker: MosquittoProcess, influx: InfluxProcess,
              data: Path, metrics_port: int) -> dict[str, str]:
    env = env_of(service)
    assert env["GREENIOT_MQTT__HOST"] == "mosquitto" and env["GREENIOT_MQTT__PORT"] == "1883"
    assert env["GREENIOT_INFLUX__URL"] == "http://influxdb:8086"
    env.update(GREENIOT_MQTT__HOST="127.0.0.1", GREENIOT_MQTT__PORT=str(broker.port),
               GREENIOT_INFLUX__URL=influx.url, GREENIOT_DATA_DIR=str(data),
               GREENIOT_METRICS__HOST="127.0.0.1", GREENIOT_METRICS__PORT=str(metrics_port))
    base = {k: v for k, v in os.environ.items() if not k.startswith("GREENIOT_")}
    return base | {k: v for k, v in env.items() if v != ""}


def healthcheck(service: dict[str, Any], port_map: dict[str, str]
                ) -> subprocess.CompletedProcess[str]:
    test = list(service["healthcheck"]["test"])
    assert test[0] == "CMD" and test[1] == "python", test
    code = test[3]
    for container_port, local in port_map.items():
        code = code.replace(f"127.0.0.1:{container_port}/", f"127.0.0.1:{local}/")
    return subprocess.run([sys.executable, test[2], code], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.timeout(240)
def test_compose_configs_start_and_talk(tmp_path: Path) -> None:
    services = compose(SECRETS)["services"]
    (broker, bundle, device_port), influx = broker_from_deploy(tmp_path), \
        influx_from_deploy(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []
    broker.start()
    try:
        influx.start()
        run_init(influx.url, services["influxdb"])
        data = tmp_path / "data"
        ports = {name: free_port() for name in ("ingest", "analytics", "api")}
        logs = {}
        for name in ("ingest", "analytics", "api"):
            svc = services[name]
            cmd = list(svc["command"])
            if "--port" in cmd:
                cmd[cmd.index("--port") + 1] = str(ports[name])
                cmd[cmd.index("--host") + 1] = "127.0.0.1"
            env = local_env(svc, broker=broker, influx=influx, data=data,
                            metrics_port=ports[name])
            logs[name] = (tmp_path / f"{name}.log").open("wb")
            procs.append(subprocess.Popen([str(BIN / "greeniot"), *cmd], env=env,
                                          stdout=logs[name], stderr=subprocess.STDOUT))

        def healthy(name: str) -> bool:
            container = "8000" if name == "api" else env_of(services[name])[
                "GREENIOT_METRICS__PORT"]
            return healthcheck(services[name], {container: str(ports[name])}).returncode == 0

        for name in ("ingest", "analytics", "api"):
            poll(lambda name=name: healthy(name), timeout_s=90, interval_s=0.5,
                 what=f"{name}'s compose healthcheck ({(tmp_path / f'{name}.log')})")
        health = httpx.get(f"http://127.0.0.1:{ports['api']}/health").json()
        assert health["status"] == "ok" and health["mqtt"] == "ok", health
        # A device, signed in as itself on the TLS device listener, publishes; ingest (as
        # greeniot-ingest on the backend listener) stores it.
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        dev = paho.Client(CallbackAPIVersion.VERSION2, client_id=DEVICE.username,
                          protocol=paho.MQTTv311)
        dev.username_pw_set(DEVICE.username, bundle.credentials[DEVICE.username])
        assert bundle.tls is not None
        dev.tls_set(ca_certs=str(bundle.tls.ca_cert), cert_reqs=ssl.CERT_REQUIRED)
        dev.connect("127.0.0.1", device_port)
        dev.loop_start()
        now = int(time.time() * 1000)
        dev.publish("greeniot/v1/estate/soil-1/soil",
                    encode(SoilReading(seq=1, ts_ms=now, vwc_pct=27.5)),
                    qos=1).wait_for_publish(10)
        dev.loop_stop()
        dev.disconnect()

        def stored() -> list[Any]:
            r = httpx.get(f"{influx.url}/query", params={
                "db": "greeniot", "q": 'SELECT vwc_pct FROM "greeniot"."raw"."soil"'})
            return r.json()["results"][0].get("series", [])

        series = poll(stored, timeout_s=30, what="the device's reading in InfluxDB (raw RP)")
        assert series[0]["values"][0][1] == 27.5
        metrics = httpx.get(f"http://127.0.0.1:{ports['ingest']}/metrics").text
        assert re.search(r"^greeniot_ingest_messages_accepted_total 1\.0$", metrics, re.M)
        metrics = httpx.get(f"http://127.0.0.1:{ports['analytics']}/metrics").text
        assert 'greeniot_mqtt_connected{role="analytics"} 1.0' in metrics
        # Every metric the Operations dashboard charts is served by one of the three.
        served = "\n".join(httpx.get(f"http://127.0.0.1:{p}/metrics").text
                           for p in ports.values())
        board = json.loads((DEPLOY / "grafana" / "dashboards" / "operations.json").read_text())
        names = {n for p in board["panels"] for t in p["targets"]
                 for n in re.findall(r"greeniot_[a-z0-9_]+", t["expr"])}
        assert len(names) >= 15
        for n in names:
            family = re.sub(r"_(bucket|sum|count)$", "", n)
            assert re.search(rf"^# TYPE ({re.escape(n)}|{re.escape(family)}) ", served,
                             re.M) or re.search(rf"^{re.escape(n)}[ {{]", served, re.M), n
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        influx.stop()
        broker.stop()
